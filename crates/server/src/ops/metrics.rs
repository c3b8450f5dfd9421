//! Prometheus metrics, named as docs/operations.md lists them: base units,
//! `_total` counters, `_seconds` histograms, bounded labels only.
//!
//! The `metrics` facade keeps one recorder per process (like the log
//! subscriber); [`Metrics::install`] creates it once and hands out the
//! handle that renders `/metrics`. Histograms, not summaries, so percentiles
//! aggregate across replicas.

use std::sync::OnceLock;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets from 1 ms to 10 s: token issuance sits at the low end,
/// password hashing and slow stores at the high end.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The handle that renders the exposition text.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    process: std::sync::Arc<metrics_process::Collector>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Installs the process-wide recorder on first call; later calls (tests
    /// starting several apps in one process) share it.
    pub fn install() -> Result<Self, String> {
        static INSTALLED: OnceLock<Result<Metrics, String>> = OnceLock::new();
        INSTALLED.get_or_init(Self::build).clone()
    }

    fn build() -> Result<Self, String> {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .map_err(|e| e.to_string())?
            .install_recorder()
            .map_err(|e| e.to_string())?;
        describe();
        zero();
        let process = metrics_process::Collector::default();
        process.describe();
        metrics::gauge!("auth_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        Ok(Self {
            handle,
            process: std::sync::Arc::new(process),
        })
    }

    /// The exposition text, with fresh process figures.
    pub fn render(&self) -> String {
        self.process.collect();
        self.handle.render()
    }
}

/// Counters with bounded labels start at 0, so alerts on `increase()` see
/// the first event (an absent series has no increase) and dashboards show
/// 0 rather than "no data".
fn zero() {
    // Unknown user, wrong password and inactive account are one public
    // reason (docs/security.md 22); only the log tells them apart.
    for reason in ["invalid_credentials", "locked"] {
        metrics::counter!("auth_login_attempts_total", "outcome" => "failure", "reason" => reason)
            .increment(0);
    }
    metrics::counter!("auth_login_attempts_total", "outcome" => "success", "reason" => "password")
        .increment(0);
    for (grant_type, token_type) in [
        ("authorization_code", "access_token"),
        ("authorization_code", "refresh_token"),
        ("refresh_token", "access_token"),
        ("client_credentials", "access_token"),
    ] {
        metrics::counter!("auth_tokens_issued_total", "grant_type" => grant_type, "token_type" => token_type)
            .increment(0);
    }
    for token_type in ["access_token", "refresh_token"] {
        metrics::counter!("auth_tokens_revoked_total", "token_type" => token_type).increment(0);
    }
    for active in ["true", "false"] {
        metrics::counter!("auth_token_introspections_total", "active" => active).increment(0);
    }
    for scope in [
        "login",
        "authorize",
        "token",
        "token_client",
        "introspect",
        "revoke",
        "scim",
        "client_auth",
    ] {
        metrics::counter!("auth_rate_limited_total", "scope" => scope).increment(0);
    }
    metrics::counter!("auth_lockouts_total").increment(0);
    for outcome in ["delivered", "retried", "abandoned"] {
        metrics::counter!("auth_backchannel_logout_deliveries_total", "outcome" => outcome)
            .increment(0);
    }
    for outcome in ["appended", "dropped"] {
        metrics::counter!("auth_audit_events_total", "outcome" => outcome).increment(0);
    }
    metrics::counter!("auth_audit_webhook_events_total").increment(0);
    metrics::counter!("auth_http_connection_cap_reached_total").increment(0);
    metrics::counter!("auth_http_connections_shed_total").increment(0);
    metrics::counter!("auth_refresh_token_reuse_detected_total").increment(0);
    metrics::counter!("auth_authorization_code_reuse_total").increment(0);
}

/// The store's error counter at 0 for this process's backend.
pub fn zero_store_errors(backend: &'static str) {
    metrics::counter!("auth_store_errors_total", "backend" => backend).increment(0);
}

fn describe() {
    describe_gauge!(
        "auth_build_info",
        "Build information; the value is always 1."
    );
    describe_gauge!(
        "auth_http_connections_max",
        "The connection cap of this replica (AUTH_HTTP_MAX_CONNECTIONS or derived from the fd limit)."
    );
    describe_counter!(
        "auth_http_connection_cap_reached_total",
        "Times the listener was at its connection cap and shed idle connections to accept more."
    );
    describe_counter!(
        "auth_http_connections_shed_total",
        "Idle keep-alive connections closed to make room at the connection cap."
    );
    describe_counter!(
        "http_requests_total",
        "HTTP requests served, by method, route template and status."
    );
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency, by method, route template and status class."
    );
    describe_histogram!(
        "auth_store_operation_duration_seconds",
        Unit::Seconds,
        "Store operation latency, by backend and operation."
    );
    describe_counter!(
        "auth_backchannel_logout_deliveries_total",
        "Back-channel logout token deliveries, by outcome (delivered, retried, abandoned)."
    );
    describe_counter!(
        "auth_audit_events_total",
        "Security events for the audit trail, by outcome (appended to the store, dropped because the store was unreachable too long)."
    );
    describe_counter!(
        "auth_audit_webhook_events_total",
        "Audit trail events the webhook (AUTH_AUDIT_WEBHOOK_URL) accepted."
    );
    describe_histogram!(
        "auth_backchannel_logout_delay_seconds",
        Unit::Seconds,
        "From a session's end to the relying party's acceptance of its logout token."
    );
    describe_counter!(
        "auth_store_errors_total",
        "Store operations that failed (unavailable or corrupt), by backend."
    );
    describe_gauge!(
        "auth_store_up",
        "1 when the last store health check succeeded, else 0."
    );
    describe_gauge!(
        "auth_signing_key_age_seconds",
        Unit::Seconds,
        "Age of the active signing key, by algorithm."
    );
    describe_gauge!("auth_jwks_keys", "Keys published in the JWKS.");
    describe_counter!(
        "auth_tokens_issued_total",
        "Tokens issued, by grant type and token type."
    );
    describe_counter!(
        "auth_tokens_revoked_total",
        "Tokens revoked, by token type."
    );
    describe_counter!(
        "auth_token_introspections_total",
        "Introspection requests, by whether the token was active."
    );
    describe_counter!(
        "auth_refresh_token_reuse_detected_total",
        "Rotated refresh tokens presented again (the family was revoked)."
    );
    describe_counter!(
        "auth_authorization_code_reuse_total",
        "Authorization codes presented twice (what they issued was revoked)."
    );
    describe_counter!(
        "auth_login_attempts_total",
        "Password logins, by outcome and reason."
    );
    describe_counter!(
        "auth_lockouts_total",
        "Failed logins that made an account wait before its next password check."
    );
    describe_counter!(
        "auth_rate_limited_total",
        "Requests refused by a rate limit, by scope (login, token, token_client, …)."
    );
    describe_counter!(
        "scim_requests_total",
        "SCIM requests, by resource type, operation and HTTP status."
    );
}
