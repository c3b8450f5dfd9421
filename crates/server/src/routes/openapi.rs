//! `/openapi.json`: the OpenAPI 3.1 description of every endpoint
//! (docs/openapi.json, compiled in). A test keeps it true: every route the
//! router has is documented, and every documented operation answers.

use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

const DOCUMENT: &str = include_str!("../../../../docs/openapi.json");

pub async fn openapi() -> Response {
    let mut response = DOCUMENT.into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
