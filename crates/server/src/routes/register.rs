//! The registration endpoint (RFC 7591 §3) and the client configuration
//! endpoint (RFC 7592 §2) at `/register` and `/register/{client_id}`,
//! present only when `AUTH_REGISTRATION` is not `off`: JSON in and out,
//! errors in RFC 7591 §3.2.2's words, 401 `invalid_token` with a Bearer
//! challenge (RFC 6750 §3) for a missing or wrong token. Rules and events:
//! `services::registration`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use oauth::client_metadata::MAX_BODY;
use serde_json::{Value, json};
use store::ClientRecord;

use super::support::{Bearer, no_store};
use crate::services::registration::{self, RegistrationRefusal};
use crate::state::AppState;

/// `POST /register`.
pub async fn register(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let token = Bearer::from_headers(&headers);
    let outcome = match json_body(&headers, &body) {
        Ok(body) => registration::register(&state, token.as_ref().map(|b| b.0.as_str()), &body)
            .await
            .map(|registered| {
                let info = registration::client_information(
                    &state,
                    &registered.record,
                    registered.secret.as_ref().map(|s| s.expose().as_str()),
                    registered.registration_access_token.expose(),
                );
                answer(StatusCode::CREATED, &info)
            }),
        Err((status, why)) => return error(status, "invalid_client_metadata", &why),
    };
    outcome.unwrap_or_else(|e| refusal(&e))
}

/// `GET /register/{client_id}` (RFC 7592 §2.1).
pub async fn read(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    bearer: Option<Bearer>,
) -> Response {
    let token = bearer.map(|b| b.0);
    match registration::authorize(&state, &client_id, token.as_deref()).await {
        Ok(client) => configuration(&state, &client, token.as_deref()),
        Err(e) => refusal(&e),
    }
}

/// `PUT /register/{client_id}` (RFC 7592 §2.2).
pub async fn update(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = Bearer::from_headers(&headers).map(|b| b.0);
    let client = match registration::authorize(&state, &client_id, token.as_deref()).await {
        Ok(client) => client,
        Err(e) => return refusal(&e),
    };
    let body = match json_body(&headers, &body) {
        Ok(body) => body,
        Err((status, why)) => return error(status, "invalid_client_metadata", &why),
    };
    match registration::update(&state, client, &body).await {
        Ok(client) => configuration(&state, &client, token.as_deref()),
        Err(e) => refusal(&e),
    }
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3): 204.
pub async fn delete(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    bearer: Option<Bearer>,
) -> Response {
    let token = bearer.map(|b| b.0);
    let client = match registration::authorize(&state, &client_id, token.as_deref()).await {
        Ok(client) => client,
        Err(e) => return refusal(&e),
    };
    match registration::delete(&state, &client).await {
        Ok(()) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            no_store(response.headers_mut());
            response
        }
        Err(e) => refusal(&e),
    }
}

/// The body as JSON (RFC 7591 §3.1: `application/json`), or the status
/// and description of an `invalid_client_metadata` refusal.
fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, (StatusCode, String)> {
    let json_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return Err((
            StatusCode::BAD_REQUEST,
            "the body must be application/json (RFC 7591 section 3.1)".into(),
        ));
    }
    if body.len() > MAX_BODY {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body is too large".into(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!("the body is not JSON: {e}"),
        )
    })
}

/// The client configuration response (RFC 7592 §3), with the
/// registration access token presented: only its hash is kept.
fn configuration(state: &AppState, client: &ClientRecord, token: Option<&str>) -> Response {
    let info = registration::client_information(state, client, None, token.unwrap_or(""));
    answer(StatusCode::OK, &info)
}

fn answer(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    // RFC 7591 §3.2.1: it carries credentials.
    no_store(response.headers_mut());
    response
}

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    answer(
        status,
        &json!({"error": code, "error_description": description}),
    )
}

/// A refusal in its RFC's words; a store failure is 503 (fail closed,
/// docs/security.md 20).
fn refusal(e: &RegistrationRefusal) -> Response {
    match e {
        RegistrationRefusal::Metadata(e) => {
            tracing::info!(
                category = "security",
                event = "client_registration_refused",
                error = e.code(),
                outcome = "failure",
                detail = %e,
                "client registration refused"
            );
            error(StatusCode::BAD_REQUEST, e.code(), &e.to_string())
        }
        RegistrationRefusal::Token(why) => {
            tracing::info!(
                category = "security",
                event = "client_registration_refused",
                error = "invalid_token",
                outcome = "failure",
                detail = %why,
                "client registration refused"
            );
            let mut response = error(StatusCode::UNAUTHORIZED, "invalid_token", why);
            let challenge = oauth::bearer::challenge(Some(("invalid_token", why)), None);
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response.headers_mut().insert(WWW_AUTHENTICATE, value);
            }
            response
        }
        RegistrationRefusal::Randomness => {
            tracing::error!(
                event = "randomness_failed",
                "the system random generator failed"
            );
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "try again later",
            )
        }
        RegistrationRefusal::Store(e) => {
            tracing::warn!(event = "store_unavailable", error = %e, "registration: the store failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the service is temporarily unavailable",
            )
        }
    }
}
