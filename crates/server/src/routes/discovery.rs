//! Provider metadata: OpenID Connect Discovery 1.0 at
//! `/.well-known/openid-configuration` and RFC 8414 at
//! `/.well-known/oauth-authorization-server` (the same document). It lists
//! only what works: no implicit or hybrid response types, no password
//! grant, PKCE with S256 only, no request objects.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::services::claims::CLAIMS_SUPPORTED;
use crate::state::AppState;

pub async fn metadata(State(state): State<AppState>) -> Json<Value> {
    let issuer = &state.config.issuer;
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
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"],
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
