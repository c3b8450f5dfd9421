//! SCIM PATCH (RFC 7644 §3.5.2): the operation names and the `path`
//! grammar. Parsing the path is delegated to `scim_v2`; its errors become
//! `invalidPath`. Applying operations to a resource comes next.

use std::str::FromStr;

pub use scim_v2::filter::{PatchPath, PatchValuePath};

use crate::{Error, ScimType};

/// A PATCH operation (RFC 7644 §3.5.2.1–3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOp {
    Add,
    Remove,
    Replace,
}

impl PatchOp {
    /// Operation names without regard to case: Entra ID sends "Replace" and
    /// "Add" (SCIM-CLIENTS.md).
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
    PatchPath::from_str(text).map_err(|e| {
        Error::new(
            ScimType::InvalidPath,
            format!("invalid path: {}", crate::filter::describe(&e)),
        )
    })
}

#[cfg(test)]
mod tests {
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
