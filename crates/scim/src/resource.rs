//! Rendering resources as RFC 7643 JSON: `schemas`, `id`, the attributes,
//! and `meta` (§3.1) with a weak ETag version (RFC 7644 §3.14).

use serde_json::{Map, Value, json};

/// The common `meta` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub resource_type: &'static str,
    /// RFC 3339 timestamps.
    pub created: String,
    pub last_modified: String,
    pub version: u64,
    /// The resource's URI.
    pub location: String,
}

impl Meta {
    fn to_json(&self) -> Value {
        json!({
            "resourceType": self.resource_type,
            "created": self.created,
            "lastModified": self.last_modified,
            "version": etag(self.version),
            "location": self.location,
        })
    }
}

/// The weak entity tag of a resource version (RFC 7232 §2.3).
pub fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// A User resource. `attributes` holds the rest of the resource (name,
/// emails, extension objects…); it never holds `password`, which is
/// `returned: never` (RFC 7643 §4.1.1) and is stripped here regardless.
pub fn user_resource(
    id: &str,
    user_name: &str,
    external_id: Option<&str>,
    active: bool,
    attributes: &Value,
    meta: &Meta,
) -> Value {
    let mut resource = Map::new();
    let mut schemas = vec![Value::String(crate::urn::USER.into())];
    if let Some(extra) = attributes.as_object() {
        for (name, value) in extra {
            if name == "password" || name == "schemas" || name == "meta" || name == "id" {
                continue;
            }
            if name.starts_with("urn:") {
                schemas.push(Value::String(name.clone()));
            }
            resource.insert(name.clone(), value.clone());
        }
    }
    resource.insert("schemas".into(), Value::Array(schemas));
    resource.insert("id".into(), Value::String(id.into()));
    resource.insert("userName".into(), Value::String(user_name.into()));
    if let Some(external_id) = external_id {
        resource.insert("externalId".into(), Value::String(external_id.into()));
    }
    resource.insert("active".into(), Value::Bool(active));
    resource.insert("meta".into(), meta.to_json());
    Value::Object(resource)
}

/// A Group resource (RFC 7643 §4.2). `members` are rendered already
/// (`value`, `type`, `$ref`); `attributes` holds any other stored attribute.
pub fn group_resource(
    id: &str,
    display_name: &str,
    external_id: Option<&str>,
    members: Vec<Value>,
    attributes: &Value,
    meta: &Meta,
) -> Value {
    let mut resource = Map::new();
    resource.insert(
        "schemas".into(),
        Value::Array(vec![Value::String(crate::urn::GROUP.into())]),
    );
    resource.insert("id".into(), Value::String(id.into()));
    if let Some(extra) = attributes.as_object() {
        for (name, value) in extra {
            if !matches!(name.as_str(), "schemas" | "meta" | "id" | "members") {
                resource.insert(name.clone(), value.clone());
            }
        }
    }
    resource.insert("displayName".into(), Value::String(display_name.into()));
    if let Some(external_id) = external_id {
        resource.insert("externalId".into(), Value::String(external_id.into()));
    }
    if !members.is_empty() {
        resource.insert("members".into(), Value::Array(members));
    }
    resource.insert("meta".into(), meta.to_json());
    Value::Object(resource)
}

/// A list response (RFC 7644 §3.4.2): `startIndex` is 1-based.
#[derive(Debug, Clone, PartialEq)]
pub struct ListResponse {
    pub total_results: u64,
    pub start_index: u64,
    pub resources: Vec<Value>,
}

impl ListResponse {
    pub fn to_json(&self) -> Value {
        json!({
            "schemas": [crate::urn::LIST_RESPONSE],
            "totalResults": self.total_results,
            "startIndex": self.start_index,
            "itemsPerPage": self.resources.len(),
            "Resources": self.resources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_resource_never_returns_password() {
        let meta = Meta {
            resource_type: "User",
            created: "2026-11-28T12:00:00Z".into(),
            last_modified: "2026-11-28T12:00:00Z".into(),
            version: 3,
            location: "https://auth.example.com/scim/v2/Users/2819c223".into(),
        };
        let attributes = json!({
            "name": {"givenName": "Barbara"},
            "password": "t1meMa$heen",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984"},
        });
        let user = user_resource(
            "2819c223",
            "bjensen@example.com",
            Some("bjensen"),
            true,
            &attributes,
            &meta,
        );
        assert_eq!(user.get("password"), None);
        assert_eq!(user["meta"]["version"], "W/\"3\"");
        assert_eq!(user["userName"], "bjensen@example.com");
        assert_eq!(user["externalId"], "bjensen");
        assert_eq!(
            user["schemas"],
            json!([
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            ])
        );
    }
}
