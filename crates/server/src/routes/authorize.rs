//! The authorization endpoint (RFC 6749 §4.1, OpenID Connect Core §3.1.2)
//! and the steps that finish it after the login and consent pages.
//!
//! The request is validated by `oauth::authorize`; an untrusted client or
//! redirect URI gets an error page, every other error goes back to the
//! client with `state` and `iss` (RFC 9207). A request needing the user is
//! sealed into a transaction and continued by `/login` and `/consent`,
//! which call [`resume`] with what they just did.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use oauth::ErrorCode;
use oauth::authorize::{
    self, AuthorizationRequest, AuthorizeError, Params, Redirect, RegisteredClient, ResponseMode,
};
use serde_json::json;
use store::{AuthorizationCode, ClientRecord};

use crate::state::AppState;
use crate::tokens::{hash_token, random_token};
use crate::web::errors::{error_page, too_large, unavailable};
use crate::web::pages::{self, FormPost};
use crate::web::{session, transaction};

/// Authorization codes live at most 60 s (docs/security.md 4).
pub const CODE_LIFETIME: i64 = 60;

pub async fn get(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    resume(&state, jar, params, Done::default()).await
}

pub async fn post(
    State(state): State<AppState>,
    jar: CookieJar,
    body: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    match body {
        Ok(Form(params)) => resume(&state, jar, params, Done::default()).await,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        Err(e) => error_page(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            &format!("unreadable request: {e}"),
        ),
    }
}

/// What the user has just done on our pages.
#[derive(Debug, Clone, Copy, Default)]
pub struct Done {
    pub logged_in: bool,
    pub consented: bool,
}

/// Loads and validates the request's client: an unknown one is a page.
pub async fn load(
    state: &AppState,
    params: &[(String, String)],
) -> Result<(ClientRecord, AuthorizationRequest), Response> {
    let id = authorize::client_id(Params(params)).map_err(|e| refuse(state, e))?;
    let client = match state.store.get_client(id).await {
        Ok(client) if crate::services::verify::client_enabled(&client) => client,
        // A disabled client looks unknown: its redirect URIs are not trusted now.
        Ok(_) | Err(store::Error::NotFound) => {
            return Err(error_page(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidClient,
                "Unknown client.",
            ));
        }
        Err(e) => return Err(unavailable(e)),
    };
    let registered = RegisteredClient {
        client_id: &client.client_id,
        redirect_uris: &client.redirect_uris,
        scopes: &client.scopes,
        grant_types: &client.grant_types,
    };
    let request = authorize::validate(Params(params), &registered).map_err(|e| refuse(state, e))?;
    Ok((client, request))
}

fn refuse(state: &AppState, e: AuthorizeError) -> Response {
    match e {
        AuthorizeError::Page(e) => error_page(StatusCode::BAD_REQUEST, e.code, &e.description),
        AuthorizeError::Redirect(redirect, e) => {
            redirect_error(state, &redirect, e.code, &e.description)
        }
    }
}

/// Sends an error to a trusted redirect URI (RFC 6749 §4.1.2.1).
pub fn redirect_error(
    state: &AppState,
    redirect: &Redirect,
    code: ErrorCode,
    description: &str,
) -> Response {
    tracing::info!(
        event = "authorization_refused",
        error = code.as_str(),
        description,
        "authorization error sent to the client"
    );
    respond(
        state,
        redirect,
        &[("error", code.as_str()), ("error_description", description)],
    )
}

/// The authorization response: a 303 to the redirect URI with the
/// parameters in the query, or a self-submitting form (form_post). Both
/// carry `state` and `iss` (RFC 9207).
fn respond(state: &AppState, redirect: &Redirect, fields: &[(&str, &str)]) -> Response {
    let mut all: Vec<(&str, &str)> = fields.to_vec();
    if let Some(s) = &redirect.state {
        all.push(("state", s));
    }
    all.push(("iss", &state.config.issuer));
    match redirect.mode {
        ResponseMode::Query => {
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(all)
                .finish();
            let separator = if redirect.uri.contains('?') { '&' } else { '?' };
            let location = format!("{}{separator}{query}", redirect.uri);
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(value) = location.parse() {
                response.headers_mut().insert(LOCATION, value);
            }
            crate::web::page_headers(response.headers_mut(), None);
            response
        }
        ResponseMode::FormPost => {
            let nonce = random_token()
                .map(|t| t.expose().clone())
                .unwrap_or_default();
            pages::render(
                StatusCode::OK,
                &FormPost {
                    action: &redirect.uri,
                    fields: all,
                    nonce: &nonce,
                },
                Some(&nonce),
            )
        }
    }
}

fn see_other(path: &str, sealed: &str) -> Response {
    let location = format!(
        "{path}?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("authz", sealed)
            .finish()
    );
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = location.parse() {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// Takes an authorization request as far as it can go: to the login page,
/// the consent page, or the code.
pub async fn resume(
    state: &AppState,
    jar: CookieJar,
    params: Vec<(String, String)>,
    done: Done,
) -> Response {
    let (client, request) = match load(state, &params).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    let current = match session::current(state, &jar).await {
        Ok(current) => current,
        Err(e) => return unavailable(e),
    };
    let now = state.clock.now();
    let sealed = || transaction::seal(&state.master_key, &params, now);
    let too_old = |auth_time: i64| request.max_age.is_some_and(|max| now - auth_time > max);
    let current = match current {
        Some(c) if done.logged_in || !(request.prompt.login || too_old(c.session.auth_time)) => c,
        _ if request.prompt.none => {
            return redirect_error(
                state,
                &request.redirect,
                ErrorCode::LoginRequired,
                "the user is not signed in",
            );
        }
        _ => return (jar, see_other("/login", &sealed())).into_response(),
    };
    // A first-party client is trusted by configuration: no consent page.
    let first_party = client.metadata.get("first_party") == Some(&json!(true));
    if !done.consented && !first_party {
        let granted = match state
            .store
            .get_consent(&current.user.id, &client.client_id)
            .await
        {
            Ok(consent) => Some(consent),
            Err(store::Error::NotFound) => None,
            Err(e) => return unavailable(e),
        };
        let covered = granted.is_some_and(|c| {
            request
                .scope
                .iter()
                .all(|s| c.scopes.iter().any(|g| g == s))
        });
        if request.prompt.consent || !covered {
            if request.prompt.none {
                return redirect_error(
                    state,
                    &request.redirect,
                    ErrorCode::ConsentRequired,
                    "the user has not consented",
                );
            }
            return (jar, see_other("/consent", &sealed())).into_response();
        }
    }
    match issue_code(state, &request, &current).await {
        Ok(code) => (
            jar,
            respond(state, &request.redirect, &[("code", code.as_str())]),
        )
            .into_response(),
        Err(e) => unavailable(e),
    }
}

async fn issue_code(
    state: &AppState,
    request: &AuthorizationRequest,
    current: &session::Current,
) -> Result<String, store::Error> {
    let code = random_token().map_err(|_| store::Error::Unavailable {
        message: "no randomness".into(),
        source: None,
    })?;
    let record = AuthorizationCode {
        code_hash: hash_token(code.expose()),
        client_id: request.client_id.clone(),
        user_id: current.user.id.clone(),
        redirect_uri: request.redirect.uri.clone(),
        scope: request.scope.to_string(),
        code_challenge: request.code_challenge.as_str().to_owned(),
        expires_at: state.clock.now() + CODE_LIFETIME,
        grant: json!({
            "nonce": request.nonce,
            "auth_time": current.session.auth_time,
            "sid": current.sid(),
            "amr": current.session.data["amr"],
        }),
    };
    state.store.insert_code(&record).await?;
    Ok(code.expose().clone())
}
