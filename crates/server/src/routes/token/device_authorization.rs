//! The device authorization endpoint (RFC 8628 §3.1–3.2): an
//! authenticated client (a public one names itself, §3.1) asks for a
//! device code and a user code; errors are the token endpoint's (§3.2
//! refers to RFC 6749 §5.2), and the response is never cached.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use oauth::device::DeviceAuthorizationRequest;

use super::grant_error;
use crate::routes::support::client_auth::AuthenticatedClient;
use crate::routes::support::{OAuthError, no_store};
use crate::services::oauth::device;
use crate::state::AppState;

pub async fn device_authorization(
    State(state): State<AppState>,
    AuthenticatedClient { client, form, .. }: AuthenticatedClient,
) -> Result<Response, Response> {
    if let Some(refusal) =
        crate::routes::support::rate_limit::per_client(&state, &client.client_id).await
    {
        return Ok(refusal);
    }
    let request = DeviceAuthorizationRequest::parse(form.params())
        .map_err(|e| OAuthError::from(e).into_response())?;
    let started = device::start(&state, &client, &request)
        .await
        .map_err(|e| grant_error(e).into_response())?;
    let mut response = Json(started).into_response();
    no_store(response.headers_mut());
    Ok(response)
}
