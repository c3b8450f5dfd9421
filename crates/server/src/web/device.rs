//! Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device
//! Cookies"; docs/security.md 24): a browser that has signed in as a user before
//! carries a cookie, MAC'd with a key derived from the master key, naming
//! that user and a random device id. Its login attempts for that user are
//! counted under the device's own back-off key, so strangers who keep the
//! user's account locked (by guessing its password from elsewhere) do not
//! lock out the user's own browser; and a stolen device cookie buys an
//! attacker only that device's back-off budget.
//!
//! The cookie is no credential: the password is always checked. It proves
//! only that this browser once knew the password.
//!
//! What it does not do: a browser without the cookie (a new device) is still
//! subject to the account's back-off, so strangers can delay a first sign-in
//! on a new device; `docs/security.md` states that bound.

use axum_extra::extract::CookieJar;

use super::session::{CookieKind, cookie, cookie_name};
use crate::opaque::{hash_token, random_token};
use crate::state::AppState;

const PURPOSE: &str = "device-cookie";
/// A device is remembered for 180 days after its last successful sign-in.
const MAX_AGE_SECONDS: i64 = 180 * 86_400;

fn signed_data(account: &str, device: &str) -> Vec<u8> {
    format!("{account}\n{device}").into_bytes()
}

/// The back-off key of this browser for the account `account` (see
/// [`crate::services::lockout::account`]), if it presents a valid device cookie
/// issued for that account.
pub fn lockout_key(state: &AppState, jar: &CookieJar, account: &str) -> Option<String> {
    let value = jar.get(cookie_name(state, CookieKind::Device))?.value();
    let (device, tag) = value.split_once('.')?;
    state
        .master_key
        .verify_mac(PURPOSE, &signed_data(account, device), tag)
        .then(|| format!("login-device:{}", hash_token(device)))
}

/// Remembers this browser as a device of the account `account`, after a
/// successful sign-in. A new device id each time.
pub fn remember(state: &AppState, jar: CookieJar, account: &str) -> CookieJar {
    let Ok(device) = random_token() else {
        return jar;
    };
    let device = device.expose();
    let tag = state.master_key.mac(PURPOSE, &signed_data(account, device));
    jar.add(cookie(
        state,
        cookie_name(state, CookieKind::Device),
        format!("{device}.{tag}"),
        MAX_AGE_SECONDS,
    ))
}
