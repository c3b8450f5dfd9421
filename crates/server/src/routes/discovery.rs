//! Provider metadata at `/.well-known/openid-configuration` (OpenID
//! Connect Discovery 1.0) and `/.well-known/oauth-authorization-server`
//! (RFC 8414): the same document, `oauth::discovery::metadata`, with this
//! server's issuer and signing algorithms, and what configuration turns
//! on: the registration endpoint (RFC 7591 §3) when `AUTH_REGISTRATION`
//! is not `off`, the token-exchange grant with `AUTH_TOKEN_EXCHANGE`, and
//! client ID metadata documents with `AUTH_CLIENT_ID_METADATA_DOCUMENTS`. `protected_resources` (RFC 9728 §4) lists this server's
//! own resources, whose metadata is at `/.well-known/oauth-protected-resource…`.

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use crate::services::oauth::client_auth::ASSERTION_ALGS;
use crate::state::AppState;

pub async fn metadata(State(state): State<AppState>) -> Json<Value> {
    let signing_algs: Vec<&str> = crate::keys::Alg::ALL.iter().map(|a| a.as_str()).collect();
    let assertion_algs: Vec<String> = ASSERTION_ALGS
        .iter()
        .filter_map(|alg| serde_json::to_value(alg).ok()?.as_str().map(str::to_owned))
        .collect();
    let assertion_algs: Vec<&str> = assertion_algs.iter().map(String::as_str).collect();
    let mut doc = oauth::discovery::metadata(&state.config.issuer, &signing_algs, &assertion_algs);
    doc["protected_resources"] = serde_json::json!([
        state.config.issuer,
        crate::services::oauth::resources::scim_identifier(&state),
    ]);
    if !state.config.token_exchange
        && let Some(grants) = doc["grant_types_supported"].as_array_mut()
    {
        grants.retain(|g| g != oauth::token_exchange::GRANT_TYPE);
    }
    // RFC 9449 §5.1.
    doc["dpop_signing_alg_values_supported"] = serde_json::json!(oauth::dpop::ALGS);
    // RFC 9126 §5: absent means false.
    if state.config.require_par {
        doc["require_pushed_authorization_requests"] = serde_json::json!(true);
    }
    if state.config.client_id_documents {
        doc["client_id_metadata_document_supported"] = serde_json::json!(true);
    }
    if state.config.registration.mode != crate::config::RegistrationMode::Off {
        doc["registration_endpoint"] =
            serde_json::json!(crate::services::registration::endpoint(&state));
    }
    Json(doc)
}
