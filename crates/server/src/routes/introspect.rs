//! Token introspection (RFC 7662) for access tokens (our JWTs) and refresh
//! tokens (opaque). The caller must be an authenticated confidential client.
//! Revoked, expired, foreign or malformed tokens are simply inactive (§2.2).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use oauth::ErrorCode;
use oauth::introspection::{self, RefreshToken};
use serde_json::{Value, json};

use super::support::client_auth::AuthenticatedClient;
use super::support::{OAuthError, error, no_store};
use crate::opaque::hash_token;
use crate::services::oauth::verify;
use crate::state::AppState;

pub async fn introspect(
    State(state): State<AppState>,
    AuthenticatedClient {
        client,
        form: params,
        ..
    }: AuthenticatedClient,
) -> Result<Response, OAuthError> {
    if client.public {
        return Err(error(
            ErrorCode::UnauthorizedClient,
            "public clients may not introspect tokens",
        ));
    }
    let token = params.require("token")?;
    let answer = match verify::access_token(&state, token, verify::Taking::AnyApi).await? {
        Some(verified) => introspection::access_token(&verified.claims),
        None => refresh_token_answer(&state, token).await?,
    };
    let active = answer["active"] == json!(true);
    metrics::counter!("auth_token_introspections_total", "active" => if active { "true" } else { "false" }).increment(1);
    let mut response = Json(answer).into_response();
    no_store(response.headers_mut());
    Ok(response)
}

async fn refresh_token_answer(state: &AppState, token: &str) -> Result<Value, OAuthError> {
    match verify::refresh_token(state, &hash_token(token)).await? {
        Some(family) => Ok(introspection::refresh_token(&RefreshToken {
            issuer: &state.config.issuer,
            client_id: &family.client_id,
            user_id: family.user_id.as_deref(),
            scope: &family.scope,
            issued_at: family.rotated_at,
            expires_at: family.idle_expires_at.min(family.expires_at),
        })),
        None => Ok(introspection::inactive()),
    }
}
