//! RFC 7644 §3.5.2 examples and the shapes of docs/scim-clients.md, as data:
//! (resource before, operations, resource after or the error's scimType).

use serde_json::{Map, Value, json};

use super::*;
use crate::input::prepare;
use crate::{ResourceSchema, urn};

fn run(schema: &ResourceSchema, before: &Value, ops: Value) -> Result<Value, Error> {
    let operations = parse_request(&json!({"schemas": [urn::PATCH_OP], "Operations": ops}))?;
    let mut resource: Map<String, Value> = before.as_object().unwrap().clone();
    apply(&mut resource, &operations, schema)?;
    let prepared = prepare(&Value::Object(resource), schema, Some(before))?;
    let mut out = prepared.resource;
    if let Some(password) = prepared.password {
        out.insert("password".into(), json!(password));
    }
    Ok(Value::Object(out))
}

fn barbara() -> Value {
    json!({
        "userName": "bjensen",
        "externalId": "bjensen-ext",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "active": true,
        urn::ENTERPRISE_USER: {"employeeNumber": "701984"}
    })
}

fn tour_guides() -> Value {
    json!({
        "displayName": "Tour Guides",
        "members": [{"value": "2819c223", "type": "User"}, {"value": "902c246b", "type": "User"}]
    })
}

#[test]
fn user_cases() {
    let user = ResourceSchema::user();
    let cases: Vec<(&str, Value, Result<Value, ScimType>)> = vec![
        (
            "Entra: capitalised Replace with a string boolean",
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
            Ok(json!({"active": false})),
        ),
        (
            "sub-attribute path",
            json!([{"op": "replace", "path": "name.givenName", "value": "Babs"}]),
            Ok(json!({"name": {"givenName": "Babs", "familyName": "Jensen"}})),
        ),
        (
            "filtered replace of an existing work email",
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@new.example"}]),
            Ok(json!({"emails": [
                {"value": "b@new.example", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ]})),
        ),
        (
            "URN path into the enterprise extension",
            json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "42"}]),
            Ok(json!({urn::ENTERPRISE_USER: {"employeeNumber": "42"}})),
        ),
        (
            "URN path to a manager given as a bare id",
            json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "m-1"}]),
            Ok(
                json!({urn::ENTERPRISE_USER: {"employeeNumber": "701984", "manager": {"value": "m-1"}}}),
            ),
        ),
        (
            "Entra compliance mode: one no-path replace with dotted and URN keys",
            json!([{"op": "replace", "value": {
                "name.givenName": "Bab",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Tours",
                "active": "True",
                "displayName": "Babs J"
            }}]),
            Ok(json!({
                "name": {"givenName": "Bab", "familyName": "Jensen"},
                urn::ENTERPRISE_USER: {"employeeNumber": "701984", "department": "Tours"},
                "displayName": "Babs J",
            })),
        ),
        (
            "Okta: no-path replace to deactivate, and a password",
            json!([{"op": "replace", "value": {"active": false, "password": "n3w-Pa55!"}}]),
            Ok(json!({"active": false, "password": "n3w-Pa55!"})),
        ),
        (
            "RFC 7644 §3.5.2.1: add a value to a multi-valued attribute",
            json!([{"op": "add", "path": "emails", "value": [{"value": "b@other.example", "type": "other", "primary": true}]}]),
            Ok(json!({"emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": false},
                {"value": "babs@jensen.org", "type": "home"},
                {"value": "b@other.example", "type": "other", "primary": true}
            ]})),
        ),
        (
            "RFC 7644 §3.5.2.2: remove with a value filter",
            json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
            Ok(
                json!({"emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}]}),
            ),
        ),
        (
            "remove a sub-attribute of matching values",
            json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
            Ok(json!({"emails": [
                {"value": "bjensen@example.com", "type": "work"},
                {"value": "babs@jensen.org", "type": "home"}
            ]})),
        ),
        (
            "remove a whole attribute",
            json!([{"op": "remove", "path": "externalId"}]),
            Ok(json!({"externalId": null})),
        ),
        (
            "the extension as a whole, by its URN",
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": {"department": "Tours"}}]),
            Ok(json!({urn::ENTERPRISE_USER: {"department": "Tours"}})),
        ),
        (
            "add into the extension by its URN",
            json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": {"department": "Tours"}}]),
            Ok(json!({urn::ENTERPRISE_USER: {"employeeNumber": "701984", "department": "Tours"}})),
        ),
        (
            "remove the extension by its URN",
            json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]),
            Ok(json!({urn::ENTERPRISE_USER: null})),
        ),
        (
            "remove without a path",
            json!([{"op": "remove"}]),
            Err(ScimType::NoTarget),
        ),
        (
            "read-only attribute by path",
            json!([{"op": "replace", "path": "groups", "value": []}]),
            Err(ScimType::Mutability),
        ),
        (
            "read-only id is skipped in a no-path value",
            json!([{"op": "replace", "value": {"id": "other", "nickName": "Babs"}}]),
            Ok(json!({"nickName": "Babs"})),
        ),
        (
            "unknown attribute path",
            json!([{"op": "replace", "path": "shoeSize", "value": 42}]),
            Err(ScimType::InvalidPath),
        ),
        (
            "invalid path grammar",
            json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]),
            Err(ScimType::InvalidPath),
        ),
        (
            "a filter that cannot create a value",
            json!([{"op": "replace", "path": "emails[value co \"zzz\"].type", "value": "home"}]),
            Err(ScimType::NoTarget),
        ),
        (
            "a type error",
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
            Err(ScimType::InvalidValue),
        ),
        (
            "removing a required attribute",
            json!([{"op": "remove", "path": "userName"}]),
            Err(ScimType::InvalidValue),
        ),
        (
            "an unknown op",
            json!([{"op": "move", "path": "userName"}]),
            Err(ScimType::InvalidSyntax),
        ),
    ];
    for (name, ops, expected) in cases {
        let got = run(&user, &barbara(), ops);
        match expected {
            Ok(changes) => {
                let mut want = barbara().as_object().unwrap().clone();
                for (k, v) in changes.as_object().unwrap() {
                    if v.is_null() {
                        want.remove(k);
                    } else {
                        want.insert(k.clone(), v.clone());
                    }
                }
                assert_eq!(
                    got.unwrap_or_else(|e| panic!("{name}: {e}")),
                    Value::Object(want),
                    "{name}"
                );
            }
            Err(scim_type) => assert_eq!(got.unwrap_err().scim_type, Some(scim_type), "{name}"),
        }
    }
}

#[test]
fn entra_filtered_replace_of_an_absent_work_email_adds_it() {
    let user = ResourceSchema::user();
    let before = json!({"userName": "bjensen"});
    let after = run(
        &user,
        &before,
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@example.com"}]),
    )
    .unwrap();
    assert_eq!(
        after["emails"],
        json!([{"type": "work", "value": "b@example.com"}])
    );
}

#[test]
fn group_cases() {
    let group = ResourceSchema::group();
    let cases: Vec<(&str, Value, Result<Value, ScimType>)> = vec![
        (
            "RFC 7644 §3.5.2.1: add members; a member already present is not repeated",
            json!([{"op": "add", "path": "members", "value": [{"value": "2819c223", "$ref": null}, {"value": "aa11"}]}]),
            Ok(
                json!([{"value": "2819c223", "type": "User"}, {"value": "902c246b", "type": "User"}, {"value": "aa11"}]),
            ),
        ),
        (
            "RFC 7644 §3.5.2.2: remove one member by filter",
            json!([{"op": "remove", "path": "members[value eq \"2819c223\"]"}]),
            Ok(json!([{"value": "902c246b", "type": "User"}])),
        ),
        (
            "Entra: Remove members with a value list",
            json!([{"op": "Remove", "path": "members", "value": [{"value": "902c246b"}]}]),
            Ok(json!([{"value": "2819c223", "type": "User"}])),
        ),
        (
            "Okta: remove by filter and add in one request",
            json!([
                {"op": "remove", "path": "members[value eq \"2819c223\"]"},
                {"op": "add", "path": "members", "value": [{"value": "cc33", "display": "C"}]}
            ]),
            Ok(json!([{"value": "902c246b", "type": "User"}, {"value": "cc33"}])),
        ),
        (
            "Okta: replace members",
            json!([{"op": "replace", "path": "members", "value": [{"value": "dd44"}]}]),
            Ok(json!([{"value": "dd44"}])),
        ),
        (
            "RFC 7644 §3.5.2.2: remove all members",
            json!([{"op": "remove", "path": "members"}]),
            Ok(Value::Null),
        ),
        (
            "removing a member that is not there changes nothing",
            json!([{"op": "remove", "path": "members[value eq \"nobody\"]"}]),
            Ok(tour_guides()["members"].clone()),
        ),
        (
            "replacing a member's value is a mutability error",
            json!([{"op": "replace", "path": "members[value eq \"2819c223\"].display", "value": "x"}]),
            Err(ScimType::Mutability),
        ),
    ];
    for (name, ops, expected) in cases {
        let got = run(&group, &tour_guides(), ops);
        match expected {
            Ok(members) => {
                let got = got.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(
                    got.get("members").cloned().unwrap_or(Value::Null),
                    members,
                    "{name}"
                );
                assert_eq!(got["displayName"], "Tour Guides", "{name}");
            }
            Err(scim_type) => assert_eq!(got.unwrap_err().scim_type, Some(scim_type), "{name}"),
        }
    }
}

#[test]
fn okta_rename_with_id_in_the_value() {
    let after = run(
        &ResourceSchema::group(),
        &tour_guides(),
        json!([{"op": "replace", "value": {"id": "abf4dd94", "displayName": "Tour Guides (EU)"}}]),
    )
    .unwrap();
    assert_eq!(after["displayName"], "Tour Guides (EU)");
    assert_eq!(after["members"], tour_guides()["members"]);
}

#[test]
fn request_needs_the_patch_schema_and_operations() {
    for body in [
        json!({"Operations": [{"op": "add", "path": "nickName", "value": "x"}]}),
        json!({"schemas": [urn::PATCH_OP], "Operations": []}),
        json!({"schemas": [urn::PATCH_OP]}),
        json!({"schemas": [urn::PATCH_OP], "Operations": [{"path": "x"}]}),
    ] {
        assert_eq!(
            parse_request(&body).unwrap_err().scim_type,
            Some(ScimType::InvalidSyntax),
            "{body}"
        );
    }
    let ops = parse_request(
        &json!({"schemas": [urn::PATCH_OP], "operations": [{"OP": "Add", "Path": "", "Value": 1}]}),
    )
    .unwrap();
    assert_eq!(ops[0].op, PatchOp::Add);
    assert_eq!(ops[0].path, None);
}

/// Adding and removing many values is linear (a 1 MiB PATCH of 15 000
/// emails took seconds when each add scanned every value); the result is
/// still deduplicated and checked against the cap.
#[test]
fn many_values_are_added_and_removed_by_value() {
    let schema = ResourceSchema::group();
    let mut group = json!({"displayName": "g"}).as_object().cloned().unwrap();
    let members: Vec<Value> = (0..20_000)
        .map(|i| json!({"value": format!("m{i}")}))
        .collect();
    let add = |value: Value| {
        parse_request(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": value}]
        }))
        .unwrap()
    };
    apply(&mut group, &add(json!(members)), &schema).unwrap();
    // Again, with one new member: the rest are the same values.
    apply(
        &mut group,
        &add(json!([{"value": "m5"}, {"value": "new"}])),
        &schema,
    )
    .unwrap();
    assert_eq!(group["members"].as_array().unwrap().len(), 20_001);
    let remove = parse_request(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": "members", "value": members[..10_000]}]
    }))
    .unwrap();
    apply(&mut group, &remove, &schema).unwrap();
    let left = group["members"].as_array().unwrap();
    assert_eq!(left.len(), 10_001);
    assert_eq!(left[0]["value"], "m10000");
}
