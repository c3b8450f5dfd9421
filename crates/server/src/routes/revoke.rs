//! Token revocation (RFC 7009) for access tokens (recorded by `jti` until
//! they would expire) and refresh tokens (the whole family). A token the
//! server does not know is not an error (§2.2); a token issued to another
//! client is refused.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use oauth::ErrorCode;

use super::support::client_auth::AuthenticatedClient;
use super::support::{OAuthError, error, no_store};
use crate::opaque::hash_token;
use crate::services::oauth::verify;
use crate::state::AppState;

pub async fn revoke(
    State(state): State<AppState>,
    AuthenticatedClient {
        client,
        form: params,
        ..
    }: AuthenticatedClient,
) -> Result<Response, OAuthError> {
    let token = params.require("token")?;
    // token_type_hint only orders the search (§2.1); we look in both places.
    let _hint = params.get("token_type_hint")?;

    if let Some(verified) = verify::access_token(&state, token, verify::Taking::AnyApi).await? {
        if verified.client_id() != client.client_id {
            return Err(error(
                ErrorCode::UnauthorizedClient,
                "the token was not issued to this client",
            ));
        }
        let exp = verified.claims.exp;
        state.store.revoke_token_id(verified.jti(), exp).await?;
        revoked(&client.client_id, "access_token");
    } else {
        match state.store.get_current_family(&hash_token(token)).await {
            Ok(family) if family.client_id != client.client_id => {
                return Err(error(
                    ErrorCode::UnauthorizedClient,
                    "the token was not issued to this client",
                ));
            }
            Ok(family) => {
                match state.store.revoke_family(&family.id).await {
                    Ok(()) | Err(store::Error::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
                revoked(&client.client_id, "refresh_token");
            }
            Err(store::Error::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut response = ().into_response();
    no_store(response.headers_mut());
    Ok(response)
}

fn revoked(client_id: &str, token_type: &'static str) {
    metrics::counter!("auth_tokens_revoked_total", "token_type" => token_type).increment(1);
    tracing::info!(category = "security", event = "token_revoked", client_id = %client_id, token_type, outcome = "success", "token revoked");
}
