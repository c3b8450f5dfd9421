//! RP-Initiated Logout 1.0 at `/logout` (GET and POST): reads the request
//! (`oauth::logout`), has `services::oauth::logout` check it and end the
//! session with the refresh tokens issued in it, and renders the outcome.
//! With an unexpired `id_token_hint` from the signed-in session it
//! proceeds at once; otherwise it asks the user to confirm (a POST with a
//! CSRF token). A `post_logout_redirect_uri` must match one the client
//! registered exactly (docs/security.md 3), or the user gets a page,
//! never a redirect.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use oauth::ErrorCode;
use oauth::Params;
use oauth::logout::LogoutRequest;

use crate::services::oauth::logout::{self, LogoutError};
use crate::state::AppState;
use crate::web::errors::{csrf_refused, error_page, too_large, unavailable};
use crate::web::pages::{self, LogoutConfirm, Message};
use crate::web::{session, transaction};

type Fields = Vec<(String, String)>;

pub async fn get(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(params): Query<Fields>,
) -> Response {
    logout(&state, jar, params, false).await
}

pub async fn post(
    State(state): State<AppState>,
    jar: CookieJar,
    body: Result<Form<Fields>, FormRejection>,
) -> Response {
    let fields = match body {
        Ok(Form(fields)) => fields,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
        Err(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                "The logout request is not readable.",
            );
        }
    };
    let get = |name: &str| Params(&fields).get(name).ok().flatten();
    // The confirmation form: sealed original parameters plus the user's yes.
    if let Some(sealed) = get("logout") {
        let Some(params) = transaction::open(&state.master_key, sealed, state.clock.now()) else {
            return error_page(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                "This sign-out request has expired. Try again.",
            );
        };
        if !session::csrf_ok(&state, &jar, get("csrf_token")) {
            return csrf_refused();
        }
        let confirmed = get("confirm") == Some("yes");
        return logout(&state, jar, params, confirmed).await;
    }
    logout(&state, jar, fields, false).await
}

async fn logout(state: &AppState, jar: CookieJar, params: Fields, confirmed: bool) -> Response {
    let refused = |description: &str| {
        error_page(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            description,
        )
    };
    let request = match LogoutRequest::parse(Params(&params)) {
        Ok(request) => request,
        Err(e) => return refused(&e.description),
    };
    let checked = match logout::check(state, request).await {
        Ok(checked) => checked,
        Err(LogoutError::Store(e)) => return unavailable(e),
        Err(LogoutError::InvalidHint(reason)) => {
            tracing::info!(event = "logout_refused", reason = %reason, "invalid id_token_hint");
            return refused("The logout request carries an invalid id_token_hint.");
        }
        Err(LogoutError::ClientMismatch) => {
            return refused("client_id does not match the id_token_hint.");
        }
        Err(LogoutError::UnknownClient) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidClient,
                "Unknown client.",
            );
        }
        Err(LogoutError::UnregisteredRedirect) => {
            return refused("post_logout_redirect_uri is not registered for this client.");
        }
    };
    // Fail closed: a store error is a 503, never "nobody is signed in".
    let current = match session::current(state, &jar).await {
        Ok(current) => current,
        Err(e) => return unavailable(e),
    };
    if !confirmed && !checked.ends_without_asking(current.as_ref(), state.clock.now()) {
        let sealed = transaction::seal(&state.master_key, &params, state.clock.now());
        let (jar, csrf) = session::csrf_token(state, jar);
        let page = LogoutConfirm {
            client_name: checked.client.as_ref().map(|c| c.name.as_str()),
            sealed: &sealed,
            csrf: &csrf,
        };
        return (jar, pages::render(StatusCode::OK, &page, None)).into_response();
    }
    let id_hash = session::id_hash(state, &jar);
    if let Err(e) = logout::end(
        state,
        current.as_ref(),
        id_hash.as_deref(),
        checked.client_id(),
    )
    .await
    {
        return unavailable(e);
    }
    let jar = session::clear(state, jar);
    match &checked.redirect {
        Some(uri) => {
            let location = oauth::logout::redirect_location(uri, request.state);
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(value) = location.parse() {
                response.headers_mut().insert(LOCATION, value);
            }
            (jar, response).into_response()
        }
        None => {
            let page = Message {
                title: "Signed out",
                message: "You are signed out. You can close this window.",
            };
            (jar, pages::render(StatusCode::OK, &page, None)).into_response()
        }
    }
}
