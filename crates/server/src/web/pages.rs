//! The pages, as askama templates (auto-escaped: every value here is HTML
//! escaped where it is inserted).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::page_headers;

#[derive(Template, Debug)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub client_name: &'a str,
    pub authz: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
    /// Offer a passwordless sign-in (its button and the username field's
    /// autofill), with the script under `nonce`.
    pub passkeys: bool,
    pub nonce: &'a str,
}

/// The second-factor prompt; `pending` is empty when a signed-in session
/// steps up (`super::pending`).
#[derive(Template, Debug)]
#[template(path = "factor.html")]
pub struct FactorPage<'a> {
    pub user_name: &'a str,
    pub authz: &'a str,
    pub csrf: &'a str,
    pub pending: &'a str,
    pub error: Option<&'a str>,
    /// The user has a passkey (the script runs under `nonce`)…
    pub passkey: bool,
    /// …and a TOTP generator (every user with a factor has recovery codes).
    pub totp: bool,
    pub nonce: &'a str,
}

/// Adding a passkey from the account page.
#[derive(Template, Debug)]
#[template(path = "enrol_passkey.html")]
pub struct EnrolPasskeyPage<'a> {
    /// The sign-in this enrolment is part of; empty from the account page.
    pub authz: &'a str,
    pub csrf: &'a str,
    pub error: Option<&'a str>,
    pub nonce: &'a str,
}

/// A TOTP generator offered for enrolment, with its QR code
/// (`super::qr`), posted to `action`.
#[derive(Template, Debug)]
#[template(path = "enrol_totp.html")]
pub struct EnrolTotpPage<'a> {
    pub action: &'a str,
    pub required: bool,
    /// Offer a passkey instead (a sign-in's enrolment, passkeys on).
    pub passkeys: bool,
    /// During the grace period: when the factor becomes required; the
    /// page then offers "Not now".
    pub deadline: Option<&'a str>,
    pub qr_svg: &'a str,
    pub base32: &'a str,
    pub authz: &'a str,
    pub csrf: &'a str,
    pub factor_id: &'a str,
    pub sealed_seed: &'a str,
    pub error: Option<&'a str>,
}

/// Recovery codes shown once, or a notice, before going on.
#[derive(Template, Debug)]
#[template(path = "codes.html")]
pub struct CodesPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub codes: Vec<&'a str>,
    pub authz: &'a str,
    pub csrf: &'a str,
}

/// One factor as the account page lists it.
#[derive(Debug)]
pub struct FactorRow {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub created: String,
    pub last_used: String,
}

#[derive(Template, Debug)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    pub user_name: &'a str,
    /// Passkeys can be added here.
    pub passkeys: bool,
    pub factors: Vec<FactorRow>,
    pub has_factors: bool,
    pub recovery_left: usize,
    pub csrf: &'a str,
    pub notice: Option<&'a str>,
    pub error: Option<&'a str>,
}

#[derive(Template, Debug)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub client_name: &'a str,
    pub user_name: &'a str,
    pub scopes: Vec<&'a str>,
    /// The APIs the tokens will be for (RFC 8707 `resource`).
    pub apis: Vec<&'a str>,
    /// Registered over HTTP (RFC 7591): its name is its own claim.
    pub self_registered: bool,
    pub authz: &'a str,
    pub csrf: &'a str,
    /// A device authorization's (RFC 8628 §5.4): posted to
    /// `/device/confirm`, with a warning against remote phishing.
    pub device: bool,
}

/// The verification page of the device flow (RFC 8628 §3.3).
#[derive(Template, Debug)]
#[template(path = "device.html")]
pub struct DevicePage<'a> {
    pub csrf: &'a str,
    pub user_code: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template, Debug)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub code: &'a str,
    pub description: &'a str,
}

#[derive(Template, Debug)]
#[template(path = "form_post.html")]
pub struct FormPost<'a> {
    pub action: &'a str,
    pub fields: Vec<(&'a str, &'a str)>,
    pub nonce: &'a str,
}

#[derive(Template, Debug)]
#[template(path = "message.html")]
pub struct Message<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

#[derive(Template, Debug)]
#[template(path = "logout.html")]
pub struct LogoutConfirm<'a> {
    pub client_name: Option<&'a str>,
    pub sealed: &'a str,
    pub csrf: &'a str,
}

/// A fresh nonce for a page's inline script (docs/security.md 17). Empty,
/// which lets no script run, if the system's random source fails.
pub fn script_nonce() -> String {
    crate::opaque::random_token()
        .map(|t| t.expose().clone())
        .unwrap_or_default()
}

/// Renders a page with the security headers.
pub fn render(status: StatusCode, page: &impl Template, script_nonce: Option<&str>) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            page_headers(response.headers_mut(), script_nonce);
            response
        }
        Err(e) => {
            tracing::error!(event = "page_render_failed", error = %e, "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}
