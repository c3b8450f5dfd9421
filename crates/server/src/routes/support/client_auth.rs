//! Client authentication over HTTP: the credentials are read from the
//! `Authorization` header and the form (`oauth::client_auth::presented`),
//! judged by `services::oauth::client_auth`, and a failure spends the
//! failure budget (docs/security.md 23).

use axum::http::HeaderMap;
use oauth::ErrorCode;
use oauth::client_auth::presented;
use store::ClientRecord;

use super::rate_limit::{self, Verdict};
use super::{FormParams, OAuthError, error};
use crate::ops::client_ip::ClientIp;
use crate::services::oauth::client_auth::{ClientAuthError, authenticate};
use crate::state::AppState;

fn invalid_client() -> OAuthError {
    error(ErrorCode::InvalidClient, "client authentication failed")
}

/// Authenticates the client of a token, introspection or revocation request.
///
/// Every failure is counted against a budget per client id and per client
/// IP (`AUTH_RATE_LIMIT_CLIENT_AUTH_FAILURES`); once either is spent, a
/// failure answers 429 with `Retry-After` instead of 401 (docs/security.md 23).
/// Only failures are counted, and only after they happen, so a correct
/// credential never waits for the store and a stranger who spends a
/// client's budget does not lock the real client out.
pub async fn authenticate_client(
    state: &AppState,
    headers: &HeaderMap,
    params: &FormParams,
    ip: Option<ClientIp>,
) -> Result<ClientRecord, OAuthError> {
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let presented = presented(authorization, params.params())?;
    match authenticate(state, &presented).await {
        Ok(client) => Ok(client),
        Err(ClientAuthError::Failed { client_id, reason }) => {
            failure(&client_id, reason);
            Err(spend_failure_budget(state, &client_id, ip).await)
        }
        Err(ClientAuthError::Store(e)) => Err(e.into()),
    }
}

/// Counts one failed authentication; the answer to give for it.
async fn spend_failure_budget(state: &AppState, id: &str, ip: Option<ClientIp>) -> OAuthError {
    let Some(rate) = state.config.client_auth_failures else {
        return invalid_client();
    };
    let ip = ip.map(|ClientIp(ip)| {
        format!(
            "ip:{}",
            crate::ops::client_ip::limit_subject(ip, state.config.ipv6_prefix)
        )
    });
    // The id is what the caller sent, so it is hashed to a bounded key.
    let client = format!("client:{}", crate::opaque::hash_token(id));
    for subject in ip.iter().chain(std::iter::once(&client)) {
        match rate_limit::check(state, "client_auth", subject, rate).await {
            Verdict::Admit => {}
            Verdict::Refuse(retry_after) => return OAuthError::too_many(retry_after),
            Verdict::Unavailable => {
                return error(
                    ErrorCode::TemporarilyUnavailable,
                    "the service is temporarily unavailable",
                );
            }
        }
    }
    invalid_client()
}

fn failure(client_id: &str, reason: &'static str) {
    tracing::info!(
        category = "security",
        event = "authentication_failure",
        client_id = %client_id,
        reason,
        outcome = "failure",
        "client authentication failed"
    );
}
