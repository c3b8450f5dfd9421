//! Parsing and validating each setting's raw text into its typed value,
//! with an error that names the setting ([`super::Raw::fail`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use oauth::acr::Level;

use super::{
    ConfigError, JWKS_MAX_AGE, LogFormat, MfaPolicy, Rate, Raw, RegistrationMode, StoreUrl, seconds,
};
use crate::keys::MasterKey;
use crate::ops::client_ip::IpBlock;
use crate::secret::Secret;

pub(super) fn parse_listen(raw: &Raw) -> Result<SocketAddr, ConfigError> {
    raw.value.parse().map_err(|_| {
        raw.fail(format!(
            "invalid listen address {:?} (expected host:port, e.g. 0.0.0.0:3001)",
            raw.value
        ))
    })
}

/// `AUTH_WEBAUTHN_RP_ID`: empty, or the issuer's host or a parent domain
/// of it (W3C WebAuthn §5.1.4.1: an RP id is a registrable domain suffix of
/// the origin's effective domain).
pub(super) fn parse_rp_id(raw: &Raw, issuer: &Raw) -> Result<String, ConfigError> {
    let rp_id = raw.value.trim().to_ascii_lowercase();
    if rp_id.is_empty() {
        return Ok(rp_id);
    }
    let authority = crate::services::issuer_host(&issuer.value);
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
    .to_ascii_lowercase();
    let valid_name = rp_id.contains('.') || rp_id == "localhost";
    if valid_name && (host == rp_id || host.ends_with(&format!(".{rp_id}"))) {
        Ok(rp_id)
    } else {
        Err(raw.fail(format!(
            "the WebAuthn RP id {rp_id:?} must be the issuer's host {host:?} or a parent domain of it"
        )))
    }
}

pub(super) fn parse_issuer(raw: &Raw) -> Result<String, ConfigError> {
    let value = raw.value.trim_end_matches('/');
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| {
            raw.fail(format!(
                "issuer {:?} must be an http:// or https:// URL",
                raw.value
            ))
        })?;
    // OpenID Connect Discovery §3: the issuer has no query or fragment.
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(raw.fail(format!(
            "issuer {:?} must be a URL with a host and no query or fragment",
            raw.value
        )));
    }
    Ok(value.to_owned())
}

pub(super) fn parse_store(raw: &Raw) -> Result<StoreUrl, ConfigError> {
    let value = raw.value.trim();
    if let Some(path) = value.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(raw.fail("sqlite:// needs a file path, e.g. sqlite://./data/auth.db"));
        }
        return Ok(StoreUrl::Sqlite(PathBuf::from(path)));
    }
    if [
        "redis://",
        "rediss://",
        "redis+sentinel://",
        "rediss+sentinel://",
        "redis+cluster://",
        "rediss+cluster://",
    ]
    .iter()
    .any(|scheme| value.starts_with(scheme))
    {
        store_redis::validate_url(value)
            .map_err(|e| raw.fail(format!("invalid Redis URL: {e}")))?;
        return Ok(StoreUrl::Redis(Secret::new(value.to_owned())));
    }
    let scheme = value.split("://").next().unwrap_or(value);
    Err(raw.fail(format!(
        "unknown store scheme {scheme:?} (expected sqlite://, redis://, rediss://, redis+sentinel://, rediss+sentinel://, redis+cluster:// or rediss+cluster://)"
    )))
}

pub(super) fn parse_master_key(raw: &Raw) -> Result<Option<MasterKey>, ConfigError> {
    if raw.value.is_empty() {
        return Ok(None);
    }
    // The raw text is not echoed: even a malformed key may be most of a real one.
    let bytes = Secret::new(
        base64::engine::general_purpose::STANDARD
            .decode(raw.value.trim())
            .map_err(|_| {
                raw.fail("not valid base64 (generate a key with: openssl rand -base64 32)")
            })?,
    );
    MasterKey::from_bytes(bytes.expose()).map(Some).map_err(|len| {
        raw.fail(format!("must be 32 bytes of base64, got {len} bytes (generate one with: openssl rand -base64 32)"))
    })
}

pub(super) fn parse_log_format(raw: &Raw) -> Result<LogFormat, ConfigError> {
    match raw.value.as_str() {
        "json" => Ok(LogFormat::Json),
        "pretty" => Ok(LogFormat::Pretty),
        other => Err(raw.fail(format!(
            "unknown log format {other:?} (expected json or pretty)"
        ))),
    }
}

pub(super) fn parse_mfa(raw: &Raw) -> Result<MfaPolicy, ConfigError> {
    match raw.value.as_str() {
        "off" => Ok(MfaPolicy::Off),
        "optional" => Ok(MfaPolicy::Optional),
        "required" => Ok(MfaPolicy::Required),
        other => Err(raw.fail(format!(
            "unknown MFA policy {other:?} (expected off, optional or required)"
        ))),
    }
}

pub(super) fn parse_registration_mode(raw: &Raw) -> Result<RegistrationMode, ConfigError> {
    match raw.value.as_str() {
        "off" => Ok(RegistrationMode::Off),
        "initial-token" => Ok(RegistrationMode::InitialToken),
        "open" => Ok(RegistrationMode::Open),
        other => Err(raw.fail(format!(
            "unknown registration mode {other:?} (expected off, initial-token or open)"
        ))),
    }
}

/// The grant types dynamic registration allows: comma-separated names of
/// grants this server has.
pub(super) fn parse_registration_grants(raw: &Raw) -> Result<Vec<String>, ConfigError> {
    let grants: Vec<String> = raw
        .value
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(other) = grants.iter().find(|g| oauth::GrantType::parse(g).is_err()) {
        return Err(raw.fail(format!(
            "{other:?} is not a grant type of this server (authorization_code, refresh_token, client_credentials)"
        )));
    }
    Ok(grants)
}

/// Private-use URI schemes (RFC 8252 §7.1): comma-separated, each with a
/// dot (a reverse domain name) so no scheme of the web is opened.
pub(super) fn parse_schemes(raw: &Raw) -> Result<Vec<String>, ConfigError> {
    let schemes: Vec<String> = raw
        .value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if let Some(bad) = schemes.iter().find(|s| {
        !s.contains('.')
            || !s.starts_with(|c: char| c.is_ascii_alphabetic())
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    }) {
        return Err(raw.fail(format!(
            "{bad:?} is not a private-use scheme: a reverse domain name such as com.example.app (RFC 8252 section 7.1)"
        )));
    }
    Ok(schemes)
}

/// Comma-separated host names, lower case.
pub(super) fn parse_domains(raw: &Raw) -> Result<Vec<String>, ConfigError> {
    let domains: Vec<String> = raw
        .value
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if let Some(bad) = domains.iter().find(|d| {
        !d.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
    }) {
        return Err(raw.fail(format!("{bad:?} is not a host name")));
    }
    Ok(domains)
}

/// `AUTH_FORWARD_AUTH_APPS`: comma-separated `HOST [group=NAME]
/// [level=mfa|phr]`, e.g. `app.example.com group=admins level=mfa,
/// *.tools.example.com`.
pub(super) fn parse_forward_apps(raw: &Raw) -> Result<Vec<super::ForwardAuthApp>, ConfigError> {
    let mut apps = Vec::new();
    for entry in raw
        .value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let mut words = entry.split_whitespace();
        let host = words.next().unwrap_or_default().to_ascii_lowercase();
        let name = host.strip_prefix("*.").unwrap_or(&host);
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        {
            return Err(raw.fail(format!(
                "{host:?} is not a host (app.example.com, *.example.com)"
            )));
        }
        let (mut group, mut level) = (None, None);
        for word in words {
            match word.split_once('=') {
                Some(("group", name)) if !name.is_empty() => group = Some(name.to_owned()),
                Some(("level", name)) if level_named(name).is_some() => level = level_named(name),
                _ => {
                    return Err(raw.fail(format!(
                        "{entry:?}: after the host, only group=NAME and level=mfa|phr are understood"
                    )));
                }
            }
        }
        apps.push(super::ForwardAuthApp { host, group, level });
    }
    Ok(apps)
}

/// The short name of an authentication level in `AUTH_FORWARD_AUTH_APPS`
/// (`mfa`, `phr`); `pwd` is what any session has.
pub(super) fn level_name(level: Level) -> &'static str {
    match level {
        Level::Password => "pwd",
        Level::Mfa => "mfa",
        Level::PhishingResistant => "phr",
    }
}

fn level_named(name: &str) -> Option<Level> {
    Level::ALL
        .into_iter()
        .find(|&level| level_name(level) == name)
        .filter(|&level| level > Level::Password)
}

/// The host of the issuer URL as configured, lowercase, without port.
pub(super) fn issuer_host(raw: &Raw) -> String {
    let rest = raw.value.split_once("://").map_or("", |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host);
    host.to_ascii_lowercase()
}

/// `AUTH_SESSION_COOKIE_DOMAIN`: a domain the issuer's host is, or is
/// under (a browser ignores a cookie for any other, RFC 6265 §5.3).
pub(super) fn parse_cookie_domain(
    raw: &Raw,
    issuer_host: &str,
) -> Result<Option<String>, ConfigError> {
    let domain = raw
        .value
        .trim()
        .trim_start_matches('.')
        .to_ascii_lowercase();
    if domain.is_empty() {
        return Ok(None);
    }
    let under = issuer_host == domain
        || issuer_host
            .strip_suffix(&domain)
            .is_some_and(|sub| sub.ends_with('.'));
    if !under || !domain.contains('.') && domain != "localhost" {
        return Err(raw.fail(format!(
            "{domain:?} is not the issuer's host ({issuer_host}) or a parent domain of it"
        )));
    }
    Ok(Some(domain))
}

pub(super) fn parse_scope(raw: &Raw) -> Result<oauth::Scope, ConfigError> {
    oauth::Scope::parse(&raw.value).map_err(|e| raw.fail(format!("invalid scope: {e}")))
}

pub(super) fn parse_log_level(raw: &Raw) -> Result<String, ConfigError> {
    tracing_subscriber::EnvFilter::try_new(&raw.value)
        .map(|_| raw.value.clone())
        .map_err(|e| raw.fail(format!("invalid log level {:?}: {e}", raw.value)))
}

pub(super) fn parse_duration(raw: &Raw) -> Result<Duration, ConfigError> {
    humantime::parse_duration(&raw.value).map_err(|e| {
        raw.fail(format!(
            "invalid duration {:?} ({e}; e.g. 500ms, 5s, 30d)",
            raw.value
        ))
    })
}

/// `AUTH_AUDIT_WEBHOOK_URL` with its `_SECRET` (at least 32 characters,
/// as a shared HMAC key should be): both or neither. The URL is an
/// http(s) URL; whether it may be reached is `ops::outbound`'s to judge at
/// each delivery.
pub(super) fn parse_audit_webhook(
    url: &Raw,
    secret: &Raw,
    allow: Vec<crate::ops::client_ip::IpBlock>,
) -> Result<Option<super::AuditWebhook>, ConfigError> {
    match (url.value.trim(), secret.value.as_str()) {
        ("", "") => Ok(None),
        ("", _) => Err(url.fail("is required with AUTH_AUDIT_WEBHOOK_SECRET")),
        (_, "") => {
            Err(secret.fail("is required with AUTH_AUDIT_WEBHOOK_URL (at least 32 characters)"))
        }
        (link, _) if !(link.starts_with("https://") || link.starts_with("http://")) => {
            Err(url.fail(format!("{link:?} is not an http(s) URL")))
        }
        (_, key) if key.len() < 32 => Err(secret.fail("must be at least 32 characters")),
        (link, key) => Ok(Some(super::AuditWebhook {
            url: link.to_owned(),
            secret: Secret::new(key.to_owned()),
            allow,
        })),
    }
}

/// A duration of at least a minute and at most ten years: a retention,
/// which zero would turn into "keep nothing".
pub(super) fn parse_retention(raw: &Raw) -> Result<Duration, ConfigError> {
    let retention = parse_duration(raw)?;
    if !(60..=10 * 366 * 86_400).contains(&retention.as_secs()) {
        return Err(raw.fail(format!("{:?} is not a retention from 1m to 10y", raw.value)));
    }
    Ok(retention)
}

pub(super) fn parse_number<T>(
    raw: &Raw,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    raw.value
        .trim()
        .parse::<T>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            raw.fail(format!(
                "{:?} is not a whole number from {} to {}",
                raw.value,
                range.start(),
                range.end()
            ))
        })
}

pub(super) fn parse_bool(raw: &Raw) -> Result<bool, ConfigError> {
    match raw.value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(raw.fail(format!("{other:?} is neither true nor false"))),
    }
}

pub(super) fn parse_rate(raw: &Raw) -> Result<Option<Rate>, ConfigError> {
    let value = raw.value.trim();
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let bad = || {
        raw.fail(format!(
            "invalid rate {value:?} (requests/period, e.g. 30/1m or 100/1s, or off)"
        ))
    };
    let (burst, period) = value.split_once('/').ok_or_else(bad)?;
    let burst: u32 = burst
        .trim()
        .parse()
        .ok()
        .filter(|b| *b > 0)
        .ok_or_else(bad)?;
    let period = humantime::parse_duration(period.trim()).map_err(|_| bad())?;
    if period.is_zero() {
        return Err(bad());
    }
    Ok(Some(Rate { burst, period }))
}

pub(super) fn parse_proxies(raw: &Raw) -> Result<Vec<IpBlock>, ConfigError> {
    raw.value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<IpBlock>().map_err(|e| raw.fail(e)))
        .collect()
}

pub(super) fn parse_lockout(
    threshold: &Raw,
    base: &Raw,
    max: &Raw,
    quiet: &Raw,
) -> Result<store::BackoffPolicy, ConfigError> {
    let threshold_value: i64 = threshold
        .value
        .trim()
        .parse()
        .ok()
        .filter(|t| *t >= 1)
        .ok_or_else(|| threshold.fail("must be a whole number of failures, 1 or more"))?;
    let policy = store::BackoffPolicy {
        threshold: threshold_value,
        base_delay: seconds(parse_duration(base)?),
        max_delay: seconds(parse_duration(max)?),
        quiet_period: seconds(parse_duration(quiet)?),
    };
    if policy.max_delay < policy.base_delay {
        return Err(max.fail("must not be shorter than lockout_base_delay"));
    }
    Ok(policy)
}

pub(super) fn parse_publish_lead(raw: &Raw) -> Result<Duration, ConfigError> {
    let lead = parse_duration(raw)?;
    if lead.as_secs() <= JWKS_MAX_AGE {
        return Err(raw.fail(format!(
            "must be longer than the JWKS cache lifetime ({JWKS_MAX_AGE}s), or relying parties could meet a key they have not fetched"
        )));
    }
    Ok(lead)
}

pub(super) fn parse_alg(raw: &Raw) -> Result<crate::keys::Alg, ConfigError> {
    crate::keys::Alg::parse(&raw.value).ok_or_else(|| {
        raw.fail(format!(
            "unsupported algorithm {:?} (ES256 or RS256)",
            raw.value
        ))
    })
}

/// Hides the password of a URL like `redis://user:pass@host`.
pub(super) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "[REDACTED]".into();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:[REDACTED]@{host}")
        }
        None => url.to_owned(),
    }
}
