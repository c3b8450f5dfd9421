//! Rate limits per client IP on the endpoints worth hammering (`/login`,
//! `/authorize`, `/token`, `/introspect`, `/revoke`, `/scim/v2`, `/register`,
//! `/device`), and per client id on `/token`. The counters live in the store (GCRA, atomic), so
//! every replica enforces one shared limit, and they expire, so a flood of
//! distinct addresses costs the store keys that vanish, not memory here.
//!
//! Over the limit: 429 with `Retry-After`, an answer in the route's own
//! vocabulary (an OAuth error, a SCIM error, or a page), the `rate_limited`
//! security event and `auth_rate_limited_total{scope}`.
//!
//! If the store cannot answer, the request fails at once with 503 in the
//! route's voice: the endpoints behind need the same store (docs/security.md 20),
//! and going on would make the client wait out a second store timeout.

use axum::extract::{Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oauth::ErrorCode;
use serde_json::json;

use super::no_store;
use crate::config::Rate;
use crate::ops::client_ip::ClientIp;
use crate::ops::quota::LocalQuota;
use crate::state::AppState;
use crate::web::errors::error_page;

/// How a route group answers a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Voice {
    OAuth,
    Scim,
    Page,
}

/// The route group of a request: its metric scope, its limit, its voice.
/// On `/login` only the form posts count: they are the password and code
/// checks.
fn group(
    state: &AppState,
    method: &Method,
    path: &str,
) -> Option<(&'static str, Option<Rate>, Voice)> {
    let limits = &state.config.rate_limits;
    Some(match path {
        // The password, a second factor's code or passkey, and enrolments
        // (each a credential check) share the login budget (docs/security.md
        // 31). A ceremony's options are `authorize`'s, below.
        "/login"
        | "/login/factor"
        | "/login/enrol"
        | "/account/totp"
        | "/login/passkey"
        | "/login/factor/passkey"
        | "/account/passkey"
            if *method == Method::POST =>
        {
            ("login", limits.login, Voice::Page)
        }
        p if p.starts_with("/login/") || p.starts_with("/account") => {
            ("authorize", limits.authorize, Voice::Page)
        }
        "/authorize" | "/consent" => ("authorize", limits.authorize, Voice::Page),
        // Each post is a guess at a user code (RFC 8628 §5.1); the global
        // bound is `routes::device`'s.
        "/device" if *method == Method::POST => ("user_code", limits.user_code, Voice::Page),
        "/device" | "/device/confirm" => ("authorize", limits.authorize, Voice::Page),
        "/token" | "/device_authorization" => ("token", limits.token, Voice::OAuth),
        "/introspect" => ("introspect", limits.introspect, Voice::OAuth),
        "/revoke" => ("revoke", limits.revoke, Voice::OAuth),
        p if p.starts_with("/scim/v2") => ("scim", limits.scim, Voice::Scim),
        // RFC 7591 §5: open registration invites floods of clients.
        p if p == "/register" || p.starts_with("/register/") => {
            ("registration", limits.registration, Voice::OAuth)
        }
        _ => return None,
    })
}

/// Middleware: the per-IP limit of the request's route group.
pub async fn per_ip(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let (Some((scope, Some(rate), voice)), Some(ClientIp(ip))) = (
        group(&state, request.method(), path),
        request.extensions().get::<ClientIp>().copied(),
    ) else {
        return next.run(request).await;
    };
    let subject = crate::ops::client_ip::limit_subject(ip, state.config.ipv6_prefix);
    match check(&state, scope, &format!("ip:{subject}"), rate).await {
        Verdict::Admit => next.run(request).await,
        verdict => answer(voice, verdict),
    }
}

/// The outcome of a rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Admit,
    /// Over the limit: retry after this many seconds.
    Refuse(u64),
    /// The store did not answer: the endpoint behind needs it too, so the
    /// request fails at once (503) rather than waiting out a second timeout.
    Unavailable,
}

/// Takes one request from the limit `scope:subject`.
pub async fn check(state: &AppState, scope: &'static str, subject: &str, rate: Rate) -> Verdict {
    let key = format!("{scope}:{subject}");
    let batch = LocalQuota::batch(rate);
    let (interval, burst) = (rate.interval_ms(), i64::from(rate.burst));
    let answer = if batch > 1 {
        if state.quota.take(&key) {
            return Verdict::Admit;
        }
        // One fetch per key at a time: concurrent misses wait for it and
        // share what it brought, instead of each taking a batch of its own
        // from the store (which drained the shared limit with quota nobody
        // used, and refused a burst well within the limit).
        let gate = state.quota.gate(&key);
        let fetched = {
            let _turn = gate.lock().await;
            if state.quota.take(&key) {
                None
            } else {
                Some(fetch(state, &key, interval, burst, batch).await)
            }
        };
        state.quota.release(&key, gate);
        match fetched {
            None => return Verdict::Admit,
            Some(answer) => answer,
        }
    } else {
        state.store.rate_limit(&key, interval, burst, 1).await
    };
    match answer {
        Ok(decision) if decision.allowed => Verdict::Admit,
        Ok(decision) => {
            let retry_after = u64::try_from(decision.retry_after_ms)
                .unwrap_or(0)
                .div_ceil(1000)
                .max(1);
            metrics::counter!("auth_rate_limited_total", "scope" => scope).increment(1);
            tracing::warn!(
                category = "security",
                event = "rate_limited",
                scope,
                limited = %subject,
                retry_after,
                outcome = "failure",
                "rate limit exceeded"
            );
            Verdict::Refuse(retry_after)
        }
        Err(e) => {
            tracing::warn!(event = "rate_limit_unavailable", scope, error = %e, "rate limit not checked: store error");
            Verdict::Unavailable
        }
    }
}

/// Takes a batch from the store for `key`, keeping all but one locally; near
/// the limit, where a whole batch may not fit, a single request.
async fn fetch(
    state: &AppState,
    key: &str,
    interval: i64,
    burst: i64,
    batch: i64,
) -> store::Result<store::RateDecision> {
    let answer = state.store.rate_limit(key, interval, burst, batch).await?;
    if answer.allowed {
        state.quota.put(key.to_owned(), batch - 1, interval * batch);
        return Ok(answer);
    }
    state.store.rate_limit(key, interval, burst, 1).await
}

/// The per-client limit of the token endpoint, after client authentication.
pub async fn per_client(state: &AppState, client_id: &str) -> Option<Response> {
    let rate = state.config.rate_limits.token_client?;
    match check(state, "token_client", &format!("client:{client_id}"), rate).await {
        Verdict::Admit => None,
        verdict => Some(answer(Voice::OAuth, verdict)),
    }
}

/// The page for a refused or unchecked request of a limit a page handler
/// checks itself (`routes::device`).
pub fn page_answer(verdict: Verdict) -> Response {
    answer(Voice::Page, verdict)
}

/// The response for a refused or unchecked request, in the route's voice:
/// 429 with `Retry-After` over the limit, 503 when the store did not answer.
fn answer(voice: Voice, verdict: Verdict) -> Response {
    let (status, detail, page, retry_after) = match verdict {
        Verdict::Refuse(retry_after) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many requests; retry in {retry_after} s"),
            "Too many attempts from your network. Wait a little and try again.",
            Some(retry_after),
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is temporarily unavailable".to_owned(),
            "The service is temporarily unavailable. Try again in a moment.",
            None,
        ),
    };
    let mut response = match voice {
        Voice::OAuth => {
            // RFC 6749 §5.2 has no code for this; temporarily_unavailable
            // tells a client to come back later, and Retry-After says when.
            let body = json!({
                "error": ErrorCode::TemporarilyUnavailable.as_str(),
                "error_description": detail,
            });
            let mut response = (status, axum::Json(body)).into_response();
            no_store(response.headers_mut());
            response
        }
        Voice::Scim => {
            super::scim_response::error_response(&scim::Error::status(status.as_u16(), detail))
        }
        Voice::Page => error_page(status, ErrorCode::TemporarilyUnavailable, page),
    };
    if let Some(value) = retry_after.and_then(|r| HeaderValue::from_str(&r.to_string()).ok()) {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    response
}
