//! A real browser: headless Chromium driven over W3C WebDriver
//! (chromedriver; Debian packages `chromium` and `chromium-driver`, which
//! scripts/test installs) signs in through the login and consent pages,
//! comes back with a code, signs out, and meets an error page. Each page is
//! checked for basic accessibility: every field labelled, a natural focus
//! order, and WCAG AA contrast in the default theme.
//!
//! Passkeys are made and used by Chromium's virtual authenticator (W3C
//! WebAuthn Level 3 §11, "WebDriver Extension": CTAP2, resident keys, user
//! verification), so the page script, the browser's WebAuthn and the
//! server meet as they do for a user.
//!
//! The WebDriver client is the handful of W3C endpoints the test needs,
//! over reqwest. With `AUTH_SAVE_SCREENSHOTS=1` the pages are saved under
//! docs/screenshots/ for the guides.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, cli, client, free_port, stdout_json};
use crate::mfa::oathtool;
use crate::oidc::{CHALLENGE, VERIFIER, query};

struct Driver {
    http: reqwest::Client,
    url: String,
    child: Child,
}

impl Drop for Driver {
    /// Ends the WebDriver session first, so chromedriver closes Chromium
    /// (killing chromedriver alone leaves the browser processes behind),
    /// also when the test failed. Plain blocking HTTP: Drop cannot await.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        if let Some(rest) = self.url.strip_prefix("http://")
            && let Some((host, path)) = rest.split_once('/')
            && let Ok(mut stream) = std::net::TcpStream::connect(host)
        {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let mut answer = Vec::new();
                let _ = stream.read_to_end(&mut answer);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromium() -> (String, String) {
    for (browser, driver) in [
        ("/usr/bin/chromium", "/usr/bin/chromedriver"),
        ("/usr/bin/chromium-browser", "/usr/bin/chromedriver"),
    ] {
        if std::path::Path::new(browser).exists() && std::path::Path::new(driver).exists() {
            return (browser.into(), driver.into());
        }
    }
    panic!(
        "no headless Chromium: install the Debian packages chromium and chromium-driver \
         (./scripts/test does)"
    );
}

impl Driver {
    async fn start() -> Self {
        let (browser, driver) = chromium();
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let session: Value = http
            .post(format!("{base}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": browser,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=900,760",
                             "--disable-dev-shm-usage", "--force-color-profile=srgb"]
                }
            }}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = session["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {session}"))
            .to_owned();
        Self {
            http,
            url: format!("{base}/session/{id}"),
            child,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        if answer["value"].get("error").is_some() {
            panic!("WebDriver {path}: {answer}");
        }
        answer["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits (up to 5 s) until the browser is at a URL starting with `prefix`.
    async fn wait_for_url(&self, prefix: &str) -> String {
        for _ in 0..100 {
            let url = self.current_url().await;
            if url.starts_with(prefix) {
                return url;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("never reached {prefix}: at {}", self.current_url().await);
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn script(&self, source: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": source, "args": []})),
        )
        .await
    }

    /// Runs `source` every 50 ms until `done` accepts its value (at most
    /// 5 s); returns the last value.
    async fn poll(&self, source: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut value = Value::Null;
        for _ in 0..100 {
            value = self.script(source).await;
            if done(&value) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        value
    }

    /// The credentials of a virtual authenticator (W3C WebAuthn §11.7).
    async fn credentials(&self, authenticator: &str) -> Value {
        self.call(
            reqwest::Method::GET,
            &format!("/webauthn/authenticator/{authenticator}/credentials"),
            None,
        )
        .await
    }

    /// Removes the virtual authenticator, keeping its one credential, so
    /// that no request is answered until [`Driver::give_back`].
    async fn take_away(&self, authenticator: &str) -> Value {
        let credential = self.credentials(authenticator).await[0].clone();
        self.call(
            reqwest::Method::DELETE,
            &format!("/webauthn/authenticator/{authenticator}"),
            None,
        )
        .await;
        credential
    }

    /// A new virtual authenticator holding `credential`; its id.
    async fn give_back(&self, credential: Value) -> String {
        let authenticator = add_authenticator(self).await;
        self.call(
            reqwest::Method::POST,
            &format!("/webauthn/authenticator/{authenticator}/credential"),
            Some(credential),
        )
        .await;
        authenticator
    }

    async fn screenshot(&self, name: &str) {
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            png.as_str().unwrap(),
        )
        .unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
        if std::env::var("AUTH_SAVE_SCREENSHOTS").is_ok_and(|v| v == "1") {
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/screenshots");
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(format!("{dir}/{name}.png"), bytes).unwrap();
        }
    }

    /// Basic accessibility of the current page; returns what failed.
    async fn accessibility(&self) -> Vec<String> {
        let problems = self
            .script(
                r#"
const problems = [];
// Every visible field has a label (or an aria-label).
for (const input of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
  const labelled = (input.id && document.querySelector(`label[for="${input.id}"]`)) || input.getAttribute('aria-label');
  if (!labelled) problems.push(`unlabelled field ${input.name}`);
}
// A natural focus order: no positive tabindex; focusables in document order.
for (const el of document.querySelectorAll('[tabindex]')) {
  if (parseInt(el.getAttribute('tabindex'), 10) > 0) problems.push(`positive tabindex on ${el.tagName}`);
}
if (!document.documentElement.lang) problems.push('no lang on <html>');
if (!document.title) problems.push('no <title>');
// WCAG 2.1 AA contrast (4.5:1) for text in the default theme.
// Computed colours come as rgb()/rgba() (0-255) or color(srgb …) (0-1).
const channels = (c) => {
  const parts = (c.match(/[\d.]+/g) || []).map(Number);
  return c.startsWith('color(') ? parts.map((v, i) => (i < 3 ? v * 255 : v)) : parts;
};
const rgb = (c) => channels(c).slice(0, 3);
const lum = ([r, g, b]) => {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
const background = (el) => {
  for (let e = el; e; e = e.parentElement) {
    const c = getComputedStyle(e).backgroundColor;
    const parts = channels(c);
    if (parts.length >= 3 && (parts.length < 4 || parts[3] > 0)) return parts.slice(0, 3);
  }
  return [255, 255, 255];
};
for (const el of document.querySelectorAll('h1, p, label, button, a, li')) {
  if (!el.textContent.trim()) continue;
  const fg = lum(rgb(getComputedStyle(el).color)), bg = lum(background(el));
  const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
  if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)} on ${el.tagName} "${el.textContent.trim().slice(0, 30)}"`);
}
return problems;
"#,
            )
            .await;
        problems
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect()
    }

    /// The order Tab walks through the page's focusable elements.
    async fn focus_order(&self) -> Vec<String> {
        let order = self
            .script(
                r#"return Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea'))
                   .filter(e => !e.disabled).map(e => e.name || e.id || e.textContent.trim());"#,
            )
            .await;
        order
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }
}

#[tokio::test]
async fn a_real_browser_signs_in_consents_signs_out_and_the_pages_are_accessible() {
    let app = TestApp::start(&[("AUTH_ISSUER", "self")]).await;
    let server = &app.server;
    let base = server.base.clone();
    // The relying party: a callback on loopback that just answers.
    let rp_port = free_port();
    let rp = format!("http://127.0.0.1:{rp_port}");
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", rp_port))
        .await
        .unwrap();
    tokio::spawn(async move {
        let app = axum::Router::new().fallback(|| async {
            axum::response::Html("<html lang=\"en\"><title>RP</title><p>back at the app</p></html>")
        });
        axum::serve(listener, app).await.unwrap();
    });
    let env = app.cli_env();
    let callback = format!("{rp}/callback");
    let logged_out = format!("{rp}/logged-out");
    let app = stdout_json(&cli(
        &env,
        &[
            "client",
            "create",
            "--name",
            "Example App",
            "--redirect-uri",
            &callback,
            "--scope",
            "openid profile",
            "--post-logout-redirect-uri",
            &logged_out,
        ],
        None,
    ));
    let (id, secret) = (
        app["client_id"].as_str().unwrap(),
        app["client_secret"].as_str().unwrap(),
    );
    stdout_json(&cli(
        &env,
        &[
            "user",
            "create",
            "--username",
            "bjensen",
            "--password-stdin",
            "--given-name",
            "Barbara",
        ],
        Some("correct horse battery staple\n"),
    ));

    let browser = Driver::start().await;
    let authorize = format!(
        "{base}/authorize?{}",
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("client_id", id),
                ("redirect_uri", callback.as_str()),
                ("scope", "openid profile"),
                ("state", "st-1"),
                ("nonce", "n-1"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ])
            .finish()
    );

    // The login page.
    browser.goto(&authorize).await;
    browser.wait_for_url(&format!("{base}/login")).await;
    assert_eq!(
        browser.accessibility().await,
        Vec::<String>::new(),
        "login page"
    );
    assert_eq!(
        browser.focus_order().await,
        ["username", "password", "Sign in"]
    );
    let focused = browser.script("return document.activeElement.id").await;
    assert_eq!(focused, "username", "the username field has focus");
    browser.screenshot("login").await;
    // A wrong password first: the same page, with the error announced.
    browser.type_into("#username", "bjensen").await;
    browser.type_into("#password", "not the password").await;
    browser.click("button[type=submit]").await;
    let alert = browser
        .poll(
            "const a = document.querySelector('[role=alert]'); return a && a.textContent",
            |v| !v.is_null(),
        )
        .await;
    assert_eq!(alert, "Incorrect username or password.");
    assert_eq!(
        browser.accessibility().await,
        Vec::<String>::new(),
        "login page with an error"
    );
    browser
        .type_into("#password", "correct horse battery staple")
        .await;
    browser.click("button[type=submit]").await;

    // The consent page.
    browser.wait_for_url(&format!("{base}/consent")).await;
    assert_eq!(
        browser.accessibility().await,
        Vec::<String>::new(),
        "consent page"
    );
    browser.screenshot("consent").await;
    browser.click("button[value=allow]").await;

    // Back at the app with a code, which the app exchanges.
    let back = browser.wait_for_url(&callback).await;
    let params = query(&back);
    assert_eq!(params["state"], "st-1");
    let tokens: Value = client()
        .post(format!("{base}/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", params["code"].as_str()),
            ("redirect_uri", callback.as_str()),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(tokens["id_token"].is_string(), "{tokens}");

    // Sign out without a hint: the confirmation page, then back to the app.
    browser
        .goto(&format!(
            "{base}/logout?client_id={id}&post_logout_redirect_uri={}",
            form_urlencoded::byte_serialize(logged_out.as_bytes()).collect::<String>()
        ))
        .await;
    assert_eq!(
        browser.accessibility().await,
        Vec::<String>::new(),
        "logout page"
    );
    browser.screenshot("logout").await;
    browser.click("button[type=submit]").await;
    // Back at the app's registered post-logout URI once the session is gone.
    browser.wait_for_url(&logged_out).await;
    // Signed out: the next authorization asks for the password again.
    browser.goto(&authorize).await;
    browser.wait_for_url(&format!("{base}/login")).await;

    // An error page: an unregistered redirect URI gets a page, never a redirect.
    browser
        .goto(&authorize.replace("callback", "elsewhere"))
        .await;
    assert!(
        browser.current_url().await.starts_with(&base),
        "no redirect to an unregistered URI"
    );
    assert_eq!(
        browser.accessibility().await,
        Vec::<String>::new(),
        "error page"
    );
    browser.screenshot("error").await;
}

/// The MFA pages in a real browser: the account page (reached through the
/// login page), TOTP enrolment with its QR code and a code from `oathtool`,
/// the recovery codes, and the second-factor prompt of the next sign-in.
/// Each is checked for accessibility and saved as a screenshot.
#[tokio::test]
async fn a_real_browser_enrols_totp_on_the_account_page_and_signs_in_with_it() {
    let (_app, base, browser) = with_bjensen("self").await;

    browser.goto(&format!("{base}/account")).await;
    browser.wait_for_url(&format!("{base}/login")).await;
    browser.type_into("#username", "bjensen").await;
    browser
        .type_into("#password", "correct horse battery staple")
        .await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(&format!("{base}/account")).await;
    assert_eq!(
        browser.accessibility().await,
        Vec::<String>::new(),
        "account page"
    );

    browser.goto(&format!("{base}/account/totp")).await;
    assert_eq!(
        browser.accessibility().await,
        Vec::<String>::new(),
        "enrolment page"
    );
    let drawn = browser
        .script("const s = document.querySelector('figure.qr svg'); return s && s.getBoundingClientRect().width")
        .await;
    assert!(
        drawn.as_f64().unwrap_or_default() >= 200.0,
        "the QR code is drawn: {drawn}"
    );
    browser.screenshot("totp-enrolment").await;
    let key = browser
        .script("return document.querySelector('code.secret').textContent")
        .await;
    let key = key.as_str().unwrap().to_owned();
    browser.type_into("#code", &oathtool(&key, 0)).await;
    browser.click("button[type=submit]").await;
    let codes = browser
        .poll(
            "return document.querySelectorAll('ul.codes li').length",
            |v| *v == 10,
        )
        .await;
    assert_eq!(codes, 10, "ten recovery codes are shown");
    assert_eq!(
        browser.accessibility().await,
        Vec::<String>::new(),
        "recovery codes page"
    );
    browser.screenshot("recovery-codes").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(&format!("{base}/account")).await;
    assert_eq!(
        browser.accessibility().await,
        Vec::<String>::new(),
        "account page with a factor"
    );
    browser.screenshot("account").await;

    // Signed out (the cookies gone, the device cookie too), the next
    // sign-in asks for a code after the password.
    browser.call(reqwest::Method::DELETE, "/cookie", None).await;
    browser.goto(&format!("{base}/account")).await;
    browser.wait_for_url(&format!("{base}/login")).await;
    browser.type_into("#username", "bjensen").await;
    browser
        .type_into("#password", "correct horse battery staple")
        .await;
    browser.click("button[type=submit]").await;
    let prompt = browser
        .poll("return !!document.querySelector('#code')", |v| *v == true)
        .await;
    assert_eq!(prompt, true, "the second-factor prompt");
    assert_eq!(
        browser.accessibility().await,
        Vec::<String>::new(),
        "factor page"
    );
    assert_eq!(browser.focus_order().await, ["code", "Continue"]);
    browser.screenshot("second-factor").await;
    browser.type_into("#code", &oathtool(&key, 30)).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(&format!("{base}/account")).await;
}

/// A server with `AUTH_ISSUER=issuer` ("self" or "self-localhost"), the
/// user bjensen, its base URL as the browser sees it, and a browser.
async fn with_bjensen(issuer: &str) -> (TestApp, String, Driver) {
    let app = TestApp::start(&[("AUTH_ISSUER", issuer)]).await;
    let base = match issuer {
        "self-localhost" => app.server.base.replace("127.0.0.1", "localhost"),
        _ => app.server.base.clone(),
    };
    stdout_json(&cli(
        &app.cli_env(),
        &[
            "user",
            "create",
            "--username",
            "bjensen",
            "--password-stdin",
        ],
        Some("correct horse battery staple\n"),
    ));
    (app, base, Driver::start().await)
}

/// A virtual CTAP2 platform authenticator with resident keys and user
/// verification that always passes (W3C WebAuthn Level 3 §11.3).
async fn add_authenticator(browser: &Driver) -> String {
    let id = browser
        .call(
            reqwest::Method::POST,
            "/webauthn/authenticator",
            Some(json!({
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserVerified": true,
                "automaticPresenceSimulation": true,
            })),
        )
        .await;
    id.as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_real_browser_adds_a_passkey_and_signs_in_with_it_with_and_without_a_password() {
    let (app, base, browser) = with_bjensen("self-localhost").await;
    let authenticator = add_authenticator(&browser).await;
    let password_sign_in = || async {
        browser.wait_for_url(&format!("{base}/login")).await;
        browser.type_into("#username", "bjensen").await;
        browser
            .type_into("#password", "correct horse battery staple")
            .await;
        browser
            .click("form[action='/login'] button[type=submit]")
            .await;
    };

    browser.goto(&format!("{base}/account")).await;
    password_sign_in().await;
    browser.wait_for_url(&format!("{base}/account")).await;
    browser.click("a[href='/account/passkey']").await;
    browser
        .wait_for_url(&format!("{base}/account/passkey"))
        .await;
    let shown = browser
        .poll(
            "return !document.querySelector('#passkey-form').hidden",
            |v| *v == true,
        )
        .await;
    assert_eq!(shown, true, "the script shows the passkey form");
    assert_eq!(
        browser.accessibility().await,
        Vec::<String>::new(),
        "passkey enrolment page"
    );
    browser.screenshot("passkey-enrolment").await;
    browser.type_into("#name", "This laptop").await;
    browser.click("#passkey-button").await;
    let codes = browser
        .poll(
            "return document.querySelectorAll('ul.codes li').length",
            |v| *v == 10,
        )
        .await;
    assert_eq!(codes, 10, "a first factor comes with recovery codes");
    let credentials = browser.credentials(&authenticator).await;
    assert_eq!(credentials.as_array().unwrap().len(), 1, "{credentials}");
    assert_eq!(credentials[0]["isResidentCredential"], true, "discoverable");
    assert_eq!(credentials[0]["rpId"], "localhost");
    browser.click("button[type=submit]").await;
    browser.wait_for_url(&format!("{base}/account")).await;
    let listed = browser
        .script("return document.querySelector('ul.factors').textContent")
        .await;
    assert!(listed.as_str().unwrap().contains("This laptop"), "{listed}");
    browser.screenshot("account-passkey").await;

    // Signed out, the login page offers the passkey. Without an
    // authenticator the page waits (the screenshot); with it, the
    // username field's autofill request (conditional mediation) completes
    // at once, the virtual authenticator standing in for the user who
    // picks the passkey from the list: signed in, no password typed.
    let saved = browser.take_away(&authenticator).await;
    browser.call(reqwest::Method::DELETE, "/cookie", None).await;
    browser.goto(&format!("{base}/account")).await;
    browser.wait_for_url(&format!("{base}/login")).await;
    let offered = browser
        .poll(
            "const f = document.querySelector('#passkey-form'); return !!f && !f.hidden",
            |v| *v == true,
        )
        .await;
    assert_eq!(offered, true, "the login page offers a passkey");
    let autofill = browser
        .script("return document.querySelector('#username').getAttribute('autocomplete')")
        .await;
    assert_eq!(autofill, "username webauthn", "conditional UI");
    assert_eq!(
        browser.accessibility().await,
        Vec::<String>::new(),
        "login page with a passkey button"
    );
    browser.screenshot("login-passkey").await;
    let authenticator = browser.give_back(saved).await;
    browser.goto(&format!("{base}/account")).await;
    browser.wait_for_url(&format!("{base}/account")).await;
    let signed_in = app.server.security_event("authentication_success").await;
    assert!(
        app.server
            .json_logs()
            .iter()
            .any(|l| l["event"] == "authentication_success" && l["method"] == "passkey"),
        "{signed_in}"
    );

    // A password first (the authenticator away again, or the autofill
    // request would answer): then the passkey is the second factor.
    let saved = browser.take_away(&authenticator).await;
    browser.call(reqwest::Method::DELETE, "/cookie", None).await;
    browser.goto(&format!("{base}/account")).await;
    password_sign_in().await;
    browser.give_back(saved).await;
    let prompt = browser
        .poll(
            "const f = document.querySelector('form[action=\"/login/factor/passkey\"]'); return !!f && !f.hidden",
            |v| *v == true,
        )
        .await;
    assert_eq!(prompt, true, "the factor page offers the passkey");
    assert_eq!(
        browser.accessibility().await,
        Vec::<String>::new(),
        "factor page with a passkey"
    );
    browser.screenshot("second-factor-passkey").await;
    browser.click("#passkey-button").await;
    browser.wait_for_url(&format!("{base}/account")).await;
    let used = app
        .server
        .json_logs()
        .iter()
        .filter(|l| l["event"] == "mfa_challenge_succeeded" && l["method"] == "passkey")
        .count();
    assert_eq!(used, 2, "passwordless and second factor");
}
