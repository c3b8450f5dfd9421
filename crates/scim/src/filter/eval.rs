//! Filter evaluation (RFC 7644 §3.4.2.2) against resource JSON.
//!
//! Rules applied:
//! - attribute names match without regard to case (RFC 7643 §2.1); a URN
//!   prefix selects an extension object, the core schema URN is the resource;
//! - a multi-valued attribute matches if any of its values does; a
//!   multi-valued complex attribute compared without a sub-attribute is
//!   compared by its `value` sub-attribute;
//! - strings compare per `caseExact`; `dateTime` values chronologically;
//!   numbers numerically; booleans only with `eq`/`ne` (ordering them is an
//!   `invalidFilter`);
//! - `pr` is true for a value that is not null, not an empty string and not
//!   an empty array.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{AttrExp, AttrPath, CompValue, CompareOp, Filter, ValFilter};
use crate::json::get_ci;
use crate::{Error, ScimType};

/// The type of an attribute (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Reference,
    Complex,
    Binary,
}

/// What the evaluator needs to know about one attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrInfo {
    pub kind: Kind,
    pub case_exact: bool,
    /// The core User `userName`: compared as [`crate::user_name`] says.
    pub user_name: bool,
}

/// Attribute rules by (schema URN, name, sub-attribute); names arrive as
/// written in the filter and must be matched without regard to case.
pub trait Schema {
    fn attribute(&self, urn: Option<&str>, name: &str, sub_attr: Option<&str>) -> AttrInfo;
}

/// Whether `resource` satisfies `filter`. `Err` for a filter that is valid
/// grammar but meaningless for the schema (e.g. `active gt true`).
pub fn matches(filter: &Filter, resource: &Value, schema: &dyn Schema) -> Result<bool, Error> {
    Ok(match filter {
        Filter::Attr(exp) => attr_exp(exp, resource, None, schema)?,
        Filter::Not(inner) => !matches(inner, resource, schema)?,
        Filter::And(operands) => {
            for f in operands.as_slice() {
                if !matches(f, resource, schema)? {
                    return Ok(false);
                }
            }
            true
        }
        Filter::Or(operands) => {
            for f in operands.as_slice() {
                if matches(f, resource, schema)? {
                    return Ok(true);
                }
            }
            false
        }
        Filter::ValuePath(path) => {
            let values = lookup(resource, &path.attr, false);
            let mut any = false;
            for element in values {
                if val_filter(&path.filter, element, &path.attr, schema)? {
                    any = true;
                    break;
                }
            }
            any
        }
    })
}

/// Whether one element of the multi-valued attribute `parent` satisfies the
/// value filter of `parent[filter]` (PATCH paths use this).
pub fn element_matches(
    filter: &ValFilter,
    element: &Value,
    parent: &AttrPath,
    schema: &dyn Schema,
) -> Result<bool, Error> {
    val_filter(filter, element, parent, schema)
}

/// A value filter inside `parent[...]`: paths are sub-attributes of each element.
fn val_filter(
    filter: &ValFilter,
    element: &Value,
    parent: &AttrPath,
    schema: &dyn Schema,
) -> Result<bool, Error> {
    Ok(match filter {
        ValFilter::Attr(exp) => attr_exp(exp, element, Some(parent), schema)?,
        ValFilter::Not(inner) => !val_filter(inner, element, parent, schema)?,
        ValFilter::And(operands) => {
            for f in operands.as_slice() {
                if !val_filter(f, element, parent, schema)? {
                    return Ok(false);
                }
            }
            true
        }
        ValFilter::Or(operands) => {
            for f in operands.as_slice() {
                if val_filter(f, element, parent, schema)? {
                    return Ok(true);
                }
            }
            false
        }
    })
}

fn is_core_urn(urn: &str) -> bool {
    urn.eq_ignore_ascii_case("urn:ietf:params:scim:schemas:core:2.0:User")
        || urn.eq_ignore_ascii_case("urn:ietf:params:scim:schemas:core:2.0:Group")
}

/// The values at `path` in `root`, flattened over multi-valued attributes.
/// `value_default` compares a multi-valued complex attribute by its `value`.
fn lookup<'a>(root: &'a Value, path: &AttrPath, value_default: bool) -> Vec<&'a Value> {
    let base = match &path.uri {
        Some(urn) if !is_core_urn(urn) => match get_ci(root, urn) {
            Some(extension) => extension,
            None => return Vec::new(),
        },
        _ => root,
    };
    let Some(top) = get_ci(base, &path.name) else {
        return Vec::new();
    };
    let items: Vec<&Value> = match top {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let sub = path.sub_attr.as_deref().or_else(|| {
        let complex_multi =
            matches!(top, Value::Array(items) if items.iter().any(Value::is_object));
        (value_default && complex_multi).then_some("value")
    });
    match sub {
        Some(sub) => items
            .into_iter()
            .filter_map(|item| get_ci(item, sub))
            .collect(),
        None => items,
    }
}

fn present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(present),
        _ => true,
    }
}

fn attr_exp(
    exp: &AttrExp,
    target: &Value,
    parent: Option<&AttrPath>,
    schema: &dyn Schema,
) -> Result<bool, Error> {
    let path = match exp {
        AttrExp::Present(path) | AttrExp::Comparison(path, _, _) => path,
    };
    // Inside a value path the expression's path names a sub-attribute.
    let (info, values) = match parent {
        Some(parent) => {
            let info = schema.attribute(parent.uri.as_deref(), &parent.name, Some(&path.name));
            (
                info,
                get_ci(target, &path.name).into_iter().collect::<Vec<_>>(),
            )
        }
        None => (
            schema.attribute(path.uri.as_deref(), &path.name, path.sub_attr.as_deref()),
            lookup(target, path, true),
        ),
    };
    let (op, expected) = match exp {
        AttrExp::Present(_) => return Ok(values.into_iter().any(present)),
        AttrExp::Comparison(_, op, value) => (op, value),
    };
    if info.kind == Kind::Boolean && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
        return Err(Error::new(
            ScimType::InvalidFilter,
            "boolean attributes can only be compared with eq or ne",
        ));
    }
    if info.kind == Kind::Binary && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
        return Err(Error::new(
            ScimType::InvalidFilter,
            "binary attributes cannot be ordered or searched",
        ));
    }
    if matches!(expected, CompValue::Null) {
        // "eq null" asks for absence; "ne null" for presence.
        let any = values.iter().any(|v| present(v));
        return Ok(match op {
            CompareOp::Eq => !any,
            CompareOp::Ne => any,
            _ => {
                return Err(Error::new(
                    ScimType::InvalidFilter,
                    "null can only be compared with eq or ne",
                ));
            }
        });
    }
    let any = values
        .iter()
        .flat_map(|v| flatten(v))
        .any(|v| compare(v, op, expected, info));
    Ok(match op {
        // "ne" holds when no value equals (an absent attribute included).
        CompareOp::Ne => !values
            .iter()
            .flat_map(|v| flatten(v))
            .any(|v| compare(v, &CompareOp::Eq, expected, info)),
        _ => any,
    })
}

fn flatten(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

fn compare(actual: &Value, op: &CompareOp, expected: &CompValue, info: AttrInfo) -> bool {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (actual, expected) {
        (Value::Bool(a), CompValue::True) => Some(a.cmp(&true)),
        (Value::Bool(a), CompValue::False) => Some(a.cmp(&false)),
        (Value::Number(a), CompValue::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::String(a), CompValue::Str(b)) if info.kind == Kind::DateTime => {
            match (
                OffsetDateTime::parse(a, &Rfc3339),
                OffsetDateTime::parse(b, &Rfc3339),
            ) {
                (Ok(a), Ok(b)) => Some(a.cmp(&b)),
                _ => None,
            }
        }
        (Value::String(a), CompValue::Str(b)) => {
            let (a, b) = if info.user_name {
                // A part of a name (co, sw, ew) the profile refuses is still
                // compared, in lower case.
                let fold = |s: &str| crate::user_name::key(s).unwrap_or_else(|_| s.to_lowercase());
                (fold(a), fold(b))
            } else if info.case_exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            return string_op(&a, op, &b);
        }
        _ => None,
    };
    let Some(ordering) = ordering else {
        return false;
    };
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        // Substring operators apply to strings only.
        _ => false,
    }
}

fn string_op(a: &str, op: &CompareOp, b: &str) -> bool {
    match op {
        CompareOp::Eq => a == b,
        CompareOp::Ne => a != b,
        CompareOp::Co => a.contains(b),
        CompareOp::Sw => a.starts_with(b),
        CompareOp::Ew => a.ends_with(b),
        CompareOp::Gt => a > b,
        CompareOp::Ge => a >= b,
        CompareOp::Lt => a < b,
        CompareOp::Le => a <= b,
    }
}
