//! The browser session (docs/security.md 16): a 256-bit random id in a cookie
//! (`HttpOnly`, `SameSite=Lax`, `Secure` and the `__Host-` prefix when the
//! issuer is https; names of our own: [`cookie_name`]), stored hashed with idle and absolute timeouts, and a
//! new id at every login. Also the CSRF cookie of the forms (double submit,
//! compared in constant time).

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use store::UserRecord;
use subtle::ConstantTimeEq;

use crate::config::seconds;
use crate::opaque::{hash_token, random_token};
use crate::services::oauth::session;
use crate::state::AppState;

/// Cookie names of our own, so that an application on the same host with a
/// `session` or `csrf` cookie of its own cannot collide with ours; on https
/// the `__Host-` prefix pins them to this host and path `/` (RFC 6265bis
/// §4.1.3.2).
pub(crate) fn cookie_name(state: &AppState, kind: CookieKind) -> &'static str {
    match (state.config.secure_cookies(), kind) {
        // A cookie for a parent domain cannot be __Host- (it names a
        // Domain): __Secure- still keeps it to https.
        (true, CookieKind::Session) if state.config.session_cookie_domain.is_some() => {
            "__Secure-authsvc_session"
        }
        (true, CookieKind::Session) => "__Host-authsvc_session",
        (false, CookieKind::Session) => "authsvc_session",
        (true, CookieKind::Csrf) => "__Host-authsvc_csrf",
        (false, CookieKind::Csrf) => "authsvc_csrf",
        (true, CookieKind::Device) => "__Host-authsvc_device",
        (false, CookieKind::Device) => "authsvc_device",
    }
}

/// The cookies this service sets.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CookieKind {
    Session,
    Csrf,
    /// [`super::device`].
    Device,
}

fn session_cookie(state: &AppState) -> &'static str {
    cookie_name(state, CookieKind::Session)
}

fn csrf_cookie(state: &AppState) -> &'static str {
    cookie_name(state, CookieKind::Csrf)
}

pub(crate) fn cookie(
    state: &AppState,
    name: &'static str,
    value: String,
    max_age: i64,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .secure(state.config.secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(time::Duration::seconds(max_age))
        .build()
}

pub use crate::services::oauth::session::Current;

/// The session the browser presents, if it is live and its user active.
/// Using it moves its idle timeout.
pub async fn current(state: &AppState, jar: &CookieJar) -> Result<Option<Current>, store::Error> {
    match jar.get(session_cookie(state)) {
        Some(cookie) => session::find(state, &hash_token(cookie.value())).await,
        None => Ok(None),
    }
}

/// Starts a new session for `user` after a login (or a step up) with the
/// methods `amr`, ending the browser's previous one, and sets its cookie.
pub async fn start(
    state: &AppState,
    jar: CookieJar,
    user: UserRecord,
    amr: Vec<String>,
) -> Result<(CookieJar, Current), store::Error> {
    let previous = jar
        .get(session_cookie(state))
        .map(|c| hash_token(c.value()));
    let (token, current) = session::start(state, previous.as_deref(), user, amr).await?;
    let cookie = cookie(
        state,
        session_cookie(state),
        token.expose().clone(),
        seconds(state.config.session_max_age),
    );
    Ok((jar.add(for_session_domain(state, cookie)), current))
}

/// The session cookie for `AUTH_SESSION_COOKIE_DOMAIN`, if it names one:
/// set and cleared with the same `Domain`, or the browser keeps it.
fn for_session_domain(state: &AppState, mut cookie: Cookie<'static>) -> Cookie<'static> {
    if let Some(domain) = &state.config.session_cookie_domain {
        cookie.set_domain(domain.clone());
    }
    cookie
}

/// The hash of the browser's session id, if it presents one.
pub fn id_hash(state: &AppState, jar: &CookieJar) -> Option<String> {
    jar.get(session_cookie(state))
        .map(|cookie| hash_token(cookie.value()))
}

/// Clears the session cookie (the session itself is ended by
/// `services::oauth::logout::end`).
pub fn clear(state: &AppState, jar: CookieJar) -> CookieJar {
    let cookie = Cookie::build(session_cookie(state)).path("/").build();
    jar.remove(for_session_domain(state, cookie))
}

/// The CSRF token for a form: the one in the browser's cookie, or a new one.
pub fn csrf_token(state: &AppState, jar: CookieJar) -> (CookieJar, String) {
    if let Some(existing) = jar.get(csrf_cookie(state)) {
        let value = existing.value().to_owned();
        return (jar, value);
    }
    let value = random_token()
        .map(|t| t.expose().clone())
        .unwrap_or_default();
    let jar = jar.add(cookie(
        state,
        csrf_cookie(state),
        value.clone(),
        seconds(state.config.session_max_age),
    ));
    (jar, value)
}

/// The browser's CSRF token, if it has one.
pub fn csrf_value<'a>(state: &AppState, jar: &'a CookieJar) -> Option<&'a str> {
    jar.get(csrf_cookie(state)).map(|c| c.value())
}

/// Whether the submitted form carries the browser's CSRF token.
pub fn csrf_ok(state: &AppState, jar: &CookieJar, submitted: Option<&str>) -> bool {
    match (jar.get(csrf_cookie(state)), submitted) {
        (Some(cookie), Some(submitted)) if !submitted.is_empty() => {
            cookie.value().as_bytes().ct_eq(submitted.as_bytes()).into()
        }
        _ => false,
    }
}
