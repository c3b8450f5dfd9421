//! Forward authentication through a real nginx (`auth_request`), with the
//! example in deploy/nginx/forward-auth.conf: signed out, to the sign-in
//! and back to the whole URL; signed in, the application sees who; outside the group,
//! refused; a browser's own `Remote-User` never reaches the application;
//! and `rd` is no open redirect.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::free_port;
use crate::oidc::{Browser, PASSWORD, Provider, hidden, location, post_login};

/// Debian's nginx (`AUTH_TEST_NGINX` names another), started on loopback
/// with the example's server block and an application behind it that
/// echoes the `Remote-*` headers it gets.
struct Nginx {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(port: u16, auth: &str, auth_public: &str) -> Self {
        let binary = std::env::var("AUTH_TEST_NGINX").unwrap_or_else(|_| "/usr/sbin/nginx".into());
        assert!(
            std::path::Path::new(&binary).exists(),
            "no nginx at {binary}: run ./scripts/test (it installs Debian's nginx) or set AUTH_TEST_NGINX"
        );
        let app = free_port();
        let example = std::fs::read_to_string(format!(
            "{}/../../deploy/nginx/forward-auth.conf",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let server = example
            .replace("listen 80;", &format!("listen 127.0.0.1:{port};"))
            .replace("http://127.0.0.1:3001", auth)
            .replace("http://127.0.0.1:8080", &format!("http://127.0.0.1:{app}"))
            .replace("https://auth.example.com", auth_public);
        assert!(!server.contains("example.com/forward-auth"), "{server}");
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().display().to_string();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {prefix}/nginx.pid;\n\
             error_log stderr warn;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {prefix}/body;\n\
             proxy_temp_path {prefix}/proxy;\n  fastcgi_temp_path {prefix}/fastcgi;\n\
             uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n\
             {server}\n  server {{\n    listen 127.0.0.1:{app};\n    location / {{\n\
             default_type text/plain;\n\
             return 200 \"user=$http_remote_user email=$http_remote_email groups=$http_remote_groups\";\n\
             }}\n  }}\n}}\n"
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new(&binary)
            .args(["-p", &prefix, "-c", path.to_str().unwrap(), "-e", "stderr"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, _dir: dir }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The target of a 302 (nginx's and Traefik's; ours are 303s).
fn found(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::FOUND, "expected a 302");
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn nginx_asks_forward_auth_before_every_request() {
    let port = free_port();
    let app = format!("http://127.0.0.1:{port}");
    let apps = format!("127.0.0.1:{port} group=staff");
    let p =
        Provider::start_with(&[("AUTH_ISSUER", "self"), ("AUTH_FORWARD_AUTH_APPS", &apps)]).await;
    let _nginx = Nginx::start(port, &p.base, &p.base);
    // bjensen is staff; kim is not.
    let env = p.cli_env();
    let idp = crate::helpers::service_client(&env, "scim:write");
    let token = crate::helpers::service_token(&p.base, (&idp.0, &idp.1)).await;
    let scim = |path: &str, body: serde_json::Value| {
        reqwest::Client::new()
            .post(format!("{}/scim/v2{path}", p.base))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
    };
    let staff = scim(
        "/Groups",
        json!({"displayName": "staff", "members": [{"value": p.user_id}]}),
    )
    .await
    .unwrap();
    assert_eq!(staff.status(), StatusCode::CREATED);
    let kim = scim(
        "/Users",
        json!({"userName": "kim", "password": "S3cret-pass-for-kim"}),
    )
    .await
    .unwrap();
    assert_eq!(kim.status(), StatusCode::CREATED);

    // Signed out: nginx sends the browser to the sign-in, which comes back
    // to the whole URL (its query's `&` and escapes too).
    let mut browser = Browser::new();
    let wanted = format!("{app}/reports?year=2026&q=a%20b&tab=2");
    let to_login = found(&browser.get(&wanted).await);
    let login_path = to_login
        .strip_prefix(&p.base)
        .unwrap_or_else(|| panic!("to the sign-in: {to_login}"));
    assert!(login_path.starts_with("/login?authz="), "{to_login}");
    let back = post_login(&p.base, &mut browser, login_path, "bjensen", PASSWORD).await;
    assert_eq!(location(&back), wanted);

    // Signed in: the application sees who, and not who the browser claims.
    let page = browser
        .http
        .get(&wanted)
        .header("cookie", browser.cookie_header())
        .header("remote-user", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        page.text().await.unwrap(),
        "user=bjensen email=bjensen@example.com groups=staff"
    );

    // Outside the group: refused, never to the application.
    let mut other = Browser::new();
    let to_auth = format!("{}/forward-auth?rd={app}/", p.base);
    let to_login = location(&other.get(&to_auth).await);
    let back = post_login(&p.base, &mut other, &to_login, "kim", "S3cret-pass-for-kim").await;
    assert_eq!(back.status(), StatusCode::FORBIDDEN);
    assert_eq!(other.get(&wanted).await.status(), StatusCode::FORBIDDEN);
    let event = p.server.security_event("forward_auth_refused").await;
    assert_eq!(event["reason"], "group", "{event}");
    assert_eq!(event["host"], format!("127.0.0.1:{port}"), "{event}");
    assert!(!event["user_id"].as_str().unwrap().is_empty(), "{event}");

    // rd must be a configured application's: no open redirect.
    for evil in [
        "https://evil.example/",
        "//evil.example/",
        "http://127.0.0.1:1/",
    ] {
        let page = browser
            .get(&format!("{}/forward-auth?rd={evil}", p.base))
            .await;
        assert_eq!(page.status(), StatusCode::BAD_REQUEST, "{evil}");
        assert!(page.headers().get("location").is_none(), "{evil}");
    }
}

/// Traefik and Caddy pass the answer on to the browser: a 302 to the
/// sign-in without a session, the identity with one.
#[tokio::test]
async fn traefik_and_caddy_headers_get_a_redirect_or_the_identity() {
    let p = Provider::start_with(&[
        ("AUTH_ISSUER", "self"),
        ("AUTH_FORWARD_AUTH_APPS", "*.apps.example"),
    ])
    .await;
    let ask = |browser: &Browser, host: &str| {
        browser
            .http
            .get(format!("{}/forward-auth", p.base))
            .header("cookie", browser.cookie_header())
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", host)
            .header("x-forwarded-uri", "/dash")
            .send()
    };
    let mut browser = Browser::new();
    let signed_out = ask(&browser, "wiki.apps.example").await.unwrap();
    assert_eq!(signed_out.status(), StatusCode::FOUND);
    let to_login = found(&signed_out);
    assert!(
        to_login.starts_with(&format!("{}/login?authz=", p.base)),
        "{to_login}"
    );
    assert_eq!(signed_out.headers()["cache-control"], "no-store");
    assert_eq!(
        ask(&browser, "apps.example.evil").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    p.sign_in(&mut browser, &[]).await;
    let allowed = ask(&browser, "wiki.apps.example").await.unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(allowed.headers()["remote-user"], "bjensen");
    assert_eq!(allowed.headers()["remote-email"], "bjensen@example.com");
    assert_eq!(allowed.headers()["remote-name"], "Barbara Jensen");
    assert!(allowed.headers().get("remote-groups").is_some());
}

/// An application's `level=`: a password session is stepped up at the
/// factor page (here by enrolling a first factor) and then let through;
/// the other applications take the password session as it is, and TOTP
/// does not reach `level=phr`.
#[tokio::test]
async fn an_application_level_steps_the_session_up_first() {
    let p = Provider::start_with(&[
        ("AUTH_ISSUER", "self"),
        (
            "AUTH_FORWARD_AUTH_APPS",
            "wiki.apps.example, pay.apps.example level=mfa, vault.apps.example level=phr",
        ),
    ])
    .await;
    let ask = |browser: &Browser, host: &str| {
        browser
            .http
            .get(format!("{}/forward-auth", p.base))
            .header("cookie", browser.cookie_header())
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", host)
            .header("x-forwarded-uri", "/")
            .send()
    };
    let mut browser = Browser::new();
    p.sign_in(&mut browser, &[]).await;
    assert_eq!(
        ask(&browser, "wiki.apps.example").await.unwrap().status(),
        StatusCode::OK
    );
    for app in ["pay.apps.example", "vault.apps.example"] {
        let weak = ask(&browser, app).await.unwrap();
        assert!(weak.headers().get("remote-user").is_none(), "{app}");
        let to = found(&weak);
        assert!(
            to.starts_with(&format!("{}/login/factor?authz=", p.base)),
            "{app}: {to}"
        );
    }

    // The browser comes back through `rd` (as nginx's error_page sends
    // it), enrols a factor and lands on the application.
    let wanted = "https://pay.apps.example/";
    let to = location(
        &browser
            .get(&format!("{}/forward-auth?rd={wanted}", p.base))
            .await,
    );
    assert!(to.starts_with("/login/factor?authz="), "{to}");
    let html = browser
        .get(&format!("{}{to}", p.base))
        .await
        .text()
        .await
        .unwrap();
    let (_, _, (status, html)) =
        crate::mfa::submit_enrolment(&p, &mut browser, &html, ("/login/enrol", "")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let form = [
        ("authz", hidden(&html, "authz")),
        ("csrf_token", hidden(&html, "csrf_token")),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let back = browser
        .post(&format!("{}/login/continue", p.base), &form)
        .await;
    assert_eq!(location(&back), wanted);
    let allowed = ask(&browser, "pay.apps.example").await.unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(allowed.headers()["remote-user"], "bjensen");
    // A TOTP code is two factors, not a phishing-resistant one.
    let to = found(&ask(&browser, "vault.apps.example").await.unwrap());
    assert!(to.contains("/login/factor?authz="), "{to}");
}

/// `AUTH_MFA=required` holds behind the proxy too: the password session
/// a user without a factor has until they enrol one is not let through.
#[tokio::test]
async fn a_required_mfa_policy_holds_for_every_application() {
    let p = Provider::start_with(&[
        ("AUTH_ISSUER", "self"),
        ("AUTH_MFA", "required"),
        ("AUTH_FORWARD_AUTH_APPS", "wiki.apps.example"),
    ])
    .await;
    let mut browser = Browser::new();
    let wanted = "https://wiki.apps.example/";
    let to_login = location(
        &browser
            .get(&format!("{}/forward-auth?rd={wanted}", p.base))
            .await,
    );
    let after = post_login(&p.base, &mut browser, &to_login, "bjensen", PASSWORD).await;
    assert!(
        location(&after).starts_with("/login/factor?authz="),
        "to enrolment, not to the application"
    );
    let asked = browser
        .http
        .get(format!("{}/forward-auth", p.base))
        .header("cookie", browser.cookie_header())
        .header("x-original-url", wanted)
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::UNAUTHORIZED);
    assert!(asked.headers().get("remote-user").is_none());
}

/// docs/security.md 16 with `AUTH_SESSION_COOKIE_DOMAIN`: the session
/// cookie is set for the parent domain, still `Secure` and `HttpOnly`
/// (a `__Secure-` name, as `__Host-` forbids `Domain`), works for the
/// sign-in that follows, and is cleared with the same `Domain`.
#[tokio::test]
async fn the_session_cookie_can_name_the_parent_domain() {
    let p = Provider::start_with(&[("AUTH_SESSION_COOKIE_DOMAIN", "example.test")]).await;
    let mut browser = Browser::new();
    let to_login = location(&browser.get(&p.authorize_url(&[])).await);
    let signed_in = post_login(&p.base, &mut browser, &to_login, "bjensen", PASSWORD).await;
    let set = set_cookie(&signed_in, "__Secure-authsvc_session=");
    for attribute in [
        "Domain=example.test",
        "Secure",
        "HttpOnly",
        "Path=/",
        "SameSite=Lax",
    ] {
        assert!(set.contains(attribute), "{attribute}: {set}");
    }
    assert!(!set.contains("__Host-"), "{set}");
    // The browser's next request is signed in: to consent, not to login.
    assert!(location(&browser.get(&p.authorize_url(&[])).await).starts_with("/consent?"));

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
    let done = browser.post(&format!("{}/logout", p.base), &form).await;
    let cleared = set_cookie(&done, "__Secure-authsvc_session=");
    assert!(cleared.contains("Domain=example.test"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
}

/// The `Set-Cookie` header of `response` that starts with `prefix`.
fn set_cookie(response: &reqwest::Response, prefix: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} cookie"))
        .to_owned()
}
