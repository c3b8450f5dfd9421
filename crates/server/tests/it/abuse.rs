//! Abuse protection: rate limits per client IP and per client, the
//! per-account login back-off (shared by replicas), the security event
//! trail, and the promise that no secret of a whole run reaches the logs.

use std::collections::HashMap;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER};
use serde_json::{Value, json};

use crate::helpers::{MASTER_KEY, Server, client};
use crate::oidc::{Browser, PASSWORD, Provider, error_of, hidden, location, query};

/// One login attempt through the real pages: /authorize, the login form,
/// the form post. `forwarded_for` is sent as `X-Forwarded-For` on the post.
async fn attempt(
    p: &Provider,
    base: &str,
    browser: &mut Browser,
    username: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let url = p.authorize_url(&[]).replace(&p.base, base);
    let to_login = location(&browser.get(&url).await);
    assert!(to_login.starts_with("/login"), "{to_login}");
    let html = browser
        .get(&format!("{base}{to_login}"))
        .await
        .text()
        .await
        .unwrap();
    let form = [
        ("authz", hidden(&html, "authz")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("username", username.to_owned()),
        ("password", password.to_owned()),
    ];
    let mut request = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{base}/login"))
        .header("cookie", browser.cookie_header())
        .form(&form);
    if let Some(ip) = forwarded_for {
        request = request.header("x-forwarded-for", ip);
    }
    request.send().await.unwrap()
}

async fn cc_token(base: &str, id: &str, secret: &str) -> reqwest::Response {
    client()
        .post(format!("{base}/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

/// The page text without the per-request hidden values.
/// A page without what differs per response: hidden fields (the sealed
/// request, the CSRF token) and the script's nonce.
async fn page_text(response: reqwest::Response) -> String {
    let html = response.text().await.unwrap();
    html.lines()
        .filter(|l| !l.contains("type=\"hidden\""))
        .map(|l| match l.split_once("<script nonce=\"") {
            Some((before, rest)) => {
                format!("{before}<script{}", &rest[rest.find('"').unwrap() + 1..])
            }
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn metrics(base: &str) -> String {
    client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of one metric line, 0 when absent.
fn metric(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[tokio::test]
async fn rate_limits_answer_429_in_each_routes_vocabulary() {
    let p = Provider::start_with(&[
        ("AUTH_RATE_LIMIT_LOGIN", "3/1m"),
        ("AUTH_RATE_LIMIT_TOKEN_CLIENT", "2/1m"),
        ("AUTH_RATE_LIMIT_SCIM", "2/1m"),
        // Loopback is the load balancer here.
        ("AUTH_TRUSTED_PROXIES", "127.0.0.0/8, ::1"),
    ])
    .await;
    // Login posts per client IP, the IP taken from X-Forwarded-For.
    for _ in 0..3 {
        let mut browser = Browser::new();
        let answer = attempt(
            &p,
            &p.base,
            &mut browser,
            "bjensen",
            "wrong",
            Some("198.51.100.1"),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    }
    let mut browser = Browser::new();
    let limited = attempt(
        &p,
        &p.base,
        &mut browser,
        "bjensen",
        "wrong",
        Some("198.51.100.1"),
    )
    .await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(limited.text().await.unwrap().contains("Too many attempts"));
    // Another client address has its own budget.
    let mut browser = Browser::new();
    let other = attempt(
        &p,
        &p.base,
        &mut browser,
        "bjensen",
        "wrong",
        Some("198.51.100.2"),
    )
    .await;
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);

    // The token endpoint, per client: an OAuth error.
    let cc = p.client("scim:read");
    let (id, secret) = (cc.id.as_str(), cc.secret.as_str());
    let first: Value = cc_token(&p.base, id, secret).await.json().await.unwrap();
    let access = first["access_token"].as_str().unwrap().to_owned();
    assert_eq!(cc_token(&p.base, id, secret).await.status(), StatusCode::OK);
    let refused = cc_token(&p.base, id, secret).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key(RETRY_AFTER));
    assert_eq!(refused.headers()["cache-control"], "no-store");
    assert_eq!(error_of(refused).await, "temporarily_unavailable");

    // SCIM, per client IP: a SCIM error.
    let scim = || {
        client()
            .get(format!("{}/scim/v2/Users", p.base))
            .bearer_auth(&access)
            .send()
    };
    assert_eq!(scim().await.unwrap().status(), StatusCode::OK);
    assert_eq!(scim().await.unwrap().status(), StatusCode::OK);
    let refused = scim().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()[CONTENT_TYPE], "application/scim+json");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["status"], "429");

    let text = metrics(&p.base).await;
    for scope in ["login", "token_client", "scim"] {
        assert_eq!(
            metric(
                &text,
                &format!("auth_rate_limited_total{{scope=\"{scope}\"}}")
            ),
            1,
            "{scope}"
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let limited: Vec<Value> = p
        .server
        .json_logs()
        .into_iter()
        .filter(|l| l["event"] == "rate_limited")
        .collect();
    assert_eq!(limited.len(), 3);
    assert!(
        limited
            .iter()
            .all(|l| l["category"] == "security" && l["outcome"] == "failure")
    );
    assert!(limited.iter().any(|l| l["ip"] == "198.51.100.1"));
}

#[tokio::test]
async fn failed_logins_back_off_and_a_locked_account_answers_like_a_wrong_password() {
    let p = Provider::start_with(&[("AUTH_LOCKOUT_THRESHOLD", "3")]).await;
    let mut wrong_pages = Vec::new();
    for _ in 0..3 {
        let mut browser = Browser::new();
        let answer = attempt(
            &p,
            &p.base,
            &mut browser,
            "bjensen",
            "not the password",
            None,
        )
        .await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        wrong_pages.push(page_text(answer).await);
    }
    // Locked: even the right password gets the wrong-password answer.
    let mut browser = Browser::new();
    let locked = attempt(&p, &p.base, &mut browser, "bjensen", PASSWORD, None).await;
    assert_eq!(locked.status(), StatusCode::UNAUTHORIZED);
    assert!(locked.headers().get(LOCATION).is_none());
    assert_eq!(page_text(locked).await, wrong_pages[0]);

    let shown = p.cli(&["user", "get", &p.user_id]);
    assert_eq!(shown["login"]["locked"], true, "{shown}");
    assert_eq!(shown["login"]["failed_logins"], 3);

    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let logs = p.server.json_logs();
    let failure = logs
        .iter()
        .find(|l| l["event"] == "authentication_failure")
        .unwrap();
    for field in ["category", "ip", "client_id", "user_id", "outcome"] {
        assert!(
            failure.get(field).is_some_and(|v| v != ""),
            "{field} in {failure}"
        );
    }
    assert_eq!(failure["user_id"], p.user_id.as_str());
    let locks: Vec<&Value> = logs
        .iter()
        .filter(|l| l["event"] == "account_locked")
        .collect();
    assert_eq!(locks.len(), 2, "the lock, then the refused attempt");
    assert!(
        locks
            .iter()
            .all(|l| l["category"] == "security" && l["user_id"] == p.user_id.as_str())
    );
    let text = metrics(&p.base).await;
    assert_eq!(metric(&text, "auth_lockouts_total"), 1);
    assert_eq!(
        metric(
            &text,
            "auth_login_attempts_total{outcome=\"failure\",reason=\"locked\"}"
        ),
        1
    );

    // An administrator lifts the lock; the right password works and resets.
    let unlocked = p.cli(&["user", "unlock", &p.user_id]);
    assert_eq!(unlocked["unlocked"], true);
    let mut browser = Browser::new();
    let ok = attempt(&p, &p.base, &mut browser, "bjensen", PASSWORD, None).await;
    assert!(location(&ok).starts_with("/consent"), "{:?}", ok.status());
    assert_eq!(
        p.cli(&["user", "get", &p.user_id])["login"]["failed_logins"],
        0
    );
}

/// docs/security.md 14: 50 parallel wrong guesses across two replicas get
/// exactly the threshold of password checks.
#[tokio::test]
async fn parallel_guesses_on_two_replicas_get_only_the_threshold_of_checks() {
    let redis = store_redis::testing::TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
    let env = [
        ("AUTH_STORE", redis.url.as_str()),
        ("AUTH_RATE_LIMIT_LOGIN", "off"),
        ("AUTH_LOCKOUT_THRESHOLD", "5"),
    ];
    let p = Provider::start_with(&env).await;
    let mut second = Server::start(&[
        ("AUTH_MASTER_KEY", MASTER_KEY),
        ("AUTH_ISSUER", "https://auth.example.test"),
        ("AUTH_STORE", redis.url.as_str()),
        ("AUTH_RATE_LIMIT_LOGIN", "off"),
        ("AUTH_LOCKOUT_THRESHOLD", "5"),
    ]);
    second.wait_live().await;
    let bases = [p.base.clone(), second.base.clone()];

    // Prepare 50 login forms, half on each replica, then post them at once.
    let mut prepared = Vec::new();
    for n in 0..50 {
        let base = bases[n % 2].clone();
        let mut browser = Browser::new();
        let url = p.authorize_url(&[]).replace(&p.base, &base);
        let to_login = location(&browser.get(&url).await);
        let html = browser
            .get(&format!("{base}{to_login}"))
            .await
            .text()
            .await
            .unwrap();
        let form: HashMap<&str, String> = HashMap::from([
            ("authz", hidden(&html, "authz")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("username", "bjensen".to_owned()),
            ("password", format!("guess-{n}")),
        ]);
        prepared.push((base, browser.cookie_header(), form));
    }
    let tasks: Vec<_> = prepared
        .into_iter()
        .map(|(base, cookies, form)| {
            tokio::spawn(async move {
                client()
                    .post(format!("{base}/login"))
                    .header("cookie", cookies)
                    .form(&form)
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
    let mut checked = 0;
    let mut locked = 0;
    for base in &bases {
        let text = metrics(base).await;
        checked += metric(
            &text,
            "auth_login_attempts_total{outcome=\"failure\",reason=\"invalid_credentials\"}",
        );
        locked += metric(
            &text,
            "auth_login_attempts_total{outcome=\"failure\",reason=\"locked\"}",
        );
    }
    assert_eq!(checked, 5, "password checks");
    assert_eq!(locked, 45, "refused without a check");
}

/// docs/security.md 18 and 31: a whole run (code flow, refresh, client
/// credentials, introspection, revocation, SCIM with a password, a TOTP
/// enrolment and its recovery codes, a passkey registered and used, a
/// failed login and a lockout) at trace level, and not one of its secrets
/// in the logs.
#[tokio::test]
async fn no_secret_of_a_whole_run_reaches_the_logs() {
    let p =
        Provider::start_with(&[("AUTH_LOCKOUT_THRESHOLD", "2"), ("AUTH_LOG_LEVEL", "trace")]).await;
    let mut secrets: Vec<String> = vec![PASSWORD.to_owned(), p.client_secret.clone()];

    let mut browser = Browser::new();
    let callback = p.sign_in(&mut browser, &[]).await;
    let code = query(&callback)["code"].clone();
    secrets.push(code.clone());
    secrets.extend(browser.cookies.values().cloned());
    let tokens: Value = p.exchange(&code).await.json().await.unwrap();
    for name in ["access_token", "refresh_token", "id_token"] {
        secrets.push(tokens[name].as_str().unwrap().to_owned());
    }
    let refreshed: Value = p
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .await
        .json()
        .await
        .unwrap();
    secrets.push(refreshed["access_token"].as_str().unwrap().to_owned());
    secrets.push(refreshed["refresh_token"].as_str().unwrap().to_owned());
    assert_eq!(
        p.introspect(refreshed["access_token"].as_str().unwrap())
            .await["active"],
        true
    );
    let revoked = client()
        .post(format!("{}/revoke", p.base))
        .basic_auth(&p.client_id, Some(&p.client_secret))
        .form(&[("token", refreshed["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);

    // Second factors: the TOTP key, its codes and the recovery codes; a
    // passkey's ceremonies (challenge ids, challenges, signed responses).
    let (key, confirming, recovery) = crate::mfa::enrol_on_account_page(&p, &mut browser).await;
    secrets.extend([key.clone(), confirming]);
    secrets.extend(
        recovery
            .iter()
            .flat_map(|c| [c.clone(), c.replace('-', "")]),
    );
    let mut authenticator = crate::soft_authenticator::Authenticator::new();
    let answer = crate::soft_authenticator::Answer::default();
    let (status, _) = crate::passkey::register(&p, &mut browser, &mut authenticator, &answer).await;
    assert_eq!(status, StatusCode::OK);
    let mut other = Browser::new();
    let (html, offer) = crate::passkey::passwordless_offer(&p, &mut other).await;
    let credential = authenticator.assert(&offer["publicKey"], &answer);
    let signed_in =
        crate::passkey::post_passwordless(&p, &mut other, (&html, &offer), &credential).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    secrets.push(offer["challenge_id"].as_str().unwrap().to_owned());
    secrets.push(offer["publicKey"]["challenge"].as_str().unwrap().to_owned());
    for part in ["signature", "clientDataJSON", "authenticatorData"] {
        secrets.push(credential["response"][part].as_str().unwrap().to_owned());
    }
    secrets.extend(other.cookies.values().cloned());

    let env = p.cli_env();
    let (idp_id, idp_secret) = crate::helpers::service_client(&env, "scim:write");
    secrets.push(idp_secret.clone());
    let scim_token = crate::helpers::service_token(&p.base, (&idp_id, &idp_secret)).await;
    secrets.push(scim_token.clone());
    let scim_password = "scim-Pa55word-nobody-may-see";
    secrets.push(scim_password.to_owned());
    let created = client()
        .post(format!("{}/scim/v2/Users", p.base))
        .bearer_auth(&scim_token)
        .json(&json!({"userName": "leaky", "password": scim_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    let wrong = "a-wrong-password-to-hide";
    secrets.push(wrong.to_owned());
    for _ in 0..3 {
        let mut browser = Browser::new();
        attempt(&p, &p.base, &mut browser, "leaky", wrong, None).await;
        secrets.extend(browser.cookies.values().cloned());
    }

    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let logs = p.server.logs();
    assert!(
        logs.iter().any(|l| l.contains("account_locked")),
        "the run locked an account"
    );
    for line in &logs {
        for secret in &secrets {
            assert!(
                !line.contains(secret.as_str()),
                "a secret in the logs: {line}"
            );
        }
    }
}
