//! Authorization server metadata (RFC 8414) at
//! `/.well-known/oauth-authorization-server`. It lists only what works
//! today: the client-credentials grant, introspection and revocation.
//! `/.well-known/openid-configuration` is served once the authorization
//! code flow and ID tokens exist; until then a relying party would be
//! promised what is not there.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::state::AppState;

pub async fn metadata(State(state): State<AppState>) -> Json<Value> {
    let issuer = &state.config.issuer;
    let auth_methods = json!(["client_secret_basic", "client_secret_post"]);
    Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks.json"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "authorization_response_iss_parameter_supported": true,
    }))
}
