//! Applying PATCH operations (RFC 7644 §3.5.2.1–3) to a resource's JSON.
//!
//! Interop choices, each from docs/scim-clients.md:
//! - a no-path `add`/`replace` takes keys that are plain, dotted
//!   (`name.givenName`), URN-qualified (`urn:…:User:employeeNumber`) or an
//!   extension URN with an object;
//! - read-only attributes inside a no-path value are skipped (Okta sends
//!   `id` with a rename); named by `path`, they are a `mutability` error;
//! - `remove` of a multi-valued attribute with a `value` list removes the
//!   listed elements (Entra ID's member removal);
//! - `replace` through a value path that matches nothing adds an element
//!   built from the filter's `eq` terms (Entra ID's first work email);
//! - `remove` through a value path that matches nothing changes nothing:
//!   the state the client asked for already holds.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::{Operation, PatchOp, PatchPath, PatchValuePath, parse_path};
use crate::filter::{
    AttrExp, AttrPath, CompValue, CompareOp, CoreSchema, ValFilter, element_matches,
};
use crate::json::key_ci;
use crate::resource_type::ResourceSchema;
use crate::schema::{Attribute, Mutability};
use crate::{Error, ScimType};

/// Applies `operations` in order to `resource` (the resource as rendered).
/// All or nothing: on error, the caller discards the partly changed copy.
pub fn apply(
    resource: &mut Map<String, Value>,
    operations: &[Operation],
    schema: &ResourceSchema,
) -> Result<(), Error> {
    let rules = CoreSchema::new();
    for operation in operations {
        apply_one(resource, operation, schema, &rules)?;
    }
    Ok(())
}

/// A resolved attribute path: where it lives and what it names.
struct Target<'a> {
    extension: Option<&'static str>,
    attribute: &'a Attribute,
    sub: Option<&'a Attribute>,
}

fn invalid_path(detail: String) -> Error {
    Error::new(ScimType::InvalidPath, detail)
}

fn read_only(name: &str) -> Error {
    Error::new(ScimType::Mutability, format!("{name} is read-only"))
}

fn resolve<'a>(schema: &'a ResourceSchema, path: &AttrPath) -> Result<Target<'a>, Error> {
    let resolved = schema
        .resolve(path.uri.as_deref(), &path.name)
        .ok_or_else(|| invalid_path(format!("{} has no attribute {:?}", schema.name, path.name)))?;
    let sub = match &path.sub_attr {
        Some(sub) => Some(resolved.attribute.sub_attribute(sub).ok_or_else(|| {
            invalid_path(format!(
                "{} has no sub-attribute {sub:?}",
                resolved.attribute.name
            ))
        })?),
        None => None,
    };
    Ok(Target {
        extension: resolved.extension,
        attribute: resolved.attribute,
        sub,
    })
}

fn is_read_only(target: &Target<'_>) -> bool {
    target.attribute.mutability == Mutability::ReadOnly
        || target
            .sub
            .is_some_and(|s| s.mutability == Mutability::ReadOnly)
}

fn apply_one(
    resource: &mut Map<String, Value>,
    operation: &Operation,
    schema: &ResourceSchema,
    rules: &CoreSchema,
) -> Result<(), Error> {
    match &operation.path {
        None => {
            if operation.op == PatchOp::Remove {
                return Err(Error::new(ScimType::NoTarget, "remove needs a path"));
            }
            let Some(Value::Object(values)) = &operation.value else {
                return Err(Error::new(
                    ScimType::InvalidValue,
                    "without a path, value must be an object of attributes",
                ));
            };
            for (key, value) in values {
                no_path(resource, operation.op, key, value, schema)?;
            }
            Ok(())
        }
        Some(PatchPath::Attr(path)) if whole_extension(schema, path).is_some() => {
            // The path names an extension schema: its object as a whole.
            let urn = whole_extension(schema, path).unwrap_or_default();
            match (operation.op, &operation.value) {
                (PatchOp::Remove, _) => {
                    let key = key_of(resource, urn);
                    resource.remove(&key);
                    Ok(())
                }
                (PatchOp::Replace, Some(Value::Object(_))) => {
                    let key = key_of(resource, urn);
                    resource.remove(&key);
                    no_path(
                        resource,
                        PatchOp::Add,
                        urn,
                        operation.value.as_ref().unwrap_or(&Value::Null),
                        schema,
                    )
                }
                (op, Some(value)) => no_path(resource, op, urn, value, schema),
                (op, None) => Err(Error::new(
                    ScimType::InvalidValue,
                    format!("{op:?} needs a value"),
                )),
            }
        }
        Some(PatchPath::Attr(path)) => {
            let target = resolve(schema, path)?;
            if is_read_only(&target) {
                return Err(read_only(target.attribute.name));
            }
            match operation.op {
                PatchOp::Remove => {
                    remove(resource, &target, operation.value.as_ref());
                    Ok(())
                }
                op => {
                    let value = operation.value.as_ref().ok_or_else(|| {
                        Error::new(ScimType::InvalidValue, format!("{op:?} needs a value"))
                    })?;
                    set(resource, &target, value, op)
                }
            }
        }
        Some(PatchPath::Value(path)) => value_path(resource, path, operation, schema, rules),
    }
}

/// The extension URN a path names as a whole (`urn:…:enterprise:2.0:User`),
/// which the path grammar reads as the attribute `User` of `urn:…:2.0`.
fn whole_extension(schema: &ResourceSchema, path: &AttrPath) -> Option<&'static str> {
    let uri = path.uri.as_deref()?;
    if path.sub_attr.is_some() {
        return None;
    }
    let full = format!("{uri}:{}", path.name);
    schema.extension(&full).map(|e| e.id)
}

/// One key of a no-path `add`/`replace` value.
fn no_path(
    resource: &mut Map<String, Value>,
    op: PatchOp,
    key: &str,
    value: &Value,
    schema: &ResourceSchema,
) -> Result<(), Error> {
    if key.eq_ignore_ascii_case("schemas") {
        return Ok(());
    }
    if let Some(extension) = schema.extension(key) {
        let Value::Object(inner) = value else {
            return Err(Error::new(
                ScimType::InvalidValue,
                format!("{} must be an object", extension.id),
            ));
        };
        for (name, v) in inner {
            let path = AttrPath {
                uri: Some(extension.id.to_owned()),
                name: name.clone(),
                sub_attr: None,
            };
            set_lenient(resource, schema, &path, v, op)?;
        }
        return Ok(());
    }
    if key.starts_with("urn:") && !is_qualified(key, schema) {
        // An unknown schema's object: ignored, as in a POST body.
        return Ok(());
    }
    match parse_path(key)? {
        PatchPath::Attr(path) => set_lenient(resource, schema, &path, value, op),
        PatchPath::Value(_) => Err(invalid_path(format!(
            "{key:?}: a value filter cannot be a key of a no-path value"
        ))),
    }
}

/// Whether `key` is `urn:…:name` for a schema of this resource type.
fn is_qualified(key: &str, schema: &ResourceSchema) -> bool {
    key.rsplit_once(':')
        .is_some_and(|(urn, _)| schema.is_core_urn(urn) || schema.extension(urn).is_some())
}

/// Sets a no-path key: unknown and read-only attributes are skipped.
fn set_lenient(
    resource: &mut Map<String, Value>,
    schema: &ResourceSchema,
    path: &AttrPath,
    value: &Value,
    op: PatchOp,
) -> Result<(), Error> {
    let Ok(target) = resolve(schema, path) else {
        return Ok(());
    };
    if is_read_only(&target) {
        return Ok(());
    }
    set(resource, &target, value, op)
}

fn key_of(object: &Map<String, Value>, name: &str) -> String {
    key_ci(object, name).map_or_else(|| name.to_owned(), Clone::clone)
}

/// The object holding the target's attribute, created when `create`.
fn container<'a>(
    resource: &'a mut Map<String, Value>,
    extension: Option<&str>,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    let Some(urn) = extension else {
        return Some(resource);
    };
    let key = key_of(resource, urn);
    if create && !resource.get(&key).is_some_and(Value::is_object) {
        resource.insert(key.clone(), Value::Object(Map::new()));
    }
    resource.get_mut(&key)?.as_object_mut()
}

fn truthy(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// RFC 7644 §3.5.2: a value made primary makes every other value not primary.
fn clear_other_primaries(items: &mut [Value], keep: &HashSet<usize>) {
    for (i, item) in items.iter_mut().enumerate() {
        if keep.contains(&i) {
            continue;
        }
        if let Some(object) = item.as_object_mut() {
            let key = key_of(object, "primary");
            if truthy(object.get(&key)) {
                object.insert(key, Value::Bool(false));
            }
        }
    }
}

/// Two elements are the same value when their `value` sub-attributes are
/// equal and a `type` given by the new one agrees.
fn same_element(existing: &Value, new: &Value) -> bool {
    let field = |v: &'_ Value, name: &str| -> Option<Value> {
        v.as_object().and_then(|o| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        })
    };
    match (existing, new) {
        (Value::Object(_), Value::Object(_)) => {
            let value = field(new, "value");
            value.is_some()
                && field(existing, "value") == value
                && field(new, "type")
                    .filter(|t| !t.is_null())
                    .is_none_or(|t| field(existing, "type") == Some(t))
        }
        (a, b) => a == b,
    }
}

/// What [`same_element`] compares first: the `value` sub-attribute of a
/// complex value, or a simple value itself. `None` for a complex value
/// without `value`, which is never the same as another.
fn element_key(element: &Value) -> Option<String> {
    match element {
        Value::Object(object) => object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("value"))
            .map(|(_, v)| v.to_string()),
        simple => Some(simple.to_string()),
    }
}

fn as_items(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        single => vec![single.clone()],
    }
}

/// `add` or `replace` at an attribute path (RFC 7644 §3.5.2.1, §3.5.2.3).
fn set(
    resource: &mut Map<String, Value>,
    target: &Target<'_>,
    value: &Value,
    op: PatchOp,
) -> Result<(), Error> {
    let attribute = target.attribute;
    let container = container(resource, target.extension, true)
        .ok_or_else(|| Error::new(ScimType::InvalidValue, "the extension is not an object"))?;
    let key = key_of(container, attribute.name);
    if let Some(sub) = target.sub {
        match container.get_mut(&key) {
            Some(Value::Array(items)) if attribute.multi_valued => {
                // `emails.type` without a filter names that sub-attribute of every value.
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    let k = key_of(item, sub.name);
                    item.insert(k, value.clone());
                }
                return Ok(());
            }
            _ if attribute.multi_valued => {
                return Err(Error::new(
                    ScimType::NoTarget,
                    format!("{} has no values", attribute.name),
                ));
            }
            Some(Value::Object(parent)) => {
                let k = key_of(parent, sub.name);
                parent.insert(k, value.clone());
            }
            _ => {
                let mut parent = Map::new();
                parent.insert(sub.name.to_owned(), value.clone());
                container.insert(key, Value::Object(parent));
            }
        }
        return Ok(());
    }
    if attribute.multi_valued {
        let new = as_items(value);
        if op == PatchOp::Replace {
            container.insert(key, Value::Array(new));
            return Ok(());
        }
        let mut items = match container.remove(&key) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        // Candidates by value, so adding n values to m is O(n + m), not
        // O(n × m) (a 1 MiB PATCH of 15 000 emails took seconds).
        let mut by_value: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(key) = element_key(item) {
                by_value.entry(key).or_default().push(i);
            }
        }
        let mut touched = HashSet::new();
        for element in new {
            let found = element_key(&element).and_then(|key| {
                by_value
                    .get(&key)?
                    .iter()
                    .copied()
                    .find(|&i| same_element(&items[i], &element))
            });
            match found {
                Some(i) => {
                    if let (Some(existing), Value::Object(more)) =
                        (items[i].as_object_mut(), &element)
                    {
                        existing.extend(more.clone());
                    }
                    touched.insert(i);
                }
                None => {
                    if let Some(key) = element_key(&element) {
                        by_value.entry(key).or_default().push(items.len());
                    }
                    items.push(element);
                    touched.insert(items.len() - 1);
                }
            }
        }
        let new_primary: HashSet<usize> = touched
            .iter()
            .copied()
            .filter(|&i| truthy(items[i].get("primary")))
            .collect();
        if !new_primary.is_empty() {
            clear_other_primaries(&mut items, &new_primary);
        }
        container.insert(key, Value::Array(items));
        return Ok(());
    }
    match (container.get_mut(&key), value) {
        // A complex value merges: sub-attributes not given stay (§3.5.2.3).
        (Some(Value::Object(existing)), Value::Object(more)) => {
            for (k, v) in more {
                let k = key_of(existing, k);
                existing.insert(k, v.clone());
            }
        }
        _ => {
            container.insert(key, value.clone());
        }
    }
    Ok(())
}

/// `remove` at an attribute path (RFC 7644 §3.5.2.2).
fn remove(resource: &mut Map<String, Value>, target: &Target<'_>, value: Option<&Value>) {
    let attribute = target.attribute;
    let Some(container) = container(resource, target.extension, false) else {
        return;
    };
    let key = key_of(container, attribute.name);
    match (target.sub, container.get_mut(&key)) {
        (Some(sub), Some(Value::Array(items))) => {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                let k = key_of(item, sub.name);
                item.remove(&k);
            }
        }
        (Some(sub), Some(Value::Object(parent))) => {
            let k = key_of(parent, sub.name);
            parent.remove(&k);
        }
        (Some(_), _) => {}
        (None, Some(Value::Array(items))) if value.is_some_and(|v| !v.is_null()) => {
            // Entra ID: `{"op":"Remove","path":"members","value":[{"value":id}]}`.
            let listed = as_items(value.unwrap_or(&Value::Null));
            // By value, so removing n of m values is O(n + m).
            let mut by_value: HashMap<String, Vec<&Value>> = HashMap::new();
            for l in &listed {
                if let Some(key) = element_key(l) {
                    by_value.entry(key).or_default().push(l);
                }
            }
            items.retain(|e| {
                let candidates = element_key(e).and_then(|key| by_value.get(&key));
                !candidates.is_some_and(|ls| ls.iter().any(|l| same_element(e, l)))
            });
        }
        (None, _) => {
            container.remove(&key);
        }
    }
}

/// The `sub eq value` terms of a filter joined by `and`, as an element.
fn equalities(filter: &ValFilter, into: &mut Map<String, Value>) -> bool {
    match filter {
        ValFilter::Attr(AttrExp::Comparison(path, CompareOp::Eq, value)) => {
            let value = match value {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::True => Value::Bool(true),
                CompValue::False => Value::Bool(false),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Null => return false,
            };
            into.insert(path.name.clone(), value);
            true
        }
        ValFilter::And(operands) => operands.as_slice().iter().all(|f| equalities(f, into)),
        _ => false,
    }
}

/// An operation through `attr[filter]` or `attr[filter].sub`.
fn value_path(
    resource: &mut Map<String, Value>,
    path: &PatchValuePath,
    operation: &Operation,
    schema: &ResourceSchema,
    rules: &CoreSchema,
) -> Result<(), Error> {
    let mut attr = path.attr.clone();
    attr.sub_attr = path.sub_attr.clone();
    let target = resolve(schema, &attr)?;
    let attribute = target.attribute;
    if !attribute.multi_valued || attribute.sub_attributes.is_empty() {
        return Err(invalid_path(format!(
            "{} is not a multi-valued complex attribute",
            attribute.name
        )));
    }
    if is_read_only(&target) {
        return Err(read_only(attribute.name));
    }
    let creating = operation.op != PatchOp::Remove;
    let Some(container) = container(resource, target.extension, creating) else {
        return Ok(());
    };
    let key = key_of(container, attribute.name);
    let mut items = match container.remove(&key) {
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
        None => Vec::new(),
    };
    let mut matched = Vec::new();
    for (i, element) in items.iter().enumerate() {
        if element_matches(&path.filter, element, &path.attr, rules)? {
            matched.push(i);
        }
    }
    match operation.op {
        PatchOp::Remove => match target.sub {
            Some(sub) => {
                for &i in &matched {
                    if let Some(element) = items[i].as_object_mut() {
                        let k = key_of(element, sub.name);
                        element.remove(&k);
                    }
                }
            }
            None => {
                let mut i = 0;
                items.retain(|_| {
                    i += 1;
                    !matched.contains(&(i - 1))
                });
            }
        },
        op => {
            let value = operation.value.as_ref().ok_or_else(|| {
                Error::new(ScimType::InvalidValue, format!("{op:?} needs a value"))
            })?;
            if matched.is_empty() {
                let mut element = Map::new();
                if !equalities(&path.filter, &mut element) {
                    container.insert(key, Value::Array(items));
                    return Err(Error::new(
                        ScimType::NoTarget,
                        format!("no value of {} matches the filter", attribute.name),
                    ));
                }
                match (target.sub, value) {
                    (Some(sub), v) => {
                        element.insert(sub.name.to_owned(), v.clone());
                    }
                    (None, Value::Object(more)) => element.extend(more.clone()),
                    (None, _) => {
                        return Err(Error::new(
                            ScimType::InvalidValue,
                            "the value of a filtered path must be an object",
                        ));
                    }
                }
                items.push(Value::Object(element));
                matched.push(items.len() - 1);
            } else {
                for &i in &matched {
                    let Some(element) = items[i].as_object_mut() else {
                        continue;
                    };
                    match (target.sub, value, op) {
                        (Some(sub), v, _) => {
                            let k = key_of(element, sub.name);
                            element.insert(k, v.clone());
                        }
                        (None, Value::Object(more), PatchOp::Replace) => *element = more.clone(),
                        (None, Value::Object(more), _) => {
                            for (k, v) in more {
                                let k = key_of(element, k);
                                element.insert(k, v.clone());
                            }
                        }
                        (None, _, _) => {
                            return Err(Error::new(
                                ScimType::InvalidValue,
                                "the value of a filtered path must be an object",
                            ));
                        }
                    }
                }
            }
            let primary: HashSet<usize> = matched
                .iter()
                .copied()
                .filter(|&i| truthy(items[i].get("primary")))
                .collect();
            if !primary.is_empty() {
                clear_other_primaries(&mut items, &primary);
            }
        }
    }
    if !items.is_empty() {
        container.insert(key, Value::Array(items));
    }
    Ok(())
}
