//! The HTTP surface: one module per endpoint family, assembled here with the
//! middleware every route shares.

mod account;
mod authorize;
mod device;
mod discovery;
mod factor;
mod forward_auth;
mod health;
mod introspect;
mod jwks;
mod login;
mod logout;
mod metrics;
mod openapi;
#[cfg(feature = "passkeys")]
mod passkey;
mod protected_resource;
mod register;
mod revoke;
mod scim;
mod support;
mod token;
mod userinfo;
mod webfinger;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;

use crate::ops::request::{RequestSettings, observe, record_route};
use crate::state::AppState;

/// The passkey ceremonies of the sign-in and account pages.
#[cfg(feature = "passkeys")]
fn passkey_routes() -> Router<AppState> {
    Router::new()
        .route("/login/passkey/options", post(passkey::login_options))
        .route("/login/passkey", post(passkey::login))
        .route(
            "/login/factor/passkey/options",
            post(passkey::factor_options),
        )
        .route("/login/factor/passkey", post(passkey::factor))
        .route("/account/passkey/options", post(passkey::enrol_options))
        .route(
            "/account/passkey",
            get(passkey::enrol_form).post(passkey::enrol),
        )
}

#[cfg(not(feature = "passkeys"))]
fn passkey_routes() -> Router<AppState> {
    Router::new()
}

/// Dynamic client registration (RFC 7591, RFC 7592): there only when
/// `AUTH_REGISTRATION` is not `off`, so that a server that does not offer it
/// answers 404 like any unknown path.
fn registration_routes(state: &AppState) -> Router<AppState> {
    if state.config.registration.mode == crate::config::RegistrationMode::Off {
        return Router::new();
    }
    Router::new()
        .route("/register", post(register::register))
        .route(
            "/register/{id}",
            get(register::read)
                .put(register::update)
                .delete(register::delete),
        )
}

pub fn router(state: AppState) -> Router {
    let settings = Arc::new(RequestSettings {
        slow_request_threshold: state.config.slow_request_threshold,
        trusted_proxies: state.config.trusted_proxies.clone(),
    });
    Router::new()
        .route("/health", get(health::health))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(metrics::metrics))
        .route("/jwks.json", get(jwks::jwks))
        .route("/openapi.json", get(openapi::openapi))
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::metadata),
        )
        .route(
            "/.well-known/openid-configuration",
            get(discovery::metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource",
            get(protected_resource::issuer),
        )
        .route("/.well-known/webfinger", get(webfinger::webfinger))
        .route(
            "/.well-known/oauth-protected-resource/scim/v2",
            get(protected_resource::scim),
        )
        .route(
            "/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/authorize", get(authorize::get).post(authorize::post))
        .route("/login", get(login::login_form).post(login::login))
        .route(
            "/login/factor",
            get(factor::factor_form).post(factor::factor),
        )
        .route("/login/enrol", get(factor::enrol_form).post(factor::enrol))
        .merge(passkey_routes())
        .route("/login/continue", post(factor::proceed))
        .route("/consent", get(login::consent_form).post(login::consent))
        .route("/account", get(account::page))
        .route("/account/totp", get(account::totp_form).post(account::totp))
        .route("/account/factor", post(account::factor))
        .route("/account/recovery", post(account::recovery))
        .route("/account/password", post(account::password))
        .route("/account/sessions", post(account::sessions))
        .route("/logout", get(logout::get).post(logout::post))
        .route("/token", post(token::token))
        .route("/device_authorization", post(token::device_authorization))
        .route("/par", post(token::pushed_authorization_request))
        .route("/forward-auth", get(forward_auth::check))
        .route("/device", get(device::form).post(device::enter))
        .route(
            "/device/confirm",
            get(device::confirm_form).post(device::confirm),
        )
        .merge(registration_routes(&state))
        .route("/introspect", post(introspect::introspect))
        .route("/revoke", post(revoke::revoke))
        .nest("/scim/v2", scim::router(state.clone()))
        .route_layer(from_fn(record_route))
        .layer(from_fn_with_state(
            state.clone(),
            support::rate_limit::per_ip,
        ))
        // The whole request, body included, within AUTH_HTTP_REQUEST_TIMEOUT
        // (docs/security.md 27): 408 past it. Header reading and idle
        // connections are bounded by the listener (ops::connections).
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.config.http.request_timeout,
        ))
        .with_state(state)
        // A panic is a bug, but it answers 500 rather than dropping the connection.
        .layer(CatchPanicLayer::new())
        .layer(from_fn_with_state(settings, observe))
        // Marks credentials so no layer ever logs them (docs/security.md 18).
        .layer(SetSensitiveRequestHeadersLayer::new([
            axum::http::header::AUTHORIZATION,
            axum::http::header::COOKIE,
        ]))
}
