//! The token endpoint (RFC 6749 §3.2): client authentication, then one
//! module per grant type. Every response carries `Cache-Control: no-store`.

use axum::Form;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oauth::{ErrorCode, GrantType, Scope};
use serde_json::json;
use store::ClientRecord;

mod authorization_code;
mod refresh_token;

use super::client_auth::authenticate_client;
use super::oauth_support::{FormParams, OAuthError, error, form, no_store};
use crate::services::issue::{Grant, GrantContext, IssueFailure, Refresh, TokenSet, issue};
use crate::services::tokens::IssueError;
use crate::state::AppState;

pub async fn token(
    State(state): State<AppState>,
    ip: Option<axum::Extension<crate::ops::client_ip::ClientIp>>,
    headers: HeaderMap,
    body: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, OAuthError> {
    let params = form(body)?;
    let client = authenticate_client(&state, &headers, &params, ip.map(|e| e.0)).await?;
    if let Some(refusal) = super::rate_limit::per_client(&state, &client.client_id).await {
        return Ok(refusal);
    }
    let grant = GrantType::parse(params.require("grant_type")?)?;
    if !client.grant_types.iter().any(|g| g == grant.as_str()) {
        return Err(error(
            ErrorCode::UnauthorizedClient,
            format!("this client may not use the {grant} grant"),
        ));
    }
    match grant {
        GrantType::ClientCredentials => client_credentials(&state, &client, &params).await,
        GrantType::AuthorizationCode => {
            authorization_code::exchange(&state, &client, &params).await
        }
        GrantType::RefreshToken => refresh_token::refresh(&state, &client, &params).await,
    }
}

/// The scope to grant: the requested one if the client may have all of it,
/// or all the client's scopes when none is requested (RFC 6749 §3.3).
pub fn granted_scope(client: &ClientRecord, requested: Option<&str>) -> Result<Scope, OAuthError> {
    let allowed = Scope::parse(&client.scopes.join(" ")).unwrap_or_default();
    let Some(requested) = requested else {
        return Ok(allowed);
    };
    let requested =
        Scope::parse(requested).map_err(|e| error(ErrorCode::InvalidScope, e.to_string()))?;
    if !requested.is_subset(&allowed) {
        return Err(error(
            ErrorCode::InvalidScope,
            "the requested scope exceeds what this client may request",
        ));
    }
    Ok(requested)
}

async fn client_credentials(
    state: &AppState,
    client: &ClientRecord,
    params: &FormParams,
) -> Result<Response, OAuthError> {
    if client.public {
        return Err(error(
            ErrorCode::UnauthorizedClient,
            "public clients cannot use client_credentials",
        ));
    }
    let grant = Grant {
        grant_type: "client_credentials",
        client,
        user: None,
        scope: granted_scope(client, params.get("scope")?)?,
        jti: uuid::Uuid::new_v4().to_string(),
        context: GrantContext::default(),
        refresh: Refresh::None,
    };
    let tokens = issue(state, grant).await.map_err(issue_failure)?;
    tracing::debug!(event = "token_issued", client_id = %client.client_id, grant_type = "client_credentials", "access token issued");
    Ok(token_response(tokens))
}

/// An issuance failure in OAuth's words: ours, never the client's.
pub fn issue_failure(e: IssueFailure) -> OAuthError {
    match e {
        IssueFailure::Sign(e @ IssueError::NoSigningKey(_)) => oauth::Error::new(
            ErrorCode::TemporarilyUnavailable,
            "no signing key is available",
        )
        .with_detail(e.to_string())
        .into(),
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
pub fn token_response(tokens: TokenSet) -> Response {
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

/// RFC 6749 §5.2: the grant (code, refresh token) is invalid, expired,
/// revoked, or bound to another client or redirect URI.
pub fn invalid_grant(description: &str) -> OAuthError {
    error(ErrorCode::InvalidGrant, description)
}
