//! Sign-in hardening (docs/security.md 22–25): what metrics and pages reveal,
//! bounded usernames, device cookies against lockout abuse, a changed
//! password ending sessions, logout hints, and our own cookie names.

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::helpers::client;
use crate::oidc::{Browser, PASSWORD, Provider, hidden, location, query};

/// Posts the login form of a fresh authorization request; returns the
/// status and the page (or redirect target).
async fn try_login(
    p: &Provider,
    browser: &mut Browser,
    username: &str,
    password: &str,
) -> (StatusCode, String) {
    let to_login = location(&browser.get(&p.authorize_url(&[])).await);
    assert!(to_login.starts_with("/login?authz="), "{to_login}");
    let response = browser
        .fill(
            &p.base,
            &to_login,
            "/login",
            &[("username", username), ("password", password)],
        )
        .await;
    let status = response.status();
    let text = match response.headers().get(LOCATION) {
        Some(target) => target.to_str().unwrap().to_owned(),
        None => response.text().await.unwrap(),
    };
    (status, text)
}

fn alert(html: &str) -> String {
    html.split("role=\"alert\"")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_default()
        .to_owned()
}

async fn scim(p: &Provider, method: reqwest::Method, path: &str, body: Value) -> reqwest::Response {
    let env = p.cli_env();
    let idp = crate::helpers::service_client(&env, "scim:write");
    let token = crate::helpers::service_token(&p.base, (&idp.0, &idp.1)).await;
    client()
        .request(method, format!("{}/scim/v2{path}", p.base))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// The finding: `/metrics` had `reason="unknown_user"`, `"bad_password"`
/// and `"inactive"`, and counted `inactive` only after the password matched.
#[tokio::test]
async fn no_public_signal_tells_unknown_wrong_and_inactive_apart() {
    let p = Provider::start().await;
    let created = scim(
        &p,
        reqwest::Method::POST,
        "/Users",
        json!({"userName": "gone@example.com", "password": PASSWORD, "active": false}),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);

    let mut answers = Vec::new();
    for (username, password) in [
        ("bjensen", "wrong password"),
        ("nobody-here", "wrong password"),
        ("gone@example.com", PASSWORD),
        ("gone@example.com", "wrong password"),
    ] {
        let (status, html) = try_login(&p, &mut Browser::new(), username, password).await;
        answers.push((status, alert(&html)));
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED);

    let metrics = client()
        .get(format!("{}/metrics", p.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let logins: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("auth_login_attempts_total{"))
        .collect();
    for leaky in ["unknown_user", "bad_password", "inactive"] {
        assert!(!logins.iter().any(|l| l.contains(leaky)), "{logins:?}");
    }
    assert!(
        logins.contains(
            &"auth_login_attempts_total{outcome=\"failure\",reason=\"invalid_credentials\"} 4"
        ),
        "{logins:?}"
    );
    // Not even the log tells a right guess for an inactive account.
    let reasons: Vec<Value> = p
        .server
        .log_lines(|l| l["event"] == "authentication_failure", 4)
        .await
        .into_iter()
        .map(|l| l["reason"].clone())
        .collect();
    assert_eq!(
        reasons,
        [
            json!("bad_password"),
            json!("unknown_user"),
            json!("inactive"),
            json!("inactive")
        ]
    );
}

/// The finding: a 2 MB username became a 2 MB lockout key for an hour
/// (5 requests grew SQLite by 26 MB).
#[tokio::test]
async fn an_oversized_username_is_refused_before_it_reaches_the_store() {
    let p = Provider::start().await;
    let size = |p: &Provider| {
        let db = p.server.database();
        let wal = db.with_extension("db-wal");
        std::fs::metadata(&db).map_or(0, |m| m.len())
            + std::fs::metadata(wal).map_or(0, |m| m.len())
    };
    let huge = "a".repeat(1 << 20);
    // Settle the database first (the first requests write keys and consents).
    try_login(&p, &mut Browser::new(), "bjensen", "wrong password").await;
    let before = size(&p);
    for _ in 0..5 {
        let (status, html) = try_login(&p, &mut Browser::new(), &huge, "wrong password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(html.len() < 64 * 1024, "the name is not echoed back");
    }
    let grown = size(&p).saturating_sub(before);
    assert!(grown < 256 * 1024, "the store grew by {grown} bytes");
}

/// The finding: one wrong guess per lock period kept the real user locked
/// out, even with the right password. A browser that signed in before has a
/// budget of its own (a device cookie); strangers stay locked.
#[tokio::test]
async fn strangers_guessing_do_not_lock_out_a_known_device() {
    let p = Provider::start_with(&[("AUTH_LOCKOUT_THRESHOLD", "2")]).await;
    let mut known = Browser::new();
    let (status, _) = try_login(&p, &mut known, "bjensen", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(known.cookies.contains_key("__Host-authsvc_device"));
    // Signed out (the session is gone), the device cookie stays.
    known.cookies.remove("__Host-authsvc_session");

    for _ in 0..4 {
        let (status, _) = try_login(&p, &mut Browser::new(), "BJensen", "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // A stranger with the right password is refused: the account is locked.
    let (status, _) = try_login(&p, &mut Browser::new(), "bjensen", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The known device signs in.
    let (status, target) = try_login(&p, &mut known, "bjensen", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{target}");
    // A forged device cookie is worth nothing.
    let mut forged = Browser::new();
    forged
        .cookies
        .insert("__Host-authsvc_device".into(), "AAAA.BBBB".into());
    let (status, _) = try_login(&p, &mut forged, "bjensen", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// ASVS V7: a changed credential ends the sessions and refresh tokens the
/// old one opened (it kept them).
#[tokio::test]
async fn a_password_change_over_scim_ends_sessions_and_refresh_tokens() {
    let p = Provider::start().await;
    let mut browser = Browser::new();
    let code = query(&p.sign_in(&mut browser, &[]).await)["code"].clone();
    let tokens: Value = p.exchange(&code).await.json().await.unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(p.introspect(&refresh).await["active"], true);

    let changed = scim(
        &p,
        reqwest::Method::PATCH,
        &format!("/Users/{}", p.user_id),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "password", "value": "a new long passphrase"}]
        }),
    )
    .await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(p.introspect(&refresh).await["active"], false);
    assert!(
        location(&browser.get(&p.authorize_url(&[])).await).starts_with("/login"),
        "the session ended"
    );
}

async fn logout_with_hint(
    p: &Provider,
    browser: &mut Browser,
    id_token: &str,
) -> reqwest::Response {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", id_token)
        .finish();
    browser.get(&format!("{}/logout?{q}", p.base)).await
}

/// The finding: GET /logout with any (even expired) hint ended the session.
#[tokio::test]
async fn a_logout_hint_from_another_session_asks_for_confirmation() {
    let p = Provider::start().await;
    let mut other = Browser::new();
    let code = query(&p.sign_in(&mut other, &[]).await)["code"].clone();
    let tokens: Value = p.exchange(&code).await.json().await.unwrap();
    let foreign = tokens["id_token"].as_str().unwrap().to_owned();

    // The same user in another browser (consent is remembered by now).
    let mut victim = Browser::new();
    let (status, _) = try_login(&p, &mut victim, "bjensen", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let page = logout_with_hint(&p, &mut victim, &foreign).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(!hidden(&page.text().await.unwrap(), "logout").is_empty());
    assert!(
        location(&victim.get(&p.authorize_url(&[])).await).starts_with(crate::oidc::REDIRECT),
        "still signed in"
    );
    // The hint of the session itself ends it at once.
    let done = logout_with_hint(&p, &mut other, &foreign).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.text().await.unwrap().contains("signed out"));
}

#[tokio::test]
async fn an_expired_logout_hint_asks_for_confirmation() {
    let p = Provider::start_with(&[("AUTH_ACCESS_TOKEN_TTL", "1s")]).await;
    let mut browser = Browser::new();
    let code = query(&p.sign_in(&mut browser, &[]).await)["code"].clone();
    let tokens: Value = p.exchange(&code).await.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let page = logout_with_hint(&p, &mut browser, &id_token).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(!hidden(&page.text().await.unwrap(), "logout").is_empty());
    assert!(location(&browser.get(&p.authorize_url(&[])).await).starts_with(crate::oidc::REDIRECT));
}

/// Cookies named `session` and `csrf` collided with applications on the
/// same host; ours have names of our own on http too.
#[tokio::test]
async fn cookies_have_names_of_our_own() {
    let p = Provider::start_with(&[("AUTH_ISSUER", "http://127.0.0.1:1")]).await;
    let to_login = location(&Browser::new().get(&p.authorize_url(&[])).await);
    let page = client()
        .get(format!("{}{to_login}", p.base))
        .send()
        .await
        .unwrap();
    let names: Vec<String> = page
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["authsvc_csrf"]);
}

/// The finding: usernames were only lower-cased, so fullwidth "ａｄｍｉｎ",
/// a Kelvin sign or a leading space made look-alike accounts. userName is
/// compared under RFC 8265 UsernameCaseMapped everywhere: SCIM uniqueness
/// and filters, login, lockout.
#[tokio::test]
async fn user_names_compare_under_rfc_8265_everywhere() {
    let p = Provider::start_with(&[("AUTH_LOCKOUT_THRESHOLD", "2")]).await;
    for (name, status, scim_type) in [
        ("ＢＪＥＮＳＥＮ", StatusCode::CONFLICT, "uniqueness"),
        (" bjensen", StatusCode::CONFLICT, "uniqueness"),
        ("\u{212A}im", StatusCode::BAD_REQUEST, "invalidValue"),
        ("admin\u{1F600}", StatusCode::BAD_REQUEST, "invalidValue"),
    ] {
        let response = scim(
            &p,
            reqwest::Method::POST,
            "/Users",
            json!({"userName": name}),
        )
        .await;
        assert_eq!(response.status(), status, "{name:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["scimType"], scim_type, "{name:?}: {body}");
    }
    // Filters, indexed (eq) and scanned (sw).
    for filter in [r#"userName eq "ｂｊｅｎｓｅｎ""#, r#"userName sw "ＢＪＥ""#] {
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("filter", filter)
            .finish();
        let found: Value = scim(
            &p,
            reqwest::Method::GET,
            &format!("/Users?{q}"),
            json!(null),
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(found["totalResults"], 1, "{filter}: {found}");
    }
    // Login with the fullwidth form is the same account…
    let (status, _) = try_login(&p, &mut Browser::new(), "ＢＪＥＮＳＥＮ", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // …and so is its lockout: guesses under look-alike forms share one budget.
    for name in ["ｂｊｅｎｓｅｎ", "BJensen ", "bjensen"] {
        try_login(&p, &mut Browser::new(), name, "guess").await;
    }
    let (status, _) = try_login(&p, &mut Browser::new(), "bjensen", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "locked for every form");
}
