//! SCIM's response bodies (RFC 7644 §3.1, §3.12): JSON with the SCIM
//! media type, and errors as SCIM error resources. Here rather than in
//! `routes::scim` because the rate limits answer SCIM requests in SCIM's
//! voice too.

use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// The SCIM media type (RFC 7644 §3.1).
pub const SCIM_JSON: &str = "application/scim+json";

/// A JSON body with the SCIM media type.
pub fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
}

/// A SCIM error (RFC 7644 §3.12); a 401 carries the Bearer challenge.
pub fn error_response(error: &scim::Error) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = scim_json(status, &error.to_json());
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"auth-service\""),
        );
    }
    response
}
