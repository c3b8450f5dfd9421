//! Apache with mod_auth_openidc (Debian's `libapache2-mod-auth-openidc`)
//! as a relying party of this server, set up as docs/integrations.md
//! says: a browser signs in through it and the page sees the user;
//! RP-initiated logout ends both sessions; a session that ends here (an
//! operator's MFA reset) ends Apache's too, by back-channel logout.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::free_port;
use crate::oidc::{Browser, PASSWORD, Provider, hidden, location, post_login};

/// Apache on loopback (`AUTH_TEST_APACHE` names another binary), with
/// mod_auth_openidc guarding `/`; the page answers `X-User` with
/// `REMOTE_USER`.
struct Apache {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Apache {
    fn start(port: u16, issuer: &str, client_id: &str, secret: &str) -> Self {
        let binary =
            std::env::var("AUTH_TEST_APACHE").unwrap_or_else(|_| "/usr/sbin/apache2".into());
        let modules = "/usr/lib/apache2/modules";
        assert!(
            std::path::Path::new(&format!("{modules}/mod_auth_openidc.so")).exists(),
            "no mod_auth_openidc: run ./scripts/test (it installs apache2 and \
             libapache2-mod-auth-openidc) or set AUTH_TEST_APACHE"
        );
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        std::fs::create_dir(dir.path().join("htdocs")).unwrap();
        std::fs::write(dir.path().join("htdocs/index.html"), "protected\n").unwrap();
        // Apache's workers run as nobody: the page must be readable.
        for path in [dir.path().to_path_buf(), dir.path().join("htdocs")] {
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
        }
        let conf = format!(
            r#"ServerRoot {root}
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
LogLevel warn auth_openidc:info
User nobody
Group nogroup
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authn_core_module {modules}/mod_authn_core.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule authz_user_module {modules}/mod_authz_user.so
LoadModule headers_module {modules}/mod_headers.so
LoadModule dir_module {modules}/mod_dir.so
LoadModule auth_openidc_module {modules}/mod_auth_openidc.so
DocumentRoot {root}/htdocs
DirectoryIndex index.html
OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
OIDCClientID {client_id}
OIDCClientSecret {secret}
OIDCRedirectURI http://127.0.0.1:{port}/redirect_uri
OIDCCryptoPassphrase test-passphrase-not-for-production
OIDCScope "openid profile email groups"
OIDCPKCEMethod S256
OIDCRemoteUserClaim preferred_username
<Location />
  AuthType openid-connect
  Require valid-user
  Header always set X-User "expr=%{{REMOTE_USER}}"
</Location>
"#
        );
        let path = dir.path().join("httpd.conf");
        std::fs::write(&path, conf).unwrap();
        let mut child = Command::new(&binary)
            .args(["-f", path.to_str().unwrap(), "-DFOREGROUND"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "apache exited with {status}: {}",
                    std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "apache did not listen on {port}: {}",
                std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, _dir: dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Apache {
    /// SIGTERM, which Apache's parent passes on to its workers before it
    /// exits (a SIGKILL would leave them running); SIGKILL only if it
    /// has not gone within 5 s.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The target of a 302 (Apache's redirects).
fn found(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::FOUND, "expected a 302");
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// Signs in through Apache: its redirect to `/authorize`, the login and
/// consent pages, the callback; back at `/` with Apache's session.
async fn sign_in(p: &Provider, apache: &Apache, browser: &mut Browser, base: &str) {
    let to_authorize = found(&browser.get(&format!("{base}/")).await);
    assert!(
        to_authorize.starts_with(&format!("{}/authorize?", p.base)),
        "{to_authorize}"
    );
    let to_login = location(&browser.get(&to_authorize).await);
    let signed_in = location(&post_login(&p.base, browser, &to_login, "bjensen", PASSWORD).await);
    // The consent page the first time; remembered after that.
    let callback = if signed_in.starts_with("/consent?") {
        let html = browser
            .get(&format!("{}{signed_in}", p.base))
            .await
            .text()
            .await
            .unwrap();
        let form = [
            ("authz", hidden(&html, "authz")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("decision", "allow".to_owned()),
        ];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        location(&browser.post(&format!("{}/consent", p.base), &form).await)
    } else {
        signed_in
    };
    assert!(
        callback.starts_with(&format!("{base}/redirect_uri?")),
        "{callback}"
    );
    let back = browser.get(&callback).await;
    assert_eq!(back.status(), StatusCode::FOUND, "{}", apache.log());
    let page = browser.get(&format!("{base}/")).await;
    assert_eq!(page.status(), StatusCode::OK, "{}", apache.log());
    assert_eq!(page.headers()["x-user"], "bjensen");
}

#[tokio::test]
async fn mod_auth_openidc_signs_in_logs_out_and_hears_back_channel_logout() {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let p = Provider::start_with(&[
        ("AUTH_ISSUER", "self"),
        ("AUTH_BACKCHANNEL_LOGOUT_ALLOW", "127.0.0.0/8"),
    ])
    .await;
    let redirect = format!("{base}/redirect_uri");
    let logged_out = format!("{base}/logged-out");
    let backchannel = format!("{base}/redirect_uri?logout=backchannel");
    let created = p.cli(&[
        "client",
        "create",
        "--name",
        "Apache",
        "--redirect-uri",
        &redirect,
        "--post-logout-redirect-uri",
        &logged_out,
        "--backchannel-logout-uri",
        &backchannel,
        "--scope",
        "openid profile email groups",
    ]);
    let apache = Apache::start(
        port,
        &p.base,
        created["client_id"].as_str().unwrap(),
        created["client_secret"].as_str().unwrap(),
    );

    // Sign in; RP-initiated logout through Apache ends both sessions.
    let mut browser = Browser::new();
    sign_in(&p, &apache, &mut browser, &base).await;
    let to_end = found(
        &browser
            .get(&format!(
                "{base}/redirect_uri?logout={}",
                form_urlencoded::byte_serialize(logged_out.as_bytes()).collect::<String>()
            ))
            .await,
    );
    assert!(
        to_end.starts_with(&format!("{}/logout?", p.base)),
        "{to_end}"
    );
    assert_eq!(location(&browser.get(&to_end).await), logged_out);
    let again = found(&browser.get(&format!("{base}/")).await);
    assert!(
        again.starts_with(&format!("{}/authorize?", p.base)),
        "{again}"
    );

    // Sign in again; an operator's MFA reset ends the session here, and
    // the logout token ends Apache's.
    let mut browser = Browser::new();
    sign_in(&p, &apache, &mut browser, &base).await;
    p.cli(&["user", "mfa", "reset", &p.user_id]);
    // The first went to the session Apache had already ended itself (the
    // RP-initiated logout tells every client of the session, the one that
    // asked too); the second ends this one.
    p.server
        .log_lines(|l| l["event"] == "backchannel_logout_delivered", 2)
        .await;
    let after = browser.get(&format!("{base}/")).await;
    assert_eq!(after.status(), StatusCode::FOUND, "{}", apache.log());
}
