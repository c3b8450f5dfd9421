//! The error pages of the browser surface: for requests that must not be
//! redirected (an untrusted client or redirect URI), forms that fail their
//! CSRF check or the body limit, and failures that are ours. Every route
//! that answers with a page uses these, so each refusal looks and logs the
//! same way.

use axum::http::StatusCode;
use axum::response::Response;
use oauth::ErrorCode;

use super::pages::{self, ErrorPage};

/// The page for a form over the body limit (RFC 9110 §15.5.14).
pub fn too_large() -> Response {
    error_page(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::InvalidRequest,
        "The form is too large.",
    )
}

/// An error page for requests that must not be redirected.
pub fn error_page(status: StatusCode, code: ErrorCode, description: &str) -> Response {
    tracing::info!(
        event = "authorization_refused",
        error = code.as_str(),
        description,
        "authorization request refused with a page"
    );
    pages::render(
        status,
        &ErrorPage {
            code: code.as_str(),
            description,
        },
        None,
    )
}

/// The page for a form whose CSRF token does not match the browser's
/// (docs/security.md 15): nothing changes.
pub fn csrf_refused() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        ErrorCode::InvalidRequest,
        "The form expired. Go back and try again.",
    )
}

/// The page for a failure that is ours (the store, password hashing): 503,
/// the cause logged once, nothing of it shown.
pub fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> Response {
    tracing::warn!(event = "authorization_failed", error = %format!("{:#}", anyhow::Error::new(e)), "the service failed during authorization");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::TemporarilyUnavailable,
        "The service is temporarily unavailable. Please try again.",
    )
}
