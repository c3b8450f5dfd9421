//! A sign-in halfway: the password was right and a second factor is due
//! (`services::oauth::login::Outcome::SecondFactor`). No session exists
//! yet, so that nothing can use the half (docs/security.md 31); the browser
//! carries this sealed note (`super::sealed`) to the factor page instead.
//!
//! It names the user and the methods used so far, expires after
//! [`LIFETIME_SECONDS`], and is bound to the browser's CSRF cookie, so a
//! note lifted from one browser does not work in another.

use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};

use crate::opaque::hash_token;
use crate::state::AppState;

/// How long the second factor may take after the password.
pub const LIFETIME_SECONDS: i64 = 5 * 60;
const PURPOSE: &str = "pending-sign-in";

/// The user who got this far, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub user_id: String,
    /// As typed at the login page: the back-off key is made of it.
    pub user_name: String,
    /// RFC 8176 methods so far (`pwd`).
    pub amr: Vec<String>,
    pub started: i64,
    /// The hash of the CSRF cookie it was issued beside.
    browser: String,
}

/// Seals a pending sign-in for the browser whose CSRF token is `csrf`.
pub fn seal(
    state: &AppState,
    csrf: &str,
    user_id: &str,
    user_name: &str,
    amr: Vec<String>,
) -> String {
    let pending = Pending {
        user_id: user_id.to_owned(),
        user_name: user_name.to_owned(),
        amr,
        started: state.clock.now(),
        browser: hash_token(csrf),
    };
    super::sealed::seal(&state.master_key, PURPOSE, &pending)
}

/// The pending sign-in, if it is authentic, unexpired and this browser's.
pub fn open(state: &AppState, jar: &CookieJar, sealed: &str) -> Option<Pending> {
    let pending: Pending = super::sealed::open(&state.master_key, PURPOSE, sealed)?;
    let now = state.clock.now();
    let browser = super::session::csrf_value(state, jar).map(hash_token);
    (pending.started <= now
        && now - pending.started < LIFETIME_SECONDS
        && browser.as_deref() == Some(pending.browser.as_str()))
    .then_some(pending)
}
