//! The device authorization grant (RFC 8628) end to end: a device asks
//! for codes, a browser enters the user code at the verification page,
//! signs in through the login form and decides, and the device's polls
//! hear each answer of §3.5. Also the bounds on guessing user codes
//! (§5.1; docs/security.md 32) and the steps MFA adds.
//!
//! The store's side (slow_down growing the interval, expiry, single use)
//! is the conformance suite's (`store::conformance::devices`), on every
//! backend; here it is seen through HTTP.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::client;
use crate::oidc::{Browser, PASSWORD, Provider, hidden, location};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// A poll may come this long after the previous one (`interval`, 5 s).
const INTERVAL: Duration = Duration::from_millis(5_200);

/// Registers a public device client with `extra` options; its id.
fn device_client(p: &Provider, extra: &[&str]) -> String {
    let mut args = vec![
        "client",
        "create",
        "--name",
        "Living-room TV",
        "--public",
        "--grant-type",
        GRANT,
        "--grant-type",
        "refresh_token",
        "--scope",
        "openid profile offline_access",
    ];
    args.extend_from_slice(extra);
    p.cli(&args)["client_id"].as_str().unwrap().to_owned()
}

async fn start(p: &Provider, client_id: &str, scope: &str) -> reqwest::Response {
    client()
        .post(format!("{}/device_authorization", p.base))
        .form(&[("client_id", client_id), ("scope", scope)])
        .send()
        .await
        .unwrap()
}

async fn started(p: &Provider, client_id: &str) -> Value {
    let response = start(p, client_id, "openid profile offline_access").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

/// One poll (§3.4): the status and the body.
async fn poll(p: &Provider, client_id: &str, device_code: &str) -> (StatusCode, Value) {
    let response = client()
        .post(format!("{}/token", p.base))
        .form(&[
            ("grant_type", GRANT),
            ("device_code", device_code),
            ("client_id", client_id),
        ])
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn poll_error(p: &Provider, client_id: &str, device_code: &str) -> String {
    let (status, body) = poll(p, client_id, device_code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    body["error"].as_str().unwrap().to_owned()
}

/// The verification page's path and query in our test server, from the
/// issuer's URL the device was given.
fn on_server(p: &Provider, uri: &str) -> String {
    let path = uri.strip_prefix(crate::helpers::ISSUER).unwrap();
    format!("{}{path}", p.base)
}

/// Opens `verification_uri_complete` and submits its form: where it goes.
async fn enter_code(p: &Provider, browser: &mut Browser, complete: &str) -> reqwest::Response {
    let html = browser
        .get(&on_server(p, complete))
        .await
        .text()
        .await
        .unwrap();
    let code = hidden_value(&html, "user_code");
    let csrf = hidden(&html, "csrf_token");
    browser
        .post(
            &format!("{}/device", p.base),
            &[("csrf_token", csrf.as_str()), ("user_code", code.as_str())],
        )
        .await
}

/// The `value` of the input named `name` (a text field, not only hidden).
fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// From the verification page to the decision page, through the login
/// form; the decision page's HTML.
async fn sign_in_to_decide(p: &Provider, browser: &mut Browser, complete: &str) -> String {
    let to_login = location(&enter_code(p, browser, complete).await);
    assert!(to_login.starts_with("/login?authz="), "{to_login}");
    let login = browser
        .get(&format!("{}{to_login}", p.base))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        login.contains("Sign in to continue to Living-room TV"),
        "{login}"
    );
    let to_confirm = location(
        &browser
            .fill(
                &p.base,
                &to_login,
                "/login",
                &[("username", "bjensen"), ("password", PASSWORD)],
            )
            .await,
    );
    assert!(
        to_confirm.starts_with("/device/confirm?authz="),
        "{to_confirm}"
    );
    let page = browser.get(&format!("{}{to_confirm}", p.base)).await;
    assert_eq!(page.status(), StatusCode::OK);
    page.text().await.unwrap()
}

async fn decide(p: &Provider, browser: &mut Browser, page: &str, decision: &str) -> String {
    let form = [
        ("authz", hidden(page, "authz")),
        ("csrf_token", hidden(page, "csrf_token")),
        ("decision", decision.to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = browser
        .post(&format!("{}/device/confirm", p.base), &form)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

/// RFC 8628 §3.2–3.5: the codes, the verification page through the login
/// form, one approval and one denial, and every answer a poll can get.
#[tokio::test]
async fn a_device_is_approved_or_denied_through_the_login_form() {
    let p = Provider::start().await;
    let tv = device_client(&p, &[]);
    let approved = started(&p, &tv).await;
    let user_code = approved["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9, "{approved}");
    assert!(
        user_code.chars().enumerate().all(|(i, c)| if i == 4 {
            c == '-'
        } else {
            "BCDFGHJKLMNPQRSTVWXZ".contains(c)
        }),
        "{user_code}"
    );
    assert_eq!(
        approved["verification_uri"],
        "https://auth.example.test/device"
    );
    assert_eq!(
        approved["verification_uri_complete"],
        format!("https://auth.example.test/device?user_code={user_code}")
    );
    assert_eq!(approved["expires_in"], 600);
    assert_eq!(approved["interval"], 5);
    let device_code = approved["device_code"].as_str().unwrap();
    assert!(device_code.len() >= 43, "256 bits: {device_code}");
    let denied = started(&p, &tv).await;
    let denied_code = denied["device_code"].as_str().unwrap();

    assert_eq!(
        poll_error(&p, &tv, device_code).await,
        "authorization_pending"
    );
    assert_eq!(
        poll_error(&p, &tv, denied_code).await,
        "authorization_pending"
    );
    // Polling too often is slow_down, and the interval grows each time
    // (§3.5): 5 s more per early poll.
    let eager = started(&p, &tv).await;
    let eager_code = eager["device_code"].as_str().unwrap();
    assert_eq!(
        poll_error(&p, &tv, eager_code).await,
        "authorization_pending"
    );
    for interval in [10, 15] {
        let (status, body) = poll(&p, &tv, eager_code).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "slow_down");
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.contains(&format!("{interval} s")),
            "{description}"
        );
    }

    let mut browser = Browser::new();
    let complete = approved["verification_uri_complete"].as_str().unwrap();
    let page = sign_in_to_decide(&p, &mut browser, complete).await;
    assert!(page.contains("Living-room TV wants to access your account"));
    assert!(page.contains("<li>profile</li>") && page.contains("<li>offline_access</li>"));
    assert!(page.contains("action=\"/device/confirm\""));
    assert!(page.contains("started this on your own device"), "§5.4");
    let done = decide(&p, &mut browser, &page, "allow").await;
    assert!(done.contains("Device connected"), "{done}");
    let event = p
        .server
        .security_event("device_authorization_decided")
        .await;
    assert_eq!(event["decision"], "approved");
    assert_eq!(event["client_id"], tv.as_str());

    // A user code is single-use: entered again, it matches nothing.
    let again = enter_code(&p, &mut browser, complete).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(again.text().await.unwrap().contains("has been used"));

    // The browser is signed in now: the second code goes straight to the
    // decision.
    let to_confirm = location(
        &enter_code(
            &p,
            &mut browser,
            denied["verification_uri_complete"].as_str().unwrap(),
        )
        .await,
    );
    assert!(
        to_confirm.starts_with("/device/confirm?authz="),
        "{to_confirm}"
    );
    let page = browser
        .get(&format!("{}{to_confirm}", p.base))
        .await
        .text()
        .await
        .unwrap();
    let done = decide(&p, &mut browser, &page, "deny").await;
    assert!(done.contains("Access denied"), "{done}");

    tokio::time::sleep(INTERVAL).await;
    let (status, tokens) = poll(&p, &tv, device_code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["access_token"].is_string() && tokens["refresh_token"].is_string());
    let claims = crate::mfa::payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], p.user_id.as_str());
    assert_eq!(claims["aud"], tv.as_str());
    assert!(claims.get("nonce").is_none());
    let introspected = p.introspect(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["sub"], p.user_id.as_str());
    assert_eq!(poll_error(&p, &tv, denied_code).await, "access_denied");
    assert!(claims.get("sid").is_none(), "no browser session: {claims}");

    // Signing out of the browser that approved leaves the device signed in.
    let html = browser
        .get(&format!("{}/logout", p.base))
        .await
        .text()
        .await
        .unwrap();
    let form = [
        ("logout", hidden(&html, "logout")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("confirm", "yes".to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let signed_out = browser.post(&format!("{}/logout", p.base), &form).await;
    assert!(signed_out.text().await.unwrap().contains("signed out"));
    let refreshed = client()
        .post(format!("{}/token", p.base))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", tv.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);

    // Another client holding the code finds nothing; so does a made-up one.
    let other = device_client(&p, &[]);
    assert_eq!(poll_error(&p, &other, device_code).await, "expired_token");
    assert_eq!(
        poll_error(&p, &tv, "not-a-device-code").await,
        "expired_token"
    );

    // Single use: a later poll with the spent code issues nothing.
    tokio::time::sleep(INTERVAL).await;
    let (status, body) = poll(&p, &tv, device_code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
}

/// §3.1–3.2: a client must be registered for the grant, and may ask only
/// for its registered scope; the device hears it before any user is
/// involved.
#[tokio::test]
async fn the_device_endpoint_checks_the_client_and_the_scope() {
    let p = Provider::start().await;
    let response = client()
        .post(format!("{}/device_authorization", p.base))
        .basic_auth(&p.client_id, Some(&p.client_secret))
        .form(&[("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client", "{body}");

    let tv = device_client(&p, &[]);
    let response = start(&p, &tv, "openid admin").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_scope", "{body}");

    let response = client()
        .post(format!("{}/device_authorization", p.base))
        .form(&[("client_id", "no-such-client")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // A confidential device client authenticates (§3.1).
    let created = p.cli(&[
        "client",
        "create",
        "--name",
        "Kiosk",
        "--grant-type",
        GRANT,
        "--scope",
        "openid",
    ]);
    let (id, secret) = (
        created["client_id"].as_str().unwrap(),
        created["client_secret"].as_str().unwrap(),
    );
    let refused = client()
        .post(format!("{}/device_authorization", p.base))
        .basic_auth(id, Some("wrong"))
        .form(&[("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::UNAUTHORIZED,
        "{}",
        refused.text().await.unwrap()
    );
    let accepted = client()
        .post(format!("{}/device_authorization", p.base))
        .basic_auth(id, Some(secret))
        .form(&[("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::OK);
    let body: Value = accepted.json().await.unwrap();
    assert!(body["user_code"].is_string());
}

/// A code form posted by the address `ip` (through the trusted proxy).
async fn guess(p: &Provider, browser: &mut Browser, ip: &str, code: &str) -> StatusCode {
    let html = browser
        .get(&format!("{}/device", p.base))
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf_token");
    reqwest::Client::new()
        .post(format!("{}/device", p.base))
        .header("cookie", browser.cookie_header())
        .header("x-forwarded-for", ip)
        .form(&[("csrf_token", csrf.as_str()), ("user_code", code)])
        .send()
        .await
        .unwrap()
        .status()
}

/// RFC 8628 §5.1: user-code guesses are limited per address and across
/// all of them (docs/security.md 32); the page says so in its own words.
#[tokio::test]
async fn user_code_guessing_is_bounded_per_address_and_globally() {
    let p = Provider::start_with(&[
        ("AUTH_TRUSTED_PROXIES", "127.0.0.1"),
        ("AUTH_RATE_LIMIT_USER_CODE", "3/1m"),
        ("AUTH_RATE_LIMIT_USER_CODE_GLOBAL", "8/1m"),
    ])
    .await;
    let mut browser = Browser::new();
    for _ in 0..3 {
        assert_eq!(
            guess(&p, &mut browser, "203.0.113.1", "BCDF-GHJK").await,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        guess(&p, &mut browser, "203.0.113.1", "BCDF-GHJK").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the address's budget is spent"
    );
    let refused = p.server.security_event("device_user_code_refused").await;
    assert_eq!(refused["outcome"], "failure");
    // Other addresses have their own budgets, but all share the global one:
    // three guessed already, five more fit.
    let mut statuses = Vec::new();
    for i in 2..=7 {
        statuses.push(guess(&p, &mut browser, &format!("203.0.113.{i}"), "BCDF-GHJK").await);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
            StatusCode::TOO_MANY_REQUESTS,
        ]
    );
    let limited = p
        .server
        .log_lines(
            |l| l["event"] == "rate_limited" && l["scope"] == "user_code_global",
            1,
        )
        .await;
    assert_eq!(limited[0]["category"], "security");
}

/// A client that requires MFA (docs/security.md 31): the user is taken to
/// the second-factor pages before deciding, and the decision page cannot
/// be reached around them.
#[tokio::test]
async fn a_client_requiring_mfa_steps_the_user_up_before_the_decision() {
    let p = Provider::start().await;
    let tv = device_client(&p, &["--require-mfa"]);
    let started = started(&p, &tv).await;
    let mut browser = Browser::new();
    let complete = started["verification_uri_complete"].as_str().unwrap();
    let to_login = location(&enter_code(&p, &mut browser, complete).await);
    let to_factor = location(
        &browser
            .fill(
                &p.base,
                &to_login,
                "/login",
                &[("username", "bjensen"), ("password", PASSWORD)],
            )
            .await,
    );
    assert!(to_factor.starts_with("/login/factor?authz="), "{to_factor}");
    // The same transaction at the decision page goes back to the factor.
    let authz = to_factor.split_once('?').unwrap().1;
    let around = browser
        .get(&format!("{}/device/confirm?{authz}", p.base))
        .await;
    assert!(location(&around).starts_with("/login/factor?authz="));
    assert_eq!(
        poll_error(&p, &tv, started["device_code"].as_str().unwrap()).await,
        "authorization_pending"
    );
}

/// The issue's client that is not ours: scripts/device_flow.py, `requests`
/// and the standard library only, plays the device and the browser
/// (reading our pages as HTML forms) from discovery to userinfo.
#[tokio::test]
async fn a_client_that_is_not_ours_drives_the_device_flow() {
    let p = Provider::start_with(&[("AUTH_ISSUER", "self")]).await;
    let created = p.cli(&[
        "client",
        "create",
        "--name",
        "Living-room TV",
        "--public",
        "--grant-type",
        GRANT,
        "--scope",
        "openid profile",
    ]);
    crate::ops_kit::run_client_script(
        "device_flow.py",
        vec![
            p.base.clone(),
            created["client_id"].as_str().unwrap().to_owned(),
            "bjensen".to_owned(),
            PASSWORD.to_owned(),
        ],
        "device flow: ok",
    )
    .await;
}

/// docs/security.md 15: the code form changes state only with the
/// browser's CSRF token; without it nothing is looked up.
#[tokio::test]
async fn the_code_form_needs_its_csrf_token() {
    let p = Provider::start().await;
    let tv = device_client(&p, &[]);
    let started = started(&p, &tv).await;
    let user_code = started["user_code"].as_str().unwrap();
    let mut browser = Browser::new();
    browser.get(&format!("{}/device", p.base)).await;
    for csrf in ["", "forged"] {
        let refused = browser
            .post(
                &format!("{}/device", p.base),
                &[("csrf_token", csrf), ("user_code", user_code)],
            )
            .await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }
    // The code was not spent or touched: entered properly, it goes on.
    let complete = started["verification_uri_complete"].as_str().unwrap();
    let to_login = location(&enter_code(&p, &mut browser, complete).await);
    assert!(to_login.starts_with("/login?authz="), "{to_login}");
}
