use serde_json::{Value, json};

use super::*;
use crate::urn;

fn user(input: Value) -> Result<Prepared, Error> {
    prepare(&input, &ResourceSchema::user(), None)
}

#[test]
fn rfc_7643_full_user_is_kept_as_sent() {
    let input = json!({
        "schemas": [urn::USER, urn::ENTERPRISE_USER],
        "id": "ignored",
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara"},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "active": true,
        "password": "t1meMa$heen",
        "groups": [{"value": "e9e30dba", "display": "Tour Guides"}],
        "meta": {"resourceType": "User", "version": "W/\"3694e05e9dff591\""},
        urn::ENTERPRISE_USER: {"employeeNumber": "701984", "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}},
    });
    let prepared = user(input).unwrap();
    assert_eq!(prepared.password.as_deref(), Some("t1meMa$heen"));
    let r = &prepared.resource;
    for gone in ["id", "meta", "groups", "schemas", "password"] {
        assert!(!r.contains_key(gone), "{gone} must not be stored");
    }
    assert_eq!(r["userName"], "bjensen@example.com");
    assert_eq!(r["emails"][0]["primary"], true);
    // manager.displayName is read-only.
    assert_eq!(
        r[urn::ENTERPRISE_USER]["manager"],
        json!({"value": "26118915-6090-4610-87e4-49d8ca9f808d"})
    );
}

#[test]
fn entra_and_okta_shapes() {
    let prepared = user(json!({
        "schemas": [urn::USER, urn::ENTERPRISE_USER],
        "USERNAME": "Test_User_ab6490ee@contoso.com",
        "active": "False",
        "displayName": null,
        "roles": [],
        "meta": {"resourceType": "User"},
        "locale": "en-US",
        "groups": [],
        urn::ENTERPRISE_USER: {"manager": "id-of-manager", "department": null},
        "urn:example:unknown:1.0:User": {"x": 1},
    }))
    .unwrap();
    let r = prepared.resource;
    assert_eq!(r["userName"], "Test_User_ab6490ee@contoso.com");
    assert_eq!(r["active"], false);
    assert!(!r.contains_key("displayName") && !r.contains_key("roles"));
    assert_eq!(
        r[urn::ENTERPRISE_USER],
        json!({"manager": {"value": "id-of-manager"}})
    );
    assert!(!r.contains_key("urn:example:unknown:1.0:User"));
}

#[test]
fn type_rules_and_required_attributes() {
    for (input, scim_type) in [
        (json!({"emails": []}), ScimType::InvalidValue),
        (json!({"userName": 42}), ScimType::InvalidValue),
        (
            json!({"userName": "x", "active": "yes"}),
            ScimType::InvalidValue,
        ),
        (
            json!({"userName": "x", "name": "Barbara"}),
            ScimType::InvalidValue,
        ),
        (
            json!({"userName": "x", "nickName": ["a"]}),
            ScimType::InvalidValue,
        ),
        (json!(["not", "an", "object"]), ScimType::InvalidSyntax),
    ] {
        assert_eq!(
            user(input.clone()).unwrap_err().scim_type,
            Some(scim_type),
            "{input}"
        );
    }
    let group = prepare(&json!({"members": []}), &ResourceSchema::group(), None);
    assert_eq!(group.unwrap_err().detail, "displayName is required");
}

#[test]
fn one_primary_value() {
    let r = user(json!({"userName": "x", "emails": [
        {"value": "a@x", "primary": true}, {"value": "b@x", "primary": "True"}
    ]}))
    .unwrap()
    .resource;
    assert_eq!(r["emails"][0]["primary"], true);
    assert_eq!(r["emails"][1]["primary"], false);
}

#[test]
fn group_members_keep_id_and_type_only() {
    let r = prepare(
        &json!({
            "schemas": [urn::GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "displayName": "Tour Guides",
            "members": [{"value": "u1", "$ref": null, "display": "Babs"}, {"value": "g2", "type": "Group"}],
        }),
        &ResourceSchema::group(),
        None,
    )
    .unwrap()
    .resource;
    assert_eq!(
        r["members"],
        json!([{"value": "u1"}, {"value": "g2", "type": "Group"}])
    );
}

#[test]
fn immutable_attributes_are_set_once() {
    // No core attribute is singular and immutable, so make one.
    let mut schema = ResourceSchema::user();
    for attribute in &mut schema.core.attributes {
        if attribute.name == "nickName" {
            attribute.mutability = Mutability::Immutable;
        }
    }
    let existing = json!({"id": "1", "userName": "x", "nickName": "Babs"});
    let same = prepare(
        &json!({"userName": "x", "nickName": "Babs"}),
        &schema,
        Some(&existing),
    );
    assert!(same.is_ok());
    let changed = prepare(
        &json!({"userName": "x", "nickName": "B"}),
        &schema,
        Some(&existing),
    );
    assert_eq!(changed.unwrap_err().scim_type, Some(ScimType::Mutability));
    let removed = prepare(&json!({"userName": "x"}), &schema, Some(&existing));
    assert_eq!(removed.unwrap_err().scim_type, Some(ScimType::Mutability));
    let first = prepare(
        &json!({"userName": "x", "nickName": "B"}),
        &schema,
        Some(&json!({"userName": "x"})),
    );
    assert!(first.is_ok());
}

/// docs/security.md 23: multi-valued attributes have a documented size cap.
#[test]
fn multi_valued_attributes_are_capped() {
    let emails = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"value": format!("u{i}@example.com")}))
            .collect()
    };
    assert!(user(json!({"userName": "a", "emails": emails(MAX_VALUES)})).is_ok());
    let error = user(json!({"userName": "a", "emails": emails(MAX_VALUES + 1)})).unwrap_err();
    assert_eq!(error.scim_type, Some(ScimType::InvalidValue));
    assert!(error.detail.contains("at most 1000"), "{}", error.detail);
    let members: Vec<Value> = (0..MAX_VALUES + 1)
        .map(|i| json!({"value": format!("m{i}")}))
        .collect();
    let group = prepare(
        &json!({"displayName": "big", "members": members}),
        &ResourceSchema::group(),
        None,
    );
    assert!(group.is_ok(), "groups may have many more members");
}
