//! What the OAuth endpoints share: the RFC 6749 §5.2 error response, form
//! parameters that may appear at most once (§3.2), and client
//! authentication (§2.3.1: `client_secret_basic` and `client_secret_post`;
//! `none` for public clients).

use axum::Json;
use axum::http::header::{CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use oauth::{Error, ErrorCode};
use serde_json::json;
use store::ClientRecord;

use crate::state::AppState;

/// An OAuth error as an HTTP response.
#[derive(Debug)]
pub struct OAuthError(pub Error);

impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl From<store::Error> for OAuthError {
    /// The store failing is ours, not the client's: 503, fail closed
    /// (SECURITY.md 20). The cause goes to the log, not the client.
    fn from(e: store::Error) -> Self {
        let detail = format!("{:#}", anyhow::Error::new(e));
        Self(
            Error::new(
                ErrorCode::TemporarilyUnavailable,
                "the service is temporarily unavailable",
            )
            .with_detail(detail),
        )
    }
}

pub fn error(code: ErrorCode, description: impl Into<String>) -> OAuthError {
    OAuthError(Error::new(code, description))
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let Error {
            code,
            description,
            detail,
        } = self.0;
        let status = match code {
            ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
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

/// Form parameters, each allowed at most once.
#[derive(Debug)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// The value of `name`; empty counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut values = self
            .0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(error(
                ErrorCode::InvalidRequest,
                format!("the {name} parameter appears more than once"),
            ));
        }
        Ok(first.filter(|v| !v.is_empty()))
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)?.ok_or_else(|| {
            error(
                ErrorCode::InvalidRequest,
                format!("the {name} parameter is missing"),
            )
        })
    }
}

/// How the client presented itself.
enum Presented {
    Basic {
        id: String,
        secret: String,
    },
    Post {
        id: String,
        secret: String,
    },
    /// A public client naming itself.
    None {
        id: String,
    },
}

fn invalid_client() -> OAuthError {
    error(ErrorCode::InvalidClient, "client authentication failed")
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined by ':'
/// and base64-encoded.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| invalid_client())?;
    let Some((scheme, encoded)) = text.split_once(' ') else {
        return Err(invalid_client());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid_client());
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| invalid_client())?;
    let decoded = String::from_utf8(decoded).map_err(|_| invalid_client())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(invalid_client)?;
    Ok(Some((
        form_decode(id).ok_or_else(invalid_client)?,
        form_decode(secret).ok_or_else(invalid_client)?,
    )))
}

/// Undoes `application/x-www-form-urlencoded` encoding of one component.
fn form_decode(input: &str) -> Option<String> {
    let spaced = input.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Authenticates the client of a token, introspection or revocation request.
pub async fn authenticate_client(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<ClientRecord, OAuthError> {
    let body_id = params.get("client_id")?.map(str::to_owned);
    let body_secret = params.get("client_secret")?.map(str::to_owned);
    let presented = match (basic_credentials(headers)?, body_id, body_secret) {
        (Some(_), _, Some(_)) => {
            // RFC 6749 §2.3: one method per request.
            return Err(error(
                ErrorCode::InvalidRequest,
                "use one client authentication method, not two",
            ));
        }
        (Some((id, secret)), body_id, None) => {
            if body_id.is_some_and(|b| b != id) {
                return Err(error(
                    ErrorCode::InvalidRequest,
                    "client_id does not match the Authorization header",
                ));
            }
            Presented::Basic { id, secret }
        }
        (None, Some(id), Some(secret)) => Presented::Post { id, secret },
        (None, Some(id), None) => Presented::None { id },
        (None, None, _) => return Err(invalid_client()),
    };
    let id = match &presented {
        Presented::Basic { id, .. } | Presented::Post { id, .. } | Presented::None { id } => {
            id.clone()
        }
    };
    let client = match state.store.get_client(&id).await {
        Ok(client) => client,
        Err(store::Error::NotFound) => {
            tracing::info!(category = "security", event = "authentication_failure", client_id = %id, reason = "unknown_client", outcome = "failure", "client authentication failed");
            return Err(invalid_client());
        }
        Err(e) => return Err(e.into()),
    };
    let ok = match (&presented, &client.secret_hash) {
        (Presented::Basic { secret, .. } | Presented::Post { secret, .. }, Some(hash)) => {
            state.master_key.verify_client_secret(secret, hash)
        }
        (Presented::None { .. }, None) => client.public,
        _ => false,
    };
    if !ok {
        tracing::info!(category = "security", event = "authentication_failure", client_id = %client.client_id, reason = "bad_credentials", outcome = "failure", "client authentication failed");
        return Err(invalid_client());
    }
    Ok(client)
}
