//! RP-Initiated Logout 1.0 at `/logout` (GET and POST): ends the browser
//! session and revokes the refresh tokens issued in it. With an unexpired
//! `id_token_hint` from the signed-in session it proceeds at once; otherwise it
//! asks the user to confirm (a POST with a CSRF token). A
//! `post_logout_redirect_uri` must match one the client registered exactly
//! (docs/security.md 3), or the user gets a page, never a redirect.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use oauth::ErrorCode;
use oauth::Params;
use store::ClientRecord;

use crate::jwt;
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
    let p = Params(&params);
    let get = |name: &str| p.get(name).ok().flatten();
    let hint = match get("id_token_hint") {
        None => None,
        Some(token) => match jwt::verify_id_token_hint(&state.keys, token, &state.config.issuer) {
            Ok(claims) => Some(claims),
            Err(e) => {
                tracing::info!(event = "logout_refused", reason = %e, "invalid id_token_hint");
                return error_page(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidRequest,
                    "The logout request carries an invalid id_token_hint.",
                );
            }
        },
    };
    let hinted_client = hint
        .as_ref()
        .and_then(|c| c["aud"].as_str().map(str::to_owned));
    let client_id = match (get("client_id"), hinted_client) {
        (Some(a), Some(b)) if a != b => {
            return error_page(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                "client_id does not match the id_token_hint.",
            );
        }
        (Some(id), _) => Some(id.to_owned()),
        (None, hinted) => hinted,
    };
    let client = match &client_id {
        None => None,
        Some(id) => match state.store.get_client(id).await {
            Ok(client) => Some(client),
            Err(store::Error::NotFound) => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidClient,
                    "Unknown client.",
                );
            }
            Err(e) => return unavailable(e),
        },
    };
    let redirect = match get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => match &client {
            Some(client) if registered_post_logout(client).any(|r| r == uri) => {
                Some(uri.to_owned())
            }
            _ => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidRequest,
                    "post_logout_redirect_uri is not registered for this client.",
                );
            }
        },
    };

    // Fail closed: a store error is a 503, never "nobody is signed in".
    let current = match session::current(state, &jar).await {
        Ok(current) => current,
        Err(e) => return unavailable(e),
    };
    // Only an unexpired hint issued in this very session (its `sid`) ends
    // it without a question; an expired hint, or one from another session
    // (a token an attacker holds, replayed in a link), asks the user
    // (RP-Initiated Logout 1.0 §2 leaves the choice to the OP; §6 warns of
    // logout as a nuisance attack). With nobody signed in nothing is ended.
    let now = state.clock.now();
    let hint_matches = hint.as_ref().is_some_and(|claims| {
        let fresh = claims["exp"].as_i64().is_some_and(|exp| exp > now);
        fresh
            && current.as_ref().is_none_or(|c| {
                claims["sub"].as_str() == Some(c.user.id.as_str())
                    && claims["sid"].as_str() == Some(c.session.data.sid.as_str())
            })
    });
    if !confirmed && !hint_matches && current.is_some() {
        let sealed = transaction::seal(&state.master_key, &params, state.clock.now());
        let (jar, csrf) = session::csrf_token(state, jar);
        let page = LogoutConfirm {
            client_name: client.as_ref().map(|c| c.name.as_str()),
            sealed: &sealed,
            csrf: &csrf,
        };
        return (jar, pages::render(StatusCode::OK, &page, None)).into_response();
    }

    // The session's refresh tokens go first, then the session: if the store
    // fails in between, the session is still there and a retry ends both.
    let revoked = match &current {
        Some(current) => {
            let sid = Some(current.session.data.sid.as_str());
            match state
                .store
                .revoke_families_for_user(&current.session.user_id, sid)
                .await
            {
                Ok(revoked) => revoked,
                Err(e) => return unavailable(e),
            }
        }
        None => 0,
    };
    let (jar, ended) = match session::end(state, jar).await {
        Ok(result) => result,
        Err(e) => return unavailable(e),
    };
    if let Some(session) = ended {
        tracing::info!(
            category = "security",
            event = "logout",
            user_id = %session.user_id,
            client_id = client_id.as_deref().unwrap_or_default(),
            refresh_families_revoked = revoked,
            outcome = "success",
            "signed out"
        );
    }
    match redirect {
        Some(uri) => {
            let mut location = uri;
            if let Some(s) = get("state") {
                let query = form_urlencoded::Serializer::new(String::new())
                    .append_pair("state", s)
                    .finish();
                location.push(if location.contains('?') { '&' } else { '?' });
                location.push_str(&query);
            }
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

fn registered_post_logout(client: &ClientRecord) -> impl Iterator<Item = &str> {
    client
        .metadata
        .post_logout_redirect_uris
        .iter()
        .map(String::as_str)
}
