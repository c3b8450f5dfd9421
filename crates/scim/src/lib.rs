//! SCIM 2.0 (RFC 7643 schema, RFC 7644 protocol) as pure logic: schema URNs,
//! resource rendering, list responses, versions, and the SCIM error
//! vocabulary.
//!
//! This crate does no IO and reads no clock: timestamps arrive formatted.
//! PATCH and the full attribute model come with the rest of the SCIM issue.

mod error;
pub mod filter;
pub mod patch;
pub mod query;
mod resource;
pub mod schema;

pub use error::{Error, ScimType};
pub use resource::{ListResponse, Meta, etag, user_resource};

/// Schema URNs (RFC 7643 §8.7.1, RFC 7644 §3.4.2, §3.12).
pub mod urn {
    pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
    pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
    pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
}
