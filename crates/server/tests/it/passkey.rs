//! Passkeys through the real endpoints without a browser (docs/security.md
//! 31), with the software authenticator of `it/soft_authenticator.rs`
//! answering the server's options rightly and wrongly. The real browser
//! is `it/browser.rs`'s.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::ISSUER;
use crate::oidc::{Browser, PASSWORD, Provider, hidden, location, query};
use crate::soft_authenticator::{Answer, Authenticator, BE, BS, ORIGIN, UP, UV, b64};

fn form<'a>(fields: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

/// Adds a passkey to the signed-in browser's account through
/// `/account/passkey`; returns the page that answered.
pub async fn register(
    p: &Provider,
    browser: &mut Browser,
    authenticator: &mut Authenticator,
    answer: &Answer,
) -> (StatusCode, String) {
    let page = browser.get(&format!("{}/account/passkey", p.base)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(
        html.contains(&format!("<script nonce=\"{nonce}\">")),
        "{html}"
    );
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    let csrf = hidden(&html, "csrf_token");
    let offer = json_of(
        browser
            .post(
                &format!("{}/account/passkey/options", p.base),
                &[("csrf_token", &csrf)],
            )
            .await,
    )
    .await;
    let options = &offer["publicKey"];
    assert_eq!(options["rp"]["id"], "auth.example.test");
    assert_eq!(options["attestation"], "none");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    let credential = authenticator.register(options, answer);
    let fields = [
        ("csrf_token", csrf),
        (
            "challenge_id",
            offer["challenge_id"].as_str().unwrap().to_owned(),
        ),
        ("credential", credential.to_string()),
        ("name", "Laptop".to_owned()),
    ];
    let response = browser
        .post(&format!("{}/account/passkey", p.base), &form(&fields))
        .await;
    (response.status(), response.text().await.unwrap())
}

/// The login page of a fresh authorization request and its passkey options.
pub async fn passwordless_offer(p: &Provider, browser: &mut Browser) -> (String, Value) {
    let to_login = location(&browser.get(&p.authorize_url(&[])).await);
    let html = browser
        .get(&format!("{}{to_login}", p.base))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Sign in with a passkey"), "{html}");
    assert!(
        html.contains("autocomplete=\"username webauthn\""),
        "{html}"
    );
    let fields = [
        ("authz", hidden(&html, "authz")),
        ("csrf_token", hidden(&html, "csrf_token")),
    ];
    let offer = json_of(
        browser
            .post(&format!("{}/login/passkey/options", p.base), &form(&fields))
            .await,
    )
    .await;
    assert_eq!(offer["mediation"], "conditional");
    assert_eq!(offer["publicKey"]["userVerification"], "required");
    (html, offer)
}

pub async fn post_passwordless(
    p: &Provider,
    browser: &mut Browser,
    (html, offer): (&str, &Value),
    credential: &Value,
) -> reqwest::Response {
    let fields = [
        ("authz", hidden(html, "authz")),
        ("csrf_token", hidden(html, "csrf_token")),
        (
            "challenge_id",
            offer["challenge_id"].as_str().unwrap().to_owned(),
        ),
        ("credential", credential.to_string()),
    ];
    browser
        .post(&format!("{}/login/passkey", p.base), &form(&fields))
        .await
}

/// The passkey on a factor page (`page`; its `pending` sign-in, or none
/// for a step up): the options, the assertion, the post. Returns the
/// answer and the credential sent.
async fn passkey_factor_step(
    p: &Provider,
    browser: &mut Browser,
    page: &str,
    authenticator: &mut Authenticator,
) -> (reqwest::Response, Value) {
    assert!(page.contains("Use a passkey"), "{page}");
    let mut fields = vec![
        ("authz", hidden(page, "authz")),
        ("csrf_token", hidden(page, "csrf_token")),
        ("pending", hidden(page, "pending")),
    ];
    let offer = json_of(
        browser
            .post(
                &format!("{}/login/factor/passkey/options", p.base),
                &form(&fields),
            )
            .await,
    )
    .await;
    let allowed = &offer["publicKey"]["allowCredentials"];
    assert_eq!(
        allowed[0]["id"],
        b64(&authenticator.credential_id),
        "{offer}"
    );
    let credential = authenticator.assert(&offer["publicKey"], &Answer::default());
    fields.push((
        "challenge_id",
        offer["challenge_id"].as_str().unwrap().to_owned(),
    ));
    fields.push(("credential", credential.to_string()));
    let answer = browser
        .post(&format!("{}/login/factor/passkey", p.base), &form(&fields))
        .await;
    (answer, credential)
}

/// Consents if asked; the ID token's claims of the code at the callback.
async fn id_token_claims(p: &Provider, browser: &mut Browser, to: &str) -> Value {
    let code = crate::mfa::consent_to_code(p, browser, to).await;
    let tokens: Value = p.exchange(&code).await.json().await.unwrap();
    crate::mfa::payload(tokens["id_token"].as_str().unwrap())
}

/// A signed-in browser with a passkey on its account.
async fn with_passkey(p: &Provider) -> (Browser, Authenticator) {
    let mut browser = Browser::new();
    p.sign_in(&mut browser, &[]).await;
    let mut authenticator = Authenticator::new();
    let (status, html) = register(p, &mut browser, &mut authenticator, &Answer::default()).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(
        html.matches("<li><code>").count(),
        10,
        "first recovery codes: {html}"
    );
    (browser, authenticator)
}

#[tokio::test]
async fn a_passkey_signs_in_without_a_password_and_after_one() {
    assert_eq!(ORIGIN, ISSUER, "answers come from the issuer's origin");
    let p = Provider::start().await;
    let (mut browser, mut authenticator) = with_passkey(&p).await;
    let enrolled = p.server.security_event("mfa_enrolled").await;
    assert_eq!(enrolled["method"], "passkey");
    let account = browser
        .get(&format!("{}/account", p.base))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        account.contains("Laptop") && account.contains("(passkey)"),
        "{account}"
    );

    // Passwordless: the phishing-resistant level, and the RFC 8176 methods
    // of a verified hardware key.
    let mut other = Browser::new();
    let (html, offer) = passwordless_offer(&p, &mut other).await;
    let credential = authenticator.assert(&offer["publicKey"], &Answer::default());
    let signed_in = post_passwordless(&p, &mut other, (&html, &offer), &credential).await;
    let to = location(&signed_in);
    let claims = id_token_claims(&p, &mut other, &to).await;
    assert_eq!(claims["acr"], "phr");
    assert_eq!(claims["amr"], json!(["hwk", "user", "mfa"]));
    let event = p.server.security_event("authentication_success").await;
    assert!(
        p.server
            .json_logs()
            .iter()
            .any(|l| l["event"] == "authentication_success" && l["method"] == "passkey"),
        "{event}"
    );

    // The same response again: its challenge was taken (§13.4.3).
    let mut third = Browser::new();
    let (html2, _) = passwordless_offer(&p, &mut third).await;
    let replayed = post_passwordless(&p, &mut third, (&html2, &offer), &credential).await;
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);
    assert!(third.cookies.keys().all(|name| !name.contains("session")));

    // After a password, the passkey is the second factor.
    let mut fourth = Browser::new();
    let page = crate::mfa::password_step(&p, &mut fourth).await;
    let (answer, credential) =
        passkey_factor_step(&p, &mut fourth, &page, &mut authenticator).await;
    let to = location(&answer);
    let claims = id_token_claims(&p, &mut fourth, &to).await;
    assert_eq!(claims["acr"], "phr");
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "user", "mfa"]));

    // A passkey's public key is no secret, but nothing of a response or of
    // the recovery codes reaches a log either.
    let logs = p.server.logs().join("\n");
    assert!(!logs.contains(credential["response"]["signature"].as_str().unwrap()));
}

/// Each wrong answer is refused with the page's one message, logged with
/// its reason, and never opens a session.
#[tokio::test]
async fn wrong_passkey_answers_are_refused() {
    let p = Provider::start().await;
    let (_, mut authenticator) = with_passkey(&p).await;
    let cases = [
        (
            "wrong_origin",
            Answer {
                origin: "https://auth.example.test.evil.example".into(),
                ..Answer::default()
            },
        ),
        (
            "wrong_rp_id",
            Answer {
                rp_id: Some("example.test".into()),
                ..Answer::default()
            },
        ),
        (
            "user_not_verified",
            Answer {
                flags: UP,
                ..Answer::default()
            },
        ),
        (
            // Registered as device-bound: it cannot claim to be synced now
            // (§6.1.3).
            "invalid_response",
            Answer {
                flags: UP | UV | BE | BS,
                ..Answer::default()
            },
        ),
    ];
    for (reason, answer) in cases {
        let mut browser = Browser::new();
        let (html, offer) = passwordless_offer(&p, &mut browser).await;
        let credential = authenticator.assert(&offer["publicKey"], &answer);
        let refused = post_passwordless(&p, &mut browser, (&html, &offer), &credential).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{reason}");
        assert!(
            refused
                .text()
                .await
                .unwrap()
                .contains("could not sign you in")
        );
        assert!(browser.cookies.keys().all(|name| !name.contains("session")));
        assert!(
            p.server
                .json_logs()
                .iter()
                .any(|l| l["event"] == "mfa_challenge_failed"
                    && l["method"] == "passkey"
                    && l["reason"] == reason),
            "{reason}"
        );
    }

    // A good answer moves the counter on; then one that goes back is a
    // cloned authenticator.
    let mut browser = Browser::new();
    let (html, offer) = passwordless_offer(&p, &mut browser).await;
    let good = authenticator.assert(
        &offer["publicKey"],
        &Answer {
            counter: Some(10),
            ..Answer::default()
        },
    );
    location(&post_passwordless(&p, &mut browser, (&html, &offer), &good).await);
    let mut browser = Browser::new();
    let (html, offer) = passwordless_offer(&p, &mut browser).await;
    let cloned = authenticator.assert(
        &offer["publicKey"],
        &Answer {
            counter: Some(7),
            ..Answer::default()
        },
    );
    let refused = post_passwordless(&p, &mut browser, (&html, &offer), &cloned).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let event = p.server.security_event("passkey_clone_suspected").await;
    assert_eq!(event["user_id"], p.user_id.as_str());

    // Garbage is refused as a page, not a 500; an unknown challenge too.
    let mut browser = Browser::new();
    let (html, offer) = passwordless_offer(&p, &mut browser).await;
    for credential in [json!("not a credential"), json!({"id": "x"})] {
        let refused = post_passwordless(&p, &mut browser, (&html, &offer), &credential).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }
    let unknown = json!({"challenge_id": "nope"});
    let refused = post_passwordless(&p, &mut browser, (&html, &unknown), &json!({})).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    // docs/security.md 15: a right credential in a form without the
    // browser's CSRF token changes nothing, on every passkey post.
    let mut browser = Browser::new();
    let (html, offer) = passwordless_offer(&p, &mut browser).await;
    let credential = authenticator.assert(&offer["publicKey"], &Answer::default());
    let forged = [
        ("authz", hidden(&html, "authz")),
        ("csrf_token", "not-the-cookie".to_owned()),
        ("pending", String::new()),
        (
            "challenge_id",
            offer["challenge_id"].as_str().unwrap().to_owned(),
        ),
        ("credential", credential.to_string()),
    ];
    for path in [
        "/login/passkey",
        "/login/passkey/options",
        "/login/factor/passkey",
        "/login/factor/passkey/options",
        "/account/passkey",
        "/account/passkey/options",
    ] {
        let answer = browser
            .post(&format!("{}{path}", p.base), &form(&forged))
            .await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert!(browser.cookies.keys().all(|name| !name.contains("session")));

    // A removed passkey signs nobody in.
    let listed = p.cli(&["user", "mfa", "list", &p.user_id]);
    let passkey = listed["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "passkey")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    p.cli(&["user", "mfa", "reset", &p.user_id, "--factor", &passkey]);
    let mut browser = Browser::new();
    let (html, offer) = passwordless_offer(&p, &mut browser).await;
    let credential = authenticator.assert(&offer["publicKey"], &Answer::default());
    let refused = post_passwordless(&p, &mut browser, (&html, &offer), &credential).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(
        p.server
            .json_logs()
            .iter()
            .any(|l| l["event"] == "mfa_challenge_failed" && l["reason"] == "unknown_credential")
    );
    // The library's own lines (ERROR for each refusal, whole credentials
    // at debug) stay out of the log, even at AUTH_LOG_LEVEL=debug.
    let logs = p.server.logs().join("\n");
    assert!(!logs.contains("webauthn_rs"), "{logs}");
}

#[tokio::test]
async fn a_passkey_is_registered_once_and_only_from_this_origin() {
    let p = Provider::start().await;
    let (mut browser, mut authenticator) = with_passkey(&p).await;
    // The same credential again (an authenticator ignoring
    // excludeCredentials): one factor per credential.
    let (status, html) = register(&p, &mut browser, &mut authenticator, &Answer::default()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{html}");
    let mut other = Authenticator::new();
    let wrong_origin = Answer {
        origin: "https://evil.example".into(),
        ..Answer::default()
    };
    let (status, _) = register(&p, &mut browser, &mut other, &wrong_origin).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let no_uv = Answer {
        flags: UP,
        ..Answer::default()
    };
    let (status, _) = register(&p, &mut browser, &mut other, &no_uv).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let factors = p.cli(&["user", "mfa", "list", &p.user_id]);
    let passkeys = factors["factors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "passkey")
        .count();
    assert_eq!(passkeys, 1, "{factors}");
}

/// A session of password and TOTP asked for the phishing-resistant level
/// is stepped up with the passkey (`prompt=none` cannot be): TOTP is not
/// phishing-resistant.
#[tokio::test]
async fn an_otp_session_steps_up_to_phr_with_a_passkey() {
    let p = Provider::start().await;
    let (mut first, mut authenticator) = with_passkey(&p).await;
    let html = first
        .get(&format!("{}/account/totp", p.base))
        .await
        .text()
        .await
        .unwrap();
    let (key, _, (status, _)) =
        crate::mfa::submit_enrolment(&p, &mut first, &html, ("/account/totp", "Phone")).await;
    assert_eq!(status, StatusCode::OK);

    let mut browser = Browser::new();
    let page = crate::mfa::password_step(&p, &mut browser).await;
    let code = [
        ("authz", hidden(&page, "authz")),
        ("csrf_token", hidden(&page, "csrf_token")),
        ("pending", hidden(&page, "pending")),
        ("code", crate::mfa::oathtool(&key, 30)),
    ];
    let to = location(
        &browser
            .post(&format!("{}/login/factor", p.base), &form(&code))
            .await,
    );
    let claims = id_token_claims(&p, &mut browser, &to).await;
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));

    let silent = location(
        &browser
            .get(&p.authorize_url(&[("prompt", "none"), ("acr_values", "phr")]))
            .await,
    );
    assert_eq!(query(&silent)["error"], "interaction_required", "{silent}");
    let to = location(
        &browser
            .get(&p.authorize_url(&[("acr_values", "phr")]))
            .await,
    );
    assert!(to.starts_with("/login/factor?authz="), "{to}");
    let page = browser
        .get(&format!("{}{to}", p.base))
        .await
        .text()
        .await
        .unwrap();
    let (answer, _) = passkey_factor_step(&p, &mut browser, &page, &mut authenticator).await;
    let to = location(&answer);
    let claims = id_token_claims(&p, &mut browser, &to).await;
    assert_eq!(claims["acr"], "phr");
    assert_eq!(claims["amr"], json!(["pwd", "otp", "hwk", "user", "mfa"]));
    // Now even prompt=none meets it.
    let silent = location(
        &browser
            .get(&p.authorize_url(&[("prompt", "none"), ("acr_values", "phr")]))
            .await,
    );
    assert!(query(&silent).contains_key("code"), "{silent}");
}

/// AUTH_MFA=required takes a user without a factor through enrolment after
/// the password; a passkey does instead of TOTP, and making it counts as
/// using it: the sign-in goes on at the phishing-resistant level.
#[tokio::test]
async fn a_required_second_factor_can_be_a_new_passkey() {
    let p = Provider::start_with(&[("AUTH_MFA", "required")]).await;
    let mut browser = Browser::new();
    let to_login = location(&browser.get(&p.authorize_url(&[])).await);
    let to = location(
        &browser
            .fill(
                &p.base,
                &to_login,
                "/login",
                &[("username", "bjensen"), ("password", PASSWORD)],
            )
            .await,
    );
    let enrol = browser
        .get(&format!("{}{to}", p.base))
        .await
        .text()
        .await
        .unwrap();
    let link = enrol
        .split("href=\"")
        .find(|rest| rest.starts_with("/account/passkey?authz="))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a passkey instead: {enrol}"))
        .to_owned();
    let authz = query(&link)["authz"].clone();
    let page = browser
        .get(&format!("{}{link}", p.base))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(hidden(&page, "authz"), authz);
    let csrf = hidden(&page, "csrf_token");
    let offer = json_of(
        browser
            .post(
                &format!("{}/account/passkey/options", p.base),
                &[("csrf_token", &csrf)],
            )
            .await,
    )
    .await;
    let mut authenticator = Authenticator::new();
    let credential = authenticator.register(&offer["publicKey"], &Answer::default());
    let fields = [
        ("authz", authz),
        ("csrf_token", csrf),
        (
            "challenge_id",
            offer["challenge_id"].as_str().unwrap().to_owned(),
        ),
        ("credential", credential.to_string()),
    ];
    let codes = browser
        .post(&format!("{}/account/passkey", p.base), &form(&fields))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(codes.matches("<li><code>").count(), 10, "{codes}");
    let next = [
        ("authz", hidden(&codes, "authz")),
        ("csrf_token", hidden(&codes, "csrf_token")),
    ];
    let to = location(
        &browser
            .post(&format!("{}/login/continue", p.base), &form(&next))
            .await,
    );
    let claims = id_token_claims(&p, &mut browser, &to).await;
    assert_eq!(claims["acr"], "phr");
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "user", "mfa"]));
}

/// docs/security.md 31: every credential check shares the login budget per
/// client IP, whichever page it comes from; a ceremony's options are the
/// pages' (`authorize`) budget.
#[tokio::test]
async fn passkey_posts_share_the_login_rate_limit() {
    let p = Provider::start_with(&[
        ("AUTH_RATE_LIMIT_LOGIN", "3/1m"),
        ("AUTH_RATE_LIMIT_AUTHORIZE", "1000/1m"),
    ])
    .await;
    let mut browser = Browser::new();
    for path in [
        "/login/passkey",
        "/login/factor/passkey",
        "/account/passkey",
    ] {
        let answer = browser.post(&format!("{}{path}", p.base), &[]).await;
        assert_ne!(answer.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
    }
    for path in ["/login/passkey", "/login", "/account/passkey"] {
        let answer = browser.post(&format!("{}{path}", p.base), &[]).await;
        assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
    }
    let options = browser
        .post(&format!("{}/login/passkey/options", p.base), &[])
        .await;
    assert_ne!(options.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// A passkey that keeps no signature counter (synced passkeys send 0 every
/// time) signs in again and again, each challenge once, and its last use
/// is recorded all the same.
#[tokio::test]
async fn a_passkey_without_a_counter_signs_in_and_records_its_use() {
    let p = Provider::start().await;
    let mut browser = Browser::new();
    p.sign_in(&mut browser, &[]).await;
    let mut authenticator = Authenticator::new();
    let counterless = Answer {
        counter: Some(0),
        flags: UP | UV | BE | BS,
        ..Answer::default()
    };
    let (status, html) = register(&p, &mut browser, &mut authenticator, &counterless).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let listed = p.cli(&["user", "mfa", "list", &p.user_id]);
    let passkey = |listed: &Value| {
        listed["factors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == "passkey")
            .unwrap()
            .clone()
    };
    assert_eq!(passkey(&listed)["last_used_at"], Value::Null);
    for _ in 0..2 {
        let mut other = Browser::new();
        let (html, offer) = passwordless_offer(&p, &mut other).await;
        let credential = authenticator.assert(&offer["publicKey"], &counterless);
        let signed_in = post_passwordless(&p, &mut other, (&html, &offer), &credential).await;
        let claims = id_token_claims(&p, &mut other, &location(&signed_in)).await;
        assert_eq!(
            claims["amr"],
            json!(["swk", "user", "mfa"]),
            "may be synced"
        );
    }
    let listed = p.cli(&["user", "mfa", "list", &p.user_id]);
    assert!(passkey(&listed)["last_used_at"].is_i64(), "{listed}");
    assert!(
        !p.server
            .json_logs()
            .iter()
            .any(|l| l["event"] == "passkey_clone_suspected")
    );
    let account = browser
        .get(&format!("{}/account", p.base))
        .await
        .text()
        .await
        .unwrap();
    assert!(account.contains("passkey, may be synced"), "{account}");
}
