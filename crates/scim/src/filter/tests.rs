use serde_json::{Value, json};

use super::*;

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "bjensen",
        "userName": "Bjensen@Example.com",
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "title": "Tour Guide",
        "userType": "Employee",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "meta": {"created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "costCenter": "4130"},
        "loginCount": 12
    })
}

fn check(filter: &str, expected: bool) {
    let parsed = parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    assert_eq!(
        matches(&parsed, &user(), &CoreSchema::new()).unwrap(),
        expected,
        "{filter}"
    );
}

#[test]
fn rfc_7644_examples_and_operators() {
    for (filter, expected) in [
        // userName is caseExact false.
        (r#"userName eq "bjensen@example.com""#, true),
        (r#"USERNAME Eq "BJENSEN@EXAMPLE.COM""#, true),
        (r#"name.familyName co "ens""#, true),
        (r#"userName sw "BJ""#, true),
        (r#"userName ew ".org""#, false),
        ("title pr", true),
        ("nickName pr", false),
        // externalId and id are caseExact.
        (r#"externalId eq "BJENSEN""#, false),
        (r#"externalId eq "bjensen""#, true),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
        // dateTime compares as time, not text (+01:00 is earlier in UTC).
        (r#"meta.created lt "2010-01-23T05:00:00+01:00""#, false),
        (r#"meta.created gt "2010-01-23T05:00:00+01:00""#, true),
        (r#"title pr and userType eq "Employee""#, true),
        (r#"title pr or userType eq "Intern""#, true),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            true,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            false,
        ),
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            true,
        ),
        (
            r#"emails[type eq "home" and value co "@example.com"]"#,
            false,
        ),
        (r#"emails[not (type eq "work")]"#, true),
        ("emails[primary eq true]", true),
        ("active eq true", true),
        ("active ne true", false),
        ("loginCount gt 10", true),
        ("loginCount le 11", false),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bjensen""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter eq "9999""#,
            false,
        ),
        // Absent attributes: eq is false, ne is true, eq null is true.
        (r#"nickName eq "x""#, false),
        (r#"nickName ne "x""#, true),
        ("nickName eq null", true),
        ("title ne null", true),
    ] {
        check(filter, expected);
    }
}

#[test]
fn invalid_filters_are_invalid_filter_with_a_position() {
    for filter in [
        r#"userName eq"#,
        r#"userName eqq "x""#,
        r#"(userName eq "x""#,
        r#"emails[type eq "work""#,
        "",
        r#"userName eq 'x'"#,
    ] {
        let err = parse(filter).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidFilter), "{filter}");
        assert_eq!(err.status, 400);
    }
    let err = parse(r#"userName eqq "x""#).unwrap_err();
    assert!(err.detail.contains("character"), "{}", err.detail);
    // Ordering a boolean is meaningless: invalidFilter at evaluation.
    let parsed = parse("active gt true").unwrap();
    let err = matches(&parsed, &user(), &CoreSchema::new()).unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::InvalidFilter));
}

/// docs/security.md 23: the length is checked before any parsing.
#[test]
fn filters_over_the_length_cap_are_refused_before_parsing() {
    let at_cap = format!(r#"userName eq "{}""#, "a".repeat(MAX_FILTER_LENGTH - 14));
    assert_eq!(at_cap.len(), MAX_FILTER_LENGTH);
    assert!(parse(&at_cap).is_ok());
    let over = format!("{at_cap} ");
    let error = parse(&over).unwrap_err();
    assert_eq!(error.scim_type, Some(ScimType::InvalidFilter));
    assert!(error.detail.contains("longer than"), "{}", error.detail);
}

#[test]
fn entra_sub_attribute_after_a_value_filter() {
    check(
        r#"emails[type eq "work"].value eq "bjensen@example.com""#,
        true,
    );
    check(
        r#"emails[type eq "work"].value eq "babs@jensen.org""#,
        false,
    );
    check(
        r#"emails[type eq "home"].value eq "babs@jensen.org" and userName sw "b""#,
        true,
    );
    check(r#"emails[type eq "work"].value pr"#, true);
    check(r#"emails[type eq "work"].display pr"#, false);
    check(r#"emails[type eq "x]."].value eq "a]""#, false);
    assert!(parse(r#"emails[type eq "work"].value eq"#).is_err());
    // Many rewrites in one filter, as the hostile probe sent them.
    let many = vec![r#"emails[type eq "w"].value eq "x""#; 200].join(" or ");
    assert!(parse(&many).is_ok());
    check(
        &format!(r#"{many} or emails[type eq "home"].value eq "babs@jensen.org""#),
        true,
    );
    assert!(parse(r#"emails[type eq "work"]."#).is_err());
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    /// Fragments of the grammar, so random input reaches deep into the parser.
    const PIECES: &[&str] = &[
        "userName",
        "emails",
        "name.familyName",
        "meta.lastModified",
        " eq ",
        " ne ",
        " co ",
        " sw ",
        " gt ",
        " pr",
        " and ",
        " or ",
        "not ",
        "(",
        ")",
        "[",
        "]",
        "\"x\"",
        "\"",
        "true",
        "null",
        "12.5",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        ".",
        "type eq \"work\"",
        "\\",
        " ",
        "\u{0}",
        "é",
    ];

    proptest! {
        #[test]
        fn filter_parser_and_evaluator(parts in proptest::collection::vec(0..PIECES.len(), 0..24)) {
            let text: String = parts.iter().map(|&i| PIECES[i]).collect();
            if let Ok(filter) = parse(&text) {
                let _ = matches(&filter, &user(), &CoreSchema::new());
            }
        }

        #[test]
        fn arbitrary_text(text in "\\PC{0,64}") {
            let _ = parse(&text);
            let _ = crate::patch::parse_path(&text);
        }
    }
}
