//! Configuration: defaults, then an optional TOML file (`--config` or
//! `AUTH_CONFIG`), then `AUTH_*` environment variables; the environment wins.
//! Every value is validated here, once, into a typed [`Config`]; a bad value
//! is a [`ConfigError`] naming the variable (or file key) and the problem.
//!
//! The file uses the variable names without `AUTH_`, in lower case
//! (`listen = "127.0.0.1:3001"`). Unknown keys in the file are errors, so a
//! typo never silently falls back to a default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::keys::MasterKey;
use crate::ops::client_ip::IpBlock;
use crate::secret::Secret;

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum StoreUrl {
    /// The embedded database file.
    Sqlite(PathBuf),
    /// A Redis URL; it may carry a password, so it is a secret.
    Redis(Secret<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

/// `AUTH_REGISTRATION`: who may register a client over HTTP (RFC 7591).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegistrationMode {
    /// No `/register` endpoint; clients come from `client create`.
    Off,
    /// Registration needs an initial access token (`token mint
    /// --registration`).
    InitialToken,
    /// Anyone may register; such clients expire after
    /// `AUTH_REGISTRATION_CLIENT_TTL`.
    Open,
}

/// What a client registering itself may ask for (`services::registration`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationPolicy {
    pub mode: RegistrationMode,
    /// `AUTH_REGISTRATION_GRANT_TYPES`.
    pub grant_types: Vec<String>,
    /// `AUTH_REGISTRATION_REDIRECT_SCHEMES`: private-use schemes (RFC 8252
    /// §7.1) allowed besides https and loopback http.
    pub redirect_schemes: Vec<String>,
    /// `AUTH_REGISTRATION_SCOPES`: the scopes such a client may have, and
    /// has when it asks for none.
    pub scopes: oauth::Scope,
    /// `AUTH_REGISTRATION_CLIENT_TTL`: how long an openly registered client
    /// lives; zero is for ever.
    pub client_ttl: Duration,
}

/// `AUTH_MFA`: who signs in with a second factor (`services::mfa`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MfaPolicy {
    /// Nobody is asked for a second factor, and no level beyond a password
    /// is required (an `acr_values` asking for more is not met, and the
    /// token's `acr` says so).
    Off,
    /// Users who enrolled a factor use it at every sign-in; clients and
    /// requests may require it of everyone.
    Optional,
    /// Every user signs in with two factors; one without a factor enrols
    /// one right after the password (after the grace period, if any).
    Required,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Public base URL, without a trailing slash.
    pub issuer: String,
    pub store: StoreUrl,
    pub redis_prefix: String,
    /// Replicas that must acknowledge a durable Redis write (`WAIT`).
    pub redis_min_replicas_ack: u32,
    /// The Sentinels' credentials, for `redis+sentinel://` stores.
    pub redis_sentinel_username: Option<String>,
    pub redis_sentinel_password: Option<Secret<String>>,
    pub master_key: Option<MasterKey>,
    pub log_format: LogFormat,
    pub log_level: String,
    /// Upper bound for one store call.
    pub store_timeout: Duration,
    /// Upper bound for the store check of `/health/ready`.
    pub health_timeout: Duration,
    /// After SIGTERM: how long readiness reports 503 while requests are still
    /// served, so load balancers stop sending before the listener closes.
    pub shutdown_drain: Duration,
    /// After the drain: how long in-flight requests may take to finish.
    pub shutdown_grace: Duration,
    /// Requests slower than this log `slow_request`.
    pub slow_request_threshold: Duration,
    /// Age at which an active signing key is replaced.
    pub key_rotation_interval: Duration,
    /// How long a new key is in the JWKS before it signs; longer than the
    /// JWKS `Cache-Control: max-age`, so no relying party meets an unknown kid.
    pub key_publish_lead: Duration,
    /// Lifetime of access tokens.
    pub access_token_ttl: Duration,
    /// `ES256` (default, fast) or `RS256`.
    pub access_token_alg: crate::keys::Alg,
    /// A browser session ends after this long without use…
    pub session_idle_timeout: Duration,
    /// …and after this long in any case.
    pub session_max_age: Duration,
    /// Lifetime of a refresh-token family without use…
    pub refresh_token_idle_ttl: Duration,
    /// …and in any case.
    pub refresh_token_max_ttl: Duration,
    /// A rotated refresh token presented again within this window is taken
    /// for a concurrent refresh, not a theft (docs/security.md 5).
    pub refresh_token_grace: Duration,
    /// Per-client-IP (and per-client on `/token`) request rates.
    pub rate_limits: RateLimits,
    /// Peers whose `X-Forwarded-For` names the client (load balancers).
    pub trusted_proxies: Vec<IpBlock>,
    /// How failed logins slow an account down.
    pub lockout: store::BackoffPolicy,
    /// `AUTH_MFA`.
    pub mfa: MfaPolicy,
    /// `AUTH_MFA_ENROLMENT_GRACE`: with `AUTH_MFA=required`, how long after
    /// its creation an account may still skip enrolling a factor.
    pub mfa_enrolment_grace: Duration,
    /// How long the audit trail keeps a security event (`services::audit`).
    pub audit_retention: Duration,
    /// `AUTH_WEBAUTHN_RP_ID`: the WebAuthn relying-party id passkeys are
    /// bound to; empty for the issuer's host. A parent domain of the host
    /// lets one passkey serve sibling hosts; changing it orphans every
    /// passkey registered under the old one.
    pub webauthn_rp_id: String,
    /// Failed client authentications allowed per client id and per client
    /// IP at `/token`, `/introspect` and `/revoke` (docs/security.md 23).
    pub client_auth_failures: Option<Rate>,
    /// IPv6 clients share one rate-limit bucket per prefix of this length
    /// (one customer usually holds a whole /64).
    pub ipv6_prefix: u8,
    /// The longest lifetime `token mint --ttl` accepts.
    pub minted_token_max_ttl: Duration,
    /// Also accept the token endpoint URL as a client assertion's `aud`
    /// (older clients); off by default, since only the issuer identifier as
    /// the single audience is safe against audience injection.
    pub assertion_audience_token_endpoint: bool,
    /// Connection limits and timeouts of the listener.
    pub http: HttpLimits,
    /// Dynamic client registration (RFC 7591), off by default.
    pub registration: RegistrationPolicy,
    /// `AUTH_DPOP_NONCE`: DPoP proofs must carry a server nonce (RFC 9449
    /// §8), which bounds how long a proof made ahead of time is usable.
    pub dpop_nonce: bool,
    /// `AUTH_WEBFINGER_DOMAINS`: the domains whose users' issuer this is
    /// (RFC 7033 issuer discovery), lower case.
    pub webfinger_domains: Vec<String>,
    /// `AUTH_TOKEN_EXCHANGE`: the RFC 8693 grant, for clients registered
    /// for it; off by default.
    pub token_exchange: bool,
    /// `AUTH_REQUIRE_PUSHED_AUTHORIZATION_REQUESTS`: every authorization
    /// request must come through `/par` (RFC 9126 §5); off by default, and
    /// per client with `client create --require-pushed-authorization-requests`.
    pub require_par: bool,
    /// `AUTH_EMAILS_VERIFIED`: the identity providers (and operators) that
    /// provision users verify their addresses, so claims say
    /// `email_verified: true`; off by default, as SCIM cannot say so.
    pub emails_verified: bool,
    /// `AUTH_CLIENT_ID_METADATA_DOCUMENTS`: an https `client_id` names its
    /// own metadata (`services::client_documents`).
    pub client_id_documents: bool,
    /// `AUTH_CLIENT_ID_METADATA_ALLOW`: non-public addresses documents may
    /// be fetched from anyway (`ops::outbound`).
    pub client_id_metadata_allow: Vec<IpBlock>,
    /// `AUTH_SESSION_COOKIE_DOMAIN`: the parent domain the session cookie
    /// is set for (`Domain=`), so that `/forward-auth` sees it on the
    /// applications' hosts; the issuer's host only when absent.
    pub session_cookie_domain: Option<String>,
    /// `AUTH_FORWARD_AUTH_APPS`: the applications `/forward-auth` guards
    /// (`services::forward_auth`); none, and the endpoint is off.
    pub forward_auth_apps: Vec<ForwardAuthApp>,
    /// `AUTH_BACKCHANNEL_LOGOUT_ALLOW`: non-public addresses logout tokens
    /// may be delivered to anyway, over https or plain http
    /// (`ops::outbound`).
    pub backchannel_logout_allow: Vec<IpBlock>,
    /// `AUTH_AUDIT_WEBHOOK_URL`, `_SECRET` and `_ALLOW`: where the audit
    /// trail is delivered (`services::audit::webhook`), if anywhere.
    pub audit_webhook: Option<AuditWebhook>,
}

/// The audit trail's webhook: its URL, the key its bodies are signed with
/// (HMAC-SHA256), and the non-public addresses it may be at anyway.
#[derive(Debug, Clone)]
pub struct AuditWebhook {
    pub url: String,
    pub secret: Secret<String>,
    pub allow: Vec<IpBlock>,
}

/// An application behind a proxy that asks `/forward-auth`: its host
/// (`app.example.com`, with a port if it has one, or `*.example.com` for
/// every subdomain), the group its users must be in, if any, and the
/// authentication level its sessions must have, if more than
/// `AUTH_MFA` asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardAuthApp {
    pub host: String,
    pub group: Option<String>,
    pub level: Option<oauth::acr::Level>,
}

/// How long a connection may take and how many there may be (docs/security.md 27).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// From accepting a connection (or the end of the previous request) to
    /// the end of the request headers.
    pub header_timeout: Duration,
    /// From the start of a request to its response, body included.
    pub request_timeout: Duration,
    /// How long an idle keep-alive connection is kept.
    pub idle_timeout: Duration,
    /// Open connections at most; `None` derives it from the file-descriptor
    /// limit at startup.
    pub max_connections: Option<usize>,
}

/// A request rate: `burst` requests back to back, refilled evenly over
/// `period` (written `burst/period`, e.g. `30/1m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub period: Duration,
}

impl Rate {
    /// The GCRA emission interval: one request per this many milliseconds.
    pub fn interval_ms(&self) -> i64 {
        let ms = i64::try_from(self.period.as_millis()).unwrap_or(i64::MAX);
        (ms / i64::from(self.burst.max(1))).max(1)
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}",
            self.burst,
            humantime::format_duration(self.period)
        )
    }
}

/// The rate limits per route group; `None` is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub login: Option<Rate>,
    pub authorize: Option<Rate>,
    pub token: Option<Rate>,
    pub token_client: Option<Rate>,
    pub introspect: Option<Rate>,
    pub revoke: Option<Rate>,
    pub scim: Option<Rate>,
    pub registration: Option<Rate>,
    /// User codes entered at the device verification page, per IP
    /// (RFC 8628 §5.1).
    pub user_code: Option<Rate>,
    /// The same, across all addresses: the bound on guessing a user code
    /// (docs/security.md 32).
    pub user_code_global: Option<Rate>,
}

/// One bad setting: which, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct ConfigError {
    pub setting: String,
    pub problem: String,
}

/// Every setting: its name in the file, and its default.
const SETTINGS: &[(&str, &str)] = &[
    ("listen", "0.0.0.0:3001"),
    ("issuer", "http://localhost:3001"),
    ("store", "sqlite://./data/auth.db"),
    ("redis_prefix", ""),
    // The Sentinels' own credentials (redis+sentinel:// URLs carry the
    // data nodes'); empty means none.
    ("redis_sentinel_username", ""),
    ("redis_sentinel_password", ""),
    // Durable Redis writes wait for this many replicas (WAIT) before they
    // are acknowledged; 0 does not wait.
    ("redis_min_replicas_ack", "0"),
    ("master_key", ""),
    ("log_format", "json"),
    ("log_level", "info"),
    ("store_timeout", "2s"),
    ("health_timeout", "1s"),
    ("shutdown_drain", "5s"),
    ("shutdown_grace", "20s"),
    ("slow_request_threshold", "1s"),
    ("key_rotation_interval", "30days"),
    ("key_publish_lead", "1h"),
    ("access_token_ttl", "15m"),
    ("access_token_alg", "ES256"),
    ("session_idle_timeout", "30m"),
    ("session_max_age", "12h"),
    ("refresh_token_idle_ttl", "14days"),
    ("refresh_token_max_ttl", "90days"),
    ("refresh_token_grace", "10s"),
    // Per client IP; `token_client` per client id. `off` disables one.
    ("rate_limit_login", "30/1m"),
    ("rate_limit_authorize", "300/1m"),
    ("rate_limit_token", "6000/1m"),
    ("rate_limit_token_client", "6000/1m"),
    ("rate_limit_introspect", "6000/1m"),
    ("rate_limit_revoke", "600/1m"),
    ("rate_limit_scim", "6000/1m"),
    ("rate_limit_registration", "30/1h"),
    ("rate_limit_user_code", "10/1m"),
    ("rate_limit_user_code_global", "600/1m"),
    ("trusted_proxies", ""),
    ("lockout_threshold", "5"),
    ("lockout_base_delay", "1m"),
    ("lockout_max_delay", "15m"),
    ("lockout_quiet_period", "1h"),
    ("mfa", "optional"),
    ("mfa_enrolment_grace", "0s"),
    ("audit_retention", "30d"),
    ("audit_webhook_url", ""),
    ("audit_webhook_secret", ""),
    ("audit_webhook_allow", ""),
    ("webauthn_rp_id", ""),
    ("rate_limit_client_auth_failures", "20/1m"),
    ("ipv6_prefix", "64"),
    ("minted_token_max_ttl", "90days"),
    ("assertion_audience_token_endpoint", "false"),
    ("http_header_timeout", "10s"),
    ("http_request_timeout", "30s"),
    ("http_idle_timeout", "60s"),
    ("http_max_connections", "auto"),
    ("dpop_nonce", "false"),
    ("token_exchange", "false"),
    ("emails_verified", "false"),
    ("require_pushed_authorization_requests", "false"),
    ("webfinger_domains", ""),
    ("client_id_metadata_documents", "false"),
    ("client_id_metadata_allow", ""),
    ("backchannel_logout_allow", ""),
    ("forward_auth_apps", ""),
    ("session_cookie_domain", ""),
    ("registration", "off"),
    (
        "registration_grant_types",
        "authorization_code,refresh_token",
    ),
    ("registration_redirect_schemes", ""),
    ("registration_scopes", "openid profile email offline_access"),
    ("registration_client_ttl", "30days"),
];

/// A raw value and where it came from, for error messages.
struct Raw {
    value: String,
    origin: String,
}

impl Raw {
    fn fail(&self, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            setting: self.origin.clone(),
            problem: problem.into(),
        }
    }
}

impl Config {
    /// Loads from the process environment and the optional file.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, &|name| std::env::var(name).ok())
    }

    /// Loads with an explicit environment lookup (tests pass a map).
    pub fn load_from(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let from_file = match file {
            Some(path) => read_file(path)?,
            None => BTreeMap::new(),
        };
        let mut raw: BTreeMap<&str, Raw> = BTreeMap::new();
        for (name, default) in SETTINGS {
            let variable = format!("AUTH_{}", name.to_uppercase());
            let value = if let Some(value) = env(&variable) {
                Raw {
                    value,
                    origin: variable,
                }
            } else if let Some(value) = from_file.get(*name) {
                Raw {
                    value: value.clone(),
                    origin: format!(
                        "{name} (in {})",
                        file.map_or_else(String::new, |p| p.display().to_string())
                    ),
                }
            } else {
                Raw {
                    value: (*default).to_owned(),
                    origin: variable,
                }
            };
            raw.insert(name, value);
        }
        let get = |name: &str| {
            raw.get(name).ok_or_else(|| ConfigError {
                setting: name.into(),
                problem: "missing".into(),
            })
        };
        Ok(Self {
            listen: parse_listen(get("listen")?)?,
            issuer: parse_issuer(get("issuer")?)?,
            store: parse_store(get("store")?)?,
            redis_prefix: get("redis_prefix")?.value.clone(),
            redis_min_replicas_ack: parse_number(get("redis_min_replicas_ack")?, 0..=16)?,
            redis_sentinel_username: Some(get("redis_sentinel_username")?.value.clone())
                .filter(|u| !u.is_empty()),
            redis_sentinel_password: Some(get("redis_sentinel_password")?.value.clone())
                .filter(|p| !p.is_empty())
                .map(Secret::new),
            master_key: parse_master_key(get("master_key")?)?,
            log_format: parse_log_format(get("log_format")?)?,
            log_level: parse_log_level(get("log_level")?)?,
            store_timeout: parse_duration(get("store_timeout")?)?,
            health_timeout: parse_duration(get("health_timeout")?)?,
            shutdown_drain: parse_duration(get("shutdown_drain")?)?,
            shutdown_grace: parse_duration(get("shutdown_grace")?)?,
            slow_request_threshold: parse_duration(get("slow_request_threshold")?)?,
            key_rotation_interval: parse_duration(get("key_rotation_interval")?)?,
            key_publish_lead: parse_publish_lead(get("key_publish_lead")?)?,
            access_token_ttl: parse_duration(get("access_token_ttl")?)?,
            access_token_alg: parse_alg(get("access_token_alg")?)?,
            session_idle_timeout: parse_duration(get("session_idle_timeout")?)?,
            session_max_age: parse_duration(get("session_max_age")?)?,
            refresh_token_idle_ttl: parse_duration(get("refresh_token_idle_ttl")?)?,
            refresh_token_max_ttl: parse_duration(get("refresh_token_max_ttl")?)?,
            refresh_token_grace: parse_duration(get("refresh_token_grace")?)?,
            rate_limits: RateLimits {
                login: parse_rate(get("rate_limit_login")?)?,
                authorize: parse_rate(get("rate_limit_authorize")?)?,
                token: parse_rate(get("rate_limit_token")?)?,
                token_client: parse_rate(get("rate_limit_token_client")?)?,
                introspect: parse_rate(get("rate_limit_introspect")?)?,
                revoke: parse_rate(get("rate_limit_revoke")?)?,
                scim: parse_rate(get("rate_limit_scim")?)?,
                registration: parse_rate(get("rate_limit_registration")?)?,
                user_code: parse_rate(get("rate_limit_user_code")?)?,
                user_code_global: parse_rate(get("rate_limit_user_code_global")?)?,
            },
            trusted_proxies: parse_proxies(get("trusted_proxies")?)?,
            lockout: parse_lockout(
                get("lockout_threshold")?,
                get("lockout_base_delay")?,
                get("lockout_max_delay")?,
                get("lockout_quiet_period")?,
            )?,
            mfa: parse_mfa(get("mfa")?)?,
            mfa_enrolment_grace: parse_duration(get("mfa_enrolment_grace")?)?,
            audit_retention: parse_retention(get("audit_retention")?)?,
            webauthn_rp_id: parse_rp_id(get("webauthn_rp_id")?, get("issuer")?)?,
            client_auth_failures: parse_rate(get("rate_limit_client_auth_failures")?)?,
            ipv6_prefix: parse_number(get("ipv6_prefix")?, 1..=128)?,
            minted_token_max_ttl: parse_duration(get("minted_token_max_ttl")?)?,
            assertion_audience_token_endpoint: parse_bool(get(
                "assertion_audience_token_endpoint",
            )?)?,
            http: HttpLimits {
                header_timeout: parse_duration(get("http_header_timeout")?)?,
                request_timeout: parse_duration(get("http_request_timeout")?)?,
                idle_timeout: parse_duration(get("http_idle_timeout")?)?,
                max_connections: match get("http_max_connections")?.value.as_str() {
                    "auto" => None,
                    _ => Some(parse_number(get("http_max_connections")?, 1..=1_000_000)?),
                },
            },
            dpop_nonce: parse_bool(get("dpop_nonce")?)?,
            token_exchange: parse_bool(get("token_exchange")?)?,
            emails_verified: parse_bool(get("emails_verified")?)?,
            require_par: parse_bool(get("require_pushed_authorization_requests")?)?,
            webfinger_domains: parse_domains(get("webfinger_domains")?)?,
            client_id_documents: parse_bool(get("client_id_metadata_documents")?)?,
            client_id_metadata_allow: parse_proxies(get("client_id_metadata_allow")?)?,
            backchannel_logout_allow: parse_proxies(get("backchannel_logout_allow")?)?,
            audit_webhook: parse_audit_webhook(
                get("audit_webhook_url")?,
                get("audit_webhook_secret")?,
                parse_proxies(get("audit_webhook_allow")?)?,
            )?,
            forward_auth_apps: parse_forward_apps(get("forward_auth_apps")?)?,
            session_cookie_domain: parse_cookie_domain(
                get("session_cookie_domain")?,
                &issuer_host(get("issuer")?),
            )?,
            registration: RegistrationPolicy {
                mode: parse_registration_mode(get("registration")?)?,
                grant_types: parse_registration_grants(get("registration_grant_types")?)?,
                redirect_schemes: parse_schemes(get("registration_redirect_schemes")?)?,
                scopes: parse_scope(get("registration_scopes")?)?,
                client_ttl: parse_duration(get("registration_client_ttl")?)?,
            },
        })
    }

    /// The effective configuration with secrets redacted, for `check-config`.
    pub fn redacted(&self) -> serde_json::Value {
        let store = match &self.store {
            StoreUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            StoreUrl::Redis(url) => redact_url(url.expose()),
        };
        let duration = |d: Duration| humantime::format_duration(d).to_string();
        let rate = |r: Option<Rate>| r.map_or_else(|| "off".to_owned(), |r| r.to_string());
        let mut view = serde_json::json!({
            "listen": self.listen.to_string(),
            "issuer": self.issuer,
            "store": store,
            "redis_prefix": self.redis_prefix,
            "master_key": self.master_key.as_ref().map(|_| "[REDACTED]"),
            "log_format": self.log_format,
            "log_level": self.log_level,
            "store_timeout": duration(self.store_timeout),
            "health_timeout": duration(self.health_timeout),
            "shutdown_drain": duration(self.shutdown_drain),
            "shutdown_grace": duration(self.shutdown_grace),
            "slow_request_threshold": duration(self.slow_request_threshold),
            "key_rotation_interval": duration(self.key_rotation_interval),
            "key_publish_lead": duration(self.key_publish_lead),
            "access_token_ttl": duration(self.access_token_ttl),
            "access_token_alg": self.access_token_alg.as_str(),
            "session_idle_timeout": duration(self.session_idle_timeout),
            "session_max_age": duration(self.session_max_age),
            "refresh_token_idle_ttl": duration(self.refresh_token_idle_ttl),
            "refresh_token_max_ttl": duration(self.refresh_token_max_ttl),
            "refresh_token_grace": duration(self.refresh_token_grace),
            "rate_limit_login": rate(self.rate_limits.login),
            "rate_limit_authorize": rate(self.rate_limits.authorize),
            "rate_limit_token": rate(self.rate_limits.token),
            "rate_limit_token_client": rate(self.rate_limits.token_client),
            "rate_limit_introspect": rate(self.rate_limits.introspect),
            "rate_limit_revoke": rate(self.rate_limits.revoke),
            "rate_limit_scim": rate(self.rate_limits.scim),
            "trusted_proxies": self.trusted_proxies.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "lockout_threshold": self.lockout.threshold,
            "lockout_base_delay": duration(Duration::from_secs(self.lockout.base_delay.unsigned_abs())),
            "lockout_max_delay": duration(Duration::from_secs(self.lockout.max_delay.unsigned_abs())),
            "lockout_quiet_period": duration(Duration::from_secs(self.lockout.quiet_period.unsigned_abs())),
            "rate_limit_client_auth_failures": rate(self.client_auth_failures),
            "ipv6_prefix": self.ipv6_prefix,
            "minted_token_max_ttl": duration(self.minted_token_max_ttl),
            "assertion_audience_token_endpoint": self.assertion_audience_token_endpoint,
            "http_header_timeout": duration(self.http.header_timeout),
            "http_request_timeout": duration(self.http.request_timeout),
            "http_idle_timeout": duration(self.http.idle_timeout),
            "http_max_connections": self.http.max_connections.map_or_else(|| serde_json::json!("auto"), |n| serde_json::json!(n)),
        });
        view["mfa"] = serde_json::json!(self.mfa);
        view["rate_limit_registration"] = serde_json::json!(rate(self.rate_limits.registration));
        view["rate_limit_user_code"] = serde_json::json!(rate(self.rate_limits.user_code));
        view["rate_limit_user_code_global"] =
            serde_json::json!(rate(self.rate_limits.user_code_global));
        view["dpop_nonce"] = serde_json::json!(self.dpop_nonce);
        view["token_exchange"] = serde_json::json!(self.token_exchange);
        view["emails_verified"] = serde_json::json!(self.emails_verified);
        view["require_pushed_authorization_requests"] = serde_json::json!(self.require_par);
        view["webfinger_domains"] = serde_json::json!(self.webfinger_domains.join(","));
        view["client_id_metadata_documents"] = serde_json::json!(self.client_id_documents);
        view["client_id_metadata_allow"] = serde_json::json!(
            self.client_id_metadata_allow
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        );
        view["session_cookie_domain"] =
            serde_json::json!(self.session_cookie_domain.as_deref().unwrap_or_default());
        view["forward_auth_apps"] = serde_json::json!(
            self.forward_auth_apps
                .iter()
                .map(|app| {
                    let mut entry = app.host.clone();
                    if let Some(group) = &app.group {
                        entry.push_str(&format!(" group={group}"));
                    }
                    if let Some(level) = app.level {
                        entry.push_str(&format!(" level={}", level_name(level)));
                    }
                    entry
                })
                .collect::<Vec<_>>()
                .join(",")
        );
        view["audit_webhook_url"] =
            serde_json::json!(self.audit_webhook.as_ref().map_or("", |w| w.url.as_str()));
        view["audit_webhook_secret"] =
            serde_json::json!(self.audit_webhook.as_ref().map(|_| "[REDACTED]"));
        view["audit_webhook_allow"] = serde_json::json!(
            self.audit_webhook
                .as_ref()
                .map(|w| w.allow.iter().map(ToString::to_string).collect::<Vec<_>>())
                .unwrap_or_default()
        );
        view["backchannel_logout_allow"] = serde_json::json!(
            self.backchannel_logout_allow
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        );
        view["registration"] = serde_json::json!(self.registration.mode);
        view["registration_grant_types"] =
            serde_json::json!(self.registration.grant_types.join(","));
        view["registration_redirect_schemes"] =
            serde_json::json!(self.registration.redirect_schemes.join(","));
        view["registration_scopes"] = serde_json::json!(self.registration.scopes.to_string());
        view["registration_client_ttl"] = serde_json::json!(duration(self.registration.client_ttl));
        view["mfa_enrolment_grace"] = serde_json::json!(duration(self.mfa_enrolment_grace));
        view["audit_retention"] = serde_json::json!(duration(self.audit_retention));
        view["webauthn_rp_id"] = serde_json::json!(self.webauthn_rp_id);
        view["redis_min_replicas_ack"] = serde_json::json!(self.redis_min_replicas_ack);
        view["redis_sentinel_username"] = serde_json::json!(self.redis_sentinel_username);
        view["redis_sentinel_password"] =
            serde_json::json!(self.redis_sentinel_password.as_ref().map(|_| "[REDACTED]"));
        view
    }
}

fn read_file(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let setting = || path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        setting: setting(),
        problem: format!("cannot read the config file: {e}"),
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError {
        setting: setting(),
        problem: format!("invalid TOML: {}", e.message()),
    })?;
    let mut values = BTreeMap::new();
    for (key, value) in table {
        if !SETTINGS.iter().any(|(name, _)| *name == key) {
            let known: Vec<_> = SETTINGS.iter().map(|(name, _)| *name).collect();
            return Err(ConfigError {
                setting: setting(),
                problem: format!("unknown setting `{key}` (known: {})", known.join(", ")),
            });
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(ConfigError {
                    setting: format!("{key} (in {})", setting()),
                    problem: format!("expected a string, got {}", other.type_str()),
                });
            }
        };
        values.insert(key, text);
    }
    Ok(values)
}

/// A duration in whole seconds, for arithmetic on Unix times.
pub fn seconds(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

impl Config {
    /// Cookies get `Secure` (and the `__Host-` prefix) when the issuer is https.
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}

/// The JWKS `Cache-Control: max-age`, in seconds.
pub const JWKS_MAX_AGE: u64 = 300;

mod parse;

use parse::*;

#[cfg(test)]
mod tests;
