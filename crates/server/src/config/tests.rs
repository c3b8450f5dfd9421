#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::Write;

use oauth::acr::Level;

use super::*;

fn load(vars: &[(&str, &str)], file: Option<&str>) -> Result<Config, ConfigError> {
    let env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    let mut tmp = tempfile::NamedTempFile::new().unwrap();
    if let Some(text) = file {
        tmp.write_all(text.as_bytes()).unwrap();
    }
    Config::load_from(file.map(|_| tmp.path()), &|name| env.get(name).cloned())
}

fn error(vars: &[(&str, &str)]) -> String {
    load(vars, None).unwrap_err().to_string()
}

#[test]
fn defaults() {
    let config = load(&[], None).unwrap();
    assert_eq!(config.listen.to_string(), "0.0.0.0:3001");
    assert_eq!(config.issuer, "http://localhost:3001");
    assert!(matches!(&config.store, StoreUrl::Sqlite(p) if p == Path::new("./data/auth.db")));
    assert!(config.master_key.is_none());
    assert_eq!(config.log_format, LogFormat::Json);
    assert_eq!(config.store_timeout, Duration::from_secs(2));
}

#[test]
fn environment_wins_over_file_which_wins_over_defaults() {
    let file = "listen = \"127.0.0.1:4000\"\nlog_format = \"pretty\"\nissuer = \"https://auth.example.com/\"\n";
    let config = load(&[("AUTH_LISTEN", "127.0.0.1:5000")], Some(file)).unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:5000");
    assert_eq!(config.log_format, LogFormat::Pretty);
    assert_eq!(config.issuer, "https://auth.example.com");
}

#[test]
fn bad_values_name_the_variable_and_the_problem() {
    for (vars, expected) in [
        (
            vec![("AUTH_LISTEN", "localhost")],
            "AUTH_LISTEN: invalid listen address \"localhost\"",
        ),
        (
            vec![("AUTH_STORE", "postgres://db/auth")],
            "AUTH_STORE: unknown store scheme \"postgres\"",
        ),
        (
            vec![("AUTH_STORE", "redis://[::1")],
            "AUTH_STORE: invalid Redis URL",
        ),
        (
            vec![("AUTH_MASTER_KEY", "not base64!")],
            "AUTH_MASTER_KEY: not valid base64",
        ),
        (
            vec![("AUTH_MASTER_KEY", "c2hvcnQ=")],
            "AUTH_MASTER_KEY: must be 32 bytes of base64, got 5 bytes",
        ),
        (
            vec![("AUTH_LOG_FORMAT", "xml")],
            "AUTH_LOG_FORMAT: unknown log format \"xml\"",
        ),
        (
            vec![("AUTH_STORE_TIMEOUT", "soon")],
            "AUTH_STORE_TIMEOUT: invalid duration \"soon\"",
        ),
        (
            vec![("AUTH_ISSUER", "auth.example.com")],
            "AUTH_ISSUER: issuer \"auth.example.com\" must be",
        ),
        (
            vec![("AUTH_ISSUER", "https://a.example/?x=1")],
            "AUTH_ISSUER: issuer",
        ),
    ] {
        let message = error(&vars);
        assert!(
            message.starts_with(expected),
            "{message:?} should start with {expected:?}"
        );
        assert!(!message.contains('\n'), "one line: {message:?}");
    }
}

#[test]
fn a_malformed_master_key_is_not_echoed() {
    let message = error(&[("AUTH_MASTER_KEY", "c2VjcmV0LXNlY3JldC1zZWNyZXQ=")]);
    assert!(!message.contains("c2VjcmV0"), "{message}");
}

#[test]
fn file_errors_name_the_key_and_unknown_keys_are_refused() {
    let err = load(&[], Some("listen = \"nope\"\n")).unwrap_err();
    assert!(err.setting.starts_with("listen (in "), "{err}");
    let err = load(&[], Some("lisen = \"127.0.0.1:1\"\n")).unwrap_err();
    assert!(err.problem.contains("unknown setting `lisen`"), "{err}");
    let err = load(&[], Some("listen = [1]\n")).unwrap_err();
    assert!(err.problem.contains("expected a string"), "{err}");
    let err = load(&[], Some("listen = \n")).unwrap_err();
    assert!(err.problem.starts_with("invalid TOML"), "{err}");
}

#[test]
fn the_mfa_policy_is_one_of_three_words() {
    let config = load(&[], None).unwrap();
    assert_eq!(config.mfa, MfaPolicy::Optional);
    assert_eq!(config.mfa_enrolment_grace, Duration::ZERO);
    let required = load(
        &[
            ("AUTH_MFA", "required"),
            ("AUTH_MFA_ENROLMENT_GRACE", "7days"),
        ],
        None,
    )
    .unwrap();
    assert_eq!(required.mfa, MfaPolicy::Required);
    assert_eq!(required.redacted()["mfa"], "required");
    assert_eq!(required.redacted()["mfa_enrolment_grace"], "7days");
    let wrong = load(&[("AUTH_MFA", "sometimes")], None).unwrap_err();
    assert!(wrong.to_string().contains("AUTH_MFA"), "{wrong}");
}

#[test]
fn the_webauthn_rp_id_is_the_issuers_host_or_a_parent_of_it() {
    assert_eq!(load(&[], None).unwrap().webauthn_rp_id, "");
    let issuer = ("AUTH_ISSUER", "https://login.Example.com:8443/tenant");
    for (rp_id, expected) in [
        ("example.com", "example.com"),
        ("LOGIN.example.com", "login.example.com"),
    ] {
        let config = load(&[issuer, ("AUTH_WEBAUTHN_RP_ID", rp_id)], None).unwrap();
        assert_eq!(config.webauthn_rp_id, expected);
        assert_eq!(config.redacted()["webauthn_rp_id"], expected);
    }
    // Not a suffix on a label boundary, another domain, a public suffix.
    for rp_id in [
        "gin.example.com",
        "example.org",
        "com",
        "other.login.example.com",
    ] {
        let err = load(&[issuer, ("AUTH_WEBAUTHN_RP_ID", rp_id)], None).unwrap_err();
        assert!(err.to_string().contains("AUTH_WEBAUTHN_RP_ID"), "{err}");
    }
}

#[test]
fn the_session_cookie_domain_is_the_issuers_host_or_a_parent_of_it() {
    assert_eq!(load(&[], None).unwrap().session_cookie_domain, None);
    let issuer = ("AUTH_ISSUER", "https://auth.Example.com");
    for (domain, expected) in [
        ("example.com", "example.com"),
        (".EXAMPLE.com", "example.com"),
    ] {
        let config = load(&[issuer, ("AUTH_SESSION_COOKIE_DOMAIN", domain)], None).unwrap();
        assert_eq!(config.session_cookie_domain.as_deref(), Some(expected));
        assert_eq!(config.redacted()["session_cookie_domain"], expected);
    }
    for domain in ["ample.com", "example.org", "com", "app.auth.example.com"] {
        let err = load(&[issuer, ("AUTH_SESSION_COOKIE_DOMAIN", domain)], None).unwrap_err();
        assert!(
            err.to_string().contains("AUTH_SESSION_COOKIE_DOMAIN"),
            "{err}"
        );
    }
}

#[test]
fn forward_auth_apps_are_hosts_with_an_optional_group_and_level() {
    let config = load(
        &[(
            "AUTH_FORWARD_AUTH_APPS",
            "App.example.com group=admins level=mfa, *.tools.example.com ,127.0.0.1:8080 level=phr",
        )],
        None,
    )
    .unwrap();
    let apps: Vec<(&str, Option<&str>, Option<Level>)> = config
        .forward_auth_apps
        .iter()
        .map(|a| (a.host.as_str(), a.group.as_deref(), a.level))
        .collect();
    assert_eq!(
        apps,
        [
            ("app.example.com", Some("admins"), Some(Level::Mfa)),
            ("*.tools.example.com", None, None),
            ("127.0.0.1:8080", None, Some(Level::PhishingResistant))
        ]
    );
    assert_eq!(
        config.redacted()["forward_auth_apps"],
        "app.example.com group=admins level=mfa,*.tools.example.com,127.0.0.1:8080 level=phr"
    );
    for bad in [
        "app.example.com mfa",
        "app.example.com level=pwd",
        "app.example.com level=urn:auth-service:acr:mfa",
        "https://app.example.com",
        "*.",
        "app.example.com group=",
    ] {
        let err = load(&[("AUTH_FORWARD_AUTH_APPS", bad)], None).unwrap_err();
        assert!(
            err.to_string().contains("AUTH_FORWARD_AUTH_APPS"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn redacted_view_hides_secrets() {
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let config = load(
        &[
            ("AUTH_MASTER_KEY", key),
            ("AUTH_STORE", "redis://app:s3cret-pw@127.0.0.1:6379/0"),
        ],
        None,
    )
    .unwrap();
    let shown = config.redacted().to_string();
    assert!(
        !shown.contains(key) && !shown.contains("s3cret-pw"),
        "{shown}"
    );
    assert_eq!(
        config.redacted()["store"],
        "redis://app:[REDACTED]@127.0.0.1:6379/0"
    );
    assert_eq!(config.redacted()["master_key"], "[REDACTED]");
    assert!(!format!("{config:?}").contains("s3cret-pw"));

    let sentinel = load(
        &[
            ("AUTH_MASTER_KEY", key),
            (
                "AUTH_STORE",
                "redis+sentinel://app:data-pw@10.0.0.1:26379,10.0.0.2:26379/auth/0",
            ),
            ("AUTH_REDIS_SENTINEL_USERNAME", "watcher"),
            ("AUTH_REDIS_SENTINEL_PASSWORD", "sentinel-pw"),
        ],
        None,
    )
    .unwrap();
    let shown = sentinel.redacted().to_string();
    assert!(
        !shown.contains("data-pw") && !shown.contains("sentinel-pw"),
        "{shown}"
    );
    assert_eq!(
        sentinel.redacted()["store"],
        "redis+sentinel://app:[REDACTED]@10.0.0.1:26379,10.0.0.2:26379/auth/0"
    );
    assert_eq!(sentinel.redacted()["redis_sentinel_username"], "watcher");
    assert_eq!(sentinel.redacted()["redis_sentinel_password"], "[REDACTED]");
    assert!(!format!("{sentinel:?}").contains("sentinel-pw"));

    let cluster = load(
        &[
            ("AUTH_MASTER_KEY", key),
            (
                "AUTH_STORE",
                "redis+cluster://app:data-pw@10.0.0.1:7000,10.0.0.2:7001",
            ),
        ],
        None,
    )
    .unwrap();
    assert_eq!(
        cluster.redacted()["store"],
        "redis+cluster://app:[REDACTED]@10.0.0.1:7000,10.0.0.2:7001"
    );
    // Seeds share one scheme: TLS is all or nothing.
    let mixed = load(
        &[
            ("AUTH_MASTER_KEY", key),
            (
                "AUTH_STORE",
                "redis+cluster://:pw@10.0.0.1:7000,rediss://10.0.0.2:7001",
            ),
        ],
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        mixed.contains("one scheme") && !mixed.contains("pw@"),
        "{mixed}"
    );
}

#[test]
fn rate_limits_proxies_and_lockout() {
    let config = load(&[], None).unwrap();
    let login = config.rate_limits.login.unwrap();
    assert_eq!((login.burst, login.interval_ms()), (30, 2_000));
    assert_eq!(config.lockout.threshold, 5);
    assert_eq!(
        (config.lockout.base_delay, config.lockout.max_delay),
        (60, 900)
    );
    assert!(config.trusted_proxies.is_empty());

    let file = "rate_limit_scim = \"off\"\ntrusted_proxies = \"10.0.0.0/8, 192.0.2.7\"\n";
    let config = load(
        &[
            ("AUTH_RATE_LIMIT_TOKEN", "100/1s"),
            ("AUTH_LOCKOUT_THRESHOLD", "3"),
        ],
        Some(file),
    )
    .unwrap();
    assert_eq!(config.rate_limits.scim, None);
    assert_eq!(config.rate_limits.token.unwrap().interval_ms(), 10);
    assert_eq!(config.trusted_proxies.len(), 2);
    assert_eq!(config.lockout.threshold, 3);
    assert_eq!(config.redacted()["rate_limit_scim"], "off");
    assert_eq!(config.redacted()["rate_limit_token"], "100/1s");

    for (vars, expected) in [
        (
            vec![("AUTH_RATE_LIMIT_LOGIN", "30")],
            "AUTH_RATE_LIMIT_LOGIN: invalid rate",
        ),
        (
            vec![("AUTH_RATE_LIMIT_LOGIN", "0/1m")],
            "AUTH_RATE_LIMIT_LOGIN: invalid rate",
        ),
        (
            vec![("AUTH_RATE_LIMIT_LOGIN", "5/0s")],
            "AUTH_RATE_LIMIT_LOGIN: invalid rate",
        ),
        (
            vec![("AUTH_TRUSTED_PROXIES", "lb.internal")],
            "AUTH_TRUSTED_PROXIES: \"lb.internal\"",
        ),
        (
            vec![("AUTH_LOCKOUT_THRESHOLD", "0")],
            "AUTH_LOCKOUT_THRESHOLD: must be",
        ),
        (
            vec![("AUTH_LOCKOUT_MAX_DELAY", "10s")],
            "AUTH_LOCKOUT_MAX_DELAY: must not be shorter",
        ),
    ] {
        let message = error(&vars);
        assert!(message.starts_with(expected), "{message}");
    }
}

/// The settings of the hardening review, with their documented defaults.
#[test]
fn hardening_settings_have_documented_defaults_and_clear_errors() {
    let config = load(&[], None).unwrap();
    assert_eq!(
        config.client_auth_failures,
        Some(Rate {
            burst: 20,
            period: Duration::from_secs(60)
        })
    );
    assert_eq!(config.ipv6_prefix, 64);
    assert_eq!(
        config.minted_token_max_ttl,
        Duration::from_secs(90 * 86_400)
    );
    assert!(!config.assertion_audience_token_endpoint);
    assert_eq!(
        config.http,
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: None,
        }
    );
    let config = load(
        &[
            ("AUTH_ASSERTION_AUDIENCE_TOKEN_ENDPOINT", "true"),
            ("AUTH_HTTP_MAX_CONNECTIONS", "500"),
            ("AUTH_IPV6_PREFIX", "56"),
            ("AUTH_RATE_LIMIT_CLIENT_AUTH_FAILURES", "off"),
        ],
        None,
    )
    .unwrap();
    assert!(config.assertion_audience_token_endpoint);
    assert_eq!(config.http.max_connections, Some(500));
    assert_eq!(config.ipv6_prefix, 56);
    assert_eq!(config.client_auth_failures, None);
    assert!(error(&[("AUTH_IPV6_PREFIX", "129")]).starts_with("AUTH_IPV6_PREFIX:"));
    assert!(error(&[("AUTH_HTTP_MAX_CONNECTIONS", "0")]).starts_with("AUTH_HTTP_MAX_CONNECTIONS:"));
    assert!(
        error(&[("AUTH_ASSERTION_AUDIENCE_TOKEN_ENDPOINT", "yes")])
            .contains("neither true nor false")
    );
}

#[test]
fn the_audit_trail_keeps_thirty_days_and_its_webhook_needs_a_secret() {
    let config = load(&[], None).unwrap();
    assert_eq!(config.audit_retention, Duration::from_secs(30 * 86_400));
    assert!(config.audit_webhook.is_none());
    let secret = "0123456789abcdef0123456789abcdef";
    let config = load(
        &[
            ("AUTH_AUDIT_RETENTION", "90d"),
            ("AUTH_AUDIT_WEBHOOK_URL", "https://siem.example/hook"),
            ("AUTH_AUDIT_WEBHOOK_SECRET", secret),
            ("AUTH_AUDIT_WEBHOOK_ALLOW", "10.0.0.0/8"),
        ],
        None,
    )
    .unwrap();
    assert_eq!(config.audit_retention, Duration::from_secs(90 * 86_400));
    let webhook = config.audit_webhook.as_ref().unwrap();
    assert_eq!(webhook.url, "https://siem.example/hook");
    assert_eq!(webhook.allow.len(), 1);
    let view = config.redacted().to_string();
    assert!(!view.contains(secret), "{view}");
    assert!(view.contains("https://siem.example/hook"), "{view}");
    for (vars, named) in [
        (vec![("AUTH_AUDIT_RETENTION", "0s")], "AUTH_AUDIT_RETENTION"),
        (
            vec![("AUTH_AUDIT_WEBHOOK_URL", "https://siem.example/hook")],
            "AUTH_AUDIT_WEBHOOK_SECRET",
        ),
        (
            vec![("AUTH_AUDIT_WEBHOOK_SECRET", secret)],
            "AUTH_AUDIT_WEBHOOK_URL",
        ),
        (
            vec![
                ("AUTH_AUDIT_WEBHOOK_URL", "https://siem.example/hook"),
                ("AUTH_AUDIT_WEBHOOK_SECRET", "short"),
            ],
            "AUTH_AUDIT_WEBHOOK_SECRET",
        ),
        (
            vec![
                ("AUTH_AUDIT_WEBHOOK_URL", "ftp://siem.example/hook"),
                ("AUTH_AUDIT_WEBHOOK_SECRET", secret),
            ],
            "AUTH_AUDIT_WEBHOOK_URL",
        ),
    ] {
        let err = error(&vars);
        assert!(err.contains(named), "{vars:?}: {err}");
        assert!(!err.contains(secret), "{err}");
    }
}
