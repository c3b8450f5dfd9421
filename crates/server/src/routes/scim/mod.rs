//! The SCIM 2.0 HTTP surface under `/scim/v2` (RFC 7644): bearer-token
//! authentication with scopes `scim:read` and `scim:write`, JSON bodies as
//! `application/scim+json` or `application/json`, SCIM error bodies for
//! every refusal, ETags, and `scim_requests_total`.
//!
//! The discovery endpoints (`/ServiceProviderConfig`, `/ResourceTypes`,
//! `/Schemas`) describe the service, not its data, and answer without a
//! token so clients can configure themselves first.

mod discovery;
mod resources;

use std::collections::HashMap;

use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::http::header::{CONTENT_TYPE, ETAG, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

use crate::routes::support::bound_token::{self, Credentials};
pub use crate::routes::support::scim_response::{SCIM_JSON, error_response, scim_json};
use crate::services::oauth::resources::scim_identifier;
use crate::services::oauth::verify;
use crate::services::scim::bulk::MAX_PAYLOAD_BYTES;
use crate::services::scim::{Actor, Failure};
use crate::state::AppState;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/Users",
            get(resources::list_users).post(resources::create_user),
        )
        .route("/Users/.search", post(resources::search_users))
        .route(
            "/Users/{id}",
            get(resources::get_user)
                .put(resources::replace_user)
                .patch(resources::patch_user)
                .delete(resources::delete_user),
        )
        .route(
            "/Groups",
            get(resources::list_groups).post(resources::create_group),
        )
        .route("/Groups/.search", post(resources::search_groups))
        .route(
            "/Groups/{id}",
            get(resources::get_group)
                .put(resources::replace_group)
                .patch(resources::patch_group)
                .delete(resources::delete_group),
        )
        .route(
            "/Me",
            get(resources::get_me)
                .put(resources::replace_me)
                .patch(resources::patch_me)
                .delete(resources::delete_me),
        )
        .route("/.search", post(resources::search_all))
        .route("/Bulk", post(resources::bulk))
        .route(
            "/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/ResourceTypes", get(discovery::resource_types))
        .route("/ResourceTypes/{id}", get(discovery::resource_type))
        .route("/Schemas", get(discovery::schemas))
        .route("/Schemas/{id}", get(discovery::schema))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state, authenticate))
}

async fn method_not_allowed() -> Response {
    error_response(&scim::Error::status(
        405,
        "this method is not supported on this SCIM endpoint",
    ))
}

async fn not_found() -> Response {
    error_response(&scim::Error::status(404, "no such SCIM endpoint"))
}

/// A single resource, with its ETag (RFC 7644 §3.14).
pub fn resource_response(status: StatusCode, body: &Value, version: u64) -> Response {
    let mut response = scim_json(status, body);
    if let Ok(etag) = HeaderValue::from_str(&scim::etag(version)) {
        response.headers_mut().insert(ETAG, etag);
    }
    response
}

/// A failed SCIM request as a response: client errors as sent, store
/// failures as 503 with the cause in the log only.
#[derive(Debug)]
pub struct ScimError(pub Failure);

impl From<Failure> for ScimError {
    fn from(f: Failure) -> Self {
        Self(f)
    }
}

impl From<store::Error> for ScimError {
    fn from(e: store::Error) -> Self {
        Self(Failure::from(e))
    }
}

impl From<scim::Error> for ScimError {
    fn from(e: scim::Error) -> Self {
        Self(Failure::Scim(e))
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let error = self.0.to_scim();
        let status = error.status;
        match self.0 {
            Failure::Scim(e) => {
                let scim_type = e.scim_type.map_or("", scim::ScimType::as_str);
                tracing::info!(event = "scim_error", status, error = scim_type, detail = %e.detail, "SCIM request refused");
            }
            Failure::Store(e) => {
                let detail = format!("{:#}", anyhow::Error::new(e));
                tracing::warn!(event = "scim_error", status, detail = %detail, "SCIM request failed: store");
            }
            Failure::Internal(detail) => {
                tracing::error!(event = "scim_error", status, detail = %detail, "SCIM request failed");
            }
        }
        error_response(&error)
    }
}

/// A JSON request body, read up to the advertised `maxPayloadSize`.
pub struct ScimBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = ScimError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let media_type_ok = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_none_or(|m| m == SCIM_JSON || m == "application/json");
        if !media_type_ok {
            return Err(scim::Error::status(
                415,
                "the body must be application/scim+json or application/json",
            )
            .into());
        }
        let bytes = axum::body::to_bytes(request.into_body(), MAX_PAYLOAD_BYTES)
            .await
            .map_err(|_| {
                scim::Error::status(
                    413,
                    format!("the request body exceeds {MAX_PAYLOAD_BYTES} bytes"),
                )
            })?;
        serde_json::from_slice(&bytes).map(ScimBody).map_err(|e| {
            scim::Error::new(
                scim::ScimType::InvalidSyntax,
                format!("the body is not valid JSON: {e}"),
            )
            .into()
        })
    }
}

/// What the authentication layer learned about the caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    /// The token's subject: a user id for user tokens, the client id otherwise.
    pub subject: String,
}

/// The resource-type label of a SCIM path, bounded.
fn resource_label(path: &str) -> &'static str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match first {
        "Users" => "User",
        "Groups" => "Group",
        "Me" => "Me",
        "Bulk" => "Bulk",
        ".search" => "root",
        "ServiceProviderConfig" => "ServiceProviderConfig",
        "ResourceTypes" => "ResourceType",
        "Schemas" => "Schema",
        _ => "other",
    }
}

fn op_label(method: &Method, path: &str) -> &'static str {
    let segments = path.trim_matches('/').split('/').count();
    match *method {
        Method::POST if path.ends_with("/.search") => "search",
        Method::POST if path.starts_with("/Bulk") => "bulk",
        Method::POST => "create",
        Method::GET if segments > 1 || path.starts_with("/Me") => "get",
        Method::GET => "list",
        Method::PUT => "replace",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "other",
    }
}

fn is_discovery(path: &str) -> bool {
    matches!(
        resource_label(path),
        "ServiceProviderConfig" | "ResourceType" | "Schema"
    )
}

/// Reads need `scim:read` or `scim:write`; anything else `scim:write`.
fn scope_needed(method: &Method, path: &str) -> &'static [&'static str] {
    let read = *method == Method::GET || *method == Method::HEAD || path.ends_with("/.search");
    if read {
        &["scim:read", "scim:write"]
    } else {
        &["scim:write"]
    }
}

async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let response = if is_discovery(&path) {
        next.run(request).await
    } else {
        match caller(&state, request.headers(), &method, &path).await {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                next.run(request).await
            }
            Err(response) => response,
        }
    };
    metrics::counter!(
        "scim_requests_total",
        "resource" => resource_label(&path),
        "op" => op_label(&method, &path),
        "status" => response.status().as_u16().to_string()
    )
    .increment(1);
    response
}

async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
    path: &str,
) -> Result<Caller, Response> {
    let unauthorized = |detail: &str, presented: bool| {
        tracing::info!(
            category = "security",
            event = "scim_unauthorized",
            outcome = "failure",
            detail,
            "SCIM request without a valid token"
        );
        let mut response = error_response(&scim::Error::status(401, detail));
        // RFC 6750 §3 with RFC 9728 §5.1: where the SCIM API's metadata
        // is, so a client can find which server issues its tokens.
        let metadata = oauth::protected_resource::metadata_url(&scim_identifier(state));
        let value = oauth::bearer::challenge(
            presented.then_some(("invalid_token", detail)),
            metadata.as_deref(),
        );
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
    };
    let Some(credentials) = Credentials::from_headers(headers) else {
        return Err(unauthorized("a Bearer access token is required", false));
    };
    let verified = match verify::access_token(state, &credentials.token, verify::Taking::Scim).await
    {
        Ok(Some(verified)) => verified,
        Ok(None) => {
            return Err(unauthorized(
                "the access token is invalid, expired or revoked",
                true,
            ));
        }
        Err(_) => {
            return Err(error_response(&scim::Error::status(
                503,
                "the service is temporarily unavailable",
            )));
        }
    };
    // RFC 9449 §7.1: a DPoP-bound token comes with a proof of its key.
    let scim_path = format!("/scim/v2{path}");
    match bound_token::check(
        state,
        &verified,
        &credentials,
        headers,
        method.as_str(),
        &scim_path,
    )
    .await
    {
        Ok(()) => {}
        Err(Ok(refusal)) => {
            let mut response = unauthorized(&refusal.description, true);
            refusal.apply(&mut response);
            return Err(response);
        }
        Err(Err(_)) => {
            return Err(error_response(&scim::Error::status(
                503,
                "the service is temporarily unavailable",
            )));
        }
    }
    let needed = scope_needed(method, path);
    if !verified.scopes().any(|s| needed.contains(&s)) {
        tracing::info!(
            category = "security",
            event = "scim_forbidden",
            outcome = "failure",
            client_id = verified.client_id(),
            "SCIM request without the scope"
        );
        return Err(error_response(&scim::Error::status(
            403,
            format!("this request needs the scope {}", needed.join(" or ")),
        )));
    }
    Ok(Caller {
        actor: Actor {
            client_id: verified.client_id().to_owned(),
        },
        subject: verified.subject().to_owned(),
    })
}

/// Query parameters as a map (the last of repeated names wins).
pub fn params(query: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}
