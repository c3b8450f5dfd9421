//! A client's resource (POST body, PUT body, or the result of a PATCH)
//! turned into the form that is stored: attribute names as the schema
//! spells them, values of the declared types, and the rules of RFC 7643 §2
//! and RFC 7644 §3.3, §3.5.1 applied.
//!
//! - `readOnly` attributes (`id`, `meta`, `User.groups`) are ignored, as
//!   RFC 7644 §3.5.1 allows; unknown attributes and unknown schema URNs are
//!   ignored too (Entra ID sends its own Group URN, docs/scim-clients.md).
//! - `null` and `[]` mean unassigned (RFC 7644 §3.5.1).
//! - Booleans sent as the strings `"True"`/`"False"` (any case) are
//!   booleans: Entra ID's default mode (docs/scim-clients.md).
//! - A complex attribute sent as a bare string is its `value` (Entra ID
//!   sends `manager` both ways).
//! - `immutable` attributes may be set once, then not changed (`mutability`).
//! - `required` attributes must be present (`invalidValue`).
//! - `password` is write-only: it is taken out and handed back separately.
//!
//! Values are otherwise stored as sent.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::filter::Kind;
use crate::json::get_ci;
use crate::resource_type::ResourceSchema;
use crate::schema::{Attribute, Mutability};
use crate::{Error, ScimType};

/// What a write will store.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The resource without `schemas`, `id`, `meta`, read-only attributes
    /// and `password`; extensions under their URN.
    pub resource: Map<String, Value>,
    /// A new cleartext password, if the write sets one.
    pub password: Option<String>,
}

fn invalid(detail: String) -> Error {
    Error::new(ScimType::InvalidValue, detail)
}

/// Checks and normalises `input` for `schema`. `existing` is the stored
/// resource (as rendered) when this replaces one, for the immutability rule.
pub fn prepare(
    input: &Value,
    schema: &ResourceSchema,
    existing: Option<&Value>,
) -> Result<Prepared, Error> {
    let Some(object) = input.as_object() else {
        return Err(Error::new(
            ScimType::InvalidSyntax,
            "the request body must be a JSON object",
        ));
    };
    let mut resource = Map::new();
    let mut password = None;
    for (key, value) in object {
        if key.starts_with("urn:") {
            if let Some(extension) = schema.extension(key) {
                let extension_value = prepare_extension(value, extension.id, schema)?;
                if let Some(v) = extension_value {
                    resource.insert(extension.id.to_owned(), v);
                }
                continue;
            }
            if schema.is_core_urn(key) {
                // `"urn:…:core:2.0:User": {…}` holds core attributes.
                if let Some(inner) = value.as_object() {
                    for (k, v) in inner {
                        put(&mut resource, &mut password, schema, k, v)?;
                    }
                }
                continue;
            }
            // A URN-qualified attribute name, e.g. "urn:…:User:userName".
            if let Some((urn, name)) = key.rsplit_once(':')
                && (schema.is_core_urn(urn) || schema.extension(urn).is_some())
            {
                put_qualified(&mut resource, &mut password, schema, urn, name, value)?;
            }
            // Unknown schema URNs are ignored.
            continue;
        }
        put(&mut resource, &mut password, schema, key, value)?;
    }
    for attribute in &schema.core.attributes {
        if attribute.required && !resource.contains_key(attribute.name) {
            return Err(invalid(format!("{} is required", attribute.name)));
        }
    }
    if let Some(existing) = existing {
        check_immutable(&resource, existing, schema)?;
    }
    Ok(Prepared { resource, password })
}

fn put_qualified(
    resource: &mut Map<String, Value>,
    password: &mut Option<String>,
    schema: &ResourceSchema,
    urn: &str,
    name: &str,
    value: &Value,
) -> Result<(), Error> {
    if schema.is_core_urn(urn) {
        return put(resource, password, schema, name, value);
    }
    let Some(resolved) = schema.resolve(Some(urn), name) else {
        return Ok(());
    };
    let Some(extension) = resolved.extension else {
        return Ok(());
    };
    let slot = resource
        .entry(extension.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if let (Some(slot), Some(v)) = (
        slot.as_object_mut(),
        prepare_value(resolved.attribute, value)?,
    ) && resolved.attribute.mutability != Mutability::ReadOnly
    {
        slot.insert(resolved.attribute.name.to_owned(), v);
    }
    if resource[extension].as_object().is_some_and(Map::is_empty) {
        resource.remove(extension);
    }
    Ok(())
}

/// One core or common attribute.
fn put(
    resource: &mut Map<String, Value>,
    password: &mut Option<String>,
    schema: &ResourceSchema,
    key: &str,
    value: &Value,
) -> Result<(), Error> {
    if key.eq_ignore_ascii_case("schemas") {
        return Ok(());
    }
    let Some(resolved) = schema.resolve(None, key) else {
        return Ok(());
    };
    let attribute = resolved.attribute;
    if attribute.mutability == Mutability::ReadOnly {
        return Ok(());
    }
    let Some(value) = prepare_value(attribute, value)? else {
        return Ok(());
    };
    if attribute.mutability == Mutability::WriteOnly && attribute.name == "password" {
        match value {
            Value::String(p) => *password = Some(p),
            _ => return Err(invalid("password must be a string".into())),
        }
        return Ok(());
    }
    resource.insert(attribute.name.to_owned(), value);
    Ok(())
}

fn prepare_extension(
    value: &Value,
    urn: &'static str,
    schema: &ResourceSchema,
) -> Result<Option<Value>, Error> {
    let object = match value {
        Value::Null => return Ok(None),
        Value::Object(o) => o,
        _ => return Err(invalid(format!("{urn} must be an object"))),
    };
    let mut out = Map::new();
    for (key, v) in object {
        let Some(resolved) = schema.resolve(Some(urn), key) else {
            continue;
        };
        if resolved.attribute.mutability == Mutability::ReadOnly {
            continue;
        }
        if let Some(v) = prepare_value(resolved.attribute, v)? {
            out.insert(resolved.attribute.name.to_owned(), v);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

/// The most values a multi-valued attribute may hold (docs/security.md 23), so
/// no request can make a record whose every read and write is slow. Real
/// users have a handful of emails, phone numbers or roles.
pub const MAX_VALUES: usize = 1_000;
/// The most members a group may list: groups are large in practice (Entra
/// ID provisions whole departments), but a larger one would be a record too
/// big to move.
pub const MAX_MEMBERS: usize = 10_000;

/// The cap on `attribute`'s values.
pub fn max_values(attribute: &Attribute) -> usize {
    if attribute.name == "members" {
        MAX_MEMBERS
    } else {
        MAX_VALUES
    }
}

/// A value of `attribute`'s type, or `None` when it is unassigned.
pub fn prepare_value(attribute: &Attribute, value: &Value) -> Result<Option<Value>, Error> {
    if value.is_null() {
        return Ok(None);
    }
    if attribute.multi_valued {
        let items = match value {
            Value::Array(items) => items.as_slice(),
            single => std::slice::from_ref(single),
        };
        let cap = max_values(attribute);
        if items.len() > cap {
            return Err(invalid(format!(
                "{} has {} values; at most {cap} are allowed",
                attribute.name,
                items.len()
            )));
        }
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = prepare_single(attribute, item)? {
                out.push(v);
            }
        }
        if attribute.kind == Kind::Complex {
            only_one_primary(&mut out);
        }
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    if value.is_array() {
        return Err(invalid(format!("{} takes a single value", attribute.name)));
    }
    prepare_single(attribute, value)
}

/// RFC 7643 §2.4: `primary: true` appears at most once; the first stays.
fn only_one_primary(items: &mut [Value]) {
    let mut seen = false;
    for item in items {
        if let Some(primary) = item.get_mut("primary")
            && *primary == Value::Bool(true)
        {
            if seen {
                *primary = Value::Bool(false);
            }
            seen = true;
        }
    }
}

fn prepare_single(attribute: &Attribute, value: &Value) -> Result<Option<Value>, Error> {
    if value.is_null() {
        return Ok(None);
    }
    if attribute.kind != Kind::Complex {
        return simple(attribute, value).map(Some);
    }
    let object = match value {
        Value::Object(o) => o,
        // A bare value stands for the `value` sub-attribute.
        Value::String(_) if attribute.sub_attribute("value").is_some() => {
            let mut o = Map::new();
            o.insert("value".into(), value.clone());
            return Ok(Some(Value::Object(o)));
        }
        _ => {
            return Err(invalid(format!(
                "{} must be an object with sub-attributes",
                attribute.name
            )));
        }
    };
    let mut out = Map::new();
    for (key, v) in object {
        let Some(sub) = attribute.sub_attribute(key) else {
            continue;
        };
        if sub.mutability == Mutability::ReadOnly || v.is_null() {
            continue;
        }
        out.insert(sub.name.to_owned(), simple(sub, v)?);
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

fn simple(attribute: &Attribute, value: &Value) -> Result<Value, Error> {
    let name = attribute.name;
    let ok = match (attribute.kind, value) {
        (Kind::String | Kind::Reference | Kind::Binary, Value::String(_)) => true,
        (Kind::Boolean, Value::Bool(_)) => true,
        (Kind::Boolean, Value::String(s)) => {
            return match s.to_ascii_lowercase().as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(invalid(format!("{name} must be a boolean, got {s:?}"))),
            };
        }
        (Kind::Integer, Value::Number(n)) => n.is_i64() || n.is_u64(),
        (Kind::Decimal, Value::Number(_)) => true,
        (Kind::DateTime, Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339).is_ok(),
        _ => false,
    };
    if ok {
        Ok(value.clone())
    } else {
        let expected = match attribute.kind {
            Kind::String => "a string",
            Kind::Reference => "a URI string",
            Kind::Binary => "a base64 string",
            Kind::Boolean => "a boolean",
            Kind::Integer => "an integer",
            Kind::Decimal => "a number",
            Kind::DateTime => "an RFC 3339 dateTime",
            Kind::Complex => "an object",
        };
        Err(invalid(format!("{name} must be {expected}")))
    }
}

/// RFC 7643 §2.2: an immutable attribute, once set, keeps its value.
fn check_immutable(
    resource: &Map<String, Value>,
    existing: &Value,
    schema: &ResourceSchema,
) -> Result<(), Error> {
    for attribute in schema.core.attributes.iter().chain(&schema.common) {
        if attribute.mutability != Mutability::Immutable || attribute.multi_valued {
            continue;
        }
        if let Some(old) = get_ci(existing, attribute.name).filter(|v| !v.is_null())
            && resource.get(attribute.name) != Some(old)
        {
            return Err(Error::new(
                ScimType::Mutability,
                format!("{} is immutable", attribute.name),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
