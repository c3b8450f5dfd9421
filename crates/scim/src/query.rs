//! List and read parameters (RFC 7644 §3.4.2.4 paging, §3.4.2.3 sorting,
//! §3.9 `attributes` / `excludedAttributes`) and the projection of a
//! resource onto them (RFC 7643 §2.4 `returned`).
//!
//! What it does not do: fetch or sort records; the server does that with
//! the store, using what these types say.

use serde_json::{Map, Value};

use crate::json::key_ci;
use crate::{Error, ScimType};

/// The paging the client asked for, clamped to what the server allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// 1-based (RFC 7644 §3.4.2.4); values below 1 mean 1.
    pub start_index: u64,
    /// How many at most; never above the server maximum.
    pub count: u64,
}

impl Paging {
    /// From the raw `startIndex` and `count` parameters. Non-numbers are
    /// `invalidValue`; out-of-range numbers are clamped as the RFC says.
    pub fn parse(
        start_index: Option<&str>,
        count: Option<&str>,
        default_count: u64,
        max_count: u64,
    ) -> Result<Self, Error> {
        let number = |name: &str, value: &str| {
            value.trim().parse::<i64>().map_err(|_| {
                Error::new(
                    ScimType::InvalidValue,
                    format!("{name} must be an integer, got {value:?}"),
                )
            })
        };
        let start_index = match start_index {
            Some(v) => number("startIndex", v)?.max(1).unsigned_abs(),
            None => 1,
        };
        let count = match count {
            Some(v) => number("count", v)?.max(0).unsigned_abs(),
            None => default_count,
        };
        Ok(Self {
            start_index,
            count: count.min(max_count),
        })
    }

    /// The 0-based offset for the store.
    pub fn offset(&self) -> u64 {
        self.start_index - 1
    }
}

/// An attribute named in `attributes`, `excludedAttributes` or `sortBy`:
/// `[URN ":"] name ["." subAttr]`, names without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrName {
    pub urn: Option<String>,
    pub name: String,
    pub sub_attr: Option<String>,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
}

impl AttrName {
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        let invalid = || {
            Error::new(
                ScimType::InvalidValue,
                format!("{text:?} is not an attribute name"),
            )
        };
        let (urn, rest) = match text.rsplit_once(':') {
            Some((urn, rest)) if urn.starts_with("urn:") => (Some(urn.to_owned()), rest),
            Some(_) => return Err(invalid()),
            None => (None, text),
        };
        let (name, sub_attr) = match rest.split_once('.') {
            Some((name, sub)) => (name, Some(sub)),
            None => (rest, None),
        };
        if !valid_name(name) || sub_attr.is_some_and(|s| !valid_name(s)) {
            return Err(invalid());
        }
        Ok(Self {
            urn,
            name: name.to_owned(),
            sub_attr: sub_attr.map(str::to_owned),
        })
    }

    /// A comma-separated list, as `attributes` carries.
    pub fn parse_list(text: Option<&str>) -> Result<Vec<Self>, Error> {
        text.map_or(Ok(Vec::new()), |t| {
            t.split(',')
                .filter(|p| !p.trim().is_empty())
                .map(Self::parse)
                .collect()
        })
    }
}

/// Attributes always returned (RFC 7643 §2.4 `returned: always`).
const ALWAYS: &[&str] = &["schemas", "id"];

fn is_core(urn: &str) -> bool {
    urn.to_ascii_lowercase()
        .starts_with("urn:ietf:params:scim:schemas:core:2.0:")
}

/// Where an attribute lives: the key of its object (the resource itself for
/// core attributes, or an extension object) and its name there.
fn container_key<'a>(
    resource: &'a Map<String, Value>,
    attr: &AttrName,
) -> Option<Option<&'a String>> {
    match &attr.urn {
        Some(urn) if !is_core(urn) => resource
            .keys()
            .find(|k| k.eq_ignore_ascii_case(urn))
            .map(Some),
        _ => Some(None),
    }
}

/// Keeps only `sub` in a complex value or in each element of a multi-valued one.
fn only_sub(value: &Value, sub: &str) -> Value {
    let pick = |v: &Value| match v.as_object() {
        Some(o) => Value::Object(
            key_ci(o, sub)
                .map(|k| (k.clone(), o[k].clone()))
                .into_iter()
                .collect(),
        ),
        None => v.clone(),
    };
    match value {
        Value::Array(items) => Value::Array(items.iter().map(pick).collect()),
        other => pick(other),
    }
}

/// Merges `value` into `target[key]`, combining sub-attribute selections.
fn merge(target: &mut Map<String, Value>, key: &str, value: Value) {
    match (target.get_mut(key), value) {
        (Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
        (Some(Value::Array(existing)), Value::Array(more)) => {
            for (slot, extra) in existing.iter_mut().zip(more) {
                if let (Value::Object(slot), Value::Object(extra)) = (slot, extra) {
                    slot.extend(extra);
                }
            }
        }
        (_, value) => {
            target.insert(key.to_owned(), value);
        }
    }
}

/// Projects a resource onto `attributes` (only those, plus the always
/// returned) or, when that is empty, removes `excluded` (RFC 7644 §3.9).
pub fn project(resource: &Value, attributes: &[AttrName], excluded: &[AttrName]) -> Value {
    let Some(object) = resource.as_object() else {
        return resource.clone();
    };
    if !attributes.is_empty() {
        let mut out = Map::new();
        for always in ALWAYS {
            if let Some(v) = object.get(*always) {
                out.insert((*always).to_owned(), v.clone());
            }
        }
        for attr in attributes {
            let Some(container) = container_key(object, attr) else {
                continue;
            };
            let source = match container {
                Some(key) => object[key].as_object(),
                None => Some(object),
            };
            let Some(source) = source else { continue };
            let Some(name) = key_ci(source, &attr.name) else {
                continue;
            };
            let value = match &attr.sub_attr {
                Some(sub) => only_sub(&source[name], sub),
                None => source[name].clone(),
            };
            match container {
                Some(key) => {
                    let mut inner = Map::new();
                    inner.insert(name.clone(), value);
                    merge(&mut out, key, Value::Object(inner));
                }
                None => merge(&mut out, name, value),
            }
        }
        return Value::Object(out);
    }
    let mut out = object.clone();
    for attr in excluded {
        if attr.urn.is_none()
            && attr.sub_attr.is_none()
            && ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(&attr.name))
        {
            continue;
        }
        let Some(container) = container_key(object, attr) else {
            continue;
        };
        let target = match container {
            Some(key) => out.get_mut(key).and_then(Value::as_object_mut),
            None => Some(&mut out),
        };
        let Some(target) = target else { continue };
        let Some(name) = key_ci(target, &attr.name).cloned() else {
            continue;
        };
        match &attr.sub_attr {
            None => {
                target.remove(&name);
            }
            Some(sub) => {
                let strip = |v: &mut Value| {
                    if let Some(o) = v.as_object_mut()
                        && let Some(k) = key_ci(o, sub).cloned()
                    {
                        o.remove(&k);
                    }
                };
                match target.get_mut(&name) {
                    Some(Value::Array(items)) => items.iter_mut().for_each(strip),
                    Some(other) => strip(other),
                    None => {}
                }
            }
        }
    }
    Value::Object(out)
}

/// Whether a resource response includes `name` (a core attribute with
/// `returned: default`) under these parameters (RFC 7644 §3.9). Lets the
/// server skip computing what will not be sent (e.g. `User.groups`).
pub fn wants(name: &str, attributes: &[AttrName], excluded: &[AttrName]) -> bool {
    let named = |list: &[AttrName]| {
        list.iter()
            .any(|a| a.name.eq_ignore_ascii_case(name) && a.urn.as_deref().is_none_or(is_core))
    };
    if attributes.is_empty() {
        !excluded.iter().any(|a| {
            a.sub_attr.is_none()
                && a.name.eq_ignore_ascii_case(name)
                && a.urn.as_deref().is_none_or(is_core)
        })
    } else {
        named(attributes)
    }
}

/// The value a resource sorts by (RFC 7644 §3.4.2.3): for a multi-valued
/// attribute, the primary value if any, else the first.
fn sort_value<'a>(resource: &'a Value, by: &AttrName) -> Option<&'a Value> {
    let object = resource.as_object()?;
    let source = match container_key(object, by)? {
        Some(key) => object[key].as_object()?,
        None => object,
    };
    let value = &source[key_ci(source, &by.name)?];
    let value = match value {
        Value::Array(items) => items
            .iter()
            .find(|v| v.get("primary") == Some(&Value::Bool(true)))
            .or_else(|| items.first())?,
        other => other,
    };
    let sub = by
        .sub_attr
        .as_deref()
        .or(value.is_object().then_some("value"));
    match sub {
        Some(sub) => value
            .as_object()
            .and_then(|o| key_ci(o, sub).map(|k| &o[k])),
        None => Some(value),
    }
    .filter(|v| !v.is_null())
}

/// Sorts resources by `by`; resources without a value come last in either
/// order (RFC 7644 §3.4.2.3). Strings compare without regard to case unless
/// `case_exact`. The sort is stable, so equal keys keep the store's order.
pub fn sort(resources: &mut [Value], by: &AttrName, descending: bool, case_exact: bool) {
    use std::cmp::Ordering;
    let compare = |a: &Value, b: &Value| -> Ordering {
        match (a, b) {
            (Value::String(a), Value::String(b)) if !case_exact => {
                a.to_lowercase().cmp(&b.to_lowercase())
            }
            (Value::String(a), Value::String(b)) => a.cmp(b),
            (Value::Number(a), Value::Number(b)) => a
                .as_f64()
                .partial_cmp(&b.as_f64())
                .unwrap_or(Ordering::Equal),
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            _ => Ordering::Equal,
        }
    };
    resources.sort_by(|a, b| match (sort_value(a, by), sort_value(b, by)) {
        (Some(a), Some(b)) if descending => compare(b, a),
        (Some(a), Some(b)) => compare(a, b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    });
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn sorting_puts_missing_values_last_and_picks_primary_values() {
        let mut users = vec![
            json!({"id": "1", "userName": "carol", "emails": [{"value": "z@x"}, {"value": "a@x", "primary": true}]}),
            json!({"id": "2", "userName": "Alice"}),
            json!({"id": "3", "userName": "bob", "emails": [{"value": "m@x"}]}),
        ];
        let ids = |users: &[Value]| {
            users
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        sort(
            &mut users,
            &AttrName::parse("userName").unwrap(),
            false,
            false,
        );
        assert_eq!(ids(&users), ["2", "3", "1"]);
        sort(
            &mut users,
            &AttrName::parse("emails").unwrap(),
            false,
            false,
        );
        assert_eq!(ids(&users), ["1", "3", "2"]);
        sort(
            &mut users,
            &AttrName::parse("emails.value").unwrap(),
            true,
            false,
        );
        assert_eq!(ids(&users), ["3", "1", "2"]);
    }

    #[test]
    fn wants_follows_attributes_and_excluded() {
        let list = |s| AttrName::parse_list(Some(s)).unwrap();
        assert!(wants("groups", &[], &[]));
        assert!(!wants("groups", &[], &list("groups")));
        assert!(wants("groups", &[], &list("groups.display")));
        assert!(!wants("groups", &list("userName"), &[]));
        assert!(wants("groups", &list("GROUPS.value"), &[]));
    }

    use super::*;

    #[test]
    fn paging_is_clamped_as_rfc_7644_says() {
        assert_eq!(
            Paging::parse(None, None, 100, 1000).unwrap(),
            Paging {
                start_index: 1,
                count: 100
            }
        );
        assert_eq!(
            Paging::parse(Some("0"), Some("-5"), 100, 1000).unwrap(),
            Paging {
                start_index: 1,
                count: 0
            }
        );
        assert_eq!(
            Paging::parse(Some("21"), Some("5000"), 100, 1000).unwrap(),
            Paging {
                start_index: 21,
                count: 1000
            }
        );
        assert_eq!(
            Paging::parse(Some("21"), None, 100, 1000).unwrap().offset(),
            20
        );
        let err = Paging::parse(Some("first"), None, 100, 1000).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
    }

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "2819c223",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@example.com", "type": "work"}, {"value": "b@home.org", "type": "home"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "costCenter": "4130"},
            "meta": {"resourceType": "User"}
        })
    }

    fn names(text: &str) -> Vec<AttrName> {
        AttrName::parse_list(Some(text)).unwrap()
    }

    #[test]
    fn attributes_select_and_always_keep_id_and_schemas() {
        let projected = project(
            &user(),
            &names("userName, name.givenName, emails.value"),
            &[],
        );
        assert_eq!(
            projected,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "2819c223",
                "userName": "bjensen",
                "name": {"givenName": "Barbara"},
                "emails": [{"value": "b@example.com"}, {"value": "b@home.org"}]
            })
        );
        let urn = project(
            &user(),
            &names(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber,urn:ietf:params:scim:schemas:core:2.0:User:USERNAME",
            ),
            &[],
        );
        assert_eq!(
            urn["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            json!({"employeeNumber": "701984"})
        );
        assert_eq!(urn["userName"], "bjensen");
    }

    #[test]
    fn excluded_attributes_remove_but_never_id() {
        let projected = project(
            &user(),
            &[],
            &names(
                "emails.type,name,id,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
            ),
        );
        assert!(projected.get("name").is_none());
        assert_eq!(projected["id"], "2819c223");
        assert_eq!(
            projected["emails"],
            json!([{"value": "b@example.com"}, {"value": "b@home.org"}])
        );
        assert_eq!(
            projected["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            json!({"employeeNumber": "701984"})
        );
    }

    #[test]
    fn attribute_names_are_validated() {
        for bad in ["1abc", "a b", "name.given.name", "evil:userName"] {
            assert_eq!(
                AttrName::parse(bad).unwrap_err().scim_type,
                Some(ScimType::InvalidValue),
                "{bad}"
            );
        }
        assert_eq!(
            AttrName::parse("emails.$ref").unwrap().sub_attr.as_deref(),
            Some("$ref")
        );
    }
}
