//! The token endpoint (RFC 6749 §3.2): authenticate the client, hand the
//! form to `services::oauth::grants` (which reads it with
//! `oauth::token_request` and runs the grant), and write the outcome: the
//! RFC 6749 §5.1 response, or a §5.2 error. Every response carries `Cache-Control:
//! no-store`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use oauth::ErrorCode;
use serde_json::json;

use super::support::client_auth::AuthenticatedClient;
use super::support::{OAuthError, error, no_store};
use crate::services::oauth::grants::{self, GrantError};
use crate::services::oauth::issue::{IssueFailure, TokenSet};
use crate::services::oauth::sign::IssueError;
use crate::state::AppState;

pub async fn token(
    State(state): State<AppState>,
    AuthenticatedClient { client, form }: AuthenticatedClient,
) -> Result<Response, OAuthError> {
    if let Some(refusal) = super::support::rate_limit::per_client(&state, &client.client_id).await {
        return Ok(refusal);
    }
    let tokens = grants::exchange(&state, &client, form.params())
        .await
        .map_err(grant_error)?;
    Ok(token_response(tokens))
}

/// A refused grant in RFC 6749 §5.2's words.
fn grant_error(e: GrantError) -> OAuthError {
    match e {
        GrantError::Invalid(reason) => error(ErrorCode::InvalidGrant, reason.description()),
        e @ (GrantError::NotAllowed(_) | GrantError::PublicClient) => {
            error(ErrorCode::UnauthorizedClient, e.to_string())
        }
        GrantError::Protocol(e) => e.into(),
        GrantError::Issue(e) => issue_failure(e),
        GrantError::Store(e) => e.into(),
    }
}

/// An issuance failure in OAuth's words: ours, never the client's.
fn issue_failure(e: IssueFailure) -> OAuthError {
    match e {
        IssueFailure::Sign(e @ IssueError::NoSigningKey(_)) => oauth::Error::new(
            ErrorCode::TemporarilyUnavailable,
            "no signing key is available",
        )
        .with_detail(e.to_string())
        .into(),
        IssueFailure::Sign(e @ IssueError::Corrupt(_)) => {
            oauth::Error::new(ErrorCode::ServerError, "a stored record is corrupt")
                .with_detail(e.to_string())
                .into()
        }
        IssueFailure::Sign(IssueError::Key(e)) => {
            oauth::Error::new(ErrorCode::ServerError, "signing failed")
                .with_detail(e.to_string())
                .into()
        }
        IssueFailure::Store(e) => e.into(),
        IssueFailure::Randomness => {
            oauth::Error::new(ErrorCode::ServerError, "no randomness").into()
        }
    }
}

/// A successful token response (RFC 6749 §5.1), `Cache-Control: no-store`.
fn token_response(tokens: TokenSet) -> Response {
    let mut body = json!({
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
        "scope": tokens.scope.to_string(),
    });
    if let Some(refresh_token) = tokens.refresh_token {
        body["refresh_token"] = json!(refresh_token);
    }
    if let Some(id_token) = tokens.id_token {
        body["id_token"] = json!(id_token);
    }
    let mut response = Json(body).into_response();
    no_store(response.headers_mut());
    response
}
