//! Client authentication over HTTP: the credentials are read from the
//! `Authorization` header and the form (`oauth::client_auth::presented`),
//! judged by `services::oauth::client_auth`, and a failure spends the
//! failure budget (docs/security.md 23).

use axum::extract::{FromRequest, Request};
use axum::http::HeaderValue;
use axum::http::header::AUTHORIZATION;
use oauth::ErrorCode;
use oauth::client_auth::presented;
use oauth::dpop::ProofError;
use store::ClientRecord;

use super::rate_limit::{self, Verdict};
use super::{FormParams, OAuthError, OAuthForm, error};
use crate::ops::client_ip::ClientIp;
use crate::services::oauth::client_auth::{ClientAuthError, authenticate};
use crate::state::AppState;

fn invalid_client() -> OAuthError {
    error(ErrorCode::InvalidClient, "client authentication failed")
}

/// The authenticated client of a token, introspection or revocation
/// request, with the request's form: the extractor those routes take.
#[derive(Debug)]
pub struct AuthenticatedClient {
    pub client: ClientRecord,
    pub form: FormParams,
    /// The request's one `DPoP` header (RFC 9449 §4.1), for the token
    /// endpoint, or why there is not one (`services::oauth::dpop::header_value`).
    pub dpop: Result<Option<HeaderValue>, ProofError>,
}

impl FromRequest<AppState> for AuthenticatedClient {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let ip = req.extensions().get::<ClientIp>().copied();
        // A HeaderValue clone shares the received bytes: no copy.
        let authorization = req.headers().get(AUTHORIZATION).cloned();
        let dpop =
            crate::services::oauth::dpop::header_value(req.headers()).map(|value| value.cloned());
        let OAuthForm(form) = OAuthForm::from_request(req, state).await?;
        let client = authenticate_client(
            state,
            authorization.as_ref().map(HeaderValue::as_bytes),
            &form,
            ip,
        )
        .await?;
        Ok(Self { client, form, dpop })
    }
}

/// Authenticates the client of a token, introspection or revocation request.
///
/// Every failure is counted against a budget per client id and per client
/// IP (`AUTH_RATE_LIMIT_CLIENT_AUTH_FAILURES`); once either is spent, a
/// failure answers 429 with `Retry-After` instead of 401 (docs/security.md 23).
/// Only failures are counted, and only after they happen, so a correct
/// credential never waits for the store and a stranger who spends a
/// client's budget does not lock the real client out.
async fn authenticate_client(
    state: &AppState,
    authorization: Option<&[u8]>,
    params: &FormParams,
    ip: Option<ClientIp>,
) -> Result<ClientRecord, OAuthError> {
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
