//! SCIM 2.0 (RFC 7643 schema, RFC 7644 protocol) as pure logic: schema URNs,
//! resource rendering, list responses, versions, and the SCIM error
//! vocabulary.
//!
//! This crate does no IO and reads no clock: timestamps arrive formatted.
//! The server loads records, asks this crate what a request means and what
//! to store, and renders what it answers with it.

mod error;
pub mod filter;
pub mod input;
mod json;
pub mod patch;
pub mod query;
mod resource;
pub mod resource_type;
pub mod schema;
pub mod user_name;

pub use error::{Error, ScimType};
pub use resource::{ListResponse, Meta, etag, group_resource, user_resource};
pub use resource_type::ResourceSchema;

/// Schema URNs (RFC 7643 §8.7.1, RFC 7644 §3.4.2, §3.12).
pub mod urn {
    pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
    pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
    pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
    pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
    pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
    pub const SERVICE_PROVIDER_CONFIG: &str =
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
}
