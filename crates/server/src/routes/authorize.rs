//! The authorization endpoint (RFC 6749 §4.1, OpenID Connect Core
//! §3.1.2), GET and POST (§3.1.2.1). The request goes to
//! `services::oauth::authorize`; the answer (an error page, the login or
//! consent page, an error or the code at the redirect URI) is written by
//! `support::authorization_response`, which `/login` and `/consent` end
//! with too.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use oauth::ErrorCode;

use super::support::authorization_response::resume;
use crate::services::oauth::authorize::Done;
use crate::state::AppState;
use crate::web::errors::{error_page, too_large};

pub async fn get(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    resume(&state, jar, from_browser(params), Done::default()).await
}

/// A browser's parameters, without names under `auth-service:`: those
/// mark what only the server adds (a pushed or a signed request,
/// `services::oauth::par::reserved`), never what a browser may say.
fn from_browser(mut params: Vec<(String, String)>) -> Vec<(String, String)> {
    params.retain(|(name, _)| !crate::services::oauth::par::reserved(name));
    params
}

pub async fn post(
    State(state): State<AppState>,
    jar: CookieJar,
    body: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    match body {
        Ok(Form(params)) => resume(&state, jar, from_browser(params), Done::default()).await,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        Err(e) => error_page(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            &format!("unreadable request: {e}"),
        ),
    }
}
