//! The UserInfo endpoint (OpenID Connect Core §5.3), GET and POST, with a
//! Bearer access token in the Authorization header (RFC 6750 §2.1), or a
//! DPoP-bound one with its proof (RFC 9449 §7, `support::bound_token`). A
//! revoked or expired token is refused on every replica, because
//! revocations live in the shared store.

use axum::Json;
use axum::extract::State;
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::support::bound_token::{self, Credentials};
use super::support::{OAuthError, no_store};
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
    method: Method,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    let Some(credentials) = Credentials::from_headers(&headers) else {
        return Ok(challenge(&state, StatusCode::UNAUTHORIZED, None, ""));
    };
    let token = &credentials.token;
    let Some(verified) = verify::access_token(&state, token, verify::Taking::Issuer).await? else {
        return Ok(challenge(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            "the access token is invalid, expired or revoked",
        ));
    };
    match bound_token::check(
        &state,
        &verified,
        &credentials,
        &headers,
        method.as_str(),
        "/userinfo",
    )
    .await
    {
        Ok(()) => {}
        Err(Ok(refusal)) => {
            let mut response = challenge(
                &state,
                StatusCode::UNAUTHORIZED,
                Some("invalid_token"),
                &refusal.description,
            );
            refusal.apply(&mut response);
            return Ok(response);
        }
        Err(Err(e)) => return Err(e.into()),
    }
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
    let mut response =
        Json(claims::lookup(&state, &verified.client, user, &scopes).await?).into_response();
    no_store(response.headers_mut());
    Ok(response)
}
