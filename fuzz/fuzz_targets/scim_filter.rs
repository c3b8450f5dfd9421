//! The SCIM filter parser and evaluator: any text, parsed; whatever parses,
//! evaluated against a resource with every attribute type.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

static USER: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "2819c223", "userName": "Bjensen", "active": true, "loginCount": 12,
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "emails": [{"value": "b@example.com", "type": "work", "primary": true}, {"value": "c@x.org"}],
        "meta": {"created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984"}
    })
});
static SCHEMA: LazyLock<scim::filter::CoreSchema> = LazyLock::new(scim::filter::CoreSchema::new);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(filter) = scim::filter::parse(text) {
        let _ = scim::filter::matches(&filter, &USER, &*SCHEMA);
    }
});
