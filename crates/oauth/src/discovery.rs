//! Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414 §2): one
//! document for both well-known paths. Every list is derived from the type
//! that implements it, so a grant type, response mode, auth method, prompt
//! value or PKCE method is advertised because the code handles it. What is
//! not implemented is not listed: no implicit or hybrid response types, no
//! password grant, no `request_uri` but the server's own (RFC 9126).

use serde_json::{Value, json};

use crate::authorize::{Prompt, ResponseMode};
use crate::client_auth::AuthMethod;
use crate::{CodeChallenge, GrantType, claims};

/// The metadata of the server at `issuer`. The signing algorithms are the
/// server's (its key types and its JWT library), passed in.
pub fn metadata(issuer: &str, id_token_algs: &[&str], assertion_algs: &[&str]) -> Value {
    let grant_types: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
    let response_modes: Vec<&str> = ResponseMode::ALL.iter().map(|m| m.as_str()).collect();
    let auth_methods: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
    // Introspection and revocation need a client that can authenticate.
    let confidential: Vec<&str> = AuthMethod::ALL
        .iter()
        .filter(|m| **m != AuthMethod::None)
        .map(|m| m.as_str())
        .collect();
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks.json"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "end_session_endpoint": format!("{issuer}/logout"),
        // Back-Channel Logout 1.0 §2.1: logout tokens carry `sid` whenever
        // a session ended (`crate::backchannel_logout`).
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "device_authorization_endpoint": format!("{issuer}/device_authorization"),
        // RFC 9126 §5 (`crate::par`); whether every client must is the
        // server's setting, added there.
        "pushed_authorization_request_endpoint": format!("{issuer}/par"),
        "scopes_supported": claims::SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": response_modes,
        "grant_types_supported": grant_types,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": id_token_algs,
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint_auth_methods_supported": confidential,
        "revocation_endpoint_auth_methods_supported": confidential,
        "code_challenge_methods_supported": CodeChallenge::METHODS,
        "prompt_values_supported": Prompt::VALUES,
        "acr_values_supported": crate::acr::Level::VALUES,
        "claims_supported": claims::CLAIMS_SUPPORTED,
        "claims_parameter_supported": false,
        // RFC 9101 (`crate::request_object`), signed with the client's keys.
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": assertion_algs,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_names_the_issuer_and_only_what_is_implemented() {
        let doc = metadata("https://auth.example", &["RS256", "ES256"], &["ES256"]);
        assert_eq!(doc["issuer"], "https://auth.example");
        assert_eq!(doc["token_endpoint"], "https://auth.example/token");
        assert_eq!(
            doc["device_authorization_endpoint"],
            "https://auth.example/device_authorization"
        );
        assert_eq!(
            doc["grant_types_supported"],
            json!([
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:token-exchange",
                "urn:ietf:params:oauth:grant-type:device_code"
            ])
        );
        assert_eq!(doc["response_types_supported"], json!(["code"]));
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            doc["revocation_endpoint_auth_methods_supported"],
            json!([
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt"
            ])
        );
        assert!(
            doc["token_endpoint_auth_methods_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("none"))
        );
        for method in AuthMethod::ALL {
            assert_eq!(AuthMethod::parse(method.as_str()), Some(method));
        }
    }
}
