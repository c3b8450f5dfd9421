//! Provider metadata: OpenID Connect Discovery 1.0 at
//! `/.well-known/openid-configuration` and RFC 8414 at
//! `/.well-known/oauth-authorization-server` (the same document). It lists
//! only what works: no implicit or hybrid response types, no password
//! grant, PKCE with S256 only, no request objects.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::services::oauth::claims::CLAIMS_SUPPORTED;
use crate::state::AppState;

pub async fn metadata(State(state): State<AppState>) -> Json<Value> {
    let issuer = &state.config.issuer;
    // Derived from the types that implement them: a value is advertised
    // because the code handles it.
    let grant_types: Vec<&str> = oauth::GrantType::ALL.iter().map(|g| g.as_str()).collect();
    let response_modes: Vec<&str> = oauth::authorize::ResponseMode::ALL
        .iter()
        .map(|m| m.as_str())
        .collect();
    let signing_algs: Vec<&str> = crate::keys::Alg::ALL.iter().map(|a| a.as_str()).collect();
    let assertion_algs =
        serde_json::to_value(super::client_auth::ASSERTION_ALGS).unwrap_or_default();
    let client_auth = json!([
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt"
    ]);
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks.json"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "scopes_supported": ["openid", "profile", "email", "phone", "address", "groups"],
        "response_types_supported": ["code"],
        "response_modes_supported": response_modes,
        "grant_types_supported": grant_types,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": signing_algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint_auth_methods_supported": client_auth,
        "revocation_endpoint_auth_methods_supported": client_auth,
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "acr_values_supported": ["1"],
        "claims_supported": CLAIMS_SUPPORTED,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    }))
}
