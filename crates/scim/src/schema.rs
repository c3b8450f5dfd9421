//! The schemas of RFC 7643 §8.7.1 (core User, core Group, enterprise User
//! extension) and the common attributes of §3.1, as data: the definitions
//! `/Schemas` serves (§7) and the rules filtering, projection and PATCH
//! follow (type, `caseExact`, mutability, `returned`, uniqueness).

use serde_json::{Value, json};

use crate::filter::Kind;
use crate::urn;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

/// One attribute definition (RFC 7643 §7).
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: &'static str,
    pub kind: Kind,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: Vec<Attribute>,
    pub description: &'static str,
}

const fn attr(name: &'static str, kind: Kind, description: &'static str) -> Attribute {
    Attribute {
        name,
        kind,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: Vec::new(),
        description,
    }
}

fn string(name: &'static str, description: &'static str) -> Attribute {
    attr(name, Kind::String, description)
}

impl Attribute {
    fn required(mut self) -> Self {
        self.required = true;
        self
    }
    fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    fn mutability(mut self, mutability: Mutability) -> Self {
        self.mutability = mutability;
        self
    }
    fn returned(mut self, returned: Returned) -> Self {
        self.returned = returned;
        self
    }
    fn unique(mut self) -> Self {
        self.uniqueness = Uniqueness::Server;
        self
    }
    fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }
    fn refs(mut self, types: &'static [&'static str]) -> Self {
        self.reference_types = types;
        self
    }
    fn sub(mut self, sub_attributes: Vec<Attribute>) -> Self {
        self.sub_attributes = sub_attributes;
        self
    }

    /// A sub-attribute by name, without regard to case.
    pub fn sub_attribute(&self, name: &str) -> Option<&Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The RFC 7643 §7 representation.
    pub fn to_json(&self) -> Value {
        let kind = match self.kind {
            Kind::String => "string",
            Kind::Boolean => "boolean",
            Kind::Decimal => "decimal",
            Kind::Integer => "integer",
            Kind::DateTime => "dateTime",
            Kind::Reference => "reference",
            Kind::Complex => "complex",
            Kind::Binary => "binary",
        };
        let mutability = match self.mutability {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        };
        let returned = match self.returned {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        };
        let uniqueness = match self.uniqueness {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        };
        let mut out = json!({
            "name": self.name,
            "type": kind,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": mutability,
            "returned": returned,
            "uniqueness": uniqueness,
        });
        if !self.canonical_values.is_empty() {
            out["canonicalValues"] = json!(self.canonical_values);
        }
        if !self.reference_types.is_empty() {
            out["referenceTypes"] = json!(self.reference_types);
        }
        if !self.sub_attributes.is_empty() {
            out["subAttributes"] =
                Value::Array(self.sub_attributes.iter().map(Attribute::to_json).collect());
        }
        out
    }
}

/// A schema (RFC 7643 §7).
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: Vec<Attribute>,
}

impl SchemaDef {
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    pub fn to_json(&self, location: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(Attribute::to_json).collect::<Vec<_>>(),
            "meta": {"resourceType": "Schema", "location": location},
        })
    }
}

/// `id`, `externalId` and `meta`, common to every resource (RFC 7643 §3.1).
pub fn common_attributes() -> Vec<Attribute> {
    use Mutability::ReadOnly;
    vec![
        string("id", "Unique identifier, assigned by the service provider.")
            .case_exact()
            .mutability(ReadOnly)
            .returned(Returned::Always)
            .unique(),
        string(
            "externalId",
            "Identifier assigned by the provisioning client.",
        )
        .case_exact(),
        attr("meta", Kind::Complex, "Resource metadata.")
            .mutability(ReadOnly)
            .sub(vec![
                string("resourceType", "The resource type.")
                    .case_exact()
                    .mutability(ReadOnly),
                attr("created", Kind::DateTime, "When the resource was created.")
                    .mutability(ReadOnly),
                attr(
                    "lastModified",
                    Kind::DateTime,
                    "When the resource last changed.",
                )
                .mutability(ReadOnly),
                attr("location", Kind::Reference, "The resource's URI.")
                    .case_exact()
                    .mutability(ReadOnly),
                string("version", "The resource's entity tag.")
                    .case_exact()
                    .mutability(ReadOnly),
            ]),
    ]
}

/// `value`, `display`, `type`, `primary` of a multi-valued attribute.
fn multi_valued(
    name: &'static str,
    description: &'static str,
    kind: Kind,
    types: &'static [&'static str],
) -> Attribute {
    attr(name, Kind::Complex, description).multi().sub(vec![
        attr("value", kind, "The value."),
        string("display", "A human-readable name."),
        string("type", "The kind of value.").canonical(types),
        attr("primary", Kind::Boolean, "The preferred value."),
    ])
}

/// The core User schema (RFC 7643 §4.1, §8.7.1).
pub fn user_schema() -> SchemaDef {
    use Mutability::ReadOnly;
    SchemaDef {
        id: urn::USER,
        name: "User",
        description: "User Account",
        attributes: vec![
            string(
                "userName",
                "Unique identifier for the user, used to sign in.",
            )
            .required()
            .unique(),
            attr("name", Kind::Complex, "The components of the user's name.").sub(vec![
                string("formatted", "The full name, formatted for display."),
                string("familyName", "The family name."),
                string("givenName", "The given name."),
                string("middleName", "The middle name(s)."),
                string("honorificPrefix", "Honorific prefix(es)."),
                string("honorificSuffix", "Honorific suffix(es)."),
            ]),
            string("displayName", "The name displayed to end users."),
            string("nickName", "The casual name."),
            attr(
                "profileUrl",
                Kind::Reference,
                "A URI of the user's online profile.",
            )
            .refs(&["external"]),
            string("title", "The user's title."),
            string("userType", "The relationship to the organization."),
            string(
                "preferredLanguage",
                "The preferred language (RFC 7231 Accept-Language).",
            ),
            string("locale", "The default location, for localizing."),
            string("timezone", "The time zone (IANA database name)."),
            attr("active", Kind::Boolean, "Whether the user may sign in."),
            string("password", "The cleartext password; never returned.")
                .mutability(Mutability::WriteOnly)
                .returned(Returned::Never),
            multi_valued(
                "emails",
                "Email addresses.",
                Kind::String,
                &["work", "home", "other"],
            ),
            multi_valued(
                "phoneNumbers",
                "Phone numbers.",
                Kind::String,
                &["work", "home", "mobile", "fax", "pager", "other"],
            ),
            multi_valued(
                "ims",
                "Instant messaging addresses.",
                Kind::String,
                &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
            ),
            multi_valued(
                "photos",
                "URLs of photos.",
                Kind::Reference,
                &["photo", "thumbnail"],
            ),
            attr("addresses", Kind::Complex, "Physical mailing addresses.")
                .multi()
                .sub(vec![
                    string("formatted", "The full address, formatted for display."),
                    string("streetAddress", "The street address."),
                    string("locality", "The city or locality."),
                    string("region", "The state or region."),
                    string("postalCode", "The postal code."),
                    string("country", "The country (ISO 3166-1 alpha-2)."),
                    string("type", "The kind of address.").canonical(&["work", "home", "other"]),
                    attr("primary", Kind::Boolean, "The preferred address."),
                ]),
            attr(
                "groups",
                Kind::Complex,
                "The groups the user belongs to; derived, read-only.",
            )
            .multi()
            .mutability(ReadOnly)
            .sub(vec![
                string("value", "The group's id.")
                    .case_exact()
                    .mutability(ReadOnly),
                attr("$ref", Kind::Reference, "The group's URI.")
                    .case_exact()
                    .mutability(ReadOnly)
                    .refs(&["User", "Group"]),
                string("display", "The group's displayName.").mutability(ReadOnly),
                string("type", "Direct or indirect membership.")
                    .mutability(ReadOnly)
                    .canonical(&["direct", "indirect"]),
            ]),
            multi_valued("entitlements", "Entitlements.", Kind::String, &[]),
            multi_valued("roles", "Roles.", Kind::String, &[]),
            multi_valued(
                "x509Certificates",
                "DER-encoded X.509 certificates.",
                Kind::Binary,
                &[],
            ),
        ],
    }
}

/// The core Group schema (RFC 7643 §4.2, §8.7.1).
pub fn group_schema() -> SchemaDef {
    use Mutability::Immutable;
    SchemaDef {
        id: urn::GROUP,
        name: "Group",
        description: "Group",
        attributes: vec![
            string("displayName", "A human-readable name for the group.").required(),
            attr("members", Kind::Complex, "The members: users and groups.")
                .multi()
                .sub(vec![
                    string("value", "The member's id.")
                        .case_exact()
                        .mutability(Immutable),
                    attr("$ref", Kind::Reference, "The member's URI.")
                        .case_exact()
                        .mutability(Immutable)
                        .refs(&["User", "Group"]),
                    string("type", "The member's resource type.")
                        .mutability(Immutable)
                        .canonical(&["User", "Group"]),
                    string("display", "The member's display name.")
                        .mutability(Mutability::ReadOnly),
                ]),
        ],
    }
}

/// The enterprise User extension (RFC 7643 §4.3).
pub fn enterprise_user_schema() -> SchemaDef {
    SchemaDef {
        id: urn::ENTERPRISE_USER,
        name: "EnterpriseUser",
        description: "Enterprise User",
        attributes: vec![
            string(
                "employeeNumber",
                "A numeric or alphanumeric identifier of the employee.",
            ),
            string("costCenter", "The cost center."),
            string("organization", "The organization."),
            string("division", "The division."),
            string("department", "The department."),
            attr("manager", Kind::Complex, "The user's manager.").sub(vec![
                string("value", "The manager's id.").case_exact(),
                attr("$ref", Kind::Reference, "The manager's URI.")
                    .case_exact()
                    .refs(&["User"]),
                string("displayName", "The manager's displayName.")
                    .mutability(Mutability::ReadOnly),
            ]),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<SchemaDef> {
        vec![user_schema(), group_schema(), enterprise_user_schema()]
    }

    #[test]
    fn every_definition_is_complete() {
        for schema in all() {
            let doc = schema.to_json("https://auth.example.com/scim/v2/Schemas/x");
            for attribute in doc["attributes"].as_array().unwrap() {
                for field in [
                    "name",
                    "type",
                    "multiValued",
                    "description",
                    "required",
                    "caseExact",
                    "mutability",
                    "returned",
                    "uniqueness",
                ] {
                    assert!(
                        attribute.get(field).is_some(),
                        "{} lacks {field}",
                        attribute["name"]
                    );
                }
                if attribute["type"] == "complex" {
                    assert!(
                        attribute["subAttributes"]
                            .as_array()
                            .is_some_and(|s| !s.is_empty()),
                        "{}",
                        attribute["name"]
                    );
                }
            }
        }
    }

    #[test]
    fn rfc_7643_rules() {
        let user = user_schema();
        let password = user.attribute("PASSWORD").unwrap();
        assert_eq!(
            (password.mutability, password.returned),
            (Mutability::WriteOnly, Returned::Never)
        );
        let user_name = user.attribute("userName").unwrap();
        assert!(
            user_name.required
                && !user_name.case_exact
                && user_name.uniqueness == Uniqueness::Server
        );
        assert_eq!(
            user.attribute("groups").unwrap().mutability,
            Mutability::ReadOnly
        );
        let emails = user.attribute("emails").unwrap();
        assert!(emails.multi_valued);
        assert_eq!(
            emails.sub_attribute("type").unwrap().canonical_values,
            &["work", "home", "other"]
        );
        let members = group_schema();
        let value = members
            .attribute("members")
            .unwrap()
            .sub_attribute("value")
            .unwrap();
        assert!(value.case_exact && value.mutability == Mutability::Immutable);
        let id = &common_attributes()[0];
        assert_eq!(
            (id.name, id.returned, id.case_exact),
            ("id", Returned::Always, true)
        );
    }
}
