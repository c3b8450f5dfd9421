//! `GET /forward-auth`, for reverse proxies in front of applications that
//! speak no OpenID Connect (`services::forward_auth`).
//!
//! Asked by the proxy, with the original URL in `X-Original-URL` (nginx
//! `auth_request`) or `X-Forwarded-Proto`, `-Host` and `-Uri` (Traefik,
//! Caddy): 200 with `Remote-User`, `Remote-Email`, `Remote-Name` and
//! `Remote-Groups` (comma-separated) for a session that may use the
//! application; 403 for one that may not, or for a URL of no configured
//! application; without a session, or with one weaker than the
//! application's level, the sign-in's (or the factor page's) URL: in the
//! `Location` of a 401 to nginx (whose `error_page` sends the browser
//! there) and of a 302 to the others (which pass it on to the browser).
//!
//! Visited by the browser with `rd=URL`: to the sign-in or the factor
//! page, which return to the URL, or to the URL at once when the session
//! is enough. The URL must be a configured application's, so `rd` is no
//! open redirect.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use oauth::ErrorCode;

use super::support::authorization_response::{page_url, see_other, to_page};
use crate::services::forward_auth::{Decision, app_for, decide};
use crate::state::AppState;
use crate::web::errors::{error_page, unavailable};
use crate::web::{session, transaction};

pub async fn check(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if state.config.forward_auth_apps.is_empty() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut response = match query.iter().find(|(name, _)| name == "rd") {
        Some((_, url)) => browser(&state, &jar, url).await,
        None => proxy(&state, &jar, &headers).await,
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    (jar, response).into_response()
}

/// The original URL the proxy names, and whether it is nginx's header.
fn original_url(headers: &HeaderMap) -> Option<(String, bool)> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(url) = text("x-original-url") {
        return Some((url.to_owned(), true));
    }
    let proto = text("x-forwarded-proto")?;
    let host = text("x-forwarded-host")?;
    let uri = text("x-forwarded-uri").unwrap_or("/");
    Some((format!("{proto}://{host}{uri}"), false))
}

async fn proxy(state: &AppState, jar: &CookieJar, headers: &HeaderMap) -> Response {
    let Some((url, nginx)) = original_url(headers) else {
        return (
            StatusCode::BAD_REQUEST,
            "the proxy must send X-Original-URL, or X-Forwarded-Proto and X-Forwarded-Host",
        )
            .into_response();
    };
    let Some(app) = app_for(&state.config.forward_auth_apps, &url) else {
        refused(&url, None, "unknown_host");
        return (StatusCode::FORBIDDEN, "not an application of this server").into_response();
    };
    let current = match session::current(state, jar).await {
        Ok(current) => current,
        Err(e) => return unavailable(e),
    };
    match decide(state, current.as_ref(), app).await {
        Ok(Decision::Allow(identity)) => {
            let mut response = StatusCode::OK.into_response();
            let headers = response.headers_mut();
            let groups = identity.groups.join(",");
            for (name, value) in [
                ("remote-user", Some(identity.user.as_str())),
                ("remote-email", identity.email.as_deref()),
                ("remote-name", identity.name.as_deref()),
                ("remote-groups", Some(groups.as_str())),
            ] {
                if let Some(value) = value.and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
                {
                    headers.insert(HeaderName::from_static(name), value);
                }
            }
            response
        }
        Ok(Decision::Forbidden) => {
            refused(&url, current.as_ref().map(|c| c.user.id.as_str()), "group");
            StatusCode::FORBIDDEN.into_response()
        }
        Ok(decision @ (Decision::SignIn | Decision::StepUp(_))) => {
            // The browser is on the application's host: the sign-in's URL
            // is absolute. Traefik and Caddy hand a 302 on to it; nginx's
            // auth_request knows only 200, 401 and 403, so it gets a 401
            // whose Location its error_page redirects to
            // (deploy/nginx/forward-auth.conf). The URL travels sealed,
            // so nothing in it is cut or re-encoded on the way.
            let page = sign_in_page(&decision);
            let path = page_url(state, page, &transaction::forward_params(&url));
            let location = format!("{}{path}", state.config.issuer);
            let status = if nginx {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::FOUND
            };
            let mut response = status.into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        Err(e) => unavailable(e),
    }
}

async fn browser(state: &AppState, jar: &CookieJar, url: &str) -> Response {
    let Some(app) = app_for(&state.config.forward_auth_apps, url) else {
        refused(url, None, "unknown_host");
        return error_page(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            "That address is not an application this server signs in to.",
        );
    };
    let current = match session::current(state, jar).await {
        Ok(current) => current,
        Err(e) => return unavailable(e),
    };
    match decide(state, current.as_ref(), app).await {
        Ok(Decision::Allow(_)) => see_other(url),
        Ok(decision @ (Decision::SignIn | Decision::StepUp(_))) => to_page(
            state,
            sign_in_page(&decision),
            &transaction::forward_params(url),
        ),
        Ok(Decision::Forbidden) => {
            refused(url, current.as_ref().map(|c| c.user.id.as_str()), "group");
            error_page(
                StatusCode::FORBIDDEN,
                ErrorCode::AccessDenied,
                "Your account may not use this application.",
            )
        }
        Err(e) => unavailable(e),
    }
}

/// A refusal, as a security event: a user outside an application's group
/// (`reason` `group`), or a URL of no listed application (`unknown_host`:
/// a proxy misconfigured, or an `rd` probing for an open redirect). The
/// host is logged, not the URL, whose query may hold anything.
fn refused(url: &str, user_id: Option<&str>, reason: &'static str) {
    tracing::info!(
        category = "security",
        event = "forward_auth_refused",
        outcome = "failure",
        host = crate::services::forward_auth::authority(url).unwrap_or_default(),
        user_id = user_id.unwrap_or_default(),
        reason,
        "forward authentication refused a request"
    );
}

/// The page that makes the session enough: the sign-in without one, the
/// factor page (a code, or enrolling a first factor) for a step up.
fn sign_in_page(decision: &Decision) -> &'static str {
    match decision {
        Decision::StepUp(_) => "/login/factor",
        _ => "/login",
    }
}

/// After the sign-in a forward-auth transaction started: back to its URL,
/// asked again (so the group and level rules apply here too).
pub(super) async fn signed_in(state: &AppState, jar: CookieJar, url: &str) -> Response {
    let response = browser(state, &jar, url).await;
    (jar, response).into_response()
}
