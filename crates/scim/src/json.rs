//! Member lookup in resource JSON without regard to case: RFC 7643 §2.1
//! makes attribute names case-insensitive, so `USERNAME` finds `userName`.

use serde_json::{Map, Value};

/// The key of `object` that spells `name`, whatever its case.
pub(crate) fn key_ci<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a String> {
    object.keys().find(|k| k.eq_ignore_ascii_case(name))
}

/// The member of `value` (if it is an object) named `name`, whatever its case.
pub(crate) fn get_ci<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    let object = value.as_object()?;
    key_ci(object, name).map(|k| &object[k])
}
