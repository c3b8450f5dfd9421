//! The browser side: server-rendered login and consent pages (no JavaScript
//! needed), the session cookie, CSRF protection, and the authorization
//! transaction that carries a validated request from `/authorize` through
//! `/login` and `/consent`.

pub mod device;
pub mod errors;
pub mod pages;
pub mod pending;
pub mod qr;
pub mod sealed;
pub mod session;
pub mod transaction;

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue};

/// The headers of docs/security.md 17 on every page. `script_nonce` allows
/// the page's one inline script (the form_post page's, or the passkey
/// script of `templates/passkey.js`, which fetches its options from this
/// origin).
pub fn page_headers(headers: &mut HeaderMap, script_nonce: Option<&str>) {
    let script = script_nonce.map_or_else(String::new, |nonce| {
        format!(" script-src 'nonce-{nonce}'; connect-src 'self';")
    });
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none';{script}"
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
}
