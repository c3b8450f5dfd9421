//! PATCH: the path parser on the first line; the rest, if JSON, as a PATCH
//! request applied to a user and prepared for storage, as the server does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let _ = scim::patch::parse_path(first);
    let Ok(body) = serde_json::from_str::<Value>(rest) else {
        return;
    };
    let schema = scim::ResourceSchema::user();
    let current = json!({
        "id": "1", "userName": "bjensen", "active": true,
        "name": {"givenName": "Barbara"},
        "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7"}
    });
    let Ok(operations) = scim::patch::parse_request(&body) else {
        return;
    };
    let mut resource = current.as_object().cloned().unwrap_or_default();
    if scim::patch::apply(&mut resource, &operations, &schema).is_ok() {
        let _ = scim::input::prepare(&Value::Object(resource), &schema, Some(&current));
    }
    let group = scim::ResourceSchema::group();
    let mut members = json!({"displayName": "g", "members": [{"value": "a"}]})
        .as_object()
        .cloned()
        .unwrap_or_default();
    let _ = scim::patch::apply(&mut members, &operations, &group);
});
