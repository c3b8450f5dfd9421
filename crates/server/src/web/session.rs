//! The browser session (docs/security.md 16): a 256-bit random id in a cookie
//! (`HttpOnly`, `SameSite=Lax`, `Secure` and the `__Host-` prefix when the
//! issuer is https; names of our own: [`cookie_name`]), stored hashed with idle and absolute timeouts, and a
//! new id at every login. Also the CSRF cookie of the forms (double submit,
//! compared in constant time).

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde_json::json;
use store::{Session, UserRecord};
use subtle::ConstantTimeEq;

use crate::config::seconds;
use crate::state::AppState;
use crate::tokens::{hash_token, random_token};

/// Cookie names of our own, so that an application on the same host with a
/// `session` or `csrf` cookie of its own cannot collide with ours; on https
/// the `__Host-` prefix pins them to this host and path `/` (RFC 6265bis
/// §4.1.3.2).
pub(crate) fn cookie_name(state: &AppState, kind: CookieKind) -> &'static str {
    match (state.config.secure_cookies(), kind) {
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

/// A live session and its (active) user.
#[derive(Debug)]
pub struct Current {
    pub session: Session,
    pub user: UserRecord,
}

impl Current {
    /// The session id as relying parties see it (the ID token's `sid`).
    pub fn sid(&self) -> String {
        self.session.data["sid"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// The session the browser presents, if it is live and its user active.
/// Using it moves its idle timeout.
pub async fn current(state: &AppState, jar: &CookieJar) -> Result<Option<Current>, store::Error> {
    let Some(cookie) = jar.get(session_cookie(state)) else {
        return Ok(None);
    };
    let id_hash = hash_token(cookie.value());
    let session = match state.store.get_session(&id_hash).await {
        Ok(session) => session,
        Err(store::Error::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let user = match state.store.get_user(&session.user_id).await {
        Ok(user) if user.active => user,
        Ok(_) | Err(store::Error::NotFound) => {
            state.store.delete_session(&id_hash).await?;
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let idle = state.clock.now() + seconds(state.config.session_idle_timeout);
    match state.store.touch_session(&id_hash, idle).await {
        Ok(()) | Err(store::Error::NotFound) => {}
        Err(e) => return Err(e),
    }
    Ok(Some(Current { session, user }))
}

/// Starts a new session for `user` after a login, ending the browser's
/// previous one (a fresh id defeats session fixation).
pub async fn start(
    state: &AppState,
    jar: CookieJar,
    user: UserRecord,
) -> Result<(CookieJar, Current), store::Error> {
    if let Some(old) = jar.get(session_cookie(state)) {
        state.store.delete_session(&hash_token(old.value())).await?;
    }
    let token = random_token().map_err(|_| store::Error::Unavailable {
        message: "no randomness".into(),
        source: None,
    })?;
    let now = state.clock.now();
    let max_age = seconds(state.config.session_max_age);
    let session = Session {
        id_hash: hash_token(token.expose()),
        user_id: user.id.clone(),
        created_at: now,
        auth_time: now,
        expires_at: now + max_age,
        idle_expires_at: now + seconds(state.config.session_idle_timeout),
        data: json!({"sid": uuid::Uuid::new_v4().to_string(), "amr": ["pwd"]}),
    };
    state.store.put_session(&session).await?;
    let jar = jar.add(cookie(
        state,
        session_cookie(state),
        token.expose().clone(),
        max_age,
    ));
    Ok((jar, Current { session, user }))
}

/// Ends the browser's session, if any, and clears the cookie.
pub async fn end(
    state: &AppState,
    jar: CookieJar,
) -> Result<(CookieJar, Option<Session>), store::Error> {
    let Some(cookie) = jar.get(session_cookie(state)) else {
        return Ok((jar, None));
    };
    let id_hash = hash_token(cookie.value());
    let session = state.store.get_session(&id_hash).await.ok();
    state.store.delete_session(&id_hash).await?;
    Ok((
        jar.remove(Cookie::build(session_cookie(state)).path("/")),
        session,
    ))
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

/// Whether the submitted form carries the browser's CSRF token.
pub fn csrf_ok(state: &AppState, jar: &CookieJar, submitted: Option<&str>) -> bool {
    match (jar.get(csrf_cookie(state)), submitted) {
        (Some(cookie), Some(submitted)) if !submitted.is_empty() => {
            cookie.value().as_bytes().ct_eq(submitted.as_bytes()).into()
        }
        _ => false,
    }
}
