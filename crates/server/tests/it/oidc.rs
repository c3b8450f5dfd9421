//! The authorization code flow end to end, as a browser and a relying party
//! would drive it: discovery, /authorize, the login and consent pages,
//! the code exchange with PKCE, ID token validation through the JWKS,
//! userinfo, refresh rotation, and the docs/security.md promises around them.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::helpers::{TestApp, stdout_json};

const ISSUER_ENV: &str = crate::helpers::ISSUER;
pub const REDIRECT: &str = "https://app.example.test/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const PASSWORD: &str = "correct horse battery staple";
pub const LOGGED_OUT: &str = "https://app.example.test/logged-out";

/// A browser: no automatic redirects, a cookie jar.
pub struct Browser {
    pub http: reqwest::Client,
    pub cookies: HashMap<String, String>,
}

impl Browser {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            http,
            cookies: HashMap::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn remember(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub async fn get(&mut self, url: &str) -> reqwest::Response {
        let response = self
            .http
            .get(url)
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.remember(&response);
        response
    }

    /// Opens one of our pages (`path` from a redirect), and submits its form
    /// to `action` with `fields` added to its hidden ones (authz, csrf_token).
    pub async fn fill(
        &mut self,
        base: &str,
        path: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let html = self
            .get(&format!("{base}{path}"))
            .await
            .text()
            .await
            .unwrap();
        let hidden_fields = [
            ("authz", hidden(&html, "authz")),
            ("csrf_token", hidden(&html, "csrf_token")),
        ];
        let mut form: Vec<(&str, &str)> = hidden_fields
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        form.extend_from_slice(fields);
        self.post(&format!("{base}{action}"), &form).await
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let response = self
            .http
            .post(url)
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.remember(&response);
        response
    }
}

/// Posts the login form at `to_login` (a path) as `user`.
pub async fn post_login(
    base: &str,
    browser: &mut Browser,
    to_login: &str,
    user: &str,
    password: &str,
) -> reqwest::Response {
    let html = browser
        .get(&format!("{base}{to_login}"))
        .await
        .text()
        .await
        .unwrap();
    let form = [
        ("authz", hidden(&html, "authz")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("username", user.to_owned()),
        ("password", password.to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.post(&format!("{base}/login"), &form).await
}

pub fn location(response: &reqwest::Response) -> String {
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "expected a redirect"
    );
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

pub fn query(url: &str) -> HashMap<String, String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&#x2b;", "+")
}

/// A [`TestApp`] with a registered web client (authorization code with
/// PKCE, a post-logout redirect URI) and one user, Barbara Jensen.
pub struct Provider {
    app: TestApp,
    pub base: String,
    pub client_id: String,
    pub client_secret: String,
    pub user_id: String,
}

impl std::ops::Deref for Provider {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl std::ops::DerefMut for Provider {
    fn deref_mut(&mut self) -> &mut TestApp {
        &mut self.app
    }
}

impl Provider {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    pub async fn start_with(env: &[(&str, &str)]) -> Self {
        Self::start_with_client(env, &[]).await
    }

    /// [`Provider::start_with`], the client created with `client_args` too.
    pub async fn start_with_client(env: &[(&str, &str)], client_args: &[&str]) -> Self {
        let app = TestApp::start(env).await;
        let mut args = vec![
            "client",
            "create",
            "--name",
            "Example App",
            "--redirect-uri",
            REDIRECT,
            "--scope",
            "openid profile email groups",
            "--post-logout-redirect-uri",
            LOGGED_OUT,
        ];
        args.extend_from_slice(client_args);
        let created = app.cli(&args);
        let user = stdout_json(&app.run(
            &[
                "user",
                "create",
                "--username",
                "bjensen",
                "--password-stdin",
                "--email",
                "bjensen@example.com",
                "--given-name",
                "Barbara",
                "--family-name",
                "Jensen",
            ],
            Some(&format!("{PASSWORD}\n")),
        ));
        let base = app.server.base.clone();
        Self {
            app,
            base,
            client_id: created["client_id"].as_str().unwrap().into(),
            client_secret: created["client_secret"].as_str().unwrap().into(),
            user_id: user["id"].as_str().unwrap().into(),
        }
    }

    pub fn authorize_url(&self, extra: &[(&str, &str)]) -> String {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "openid profile email"),
            ("state", "xyz-state"),
            ("nonce", "n-0S6_WzA2Mj"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        // An extra parameter replaces the default of its name; one named
        // several times (`resource`) is sent several times.
        params.retain(|(n, _)| !extra.iter().any(|(e, _)| e == n));
        for (name, value) in extra {
            if !value.is_empty() {
                params.push((name, value));
            }
        }
        format!(
            "{}/authorize?{}",
            self.base,
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params)
                .finish()
        )
    }

    /// Drives the browser through login and consent; returns the callback URL.
    pub async fn sign_in(&self, browser: &mut Browser, extra: &[(&str, &str)]) -> String {
        self.sign_in_as(browser, extra, "BJensen", PASSWORD).await
    }

    pub async fn sign_in_as(
        &self,
        browser: &mut Browser,
        extra: &[(&str, &str)],
        username: &str,
        password: &str,
    ) -> String {
        let html = self.consent_page(browser, extra, username, password).await;
        let form = [
            ("authz", hidden(&html, "authz")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("decision", "allow".to_owned()),
        ];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        location(&browser.post(&format!("{}/consent", self.base), &form).await)
    }

    /// Drives the browser through login to the consent page; its HTML.
    pub async fn consent_page(
        &self,
        browser: &mut Browser,
        extra: &[(&str, &str)],
        username: &str,
        password: &str,
    ) -> String {
        let to_login = location(&browser.get(&self.authorize_url(extra)).await);
        assert!(to_login.starts_with("/login?authz="), "{to_login}");
        let page = browser.get(&format!("{}{to_login}", self.base)).await;
        assert_eq!(page.status(), 200);
        assert_security_headers(&page);
        let html = page.text().await.unwrap();
        assert!(html.contains("Sign in to continue to"));
        let form = [
            ("authz", hidden(&html, "authz")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("username", username.to_owned()),
            ("password", password.to_owned()),
        ];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let to_consent = location(&browser.post(&format!("{}/login", self.base), &form).await);
        assert!(to_consent.starts_with("/consent?authz="), "{to_consent}");
        let html = browser
            .get(&format!("{}{to_consent}", self.base))
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("openid") && html.to_lowercase().contains(&username.to_lowercase()));
        html
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}/token", self.base))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn exchange(&self, code: &str) -> reqwest::Response {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .await
    }

    pub async fn introspect(&self, token: &str) -> Value {
        reqwest::Client::new()
            .post(format!("{}/introspect", self.base))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

fn assert_security_headers(response: &reqwest::Response) {
    let h = response.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
}

pub async fn error_of(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_code_flow_end_to_end() {
    code_flow(Provider::start().await).await;
}

/// The same flow with every record (sessions, consents, codes, families,
/// revocations) in Redis.
#[tokio::test]
async fn the_code_flow_end_to_end_on_redis() {
    let redis = store_redis::testing::TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
    code_flow(Provider::start_with(&[("AUTH_STORE", redis.url.as_str())]).await).await;
}

async fn code_flow(p: Provider) {
    let http = reqwest::Client::new();
    let discovery: Value = http
        .get(format!("{}/.well-known/openid-configuration", p.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], ISSUER_ENV);
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(discovery["response_types_supported"], json!(["code"]));

    let mut browser = Browser::new();
    let callback = p.sign_in(&mut browser, &[]).await;
    assert!(callback.starts_with(REDIRECT), "{callback}");
    let params = query(&callback);
    assert_eq!(params["state"], "xyz-state");
    assert_eq!(params["iss"], ISSUER_ENV, "RFC 9207");
    let code = params["code"].clone();

    // The session cookie is HttpOnly and SameSite=Lax (the issuer is https: Secure, __Host-).
    assert!(
        browser.cookies.contains_key("__Host-authsvc_session"),
        "{:?}",
        browser.cookies.keys()
    );

    let response = p.exchange(&code).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens: Value = response.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    // The ID token verifies through the JWKS, RS256 by default.
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    let jwks: jsonwebtoken::jwk::JwkSet = http
        .get(format!("{}/jwks.json", p.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key =
        jsonwebtoken::DecodingKey::from_jwk(jwks.find(header["kid"].as_str().unwrap()).unwrap())
            .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[ISSUER_ENV]);
    validation.set_audience(&[p.client_id.as_str()]);
    let claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], p.user_id.as_str());
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert!(claims["auth_time"].is_i64() && claims["sid"].is_string());
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert_eq!(claims["acr"], "urn:auth-service:acr:pwd");
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access.as_bytes());
    assert_eq!(
        claims["at_hash"],
        URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
    );

    // Userinfo: claims by scope.
    let userinfo: Value = http
        .get(format!("{}/userinfo", p.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["sub"], p.user_id.as_str());
    assert_eq!(userinfo["email"], "bjensen@example.com");
    assert_eq!(userinfo["given_name"], "Barbara");
    assert_eq!(userinfo["preferred_username"], "bjensen");
    let anonymous = http
        .get(format!("{}/userinfo", p.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );

    // Refresh rotates; the old token replayed revokes the family.
    let rotated = p
        .token(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .await;
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    let refresh2 = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh2, refresh);
    assert!(rotated["id_token"].is_string());
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    // Past the grace window (10 s by default) a replay is theft; within it, a refusal without revocation.
    let replay = p
        .token(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .await;
    assert_eq!(error_of(replay).await, "invalid_grant");
    assert_eq!(
        p.introspect(&refresh2).await["active"],
        true,
        "within the grace window the family survives"
    );

    // docs/security.md 9: the store holds hashes of bearer secrets, never the values.
    let mut stored = Vec::new();
    if p.store.starts_with("sqlite://") {
        for entry in std::fs::read_dir(p.server.database().parent().unwrap()).unwrap() {
            stored.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
    }
    let session_cookie = browser.cookies["__Host-authsvc_session"].clone();
    for secret in [
        code.as_str(),
        refresh,
        refresh2.as_str(),
        access,
        session_cookie.as_str(),
    ] {
        assert!(
            !stored.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a bearer secret is stored in clear"
        );
    }

    // The next authorization needs neither login nor consent.
    let callback = location(&browser.get(&p.authorize_url(&[("state", "second")])).await);
    assert!(
        callback.starts_with(REDIRECT) && query(&callback)["state"] == "second",
        "{callback}"
    );
}

#[tokio::test]
async fn codes_are_single_use_and_replay_revokes_what_they_issued() {
    let p = Provider::start().await;
    let mut browser = Browser::new();
    let code = query(&p.sign_in(&mut browser, &[]).await)["code"].clone();
    let tokens: Value = p.exchange(&code).await.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(p.introspect(access).await["active"], true);

    assert_eq!(error_of(p.exchange(&code).await).await, "invalid_grant");
    assert_eq!(
        p.introspect(access).await["active"],
        false,
        "the first use's access token is revoked"
    );
    assert_eq!(
        p.introspect(refresh).await["active"],
        false,
        "and its refresh tokens"
    );
    p.server.security_event("authorization_code_reuse").await;
}

#[tokio::test]
async fn pkce_is_required_and_checked() {
    let p = Provider::start().await;
    let mut browser = Browser::new();
    let code = query(&p.sign_in(&mut browser, &[]).await)["code"].clone();
    let wrong = p
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &"x".repeat(43)),
        ])
        .await;
    assert_eq!(error_of(wrong).await, "invalid_grant");

    let code = query(&location(&browser.get(&p.authorize_url(&[])).await))["code"].clone();
    let missing = p
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .await;
    assert_eq!(error_of(missing).await, "invalid_grant");

    // Without a challenge, or with "plain", the authorization request fails.
    for extra in [
        [("code_challenge", "")],
        [("code_challenge_method", "plain")],
    ] {
        let callback = location(&browser.get(&p.authorize_url(&extra)).await);
        assert_eq!(query(&callback)["error"], "invalid_request", "{extra:?}");
    }
    // A code for one redirect URI cannot be redeemed with another.
    let code = query(&location(&browser.get(&p.authorize_url(&[])).await))["code"].clone();
    let other = p
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://app.example.test/other"),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(error_of(other).await, "invalid_grant");
}

#[tokio::test]
async fn untrusted_redirects_get_a_page_and_never_a_redirect() {
    let p = Provider::start().await;
    let mut browser = Browser::new();
    for extra in [
        vec![("redirect_uri", "https://evil.example/callback")],
        vec![("redirect_uri", "https://app.example.test/callback/../evil")],
        vec![("client_id", "no-such-client")],
    ] {
        let response = browser.get(&p.authorize_url(&extra)).await;
        assert_eq!(response.status(), 400, "{extra:?}");
        assert!(response.headers().get(LOCATION).is_none());
        assert_security_headers(&response);
        assert!(response.text().await.unwrap().contains("cannot continue"));
    }
    // Redirected errors carry state and iss.
    let callback = location(
        &browser
            .get(&p.authorize_url(&[("response_type", "token")]))
            .await,
    );
    let params = query(&callback);
    assert_eq!(params["error"], "unsupported_response_type");
    assert_eq!(params["state"], "xyz-state");
    assert_eq!(params["iss"], ISSUER_ENV);
    // prompt=none without a session.
    let callback = location(&browser.get(&p.authorize_url(&[("prompt", "none")])).await);
    assert_eq!(query(&callback)["error"], "login_required");
}

#[tokio::test]
async fn login_failures_look_the_same_and_csrf_is_enforced() {
    let p = Provider::start().await;
    let mut browser = Browser::new();
    let to_login = location(&browser.get(&p.authorize_url(&[])).await);
    let html = browser
        .get(&format!("{}{to_login}", p.base))
        .await
        .text()
        .await
        .unwrap();
    let (authz, csrf) = (hidden(&html, "authz"), hidden(&html, "csrf_token"));
    let mut answers = Vec::new();
    for (username, password) in [
        ("bjensen", "wrong password"),
        ("nobody-here", "wrong password"),
    ] {
        let response = browser
            .post(
                &format!("{}/login", p.base),
                &[
                    ("authz", &authz),
                    ("csrf_token", &csrf),
                    ("username", username),
                    ("password", password),
                ],
            )
            .await;
        let status = response.status();
        let html = response.text().await.unwrap();
        let message = html
            .split("role=\"alert\"")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_owned();
        answers.push((status, message));
    }
    assert_eq!(
        answers[0], answers[1],
        "unknown user and wrong password answer alike"
    );
    assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED);

    let forged = browser
        .post(
            &format!("{}/login", p.base),
            &[
                ("authz", &authz),
                ("csrf_token", "forged"),
                ("username", "bjensen"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
    let tampered = browser
        .post(
            &format!("{}/login", p.base),
            &[
                ("authz", &format!("{authz}x")),
                ("csrf_token", &csrf),
                ("username", "bjensen"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(tampered.status(), 400);

    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let logs = p.server.json_logs();
    let failures: Vec<_> = logs
        .iter()
        .filter(|l| l["event"] == "authentication_failure")
        .collect();
    assert_eq!(failures.len(), 2);
    assert!(
        failures
            .iter()
            .all(|l| l["category"] == "security" && l["outcome"] == "failure")
    );
    assert!(
        !p.server.logs().join("\n").contains("wrong password"),
        "passwords never reach the logs"
    );
}

#[tokio::test]
async fn consent_can_be_denied() {
    let p = Provider::start().await;
    let mut browser = Browser::new();
    let to_login = location(&browser.get(&p.authorize_url(&[])).await);
    let login = [("username", "bjensen"), ("password", PASSWORD)];
    let to_consent = location(&browser.fill(&p.base, &to_login, "/login", &login).await);
    let deny = [("decision", "deny")];
    let callback = location(&browser.fill(&p.base, &to_consent, "/consent", &deny).await);
    assert_eq!(query(&callback)["error"], "access_denied");
    // No consent was stored: prompt=none now says so.
    let callback = location(&browser.get(&p.authorize_url(&[("prompt", "none")])).await);
    assert_eq!(query(&callback)["error"], "consent_required");
}

#[tokio::test]
async fn form_post_response_mode() {
    let p = Provider::start().await;
    let mut browser = Browser::new();
    p.sign_in(&mut browser, &[]).await;
    let response = browser
        .get(&p.authorize_url(&[("response_mode", "form_post")]))
        .await;
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = response.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{REDIRECT}\"")), "{html}");
    assert!(html.contains("name=\"code\""));
    assert!(html.contains("name=\"iss\""));
    let nonce = html
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(csp.contains(&format!("'nonce-{nonce}'")));
}

/// docs/security.md 5: outside the grace window, a rotated refresh token
/// presented again revokes the whole family.
#[tokio::test]
async fn reused_refresh_token_revokes_the_family() {
    let p = Provider::start_with(&[("AUTH_REFRESH_TOKEN_GRACE", "0s")]).await;
    let mut browser = Browser::new();
    let code = query(&p.sign_in(&mut browser, &[]).await)["code"].clone();
    let tokens: Value = p.exchange(&code).await.json().await.unwrap();
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let second: Value = p
        .token(&[("grant_type", "refresh_token"), ("refresh_token", &first)])
        .await
        .json()
        .await
        .unwrap();
    let second = second["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(p.introspect(&second).await["active"], true);

    let replay = p
        .token(&[("grant_type", "refresh_token"), ("refresh_token", &first)])
        .await;
    assert_eq!(error_of(replay).await, "invalid_grant");
    assert_eq!(
        p.introspect(&second).await["active"],
        false,
        "the family is revoked"
    );
    let after = p
        .token(&[("grant_type", "refresh_token"), ("refresh_token", &second)])
        .await;
    assert_eq!(error_of(after).await, "invalid_grant");

    p.server
        .security_event("refresh_token_reuse_detected")
        .await;
    let metrics = reqwest::get(format!("{}/metrics", p.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("auth_refresh_token_reuse_detected_total 1"));
}

#[tokio::test]
async fn logout_with_an_id_token_hint_ends_the_session_and_its_refresh_tokens() {
    let p = Provider::start().await;
    let mut browser = Browser::new();
    let code = query(&p.sign_in(&mut browser, &[]).await)["code"].clone();
    let tokens: Value = p.exchange(&code).await.json().await.unwrap();
    let (id_token, refresh) = (
        tokens["id_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
    );

    // An unregistered post_logout_redirect_uri is a page, never a redirect.
    let url = |target: &str| {
        let q = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("id_token_hint", id_token),
                ("post_logout_redirect_uri", target),
                ("state", "bye"),
            ])
            .finish();
        format!("{}/logout?{q}", p.base)
    };
    let refused = browser.get(&url("https://evil.example/")).await;
    assert_eq!(refused.status(), 400);
    assert!(refused.headers().get(LOCATION).is_none());

    let back = location(&browser.get(&url(LOGGED_OUT)).await);
    assert_eq!(back, format!("{LOGGED_OUT}?state=bye"));
    assert_eq!(
        p.introspect(refresh).await["active"],
        false,
        "the session's refresh tokens are revoked"
    );
    // Signed out: the next authorization goes to the login page.
    assert!(location(&browser.get(&p.authorize_url(&[])).await).starts_with("/login"));
    p.server.security_event("logout").await;
}

#[tokio::test]
async fn logout_without_a_hint_asks_for_confirmation() {
    let p = Provider::start().await;
    let mut browser = Browser::new();
    p.sign_in(&mut browser, &[]).await;
    let page = browser.get(&format!("{}/logout", p.base)).await;
    assert_eq!(page.status(), 200);
    assert_security_headers(&page);
    let html = page.text().await.unwrap();
    // Still signed in until the user confirms.
    assert!(location(&browser.get(&p.authorize_url(&[])).await).starts_with(REDIRECT));
    let form = [
        ("logout", hidden(&html, "logout")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("confirm", "yes".to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = browser.post(&format!("{}/logout", p.base), &form).await;
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("signed out"));
    assert!(location(&browser.get(&p.authorize_url(&[])).await).starts_with("/login"));
}

#[tokio::test]
async fn first_party_clients_skip_consent_and_may_choose_es256_id_tokens() {
    let p = Provider::start().await;
    let created = p.cli(&[
        "client",
        "create",
        "--name",
        "Portal",
        "--redirect-uri",
        REDIRECT,
        "--scope",
        "openid email",
        "--first-party",
        "--id-token-alg",
        "ES256",
        "--access-token-ttl",
        "5m",
    ]);
    let portal = Provider {
        client_id: created["client_id"].as_str().unwrap().into(),
        client_secret: created["client_secret"].as_str().unwrap().into(),
        ..p
    };
    let mut browser = Browser::new();
    let to_login = location(
        &browser
            .get(&portal.authorize_url(&[("scope", "openid email")]))
            .await,
    );
    let login = [("username", "bjensen"), ("password", PASSWORD)];
    let callback = location(
        &browser
            .fill(&portal.base, &to_login, "/login", &login)
            .await,
    );
    assert!(
        callback.starts_with(REDIRECT),
        "no consent page: {callback}"
    );
    let tokens: Value = portal
        .exchange(&query(&callback)["code"])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["expires_in"], 300);
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(
                tokens["id_token"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .next()
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256");
}

/// docs/security.md 8: a public client authenticates with `none` and must use PKCE.
#[tokio::test]
async fn public_clients_use_pkce_without_a_secret() {
    let p = Provider::start().await;
    let spa = p.cli(&[
        "client",
        "create",
        "--name",
        "SPA",
        "--public",
        "--redirect-uri",
        REDIRECT,
        "--scope",
        "openid",
    ]);
    let spa_id = spa["client_id"].as_str().unwrap().to_owned();
    let public = Provider {
        client_id: spa_id.clone(),
        client_secret: String::new(),
        ..p
    };
    let mut browser = Browser::new();
    let code = query(&public.sign_in(&mut browser, &[("scope", "openid")]).await)["code"].clone();
    let http = reqwest::Client::new();
    let exchange = |form: Vec<(&'static str, String)>| {
        let (http, url) = (http.clone(), format!("{}/token", public.base));
        async move { http.post(url).form(&form).send().await.unwrap() }
    };
    let base = |code: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("client_id", spa_id.clone()),
        ]
    };
    assert_eq!(
        error_of(exchange(base(&code)).await).await,
        "invalid_grant",
        "no code_verifier"
    );

    let code = query(&location(
        &browser
            .get(&public.authorize_url(&[("scope", "openid")]))
            .await,
    ))["code"]
        .clone();
    let mut with_secret = base(&code);
    with_secret.push(("client_secret", "guess".into()));
    with_secret.push(("code_verifier", VERIFIER.into()));
    assert_eq!(
        error_of(exchange(with_secret).await).await,
        "invalid_client"
    );

    let code = query(&location(
        &browser
            .get(&public.authorize_url(&[("scope", "openid")]))
            .await,
    ))["code"]
        .clone();
    let mut good = base(&code);
    good.push(("code_verifier", VERIFIER.into()));
    let response = exchange(good).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert!(tokens["id_token"].is_string() && tokens["access_token"].is_string());
}

/// The identity glue of SCIM: a provisioned user with a password signs in,
/// its ID token and userinfo claims come from the SCIM record (groups
/// included), and `active: false` ends its session and refresh tokens and
/// blocks the next login.
#[tokio::test]
async fn scim_provisioned_users_sign_in_and_deactivation_ends_their_sessions() {
    let p = Provider::start().await;
    let env = p.cli_env();
    let idp = crate::helpers::service_client(&env, "scim:write");
    let token = crate::helpers::service_token(&p.base, (&idp.0, &idp.1)).await;
    let http = reqwest::Client::new();
    let scim = |method: reqwest::Method, path: &str, body: Value| {
        http.request(method, format!("{}/scim/v2{path}", p.base))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
    };
    let password = "S3cret-pass-for-kim";
    let user: Value = scim(
        reqwest::Method::POST,
        "/Users",
        json!({
            "userName": "kim@example.com",
            "password": password,
            "name": {"givenName": "Kim", "familyName": "Lee", "formatted": "Kim Lee"},
            "emails": [{"value": "kim.lee@example.com", "type": "work", "primary": true}]
        }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let user_id = user["id"].as_str().unwrap().to_owned();
    let group = scim(
        reqwest::Method::POST,
        "/Groups",
        json!({"displayName": "Engineering", "members": [{"value": user_id}]}),
    )
    .await
    .unwrap();
    assert_eq!(group.status(), StatusCode::CREATED);

    let mut browser = Browser::new();
    let callback = p
        .sign_in_as(
            &mut browser,
            &[("scope", "openid profile email groups")],
            "KIM@example.com",
            password,
        )
        .await;
    let tokens: Value = p
        .exchange(&query(&callback)["code"])
        .await
        .json()
        .await
        .unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let payload = id_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let expected = json!({
        "sub": user_id,
        "preferred_username": "kim@example.com",
        "name": "Kim Lee",
        "given_name": "Kim",
        "family_name": "Lee",
        "email": "kim.lee@example.com",
        "email_verified": false,
        "groups": ["Engineering"],
    });
    for (name, value) in expected.as_object().unwrap() {
        assert_eq!(&claims[name], value, "ID token claim {name}");
    }
    let access = tokens["access_token"].as_str().unwrap();
    let userinfo: Value = http
        .get(format!("{}/userinfo", p.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (name, value) in expected.as_object().unwrap() {
        assert_eq!(&userinfo[name], value, "userinfo claim {name}");
    }
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(p.introspect(refresh).await["active"], true);

    // Entra ID deactivates with a string boolean.
    let off = scim(
        reqwest::Method::PATCH,
        &format!("/Users/{user_id}"),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
        }),
    )
    .await
    .unwrap();
    assert_eq!(off.status(), StatusCode::OK);
    assert_eq!(
        p.introspect(refresh).await["active"],
        false,
        "refresh tokens revoked"
    );
    let refused = p
        .token(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .await;
    assert_eq!(error_of(refused).await, "invalid_grant");
    assert_eq!(
        http.get(format!("{}/userinfo", p.base))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // The session is gone: the next authorization asks for a login, which fails.
    let to_login = location(&browser.get(&p.authorize_url(&[])).await);
    assert!(to_login.starts_with("/login"), "{to_login}");
    let html = browser
        .get(&format!("{}{to_login}", p.base))
        .await
        .text()
        .await
        .unwrap();
    let form = [
        ("authz", hidden(&html, "authz")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("username", "kim@example.com".to_owned()),
        ("password", password.to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let login = browser.post(&format!("{}/login", p.base), &form).await;
    assert!(
        login
            .headers()
            .get(LOCATION)
            .is_none_or(|l| !l.to_str().unwrap().starts_with("/consent")),
        "a deactivated user cannot sign in"
    );
    // docs/security.md 18: neither the SCIM password nor any token reaches the logs.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for line in p.server.logs() {
        for secret in [password, token.as_str(), access, refresh, id_token] {
            assert!(!line.contains(secret), "a secret in the logs: {line}");
        }
    }
}

/// Deleting a user from the command line ends what it was signed in with,
/// as a SCIM delete does.
#[tokio::test]
async fn deleting_a_user_on_the_command_line_revokes_its_refresh_tokens() {
    let p = Provider::start().await;
    let mut browser = Browser::new();
    let code = query(&p.sign_in(&mut browser, &[]).await)["code"].clone();
    let tokens: Value = p.exchange(&code).await.json().await.unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(p.introspect(refresh).await["active"], true);
    p.cli(&["user", "delete", &p.user_id]);
    assert_eq!(p.introspect(refresh).await["active"], false);
    // The browser session went too: the next authorization asks for a login.
    assert!(location(&browser.get(&p.authorize_url(&[])).await).starts_with("/login"));
}

/// `AUTH_EMAILS_VERIFIED=true`: the operator says the provisioning
/// identity provider verifies addresses, and the ID token and userinfo
/// say `email_verified: true` (kubectl refuses a token saying `false`);
/// by default they say `false` (the test above).
#[tokio::test]
async fn emails_are_claimed_verified_when_the_operator_says_so() {
    let p = Provider::start_with(&[("AUTH_EMAILS_VERIFIED", "true")]).await;
    let mut browser = Browser::new();
    let callback = p.sign_in(&mut browser, &[("scope", "openid email")]).await;
    let tokens: Value = p
        .exchange(&query(&callback)["code"])
        .await
        .json()
        .await
        .unwrap();
    let claims = crate::mfa::payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["email"], "bjensen@example.com");
    assert_eq!(claims["email_verified"], true);
    let userinfo: Value = reqwest::Client::new()
        .get(format!("{}/userinfo", p.base))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["email_verified"], true);
}

/// Issue 16 item 6: a client's own claims, in the ID token and at
/// userinfo: a standard claim renamed, a SCIM enterprise attribute, and a
/// fixed value; protocol claims cannot be mapped.
#[tokio::test]
async fn a_clients_claim_mappings_shape_its_id_token_and_userinfo() {
    let p = Provider::start_with_client(
        &[],
        &[
            "--claim",
            "login=claim:preferred_username",
            "--claim",
            "department=scim:enterprise:department",
            "--claim",
            "tenant=value:acme",
        ],
    )
    .await;
    let refused = p.run(
        &[
            "client",
            "create",
            "--name",
            "x",
            "--claim",
            "sub=value:admin",
        ],
        None,
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--claim"));

    let env = p.cli_env();
    let idp = crate::helpers::service_client(&env, "scim:write");
    let token = crate::helpers::service_token(&p.base, (&idp.0, &idp.1)).await;
    let created = reqwest::Client::new()
        .post(format!("{}/scim/v2/Users", p.base))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                "userName": "kim@example.com",
                "password": "S3cret-pass-for-kim",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                    {"department": "Tour Operations"}
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let mut browser = Browser::new();
    let callback = p
        .sign_in_as(&mut browser, &[], "kim@example.com", "S3cret-pass-for-kim")
        .await;
    let tokens: Value = p
        .exchange(&query(&callback)["code"])
        .await
        .json()
        .await
        .unwrap();
    let id = crate::mfa::payload(tokens["id_token"].as_str().unwrap());
    let userinfo: Value = reqwest::Client::new()
        .get(format!("{}/userinfo", p.base))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for claims in [&id, &userinfo] {
        assert_eq!(claims["login"], "kim@example.com", "{claims}");
        assert!(
            claims.get("preferred_username").is_none(),
            "renamed: {claims}"
        );
        assert_eq!(claims["department"], "Tour Operations", "{claims}");
        assert_eq!(claims["tenant"], "acme", "{claims}");
    }
    assert_eq!(id["sub"], userinfo["sub"]);
}
