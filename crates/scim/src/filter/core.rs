//! Attribute rules for filtering, taken from the schema definitions of
//! [`crate::schema`] (core User and Group, enterprise User, the common
//! attributes), so the rules and `/Schemas` cannot disagree. Unknown
//! attributes are strings compared without regard to case.

use super::eval::{AttrInfo, Kind, Schema};
use crate::schema::{self, Attribute, SchemaDef};
use crate::urn;

/// RFC 7643's core User, Group and enterprise User attributes.
#[derive(Debug, Clone)]
pub struct CoreSchema {
    common: Vec<Attribute>,
    user: SchemaDef,
    group: SchemaDef,
    enterprise: SchemaDef,
}

impl Default for CoreSchema {
    fn default() -> Self {
        Self::new()
    }
}

impl CoreSchema {
    pub fn new() -> Self {
        Self {
            common: schema::common_attributes(),
            user: schema::user_schema(),
            group: schema::group_schema(),
            enterprise: schema::enterprise_user_schema(),
        }
    }

    fn find(&self, urn: Option<&str>, name: &str) -> Option<&Attribute> {
        if urn.is_some_and(|u| u.eq_ignore_ascii_case(urn::ENTERPRISE_USER)) {
            return self.enterprise.attribute(name);
        }
        self.common
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .or_else(|| self.user.attribute(name))
            .or_else(|| self.group.attribute(name))
    }
}

impl Schema for CoreSchema {
    fn attribute(&self, urn: Option<&str>, name: &str, sub_attr: Option<&str>) -> AttrInfo {
        let unknown = AttrInfo {
            kind: Kind::String,
            case_exact: false,
            user_name: false,
        };
        let Some(attribute) = self.find(urn, name) else {
            return unknown;
        };
        // A multi-valued complex attribute named alone is compared by `value`.
        let sub = sub_attr.or((attribute.kind == Kind::Complex).then_some("value"));
        let target = match sub {
            Some(sub) => match attribute.sub_attribute(sub) {
                Some(target) => target,
                None => return unknown,
            },
            None => attribute,
        };
        AttrInfo {
            kind: target.kind,
            case_exact: target.case_exact,
            user_name: sub.is_none()
                && attribute.name == "userName"
                && urn.is_none_or(|u| u.eq_ignore_ascii_case(urn::USER)),
        }
    }
}
