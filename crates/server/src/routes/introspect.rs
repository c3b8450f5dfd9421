//! Token introspection (RFC 7662) for access tokens (our JWTs) and refresh
//! tokens (opaque). The caller must be an authenticated confidential client.
//! Revoked, expired, foreign or malformed tokens are simply inactive (§2.2).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use oauth::ErrorCode;
use oauth::access_token::AccessClaims;
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
    }: AuthenticatedClient,
) -> Result<Response, OAuthError> {
    if client.public {
        return Err(error(
            ErrorCode::UnauthorizedClient,
            "public clients may not introspect tokens",
        ));
    }
    let token = params.require("token")?;
    let answer = match verify::access_token(&state, token).await? {
        Some(verified) => active_access_token(&verified.claims),
        None => refresh_token_answer(&state, token).await?,
    };
    let active = answer["active"] == json!(true);
    metrics::counter!("auth_token_introspections_total", "active" => if active { "true" } else { "false" }).increment(1);
    let mut response = Json(answer).into_response();
    no_store(response.headers_mut());
    Ok(response)
}

/// RFC 7662 §2.2: the token's own claims, and that it is active.
fn active_access_token(claims: &AccessClaims) -> Value {
    json!({
        "active": true,
        "token_type": "Bearer",
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "jti": claims.jti,
    })
}

async fn refresh_token_answer(state: &AppState, token: &str) -> Result<Value, OAuthError> {
    match verify::refresh_token(state, &hash_token(token)).await? {
        Some(family) => {
            let mut answer = json!({
                "active": true,
                "token_type": "refresh_token",
                "client_id": family.client_id,
                "scope": family.scope,
                "iss": state.config.issuer,
                "iat": family.rotated_at,
                "exp": family.idle_expires_at.min(family.expires_at),
            });
            if let Some(user) = family.user_id {
                answer["sub"] = json!(user);
            }
            Ok(answer)
        }
        None => Ok(json!({"active": false})),
    }
}
