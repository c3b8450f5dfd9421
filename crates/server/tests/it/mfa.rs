//! Multi-factor sign-in through the real pages (docs/security.md 25, 31):
//! TOTP enrolled on `/account` and checked with codes computed by Debian's
//! `oathtool` (an independent RFC 6238 implementation), recovery codes,
//! `acr`/`amr` in ID tokens and introspection, step up by `acr_values`,
//! `prompt=none` answering `interaction_required`, and the back-off that
//! a known password does not reset.

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::oidc::{Browser, PASSWORD, Provider, hidden, location, query};

const MFA: &str = "urn:auth-service:acr:mfa";

/// The TOTP code of `key` (base32) `offset` seconds from now, by oathtool.
pub fn oathtool(key: &str, offset: i64) -> String {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + offset;
    let output = Command::new("oathtool")
        .args(["--totp", "-b", "-N", &format!("@{at}"), key])
        .output()
        .expect("oathtool runs (scripts/test installs it)");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {html}"))
        + start.len();
    html[from..].split(end).next().unwrap()
}

pub fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn text(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// Enrols a TOTP generator from `/account` of a signed-in browser; returns
/// the key (base32), the code that confirmed it, and the recovery codes shown.
pub async fn enrol_on_account_page(
    p: &Provider,
    browser: &mut Browser,
) -> (String, String, Vec<String>) {
    let (status, html) = text(browser.get(&format!("{}/account/totp", p.base)).await).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("<svg"), "the QR code is drawn in the page");
    let (key, confirming, (status, html)) =
        submit_enrolment(p, browser, &html, ("/account/totp", "Phone")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let codes: Vec<String> = html
        .split("<li><code>")
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "{html}");
    (key, confirming, codes)
}

/// Submits the enrolment page `html` to `action`, naming the factor
/// `name`, with a code of its key computed by oathtool; returns the key, the
/// code and the answer.
pub async fn submit_enrolment(
    p: &Provider,
    browser: &mut Browser,
    html: &str,
    (action, name): (&str, &str),
) -> (String, String, (StatusCode, String)) {
    let key = between(html, "<code class=\"secret\">", "</code>").to_owned();
    let code = oathtool(&key, 0);
    let form = [
        ("authz", hidden(html, "authz")),
        ("csrf_token", hidden(html, "csrf_token")),
        ("factor_id", hidden(html, "factor_id")),
        ("sealed_seed", hidden(html, "sealed_seed")),
        ("name", name.to_owned()),
        ("code", code.clone()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answer = text(browser.post(&format!("{}{action}", p.base), &form).await).await;
    (key, code, answer)
}

/// Posts bjensen's `password` on the login page of a fresh authorization
/// request.
async fn post_password(p: &Provider, browser: &mut Browser, password: &str) -> reqwest::Response {
    let to_login = location(&browser.get(&p.authorize_url(&[])).await);
    browser
        .fill(
            &p.base,
            &to_login,
            "/login",
            &[("username", "bjensen"), ("password", password)],
        )
        .await
}

/// Posts the password of a fresh authorization request; returns the factor
/// page.
pub async fn password_step(p: &Provider, browser: &mut Browser) -> String {
    let (status, html) = text(post_password(p, browser, PASSWORD).await).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a factor page, not a session: {html}"
    );
    assert!(html.contains("name=\"pending\""), "{html}");
    html
}

/// Submits `code` on a factor page.
async fn factor_step(
    p: &Provider,
    browser: &mut Browser,
    page: &str,
    code: &str,
) -> reqwest::Response {
    let form = [
        ("authz", hidden(page, "authz")),
        ("csrf_token", hidden(page, "csrf_token")),
        ("pending", hidden(page, "pending")),
        ("code", code.to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser
        .post(&format!("{}/login/factor", p.base), &form)
        .await
}

/// From a redirect to the consent page (or the callback), the code.
pub async fn consent_to_code(p: &Provider, browser: &mut Browser, to: &str) -> String {
    let callback = if to.starts_with("/consent") {
        let response = browser
            .fill(&p.base, to, "/consent", &[("decision", "allow")])
            .await;
        location(&response)
    } else {
        to.to_owned()
    };
    query(&callback)["code"].clone()
}

async fn tokens(p: &Provider, code: &str) -> Value {
    let response = p.exchange(code).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn totp_from_the_account_page_is_asked_at_every_sign_in_once_per_code() {
    let p = Provider::start().await;
    let mut browser = Browser::new();
    let callback = p.sign_in(&mut browser, &[]).await;
    let first = tokens(&p, &query(&callback)["code"]).await;
    let id = payload(first["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], "urn:auth-service:acr:pwd");
    assert_eq!(id["amr"], json!(["pwd"]));

    let account = browser.get(&format!("{}/account", p.base)).await;
    assert_eq!(account.status(), StatusCode::OK);
    assert!(
        account.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let (key, used, recovery) = enrol_on_account_page(&p, &mut browser).await;
    let (_, html) = text(browser.get(&format!("{}/account", p.base)).await).await;
    assert!(
        html.contains("Phone") && html.contains("10 unused recovery codes"),
        "{html}"
    );
    let enrolled = p.server.security_event("mfa_enrolled").await;
    assert_eq!(enrolled["method"], "totp");
    // Adding a factor is a credential change: the refresh token of the
    // earlier sign-in is revoked (docs/security.md 25).
    let refreshed = p
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(refreshed.status(), StatusCode::BAD_REQUEST);

    // A new browser: the password alone opens no session.
    let mut other = Browser::new();
    let page = password_step(&p, &mut other).await;
    assert!(other.cookies.keys().all(|name| !name.contains("session")));
    let (status, html) = text(factor_step(&p, &mut other, &page, "000000").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("not right"));
    // The enrolment's code was used; the next step's code (oathtool, 30 s
    // ahead, inside the one step of skew) signs in, once.
    let (status, _) = text(factor_step(&p, &mut other, &page, &used).await).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the enrolment code is spent"
    );
    let next = oathtool(&key, 30);
    let signed_in = factor_step(&p, &mut other, &page, &next).await;
    let to = location(&signed_in);
    assert!(other.cookies.keys().any(|name| name.contains("session")));
    let code = consent_to_code(&p, &mut other, &to).await;
    let set = tokens(&p, &code).await;
    let id = payload(set["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], MFA);
    assert_eq!(id["amr"], json!(["pwd", "otp", "mfa"]));
    let introspected = p.introspect(set["access_token"].as_str().unwrap()).await;
    assert_eq!(introspected["acr"], MFA);
    assert_eq!(introspected["amr"], json!(["pwd", "otp", "mfa"]));
    // The same code again, in a third browser: refused (RFC 6238 §5.2).
    let mut third = Browser::new();
    let page = password_step(&p, &mut third).await;
    let (status, _) = text(factor_step(&p, &mut third, &page, &next).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        p.server
            .json_logs()
            .iter()
            .any(|l| l["event"] == "mfa_code_replayed")
    );

    // A recovery code works once and says how many are left.
    let (status, html) =
        text(factor_step(&p, &mut third, &page, &recovery[0].to_uppercase()).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("9 unused codes remain"), "{html}");
    let used = p.server.security_event("recovery_code_used").await;
    assert_eq!(used["remaining"], 9);
    let mut fourth = Browser::new();
    let page = password_step(&p, &mut fourth).await;
    let (status, _) = text(factor_step(&p, &mut fourth, &page, &recovery[0]).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // No factor's secret reaches a log (docs/security.md 18, 31).
    let logs = p.server.logs().join("\n");
    assert!(!logs.contains(&key), "the TOTP key is in a log");
    for code in &recovery {
        assert!(!logs.contains(code.as_str()) && !logs.contains(&code.replace('-', "")));
    }
    assert!(!logs.contains(&next));
}

#[tokio::test]
async fn acr_values_step_a_session_up_and_prompt_none_cannot() {
    let p = Provider::start().await;
    let mut browser = Browser::new();
    p.sign_in(&mut browser, &[]).await;
    // prompt=none with a password session and an MFA level asked for.
    let refused = location(
        &browser
            .get(&p.authorize_url(&[("prompt", "none"), ("acr_values", MFA)]))
            .await,
    );
    assert_eq!(
        query(&refused)["error"],
        "interaction_required",
        "{refused}"
    );
    // Without prompt=none the session is stepped up, not ended: a user
    // without a factor enrols one.
    let to = location(&browser.get(&p.authorize_url(&[("acr_values", MFA)])).await);
    assert!(to.starts_with("/login/factor?authz="), "{to}");
    let (status, html) = text(browser.get(&format!("{}{to}", p.base)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("needs a second factor"), "{html}");
    let (_, _, (status, html)) =
        submit_enrolment(&p, &mut browser, &html, ("/login/enrol", "")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("<li><code>"), "first recovery codes");
    let form = [
        ("authz", hidden(&html, "authz")),
        ("csrf_token", hidden(&html, "csrf_token")),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let to = location(
        &browser
            .post(&format!("{}/login/continue", p.base), &form)
            .await,
    );
    let code = consent_to_code(&p, &mut browser, &to).await;
    let id = payload(tokens(&p, &code).await["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], MFA);
    // Now the session is enough, even for prompt=none.
    let silent = location(
        &browser
            .get(&p.authorize_url(&[("prompt", "none"), ("acr_values", MFA)]))
            .await,
    );
    assert!(query(&silent).contains_key("code"), "{silent}");
    // The phishing-resistant level is not met by TOTP: stepped up again.
    let to = location(
        &browser
            .get(&p.authorize_url(&[("acr_values", "phr")]))
            .await,
    );
    assert!(to.starts_with("/login/factor?authz="), "{to}");
    // max_age=0 asks for a new sign-in, password and factor.
    let to = location(&browser.get(&p.authorize_url(&[("max_age", "0")])).await);
    assert!(to.starts_with("/login?authz="), "{to}");
    let discovery = p.server.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        discovery["acr_values_supported"],
        json!(["urn:auth-service:acr:pwd", MFA, "phr"])
    );
}

/// docs/security.md 31: a known password does not buy more guesses at the
/// code, and a locked account's right code is refused.
#[tokio::test]
async fn second_factor_failures_share_the_password_back_off() {
    let p = Provider::start_with(&[("AUTH_LOCKOUT_THRESHOLD", "3")]).await;
    let mut browser = Browser::new();
    p.sign_in(&mut browser, &[]).await;
    let (key, _, _) = enrol_on_account_page(&p, &mut browser).await;
    // A right password then a wrong code: two attempts, neither forgotten.
    let mut stranger = Browser::new();
    let page = password_step(&p, &mut stranger).await;
    let (status, _) = text(factor_step(&p, &mut stranger, &page, "123456").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The third attempt (a right password again) reaches the threshold: even
    // the right code is refused now.
    let mut second = Browser::new();
    let page = password_step(&p, &mut second).await;
    let right = oathtool(&key, 30);
    let (status, _) = text(factor_step(&p, &mut second, &page, &right).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let failed: Vec<Value> = p
        .server
        .log_lines(|l| l["event"] == "mfa_challenge_failed", 2)
        .await
        .into_iter()
        .map(|l| l["reason"].clone())
        .collect();
    assert_eq!(failed, [json!("wrong_code"), json!("locked")]);
    // And the password page meets the lock too.
    let mut late = Browser::new();
    let refused = post_password(&p, &mut late, PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    p.server.security_event("account_locked").await;
}

#[tokio::test]
async fn the_account_page_signs_in_first_and_signs_out_other_sessions() {
    let p = Provider::start().await;
    let mut browser = Browser::new();
    let to = location(&browser.get(&format!("{}/account", p.base)).await);
    assert!(to.starts_with("/login?authz="), "{to}");
    let response = browser
        .fill(
            &p.base,
            &to,
            "/login",
            &[("username", "bjensen"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(location(&response), "/account");
    let (status, html) = text(browser.get(&format!("{}/account", p.base)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("password only"), "{html}");
    // A form without the CSRF token changes nothing.
    let forged = browser
        .post(
            &format!("{}/account/sessions", p.base),
            &[("csrf_token", "forged")],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // Sign out of other sessions: another browser's session ends, this one stays.
    let mut other = Browser::new();
    p.sign_in(&mut other, &[]).await;
    let response = browser
        .post(
            &format!("{}/account/sessions", p.base),
            &[("csrf_token", &hidden(&html, "csrf_token"))],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let again = location(&other.get(&p.authorize_url(&[])).await);
    assert!(
        again.starts_with("/login?"),
        "the other session ended: {again}"
    );
    assert_eq!(
        browser.get(&format!("{}/account", p.base)).await.status(),
        StatusCode::OK
    );
}

/// AUTH_MFA=required: a user without a factor enrols one right after the
/// password, before any code is issued.
#[tokio::test]
async fn a_required_policy_takes_a_user_without_a_factor_through_enrolment() {
    let p = Provider::start_with(&[("AUTH_MFA", "required")]).await;
    let mut browser = Browser::new();
    let to = location(&post_password(&p, &mut browser, PASSWORD).await);
    assert!(to.starts_with("/login/factor?authz="), "{to}");
    let (_, html) = text(browser.get(&format!("{}{to}", p.base)).await).await;
    assert!(html.contains("needs a second factor") && html.contains("<svg"));
    assert!(
        !html.contains("Not now"),
        "no grace period: no way around it"
    );
    // Nothing gets past it: the same request again lands here again.
    let again = location(&browser.get(&p.authorize_url(&[])).await);
    assert!(again.starts_with("/login/factor?authz="), "{again}");
}

/// Within `AUTH_MFA_ENROLMENT_GRACE` of its creation an account is offered
/// enrolment after the password and may decline it ("Not now"); single
/// sign-on does not ask again, and a request that itself needs two
/// factors cannot be declined. Past the grace period there is no "Not now".
#[tokio::test]
async fn during_the_grace_period_enrolment_is_offered_and_may_wait() {
    let p = Provider::start_with(&[
        ("AUTH_MFA", "required"),
        ("AUTH_MFA_ENROLMENT_GRACE", "7days"),
    ])
    .await;
    let mut browser = Browser::new();
    let to = location(&post_password(&p, &mut browser, PASSWORD).await);
    assert!(to.starts_with("/login/enrol?authz="), "{to}");
    let (status, html) = text(browser.get(&format!("{}{to}", p.base)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("will need a second factor from") && html.contains("Not now"),
        "{html}"
    );
    // A wrong code keeps the offer an offer.
    let form = [
        ("authz", hidden(&html, "authz")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("factor_id", hidden(&html, "factor_id")),
        ("sealed_seed", hidden(&html, "sealed_seed")),
        ("offer", hidden(&html, "offer")),
        ("code", "000000".to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, html) = text(
        browser
            .post(&format!("{}/login/enrol", p.base), &form)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("Not now"), "{html}");
    let later = [
        ("authz", hidden(&html, "authz")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("enrolment", "later".to_owned()),
    ];
    let later: Vec<(&str, &str)> = later.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let to = location(
        &browser
            .post(&format!("{}/login/continue", p.base), &later)
            .await,
    );
    let code = consent_to_code(&p, &mut browser, &to).await;
    let id = payload(tokens(&p, &code).await["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], "urn:auth-service:acr:pwd");
    // Single sign-on goes straight on; a request for two factors does not.
    let again = location(&browser.get(&p.authorize_url(&[])).await);
    assert!(query(&again).contains_key("code"), "{again}");
    let step_up = location(&browser.get(&p.authorize_url(&[("acr_values", MFA)])).await);
    assert!(step_up.starts_with("/login/factor?authz="), "{step_up}");
    let (_, html) = text(browser.get(&format!("{}{step_up}", p.base)).await).await;
    assert!(
        !html.contains("Not now") && html.contains("needs a second factor"),
        "{html}"
    );
}

/// docs/security.md 25 on the account page: a password change and a
/// removed factor each end the user's other sessions and refresh families,
/// and keep this browser signed in.
#[tokio::test]
async fn a_password_change_or_a_removed_factor_ends_the_other_sessions() {
    let p = Provider::start().await;
    let mut browser = Browser::new();
    p.sign_in(&mut browser, &[]).await;
    let (_, html) = text(browser.get(&format!("{}/account", p.base)).await).await;
    let csrf = hidden(&html, "csrf_token");

    // A wrong current password changes nothing.
    let new_password = "a new and longer passphrase";
    let wrong = browser
        .post(
            &format!("{}/account/password", p.base),
            &[
                ("csrf_token", csrf.as_str()),
                ("current_password", "not it"),
                ("new_password", new_password),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);

    let mut other = Browser::new();
    let to = password_only(&p, &mut other, PASSWORD).await.unwrap();
    let code = consent_to_code(&p, &mut other, &to).await;
    let refresh = tokens(&p, &code).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let changed = browser
        .post(
            &format!("{}/account/password", p.base),
            &[
                ("csrf_token", csrf.as_str()),
                ("current_password", PASSWORD),
                ("new_password", new_password),
            ],
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    p.server.security_event("password_changed").await;
    let again = location(&other.get(&p.authorize_url(&[])).await);
    assert!(
        again.starts_with("/login?"),
        "the other session ended: {again}"
    );
    let refreshed = p
        .token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .await;
    assert_eq!(refreshed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        browser.get(&format!("{}/account", p.base)).await.status(),
        StatusCode::OK
    );
    assert!(
        password_only(&p, &mut Browser::new(), PASSWORD)
            .await
            .is_none()
    );
    let mut third = Browser::new();
    assert!(password_only(&p, &mut third, new_password).await.is_some());

    // Removing a factor: the same.
    let (key, _, _) = enrol_on_account_page(&p, &mut browser).await;
    let (_, html) = text(browser.get(&format!("{}/account", p.base)).await).await;
    let mut fourth = Browser::new();
    let page = post_password(&p, &mut fourth, new_password)
        .await
        .text()
        .await
        .unwrap();
    let signed_in = factor_step(&p, &mut fourth, &page, &oathtool(&key, 30)).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let removed = browser
        .post(
            &format!("{}/account/factor", p.base),
            &[
                ("csrf_token", hidden(&html, "csrf_token").as_str()),
                ("factor_id", hidden(&html, "factor_id").as_str()),
                ("action", "remove"),
            ],
        )
        .await;
    let (status, html) = text(removed).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("password only"),
        "the recovery codes went too: {html}"
    );
    p.server.security_event("mfa_removed").await;
    for gone in [&mut third, &mut fourth] {
        let again = location(&gone.get(&p.authorize_url(&[])).await);
        assert!(
            again.starts_with("/login?"),
            "the other session ended: {again}"
        );
    }
}

/// Signs `browser` in with `password` alone (a user without a factor);
/// where it goes next, or `None` if the password was refused.
async fn password_only(p: &Provider, browser: &mut Browser, password: &str) -> Option<String> {
    let answer = post_password(p, browser, password).await;
    (answer.status() == StatusCode::SEE_OTHER).then(|| location(&answer))
}

/// The account page's sign-in meets a factor page with neither a pending
/// sign-in nor a session (expired, or another tab signed out): back to
/// `/account`, which signs in again, never an error page.
#[tokio::test]
async fn an_account_sign_in_without_its_session_goes_back_to_the_account_page() {
    let p = Provider::start().await;
    let mut browser = Browser::new();
    let to_login = location(&browser.get(&format!("{}/account", p.base)).await);
    let (_, page) = text(browser.get(&format!("{}{to_login}", p.base)).await).await;
    let form = [
        ("authz", hidden(&page, "authz")),
        ("csrf_token", hidden(&page, "csrf_token")),
        ("pending", String::new()),
        ("code", "123456".to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for action in ["/login/factor", "/login/continue"] {
        let answer = browser.post(&format!("{}{action}", p.base), &form).await;
        assert_eq!(location(&answer), "/account", "{action}");
    }
}

/// A browser left signed in is not enough to change how the account signs
/// in: adding or removing a factor needs a sign-in within five minutes
/// (`routes::account::FRESH_SECONDS`). The session is aged in the store.
#[tokio::test]
async fn changing_factors_needs_a_recent_sign_in() {
    let p = Provider::start().await;
    let mut browser = Browser::new();
    p.sign_in(&mut browser, &[]).await;
    let (_, account) = text(browser.get(&format!("{}/account", p.base)).await).await;
    let csrf = hidden(&account, "csrf_token");
    let (status, _) = text(browser.get(&format!("{}/account/totp", p.base)).await).await;
    assert_eq!(status, StatusCode::OK, "fresh: the enrolment page");
    let db = rusqlite::Connection::open(p.server.database()).unwrap();
    let aged = db
        .execute(
            "UPDATE sessions SET data = json_set(data, '$.auth_time', \
             json_extract(data, '$.auth_time') - 301)",
            [],
        )
        .unwrap();
    assert_eq!(aged, 1);
    for path in ["/account/totp", "/account/passkey"] {
        let answer = browser.get(&format!("{}{path}", p.base)).await;
        assert!(location(&answer).starts_with("/login?authz="), "{path}");
    }
    let remove = [
        ("csrf_token", csrf.as_str()),
        ("factor_id", "totp-x"),
        ("action", "remove"),
    ];
    let answer = browser
        .post(&format!("{}/account/factor", p.base), &remove)
        .await;
    assert!(location(&answer).starts_with("/login?authz="));
    // The page itself still opens: the session is valid, only not recent.
    let (status, _) = text(browser.get(&format!("{}/account", p.base)).await).await;
    assert_eq!(status, StatusCode::OK);
}
