//! The attribute rules of the core User and Group schemas and the
//! enterprise extension (RFC 7643 §4, §8.7.1) that filtering needs: the
//! type and `caseExact` of each attribute. Unknown attributes are strings
//! compared without regard to case.

use super::eval::{AttrInfo, Kind, Schema};

/// RFC 7643's core User, Group and enterprise User attributes.
#[derive(Debug, Clone, Copy, Default)]
pub struct CoreSchema;

const fn info(kind: Kind, case_exact: bool) -> AttrInfo {
    AttrInfo { kind, case_exact }
}

impl Schema for CoreSchema {
    fn attribute(&self, _urn: Option<&str>, name: &str, sub_attr: Option<&str>) -> AttrInfo {
        let name = name.to_ascii_lowercase();
        let sub = sub_attr.map(str::to_ascii_lowercase);
        match (name.as_str(), sub.as_deref()) {
            // §3.1: id and externalId are caseExact; meta dates are dateTime.
            ("id" | "externalid", None) => info(Kind::String, true),
            ("meta", Some("created" | "lastmodified")) => info(Kind::DateTime, false),
            ("meta", Some("location")) => info(Kind::Reference, true),
            ("meta", Some("version")) => info(Kind::String, true),
            ("active", None) => info(Kind::Boolean, false),
            // Multi-valued attributes: primary is boolean; $ref is a reference.
            (_, Some("primary")) => info(Kind::Boolean, false),
            (_, Some("$ref")) => info(Kind::Reference, true),
            // §4.2: group members' values are ids.
            ("members" | "groups", Some("value")) => info(Kind::String, true),
            ("x509certificates", Some("value")) => info(Kind::Binary, true),
            ("password", None) => info(Kind::String, true),
            _ => info(Kind::String, false),
        }
    }
}
