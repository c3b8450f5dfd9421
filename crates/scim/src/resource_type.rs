//! Resource types (RFC 7643 §6): a core schema, its extensions and the
//! common attributes, with name resolution that follows RFC 7643 §2.1
//! (attribute names without regard to case, URN-qualified names select a
//! schema).

use serde_json::{Value, json};

use crate::schema::{self, Attribute, SchemaDef};

/// One resource type: `User` (with the enterprise extension) or `Group`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSchema {
    pub name: &'static str,
    /// The endpoint, relative to the SCIM base, e.g. `/Users`.
    pub endpoint: &'static str,
    pub description: &'static str,
    pub core: SchemaDef,
    pub extensions: Vec<SchemaDef>,
    pub common: Vec<Attribute>,
}

/// Where a resolved attribute lives in the resource JSON.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved<'a> {
    /// The extension URN whose object holds the attribute; `None` for the
    /// resource itself (core and common attributes).
    pub extension: Option<&'static str>,
    pub attribute: &'a Attribute,
}

impl ResourceSchema {
    pub fn user() -> Self {
        Self {
            name: "User",
            endpoint: "/Users",
            description: "User Account",
            core: schema::user_schema(),
            extensions: vec![schema::enterprise_user_schema()],
            common: schema::common_attributes(),
        }
    }

    pub fn group() -> Self {
        Self {
            name: "Group",
            endpoint: "/Groups",
            description: "Group",
            core: schema::group_schema(),
            extensions: Vec::new(),
            common: schema::common_attributes(),
        }
    }

    pub fn is_core_urn(&self, urn: &str) -> bool {
        urn.eq_ignore_ascii_case(self.core.id)
    }

    pub fn extension(&self, urn: &str) -> Option<&SchemaDef> {
        self.extensions
            .iter()
            .find(|e| e.id.eq_ignore_ascii_case(urn))
    }

    /// Resolves `[urn:]name`; `None` if this resource type has no such
    /// attribute.
    pub fn resolve(&self, urn: Option<&str>, name: &str) -> Option<Resolved<'_>> {
        match urn {
            Some(urn) if !self.is_core_urn(urn) => {
                let extension = self.extension(urn)?;
                Some(Resolved {
                    extension: Some(extension.id),
                    attribute: extension.attribute(name)?,
                })
            }
            _ => self
                .common
                .iter()
                .find(|a| a.name.eq_ignore_ascii_case(name))
                .or_else(|| self.core.attribute(name))
                .map(|attribute| Resolved {
                    extension: None,
                    attribute,
                }),
        }
    }

    /// The `ResourceType` representation (RFC 7643 §6).
    pub fn to_json(&self, base: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.core.id,
            "schemaExtensions": self.extensions.iter().map(|e| json!({
                "schema": e.id,
                "required": false,
            })).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{base}/ResourceTypes/{}", self.name),
            },
        })
    }
}

/// Every schema this service provider knows, for `/Schemas`.
pub fn all_schemas() -> Vec<SchemaDef> {
    vec![
        schema::user_schema(),
        schema::group_schema(),
        schema::enterprise_user_schema(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::urn;

    #[test]
    fn resolves_names_without_case_and_by_urn() {
        let user = ResourceSchema::user();
        assert_eq!(
            user.resolve(None, "USERNAME").unwrap().attribute.name,
            "userName"
        );
        assert_eq!(
            user.resolve(None, "externalid").unwrap().attribute.name,
            "externalId"
        );
        let manager = user.resolve(Some(urn::ENTERPRISE_USER), "Manager").unwrap();
        assert_eq!(manager.extension, Some(urn::ENTERPRISE_USER));
        assert_eq!(manager.attribute.name, "manager");
        assert!(user.resolve(Some(urn::USER), "emails").is_some());
        assert!(user.resolve(None, "members").is_none());
        assert!(user.resolve(Some("urn:example:unknown"), "x").is_none());
        assert!(ResourceSchema::group().resolve(None, "members").is_some());
    }
}
