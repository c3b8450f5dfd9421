//! JWT-secured authorization requests (RFC 9101): the claims of a
//! verified request object, as the authorization request's parameters.
//! Verifying the signature is the server's (with the client's registered
//! keys); what the claims may say and how they become parameters is here.
//!
//! §5 and §6.3: only the request object's parameters are used; any sent
//! beside it are ignored, but `client_id`, which must be sent beside it
//! and must agree with the object's.

use serde_json::{Map, Value};

use crate::{Error, ErrorCode};

/// The `typ` RFC 9101 §10.8 asks for; `JWT` and none are taken too, as
/// the RFC's own examples and most libraries send those.
pub const TYP: &str = "oauth-authz-req+jwt";

/// The longest a request object may live (`exp` past `iat`, or past now
/// when it has no `iat`): it is sent once, at once.
pub const MAX_LIFETIME_SECONDS: i64 = 3600;

/// The JWT's own claims, which are not authorization parameters.
const JWT_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];

fn refuse(description: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidRequestObject, description)
}

/// Whether a request object's `typ` header is one this server takes.
pub fn typ_accepted(typ: Option<&str>) -> bool {
    match typ {
        None => true,
        Some(typ) => {
            let typ = typ.strip_prefix("application/").unwrap_or(typ);
            typ.eq_ignore_ascii_case("JWT") || typ.eq_ignore_ascii_case(TYP)
        }
    }
}

/// The authorization parameters of a verified request object's `claims`,
/// for `client_id` (sent beside it), at `now`. Strings are taken as they
/// are, numbers and booleans as their JSON text, an array of strings as a
/// repeated parameter (`resource`), an object as its JSON (`claims`).
pub fn parameters(
    claims: &Map<String, Value>,
    client_id: &str,
    now: i64,
) -> Result<Vec<(String, String)>, Error> {
    // §4: a request object names no other request object.
    for nested in ["request", "request_uri"] {
        if claims.contains_key(nested) {
            return Err(refuse(format!("a request object cannot contain {nested}")));
        }
    }
    match claims.get("client_id") {
        None => {}
        Some(Value::String(id)) if id == client_id => {}
        Some(_) => return Err(refuse("client_id differs from the one sent with it")),
    }
    let exp = claims.get("exp").and_then(Value::as_i64);
    let start = claims.get("iat").and_then(Value::as_i64).unwrap_or(now);
    if exp.is_some_and(|exp| exp - start > MAX_LIFETIME_SECONDS) {
        return Err(refuse(format!(
            "lives longer than {MAX_LIFETIME_SECONDS} seconds"
        )));
    }
    let mut params = vec![("client_id".to_owned(), client_id.to_owned())];
    for (name, value) in claims {
        if JWT_CLAIMS.contains(&name.as_str()) || name == "client_id" {
            continue;
        }
        match value {
            Value::String(s) => params.push((name.clone(), s.clone())),
            Value::Number(n) => params.push((name.clone(), n.to_string())),
            Value::Bool(b) => params.push((name.clone(), b.to_string())),
            Value::Array(items) => {
                for item in items {
                    let Value::String(s) = item else {
                        return Err(refuse(format!("{name}: an array of strings only")));
                    };
                    params.push((name.clone(), s.clone()));
                }
            }
            Value::Object(_) => params.push((name.clone(), value.to_string())),
            Value::Null => {}
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn claims_become_parameters() {
        let object = claims(json!({
            "iss": "c", "aud": "https://id.example", "exp": 1060, "iat": 1000, "jti": "j",
            "client_id": "c", "response_type": "code", "max_age": 300,
            "resource": ["https://a.example", "https://b.example"],
            "claims": {"id_token": {"acr": null}}, "login_hint": null,
        }));
        let params = parameters(&object, "c", 1000).unwrap();
        let get = |name: &str| -> Vec<&str> {
            params
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(get("client_id"), ["c"]);
        assert_eq!(get("response_type"), ["code"]);
        assert_eq!(get("max_age"), ["300"]);
        assert_eq!(get("resource"), ["https://a.example", "https://b.example"]);
        assert_eq!(get("claims"), [r#"{"id_token":{"acr":null}}"#]);
        for absent in ["iss", "aud", "exp", "iat", "jti", "login_hint"] {
            assert!(get(absent).is_empty(), "{absent}");
        }
    }

    #[test]
    fn what_a_request_object_may_not_say() {
        for (object, why) in [
            (json!({"client_id": "other"}), "another client"),
            (json!({"request": "eyJ..."}), "a nested object"),
            (json!({"request_uri": "https://x"}), "a nested reference"),
            (json!({"iat": 1000, "exp": 1000 + 3601}), "too long a life"),
            (json!({"exp": 1000 + 3601}), "too long a life from now"),
            (json!({"resource": [1]}), "an array of numbers"),
        ] {
            let e = parameters(&claims(object), "c", 1000).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequestObject, "{why}");
        }
    }

    #[test]
    fn typ_headers() {
        for good in [
            None,
            Some("JWT"),
            Some("oauth-authz-req+jwt"),
            Some("application/oauth-authz-req+jwt"),
        ] {
            assert!(typ_accepted(good), "{good:?}");
        }
        for bad in ["at+jwt", "logout+jwt", "dpop+jwt"] {
            assert!(!typ_accepted(Some(bad)), "{bad}");
        }
    }
}
