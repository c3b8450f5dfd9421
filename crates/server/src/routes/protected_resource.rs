//! Protected resource metadata (RFC 9728) of this server's own resources:
//! the SCIM API at `/.well-known/oauth-protected-resource/scim/v2` and the
//! issuer (its userinfo endpoint) at `/.well-known/oauth-protected-resource`.
//! Each names this issuer as its authorization server, so a client that a
//! resource refused with `resource_metadata` in its challenge finds where
//! to get a token, and for which `resource` (RFC 8707) to ask.

use axum::Json;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use oauth::protected_resource::ResourceMetadata;

use crate::services::oauth::resources::{SCIM_SCOPES, scim_identifier};
use crate::state::AppState;

/// The SCIM API's document.
pub async fn scim(State(state): State<AppState>) -> Response {
    let resource = scim_identifier(&state);
    let issuer = [state.config.issuer.as_str()];
    document(&ResourceMetadata {
        resource: &resource,
        authorization_servers: &issuer,
        scopes_supported: &SCIM_SCOPES,
        resource_name: "SCIM 2.0",
        dpop_signing_alg_values_supported: &oauth::dpop::ALGS,
    })
}

/// The issuer's own document: userinfo takes tokens for it.
pub async fn issuer(State(state): State<AppState>) -> Response {
    let issuer = [state.config.issuer.as_str()];
    document(&ResourceMetadata {
        resource: &state.config.issuer,
        authorization_servers: &issuer,
        scopes_supported: oauth::claims::SCOPES_SUPPORTED,
        resource_name: "OpenID Connect UserInfo",
        dpop_signing_alg_values_supported: &oauth::dpop::ALGS,
    })
}

fn document(metadata: &ResourceMetadata<'_>) -> Response {
    let mut headers = HeaderMap::new();
    // It changes only with the configuration.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
    (headers, Json(metadata.to_json())).into_response()
}
