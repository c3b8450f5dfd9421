//! RFC 7591 §2 client metadata as JSON, the body of a dynamic registration
//! (§3.1) or of an RFC 7592 §2.2 update: read into the same
//! [`RegistrationRequest`] the CLI builds, so one validation
//! ([`crate::registration::validate`]) judges both.
//!
//! What a registering client may not choose is not read: `first_party`,
//! `require_mfa`, token lifetimes and APIs are the operator's
//! (`auth-service client update`). §2: "The authorization server MUST
//! ignore any client metadata sent by the client that it does not
//! understand", so unknown members are ignored, not refused; a known member
//! of the wrong JSON type, or a value this server does not support, is
//! `invalid_client_metadata` (§3.2.2).

use serde_json::{Map, Value};

use crate::registration::{Field, RegistrationError, RegistrationRequest};

/// The largest registration body read: real ones are a few hundred bytes.
pub const MAX_BODY: usize = 16 * 1024;
/// The most redirect URIs (and post-logout URIs) one client registers.
pub const MAX_URIS: usize = 16;

/// The name a client that sends no `client_name` is shown by on the
/// consent page; §2 makes the member optional.
pub const UNNAMED: &str = "Unnamed application";

/// `body` as a registration request, or the §3.2.2 error.
pub fn parse(body: &Value) -> Result<RegistrationRequest, RegistrationError> {
    let object = body
        .as_object()
        .ok_or_else(|| problem(Field::Registration, "the body must be a JSON object"))?;
    let client_name = match string(object, "client_name", Field::ClientName)? {
        Some(name) if !name.trim().is_empty() => name,
        _ => UNNAMED.to_owned(),
    };
    let redirect_uris = strings(object, "redirect_uris", Field::RedirectUris)?;
    let post_logout_redirect_uris = strings(
        object,
        "post_logout_redirect_uris",
        Field::PostLogoutRedirectUris,
    )?;
    let grant_types = strings(object, "grant_types", Field::GrantTypes)?;
    // §2.1: response_types must agree with grant_types; this server has
    // only the code flow, so "code" is the one response type.
    let response_types = strings(object, "response_types", Field::Registration)?;
    if let Some(other) = response_types.iter().find(|t| *t != "code") {
        return Err(problem(
            Field::Registration,
            format!("response_types: {other:?} is not supported; use [\"code\"]"),
        ));
    }
    if !response_types.is_empty()
        && !grant_types.is_empty()
        && !grant_types.iter().any(|g| g == "authorization_code")
    {
        return Err(problem(
            Field::Registration,
            "response_types [\"code\"] needs the authorization_code grant (RFC 7591 section 2.1)",
        ));
    }
    let token_endpoint_auth_method = string(
        object,
        "token_endpoint_auth_method",
        Field::TokenEndpointAuthMethod,
    )?;
    if object.contains_key("jwks_uri") {
        return Err(problem(
            Field::Jwks,
            "jwks_uri is not supported; register the public keys as jwks",
        ));
    }
    let dpop_bound_access_tokens = boolean(
        object,
        "dpop_bound_access_tokens",
        Field::Registration,
        "RFC 9449 section 5.2",
    )?;
    let require_pushed_authorization_requests = boolean(
        object,
        "require_pushed_authorization_requests",
        Field::Registration,
        "RFC 9126 section 6",
    )?;
    let require_signed_request_object = boolean(
        object,
        "require_signed_request_object",
        Field::Registration,
        "RFC 9101 section 10.5",
    )?;
    let backchannel_logout_session_required = boolean(
        object,
        "backchannel_logout_session_required",
        Field::BackchannelLogoutUri,
        "OpenID Connect Back-Channel Logout 1.0 section 2.2",
    )?;
    let jwks = match object.get("jwks") {
        None | Some(Value::Null) => None,
        Some(jwks @ Value::Object(_)) => Some(jwks.clone()),
        Some(_) => return Err(problem(Field::Jwks, "must be a JWKS object")),
    };
    Ok(RegistrationRequest {
        client_name,
        public: token_endpoint_auth_method.as_deref() == Some("none"),
        token_endpoint_auth_method,
        grant_types,
        redirect_uris,
        post_logout_redirect_uris,
        scope: string(object, "scope", Field::Scope)?,
        id_token_signed_response_alg: string(
            object,
            "id_token_signed_response_alg",
            Field::IdTokenSignedResponseAlg,
        )?,
        backchannel_logout_uri: string(
            object,
            "backchannel_logout_uri",
            Field::BackchannelLogoutUri,
        )?,
        backchannel_logout_session_required,
        jwks,
        dpop_bound_access_tokens,
        require_pushed_authorization_requests,
        require_signed_request_object,
        ..RegistrationRequest::default()
    })
}

/// A boolean member; absent or null is false.
fn boolean(
    object: &Map<String, Value>,
    name: &str,
    field: Field,
    spec: &str,
) -> Result<bool, RegistrationError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(problem(field, format!("{name} must be a boolean ({spec})"))),
    }
}

fn problem(field: Field, problem: impl Into<String>) -> RegistrationError {
    RegistrationError {
        field,
        problem: problem.into(),
    }
}

/// An optional string member; `null` is absent (§3.2.1 lets a server
/// answer with null for an unset value, and clients echo it back).
fn string(
    object: &Map<String, Value>,
    name: &str,
    field: Field,
) -> Result<Option<String>, RegistrationError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(problem(field, format!("{name} must be a string"))),
    }
}

/// An optional array of strings, at most [`MAX_URIS`] of them.
fn strings(
    object: &Map<String, Value>,
    name: &str,
    field: Field,
) -> Result<Vec<String>, RegistrationError> {
    let values = match object.get(name) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(values)) => values,
        Some(_) => {
            return Err(problem(
                field,
                format!("{name} must be an array of strings"),
            ));
        }
    };
    if values.len() > MAX_URIS {
        return Err(problem(field, format!("{name}: at most {MAX_URIS} values")));
    }
    values
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| problem(field, format!("{name} must be an array of strings")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_mcp_clients_registration_reads_into_a_request() {
        // What the MCP Python SDK sends (mcp.shared.auth.OAuthClientMetadata).
        let request = parse(&json!({
            "redirect_uris": ["http://127.0.0.1:33418/callback"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": "scim:read",
            "client_name": "MCP client",
            "application_type": "native",
            "software_id": "ignored",
            "first_party": true,
            "require_mfa": false,
        }))
        .unwrap();
        assert!(request.public);
        assert_eq!(request.client_name, "MCP client");
        assert_eq!(request.scope.as_deref(), Some("scim:read"));
        // Never the client's to choose.
        assert!(!request.first_party);
        assert!(request.resources.is_empty());
    }

    #[test]
    fn wrong_types_and_unsupported_values_are_invalid_client_metadata() {
        for (body, field) in [
            (json!([]), Field::Registration),
            (
                json!({"redirect_uris": "https://a.example/cb"}),
                Field::RedirectUris,
            ),
            (json!({"redirect_uris": [1]}), Field::RedirectUris),
            (json!({"client_name": 7}), Field::ClientName),
            (json!({"response_types": ["token"]}), Field::Registration),
            (
                json!({"response_types": ["code"], "grant_types": ["client_credentials"]}),
                Field::Registration,
            ),
            (json!({"jwks_uri": "https://a.example/jwks"}), Field::Jwks),
            (json!({"jwks": "keys"}), Field::Jwks),
            (json!({"scope": ["openid"]}), Field::Scope),
            (
                json!({"token_endpoint_auth_method": 1}),
                Field::TokenEndpointAuthMethod,
            ),
        ] {
            let e = parse(&body).unwrap_err();
            assert_eq!(e.field, field, "{body}");
        }
        let many: Vec<String> = (0..=MAX_URIS)
            .map(|i| format!("https://a.example/{i}"))
            .collect();
        assert_eq!(
            parse(&json!({"redirect_uris": many})).unwrap_err().code(),
            "invalid_redirect_uri"
        );
    }

    #[test]
    fn nulls_are_absent_and_a_name_is_always_there() {
        let request = parse(&json!({"client_name": null, "scope": null})).unwrap();
        assert_eq!(request.client_name, UNNAMED);
        assert_eq!(request.scope, None);
    }
}
