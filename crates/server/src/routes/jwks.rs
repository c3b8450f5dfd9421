//! `/jwks.json`: the public signing keys (RFC 7517), pending, active and
//! retired, cacheable for `JWKS_MAX_AGE` — shorter than the key publish
//! lead, so a cached copy always has the key that signs next. Served from
//! memory, so it keeps answering while the store is down (docs/security.md 20).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};

use crate::config::JWKS_MAX_AGE;
use crate::state::AppState;

pub async fn jwks(State(state): State<AppState>) -> Response {
    let mut response = Json(state.keys.jwks().as_ref().clone()).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={JWKS_MAX_AGE}")) {
        response.headers_mut().insert(CACHE_CONTROL, value);
    }
    response
}
