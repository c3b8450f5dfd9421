//! OAuth 2.0 Protected Resource Metadata (RFC 9728): where a resource's
//! metadata document lives, what it says, and the `resource_metadata`
//! parameter of the resource's `WWW-Authenticate` challenge (§5.1), which
//! is how an MCP client that was refused finds the authorization server.
//!
//! This server publishes the document for its own resources (the SCIM API,
//! and the issuer's userinfo); an API registered with `auth-service api
//! create` is another server, which publishes its own.

use serde_json::{Value, json};

/// The well-known suffix of §3.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The metadata URL of the resource `identifier` (§3.1): the well-known
/// suffix goes between the host and the path, and a path of `/` alone is
/// dropped first. `None` for an identifier that is not an absolute
/// `http(s)` URL (it has no host to put the suffix after) or that has a
/// fragment (RFC 8707 §2: no resource identifier does).
pub fn metadata_url(identifier: &str) -> Option<String> {
    let (scheme, rest) = identifier.split_once("://")?;
    if !matches!(scheme, "https" | "http") || identifier.contains('#') {
        return None;
    }
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, mut path) = rest.split_at(split);
    if authority.is_empty() {
        return None;
    }
    // "any terminating slash (/) following the host component MUST be
    // removed before inserting /.well-known/"
    if path == "/" {
        path = "";
    }
    Some(format!("{scheme}://{authority}{WELL_KNOWN}{path}"))
}

/// What one of this server's resources says of itself (§2).
#[derive(Debug, Clone)]
pub struct ResourceMetadata<'a> {
    /// Its identifier, exactly the URL the metadata URL was made from
    /// (§3.3: clients compare the two and refuse a mismatch).
    pub resource: &'a str,
    pub authorization_servers: &'a [&'a str],
    pub scopes_supported: &'a [&'a str],
    pub resource_name: &'a str,
    /// Algorithms of DPoP proofs taken (§2); empty while DPoP is not.
    pub dpop_signing_alg_values_supported: &'a [&'a str],
}

impl ResourceMetadata<'_> {
    /// The JSON document of §3.2.
    pub fn to_json(&self) -> Value {
        let mut doc = json!({
            "resource": self.resource,
            "authorization_servers": self.authorization_servers,
            "scopes_supported": self.scopes_supported,
            // RFC 6750 §2.1 only: tokens in a form body or a query string
            // end up in logs and caches.
            "bearer_methods_supported": ["header"],
            "resource_name": self.resource_name,
        });
        if !self.dpop_signing_alg_values_supported.is_empty() {
            doc["dpop_signing_alg_values_supported"] =
                json!(self.dpop_signing_alg_values_supported);
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_3_1_inserts_the_suffix_between_host_and_path() {
        // The examples of §3.1.
        assert_eq!(
            metadata_url("https://resource.example.com").as_deref(),
            Some("https://resource.example.com/.well-known/oauth-protected-resource")
        );
        assert_eq!(
            metadata_url("https://resource.example.com/resource1").as_deref(),
            Some("https://resource.example.com/.well-known/oauth-protected-resource/resource1")
        );
        assert_eq!(
            metadata_url("https://resource.example.com/").as_deref(),
            Some("https://resource.example.com/.well-known/oauth-protected-resource")
        );
        assert_eq!(
            metadata_url("http://127.0.0.1:8080/auth/scim/v2").as_deref(),
            Some("http://127.0.0.1:8080/.well-known/oauth-protected-resource/auth/scim/v2")
        );
        assert_eq!(
            metadata_url("https://api.example.com?tenant=a").as_deref(),
            Some("https://api.example.com/.well-known/oauth-protected-resource?tenant=a")
        );
        assert_eq!(metadata_url("urn:example:api"), None);
        assert_eq!(metadata_url("https:///path"), None);
        assert_eq!(metadata_url("https://a.example/#x"), None);
    }

    #[test]
    fn the_document_names_the_resource_and_its_servers() {
        let doc = ResourceMetadata {
            resource: "https://as.example/scim/v2",
            authorization_servers: &["https://as.example"],
            scopes_supported: &["scim:read", "scim:write"],
            resource_name: "SCIM",
            dpop_signing_alg_values_supported: &[],
        }
        .to_json();
        assert_eq!(doc["resource"], "https://as.example/scim/v2");
        assert_eq!(doc["authorization_servers"], json!(["https://as.example"]));
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
        assert!(doc.get("dpop_signing_alg_values_supported").is_none());
    }
}
