//! The token endpoint (RFC 6749 §3.2): authenticate the client, hand the
//! form to `services::oauth::grants` (which reads it with
//! `oauth::token_request` and runs the grant), and write the outcome: the
//! RFC 6749 §5.1 response, or a §5.2 error. Every response carries `Cache-Control:
//! no-store`.
//!
//! A `DPoP` header (RFC 9449 §5) is verified before the grant runs; the
//! tokens are then bound to its key and `token_type` is `DPoP`. A client
//! registered with `dpop_bound_access_tokens` must send one (§5.2). With
//! `AUTH_DPOP_NONCE=on` every response carries the current `DPoP-Nonce`,
//! and a proof without it is refused with `use_dpop_nonce` (§8).

mod device_authorization;
mod par;

pub use device_authorization::device_authorization;
pub use par::push as pushed_authorization_request;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use oauth::ErrorCode;
use serde_json::json;

use super::support::client_auth::AuthenticatedClient;
use super::support::{OAuthError, error, no_store};
use crate::services::oauth::dpop::{self, DpopError};
use crate::services::oauth::grants::{self, GrantError};
use crate::services::oauth::issue::{IssueFailure, TokenSet};
use crate::services::oauth::sign::IssueError;
use crate::state::AppState;
use oauth::dpop::ProofError;

pub async fn token(
    State(state): State<AppState>,
    AuthenticatedClient { client, form, dpop }: AuthenticatedClient,
) -> Result<Response, Response> {
    if let Some(refusal) = super::support::rate_limit::per_client(&state, &client.client_id).await {
        return Ok(refusal);
    }
    let with_nonce = |mut response: Response| {
        if state.config.dpop_nonce
            && let Ok(value) = HeaderValue::from_str(&dpop::nonce(&state))
        {
            response.headers_mut().insert("dpop-nonce", value);
        }
        response
    };
    let jkt = match proof_key(&state, &dpop).await {
        Ok(jkt) => jkt,
        Err(e) => return Err(with_nonce(e.into_response())),
    };
    if jkt.is_none() && client.metadata.dpop_bound_access_tokens {
        return Err(with_nonce(
            error(
                ErrorCode::InvalidDpopProof,
                "this client's tokens must be DPoP-bound: send a DPoP proof",
            )
            .into_response(),
        ));
    }
    let tokens = grants::exchange(&state, &client, form.params(), jkt.as_deref())
        .await
        .map_err(|e| with_nonce(grant_error(e).into_response()))?;
    Ok(with_nonce(token_response(tokens)))
}

/// The key of the request's DPoP proof, if it sent one (RFC 9449 §4.3).
async fn proof_key(
    state: &AppState,
    header: &Result<Option<HeaderValue>, ProofError>,
) -> Result<Option<String>, OAuthError> {
    let verified = match header {
        Ok(None) => return Ok(None),
        Ok(Some(value)) => match dpop::proof_text(value) {
            Ok(proof) => {
                let url = format!("{}/token", state.config.issuer);
                let target = dpop::Target {
                    method: "POST",
                    url: &url,
                    access_token: None,
                };
                dpop::verify(state, proof, target).await
            }
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e.clone().into()),
    };
    match verified {
        Ok(verified) => Ok(Some(verified.jkt)),
        Err(DpopError::Store(e)) => Err(e.into()),
        Err(DpopError::Proof(e)) => {
            let code = e.error_code();
            tracing::info!(category = "security", event = "dpop_proof_refused", error = code.as_str(), reason = %e, outcome = "failure", "DPoP proof refused");
            Err(error(code, e.to_string()))
        }
    }
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
        "token_type": tokens.token_type,
        "expires_in": tokens.expires_in,
        "scope": tokens.scope.to_string(),
    });
    if let Some(refresh_token) = tokens.refresh_token {
        body["refresh_token"] = json!(refresh_token);
    }
    if let Some(id_token) = tokens.id_token {
        body["id_token"] = json!(id_token);
    }
    if let Some(issued) = tokens.issued_token_type {
        body["issued_token_type"] = json!(issued);
    }
    let mut response = Json(body).into_response();
    no_store(response.headers_mut());
    response
}
