//! The UserInfo endpoint (OpenID Connect Core §5.3), GET and POST, with a
//! Bearer access token in the Authorization header (RFC 6750 §2.1). A
//! revoked or expired token is refused on every replica, because
//! revocations live in the shared store.

use axum::Json;
use axum::extract::State;
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::support::{Bearer, OAuthError, no_store};
use crate::services::oauth::claims;
use crate::services::oauth::verify;
use crate::state::AppState;

/// RFC 6750 §3: the challenge, with an error code once a token was
/// presented, and where the issuer's resource metadata is (RFC 9728 §5.1).
fn challenge(
    state: &AppState,
    status: StatusCode,
    error: Option<&str>,
    description: &str,
) -> Response {
    let metadata = oauth::protected_resource::metadata_url(&state.config.issuer);
    let value =
        oauth::bearer::challenge(error.map(|code| (code, description)), metadata.as_deref());
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

pub async fn userinfo(
    State(state): State<AppState>,
    bearer: Option<Bearer>,
) -> Result<Response, OAuthError> {
    let Some(Bearer(token)) = bearer else {
        return Ok(challenge(&state, StatusCode::UNAUTHORIZED, None, ""));
    };
    let Some(verified) = verify::access_token(&state, &token, verify::Taking::Issuer).await? else {
        return Ok(challenge(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            "the access token is invalid, expired or revoked",
        ));
    };
    let scopes: Vec<&str> = verified.scopes().collect();
    if !scopes.contains(&"openid") {
        return Ok(challenge(
            &state,
            StatusCode::FORBIDDEN,
            Some("insufficient_scope"),
            "the openid scope is required",
        ));
    }
    // A token for the client itself (client_credentials) has no user.
    let Some(user) = &verified.user else {
        return Ok(challenge(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            "the access token was not issued for a user",
        ));
    };
    let mut response = Json(claims::lookup(&state, user, &scopes).await?).into_response();
    no_store(response.headers_mut());
    Ok(response)
}
