//! The pushed authorization request endpoint (RFC 9126 §2): an
//! authenticated client (a public one names itself) posts an
//! authorization request and gets a `request_uri` for `/authorize`.
//! Errors are the token endpoint's (§2.3); the answer is 201, never
//! cached.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::routes::support::client_auth::AuthenticatedClient;
use crate::routes::support::{OAuthError, no_store};
use crate::services::oauth::par::{self, PushError};
use crate::state::AppState;

/// The client's credentials, which are not part of the request it pushes.
const CREDENTIALS: [&str; 3] = ["client_secret", "client_assertion", "client_assertion_type"];

pub async fn push(
    State(state): State<AppState>,
    AuthenticatedClient { client, form, .. }: AuthenticatedClient,
) -> Result<Response, Response> {
    if let Some(refusal) =
        crate::routes::support::rate_limit::per_client(&state, &client.client_id).await
    {
        return Ok(refusal);
    }
    let mut params = form.into_pairs();
    params.retain(|(name, _)| !CREDENTIALS.contains(&name.as_str()));
    let pushed = par::push(&state, &client, params).await.map_err(|e| {
        match e {
            PushError::Protocol(e) => OAuthError::from(e),
            PushError::Store(e) => OAuthError::from(e),
        }
        .into_response()
    })?;
    let mut response = (StatusCode::CREATED, Json(pushed)).into_response();
    no_store(response.headers_mut());
    Ok(response)
}
