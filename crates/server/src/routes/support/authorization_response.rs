//! How `/authorize`, `/login` and `/consent` answer an authorization
//! request: a [`Step`] of `services::oauth::authorize` as a response. An
//! untrusted client or redirect URI gets an error page; every other error
//! and the code go to the redirect URI (RFC 6749 §4.1.2), in the query or
//! as a self-submitting form (Form Post Response Mode), with `state` and
//! `iss` (RFC 9207). A step needing the user seals the request into a
//! transaction for the login or consent page.

use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use oauth::ErrorCode;
use oauth::authorize::{AuthorizeError, Redirect, ResponseMode};

use axum_extra::extract::CookieJar;
use oauth::Params;

use crate::opaque::random_token;
use crate::services::oauth::authorize::{self, AuthorizeFailure, Done, Step};
use crate::state::AppState;
use crate::web::errors::{error_page, unavailable};
use crate::web::pages::{self, FormPost};
use crate::web::{session, transaction};

/// The response for `step`; `params` is the raw request, sealed for the
/// login or consent page.
pub fn step(state: &AppState, params: &[(String, String)], step: Step) -> Response {
    match step {
        Step::SignIn => to_page(state, "/login", params),
        Step::StepUp(_) => to_page(state, "/login/factor", params),
        Step::OfferEnrolment => to_page(state, "/login/enrol", params),
        Step::Consent => to_page(state, "/consent", params),
        Step::Refused(redirect, e) => redirect_error(state, &redirect, e.code, &e.description),
        Step::Code(redirect, code) => respond(state, &redirect, &[("code", code.as_str())]),
    }
}

/// The response for a request that could not be loaded or was refused.
pub fn failure(state: &AppState, failure: AuthorizeFailure) -> Response {
    match failure {
        AuthorizeFailure::Refused(AuthorizeError::Page(e)) => {
            error_page(StatusCode::BAD_REQUEST, e.code, &e.description)
        }
        AuthorizeFailure::Refused(AuthorizeError::Redirect(redirect, e)) => {
            redirect_error(state, &redirect, e.code, &e.description)
        }
        AuthorizeFailure::Store(e) => unavailable(e),
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
    let all = redirect.response_params(fields, &state.config.issuer);
    match redirect.mode {
        ResponseMode::Query => {
            let mut response = see_other(&redirect.location(&all));
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

/// A 303 to one of our pages, carrying the sealed request.
pub(in crate::routes) fn to_page(
    state: &AppState,
    path: &str,
    params: &[(String, String)],
) -> Response {
    see_other(&page_url(state, path, params))
}

/// `path` with `params` sealed as its transaction (`?authz=…`).
pub(in crate::routes) fn page_url(
    state: &AppState,
    path: &str,
    params: &[(String, String)],
) -> String {
    let sealed = transaction::seal(&state.master_key, params, state.clock.now());
    format!(
        "{path}?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("authz", &sealed)
            .finish()
    )
}

pub(in crate::routes) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = location.parse() {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// Takes an authorization request as far as it can go now: to the login
/// page, the consent page, or the code. `done` says what the user has
/// just done on our pages; `jar` carries the cookies they set. The account
/// page's own sign-in (`transaction::account_params`) is no authorization
/// request: it goes back to `/account`, which signs in again if it must;
/// a device authorization's goes on at the verification page
/// (`routes::device`).
pub async fn resume(
    state: &AppState,
    jar: CookieJar,
    params: Vec<(String, String)>,
    done: Done,
) -> Response {
    if transaction::is_account(&params) {
        return (jar, crate::routes::account::to_account()).into_response();
    }
    if let Some(url) = transaction::forward_of(&params) {
        let url = url.to_owned();
        return crate::routes::forward_auth::signed_in(state, jar, &url).await;
    }
    if let Some(user_code_hash) = transaction::device_of(&params) {
        let user_code_hash = user_code_hash.to_owned();
        return crate::routes::device::resume(state, jar, &user_code_hash, done).await;
    }
    let params = match crate::services::oauth::par::redeem(state, &params).await {
        Ok(Some(pushed)) => pushed,
        Ok(None) => params,
        Err(e) => return failure(state, e),
    };
    let params = match crate::services::oauth::request_object::unpack(state, &params).await {
        Ok(Some(unpacked)) => unpacked,
        Ok(None) => params,
        Err(e) => return failure(state, e),
    };
    let (client, request) = match authorize::load(state, Params(&params)).await {
        Ok(loaded) => loaded,
        Err(e) => return failure(state, e),
    };
    let current = match session::current(state, &jar).await {
        Ok(current) => current,
        Err(e) => return unavailable(e),
    };
    match authorize::next(state, &client, &request, current.as_ref(), done).await {
        Ok(next) => (jar, step(state, &params, next)).into_response(),
        Err(e) => unavailable(e),
    }
}
