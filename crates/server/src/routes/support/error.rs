//! The RFC 6749 §5.2 error response of the OAuth endpoints, and the
//! `no-store` headers of every response that carries a token.

use axum::Json;
use axum::http::header::{CACHE_CONTROL, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use oauth::{Error, ErrorCode};
use serde_json::json;

/// An OAuth error as an HTTP response. The status follows from the error
/// code (RFC 6749 §5.2), unless the HTTP layer has a more precise one: 413
/// for a body over the limit (RFC 9110 §15.5.14), 429 with `Retry-After`
/// for a spent budget.
#[derive(Debug)]
pub struct OAuthError(pub Error, pub HttpDetail);

/// What an OAuth error says at the HTTP level beyond its code.
#[derive(Debug, Default, Clone, Copy)]
pub struct HttpDetail {
    pub status: Option<StatusCode>,
    pub retry_after: Option<u64>,
}

impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        Self(e, HttpDetail::default())
    }
}

impl OAuthError {
    /// A body over the size limit: 413, `invalid_request`.
    pub fn too_large() -> Self {
        Self(
            Error::new(ErrorCode::InvalidRequest, "the request body is too large"),
            HttpDetail {
                status: Some(StatusCode::PAYLOAD_TOO_LARGE),
                retry_after: None,
            },
        )
    }

    /// A spent budget: 429 with `Retry-After`, `temporarily_unavailable`.
    pub fn too_many(retry_after: u64) -> Self {
        Self(
            Error::new(
                ErrorCode::TemporarilyUnavailable,
                format!("too many requests; retry in {retry_after} s"),
            ),
            HttpDetail {
                status: Some(StatusCode::TOO_MANY_REQUESTS),
                retry_after: Some(retry_after),
            },
        )
    }
}

impl From<store::Error> for OAuthError {
    /// The store failing is ours, not the client's: 503, fail closed
    /// (docs/security.md 20). The cause goes to the log, not the client.
    fn from(e: store::Error) -> Self {
        let detail = format!("{:#}", anyhow::Error::new(e));
        Error::new(
            ErrorCode::TemporarilyUnavailable,
            "the service is temporarily unavailable",
        )
        .with_detail(detail)
        .into()
    }
}

pub fn error(code: ErrorCode, description: impl Into<String>) -> OAuthError {
    Error::new(code, description).into()
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let Error {
            code,
            description,
            detail,
        } = self.0;
        let status = self.1.status.unwrap_or_else(|| {
            StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
        });
        if let Some(detail) = &detail {
            tracing::warn!(event = "oauth_error", error = code.as_str(), detail = %detail, "request refused");
        } else {
            tracing::info!(event = "oauth_error", error = code.as_str(), description = %description, "request refused");
        }
        let mut response = (
            status,
            Json(json!({"error": code.as_str(), "error_description": description})),
        )
            .into_response();
        no_store(response.headers_mut());
        if let Some(value) = self
            .1
            .retry_after
            .and_then(|r| HeaderValue::from_str(&r.to_string()).ok())
        {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        if code == ErrorCode::InvalidClient {
            // RFC 6749 §5.2: 401 with the scheme the client may use.
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"auth-service\""),
            );
        }
        response
    }
}

/// `Cache-Control: no-store` on every token response (RFC 6749 §5.1).
pub fn no_store(headers: &mut HeaderMap) {
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
}
