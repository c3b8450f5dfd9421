//! SCIM PATCH (RFC 7644 §3.5.2): the request body, the operation names, the
//! `path` grammar, and applying operations to a resource's JSON.
//!
//! Parsing the path is delegated to `scim_v2`; its errors become
//! `invalidPath`. The result of [`apply`] is checked and normalised by
//! [`crate::input::prepare`] like any other write, so PATCH cannot store
//! what PUT would refuse.

mod apply;

use std::str::FromStr;

pub use apply::apply;
pub use scim_v2::filter::{PatchPath, PatchValuePath};
use serde_json::Value;

use crate::{Error, ScimType};

/// One operation of a PATCH request.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub op: PatchOp,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

fn syntax(detail: impl Into<String>) -> Error {
    Error::new(ScimType::InvalidSyntax, detail)
}

/// Parses a PATCH request body (RFC 7644 §3.5.2): the PatchOp schema and a
/// non-empty `Operations` list.
pub fn parse_request(body: &Value) -> Result<Vec<Operation>, Error> {
    let object = body
        .as_object()
        .ok_or_else(|| syntax("the request body must be a JSON object"))?;
    let schemas = object.get("schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| {
        s.iter().any(|u| {
            u.as_str()
                .is_some_and(|u| u.eq_ignore_ascii_case(crate::urn::PATCH_OP))
        })
    }) {
        return Err(syntax(format!(
            "schemas must contain {}",
            crate::urn::PATCH_OP
        )));
    }
    let operations = object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, v)| v.as_array())
        .filter(|ops| !ops.is_empty())
        .ok_or_else(|| syntax("Operations must be a non-empty array"))?;
    operations
        .iter()
        .map(|operation| {
            let get = |name: &str| {
                operation
                    .as_object()
                    .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                    .map(|(_, v)| v)
            };
            let op = get("op")
                .and_then(Value::as_str)
                .ok_or_else(|| syntax("each operation needs an op"))?;
            let path = match get("path") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) if p.trim().is_empty() => None,
                Some(Value::String(p)) => Some(parse_path(p.trim())?),
                Some(_) => return Err(Error::new(ScimType::InvalidPath, "path must be a string")),
            };
            Ok(Operation {
                op: PatchOp::parse(op)?,
                path,
                value: get("value").cloned(),
            })
        })
        .collect()
}

/// A PATCH operation (RFC 7644 §3.5.2.1–3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOp {
    Add,
    Remove,
    Replace,
}

impl PatchOp {
    /// Operation names without regard to case: Entra ID sends "Replace" and
    /// "Add" (docs/scim-clients.md).
    pub fn parse(op: &str) -> Result<Self, Error> {
        match op.to_ascii_lowercase().as_str() {
            "add" => Ok(Self::Add),
            "remove" => Ok(Self::Remove),
            "replace" => Ok(Self::Replace),
            _ => Err(Error::new(
                ScimType::InvalidSyntax,
                format!("unknown PATCH op {op:?} (add, remove or replace)"),
            )),
        }
    }
}

/// Parses a PATCH `path`, or says where it goes wrong (`invalidPath`).
pub fn parse_path(text: &str) -> Result<PatchPath, Error> {
    // A path holds at most a filter; the same cap, before any parsing.
    if text.len() > crate::filter::MAX_FILTER_LENGTH {
        return Err(Error::new(
            ScimType::InvalidPath,
            format!(
                "the path is longer than {} bytes",
                crate::filter::MAX_FILTER_LENGTH
            ),
        ));
    }
    PatchPath::from_str(text).map_err(|e| {
        Error::new(
            ScimType::InvalidPath,
            format!("invalid path: {}", crate::filter::describe(&e)),
        )
    })
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn ops_ignore_case() {
        assert_eq!(PatchOp::parse("Replace").unwrap(), PatchOp::Replace);
        assert_eq!(PatchOp::parse("ADD").unwrap(), PatchOp::Add);
        assert_eq!(PatchOp::parse("remove").unwrap(), PatchOp::Remove);
        assert_eq!(
            PatchOp::parse("move").unwrap_err().scim_type,
            Some(ScimType::InvalidSyntax)
        );
    }

    #[test]
    fn rfc_7644_paths() {
        match parse_path(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#).unwrap() {
            PatchPath::Value(vp) => assert_eq!(vp.attr.name, "members"),
            other => panic!("{other:?}"),
        }
        match parse_path(r#"emails[type eq "work"].value"#).unwrap() {
            PatchPath::Value(vp) => assert_eq!(vp.sub_attr.as_deref(), Some("value")),
            other => panic!("{other:?}"),
        }
        match parse_path("name.familyName").unwrap() {
            PatchPath::Attr(a) => assert_eq!(
                (a.name.as_str(), a.sub_attr.as_deref()),
                ("name", Some("familyName"))
            ),
            other => panic!("{other:?}"),
        }
        match parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
            .unwrap()
        {
            PatchPath::Attr(a) => {
                assert_eq!(
                    a.uri.as_deref(),
                    Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
                );
                assert_eq!(a.name, "manager");
            }
            other => panic!("{other:?}"),
        }
        for bad in ["", "emails[type eq", "name..x", "emails[type eq \"work\"]]"] {
            assert_eq!(
                parse_path(bad).unwrap_err().scim_type,
                Some(ScimType::InvalidPath),
                "{bad}"
            );
        }
    }
}
