//! `/.well-known/webfinger` (RFC 7033) for OpenID Connect issuer discovery
//! (Discovery 1.0 §2): for a resource at one of `AUTH_WEBFINGER_DOMAINS`,
//! the issuer link, whoever the user is (or whether there is one: the
//! store is not asked, so nothing about accounts can be learned here);
//! 404 for other domains, 400 without a valid `resource`.

use axum::extract::{RawQuery, State};
use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use oauth::webfinger::{self, Refusal};
use serde_json::json;

use crate::state::AppState;

pub async fn webfinger(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let resources: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "resource")
        .map(|(_, v)| v.as_str())
        .collect();
    let rels: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "rel")
        .map(|(_, v)| v.as_str())
        .collect();
    let outcome = match resources.as_slice() {
        [resource] => webfinger::host_of(resource).and_then(|host| {
            if state.config.webfinger_domains.contains(&host) {
                Ok(webfinger::answer(resource, &rels, &state.config.issuer))
            } else {
                Err(Refusal::NotFound)
            }
        }),
        _ => Err(Refusal::BadRequest(
            "one resource parameter is required (RFC 7033 section 4.2)",
        )),
    };
    let mut response = match outcome {
        Ok(jrd) => {
            let mut response = (StatusCode::OK, jrd.to_string()).into_response();
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(webfinger::JRD));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
            response
        }
        Err(Refusal::NotFound) => StatusCode::NOT_FOUND.into_response(),
        Err(e @ Refusal::BadRequest(_)) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_request", "error_description": e.to_string()})),
        )
            .into_response(),
    };
    // §5: "servers SHOULD support CORS … Access-Control-Allow-Origin: *".
    response
        .headers_mut()
        .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}
