//! Per-client claims: what an application expects beyond the standard
//! claims (`crate::claims`), in the shape it expects. A mapping names the
//! claim and where its value comes from:
//!
//! - `NAME=claim:OTHER`: the standard claim `OTHER` under another name
//!   (renamed: `OTHER` itself is dropped), e.g. `login=claim:preferred_username`;
//! - `NAME=scim:PATH`: a SCIM attribute of the user, e.g. `title`,
//!   `name.givenName`, the enterprise extension's
//!   `enterprise:department` (short for
//!   `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`)
//!   or any `urn:…:attribute`; a multi-valued one as the array of its values;
//! - `NAME=value:TEXT`: always `TEXT`.
//!
//! A mapping never replaces a claim the protocol defines (`sub`, `iss`,
//! `aud`, `nonce`, …: [`RESERVED`]), and a source the user does not have
//! adds nothing.

use serde_json::{Map, Value};

/// The enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Claims the protocol defines, which no mapping may name.
pub const RESERVED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
    "sid",
    "scope",
    "client_id",
    "cnf",
    "act",
    "events",
];

/// One mapping (module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    pub claim: String,
    pub source: ClaimSource,
}

/// Where a mapped claim's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimSource {
    /// A standard claim, renamed.
    Rename(String),
    /// A SCIM attribute path.
    Attribute(String),
    /// A fixed text.
    Static(String),
}

impl ClaimMapping {
    /// Parses `NAME=claim:OTHER`, `NAME=scim:PATH` or `NAME=value:TEXT`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (claim, source) = spec.split_once('=').ok_or_else(|| {
            format!("{spec:?}: use NAME=claim:OTHER, NAME=scim:PATH or NAME=value:TEXT")
        })?;
        let name_ok = !claim.is_empty()
            && claim.len() <= 64
            && claim
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/'));
        if !name_ok {
            return Err(format!("{claim:?} is not a claim name"));
        }
        if RESERVED.contains(&claim) {
            return Err(format!("{claim} is a protocol claim and cannot be mapped"));
        }
        let source = match source.split_once(':') {
            Some(("claim", other)) if !other.is_empty() => {
                if RESERVED.contains(&other) {
                    return Err(format!("{other} is a protocol claim and cannot be renamed"));
                }
                ClaimSource::Rename(other.to_owned())
            }
            Some(("scim", path)) if !path.is_empty() => ClaimSource::Attribute(path.to_owned()),
            Some(("value", text)) => ClaimSource::Static(text.to_owned()),
            _ => {
                return Err(format!(
                    "{source:?}: the source is claim:OTHER, scim:PATH or value:TEXT"
                ));
            }
        };
        Ok(Self {
            claim: claim.to_owned(),
            source,
        })
    }

    /// The mapping as [`ClaimMapping::parse`] reads it.
    pub fn spec(&self) -> String {
        match &self.source {
            ClaimSource::Rename(other) => format!("{}=claim:{other}", self.claim),
            ClaimSource::Attribute(path) => format!("{}=scim:{path}", self.claim),
            ClaimSource::Static(text) => format!("{}=value:{text}", self.claim),
        }
    }
}

/// Applies `mappings` to `claims` (a user's standard claims for the
/// granted scopes), with the user's SCIM `attributes`. Renames see the
/// standard claims as they were, so two mappings may use one claim.
pub fn apply(mappings: &[ClaimMapping], claims: &mut Map<String, Value>, attributes: &Value) {
    let standard = claims.clone();
    for mapping in mappings {
        let value = match &mapping.source {
            ClaimSource::Rename(other) => {
                claims.remove(other);
                standard.get(other).cloned()
            }
            ClaimSource::Attribute(path) => attribute(attributes, path),
            ClaimSource::Static(text) => Some(Value::String(text.clone())),
        };
        if let Some(value) = value {
            claims.insert(mapping.claim.clone(), value);
        }
    }
}

/// The value at a SCIM attribute path (RFC 7644 §3.10, without filters):
/// `a`, `a.b`, `urn:…:a[.b]`, `enterprise:a[.b]`. A multi-valued
/// attribute is the array of its `value`s (or of the sub-attribute named).
fn attribute(attributes: &Value, path: &str) -> Option<Value> {
    let (schema, rest) = if let Some(rest) = path.strip_prefix("enterprise:") {
        (Some(ENTERPRISE), rest)
    } else if path.starts_with("urn:") {
        let (schema, rest) = path.rsplit_once(':')?;
        (Some(schema), rest)
    } else {
        (None, path)
    };
    let mut node = match schema {
        Some(schema) => {
            attributes
                .as_object()?
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(schema))?
                .1
        }
        None => attributes,
    };
    let mut parts = rest.split('.');
    let first = parts.next()?;
    node = field(node, first)?;
    let sub = parts.next();
    if parts.next().is_some() {
        return None;
    }
    let value = match (node, sub) {
        (Value::Array(items), sub) => Value::Array(
            items
                .iter()
                .filter_map(|item| field(item, sub.unwrap_or("value")).cloned())
                .collect(),
        ),
        (node, Some(sub)) => field(node, sub)?.clone(),
        (node, None) => node.clone(),
    };
    (!value.is_null()).then_some(value)
}

/// A member of an object, its name matched regardless of case (RFC 7643 §2.1).
fn field<'a>(node: &'a Value, name: &str) -> Option<&'a Value> {
    node.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mappings(specs: &[&str]) -> Vec<ClaimMapping> {
        specs
            .iter()
            .map(|s| ClaimMapping::parse(s).unwrap())
            .collect()
    }

    #[test]
    fn specs_parse_and_print_back() {
        for spec in [
            "login=claim:preferred_username",
            "department=scim:enterprise:department",
            "tenant=value:acme",
            "empty=value:",
            "https://example.com/roles=scim:roles",
        ] {
            assert_eq!(ClaimMapping::parse(spec).unwrap().spec(), spec);
        }
        for bad in [
            "sub=value:admin",
            "nonce=claim:name",
            "x=claim:sub",
            "x",
            "=value:a",
            "x=other:y",
            "x=scim:",
            "with space=value:a",
        ] {
            assert!(ClaimMapping::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mappings_shape_the_claims() {
        let attributes = json!({
            "title": "Tour Guide",
            "name": {"givenName": "Barbara"},
            "emails": [{"value": "b@work.example", "primary": true}, {"value": "b@home.example"}],
            ENTERPRISE: {"department": "Tour Operations", "manager": {"value": "m-1"}},
        });
        let mut claims = Map::new();
        claims.insert("preferred_username".into(), json!("bjensen"));
        claims.insert("name".into(), json!("Barbara Jensen"));
        apply(
            &mappings(&[
                "login=claim:preferred_username",
                "username=claim:preferred_username",
                "department=scim:enterprise:department",
                "manager=scim:urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                "job=scim:TITLE",
                "first=scim:name.givenName",
                "mails=scim:emails",
                "tenant=value:acme",
                "missing=scim:nickName",
                "gone=claim:phone_number",
            ]),
            &mut claims,
            &attributes,
        );
        assert_eq!(
            Value::Object(claims),
            json!({
                "name": "Barbara Jensen", "login": "bjensen", "username": "bjensen",
                "department": "Tour Operations", "manager": "m-1", "job": "Tour Guide",
                "first": "Barbara", "mails": ["b@work.example", "b@home.example"],
                "tenant": "acme",
            })
        );
    }
}
