//! Client ID metadata documents: an MCP-style client whose `client_id` is
//! the https URL of its metadata signs a user in; what the document may
//! not do (name another id, hold a secret, be too large, redirect) and
//! where it may not be fetched from (a private address without the
//! allow-list) make the client unknown. The documents are served over TLS
//! on loopback by Python's http.server with a test CA the service trusts
//! through `SSL_CERT_FILE`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{TestApp, free_port};
use crate::oidc::{Browser, PASSWORD, Provider, REDIRECT, VERIFIER, location, query};

struct Documents {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
}

impl Drop for Documents {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Documents {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        crate::redis_tls::make_certs(dir.path());
        std::fs::create_dir(dir.path().join("www")).unwrap();
        std::fs::create_dir(dir.path().join("www/folder")).unwrap();
        let port = free_port();
        let server = format!(
            "import http.server, ssl\n\
             ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
             ctx.load_cert_chain('{0}/cert.pem', '{0}/key.pem')\n\
             handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory='{0}/www')\n\
             httpd = http.server.ThreadingHTTPServer(('127.0.0.1', {port}), handler)\n\
             httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)\n\
             httpd.serve_forever()\n",
            dir.path().display()
        );
        let child = Command::new("python3")
            .args(["-c", &server])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 serves the documents");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the document server did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            base: format!("https://localhost:{port}"),
            dir,
        }
    }

    /// Serves `body` at `path`; its URL.
    fn put(&self, path: &str, body: &str) -> String {
        std::fs::write(self.dir.path().join("www").join(path), body).unwrap();
        format!("{}/{path}", self.base)
    }

    fn document(&self, path: &str, extra: serde_json::Value) -> String {
        let url = format!("{}/{path}", self.base);
        let mut doc = json!({
            "client_id": url,
            "client_name": "Document client",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        });
        for (k, v) in extra.as_object().unwrap() {
            doc[k] = v.clone();
        }
        self.put(path, &doc.to_string())
    }
}

async fn start(docs: &Documents, allow: bool) -> Provider {
    let ca = docs.dir.path().join("ca.pem");
    let mut env = vec![
        ("AUTH_CLIENT_ID_METADATA_DOCUMENTS", "true"),
        ("SSL_CERT_FILE", ca.to_str().unwrap()),
    ];
    if allow {
        env.push(("AUTH_CLIENT_ID_METADATA_ALLOW", "127.0.0.0/8,::1/128"));
    }
    Provider::start_with(&env).await
}

/// Whether /authorize knows the client: a redirect to the login page, or
/// the error page for an unknown client.
async fn known(p: &Provider, client_id: &str) -> bool {
    let response = Browser::new()
        .get(&p.authorize_url(&[("client_id", client_id), ("scope", "openid")]))
        .await;
    match response.status().as_u16() {
        303 => location(&response).starts_with("/login"),
        400 => false,
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_client_named_by_its_metadata_document_signs_a_user_in() {
    let docs = Documents::start();
    let p = start(&docs, true).await;
    let discovery = p
        .server
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(discovery["client_id_metadata_document_supported"], true);
    let client_id = docs.document("client.json", json!({}));
    let callback = p
        .sign_in(
            &mut Browser::new(),
            &[("client_id", &client_id), ("scope", "openid")],
        )
        .await;
    let code = query(&callback)["code"].clone();
    let answer = crate::helpers::client()
        .post(format!("{}/token", p.base))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    // The client is kept under its URL, public, with its cache time.
    let stored = p.cli(&["client", "get", &client_id]);
    assert_eq!(stored["public"], true);
    assert_eq!(stored["client_name"], "Document client");

    // What a document may not be.
    let wrong_id = docs.put(
        "wrong-id.json",
        &json!({"client_id": "https://elsewhere.example/c", "redirect_uris": [REDIRECT]})
            .to_string(),
    );
    let secret = docs.document("secret.json", json!({"client_secret": "s3cret"}));
    let confidential = docs.document(
        "basic.json",
        json!({"token_endpoint_auth_method": "client_secret_basic"}),
    );
    let big = docs.document("big.json", json!({"padding": "x".repeat(6000)}));
    let insecure_redirect = docs.document(
        "http.json",
        json!({"redirect_uris": ["http://app.example.test/cb"]}),
    );
    // http.server answers a directory without its slash with a 301.
    let redirected = format!("{}/folder", docs.base);
    let missing = format!("{}/missing.json", docs.base);
    let plain_http = client_id.replace("https://", "http://");
    for id in [
        &wrong_id,
        &secret,
        &confidential,
        &big,
        &insecure_redirect,
        &redirected,
        &missing,
        &plain_http,
    ] {
        assert!(!known(&p, id).await, "{id}");
    }
    let refused = p
        .server
        .security_event("client_metadata_document_refused")
        .await;
    assert_eq!(refused["outcome"], "failure");
    // With the password of a user: the consent page says who named itself.
    let html = p
        .consent_page(
            &mut Browser::new(),
            &[
                ("client_id", &client_id),
                ("scope", "openid"),
                ("prompt", "consent"),
            ],
            "bjensen",
            PASSWORD,
        )
        .await;
    assert!(html.contains("registered itself"), "{html}");
}

#[tokio::test]
async fn without_the_allow_list_a_loopback_document_is_not_fetched() {
    let docs = Documents::start();
    let p = start(&docs, false).await;
    let client_id = docs.document("client.json", json!({}));
    assert!(!known(&p, &client_id).await);
    let refused = p
        .server
        .security_event("client_metadata_document_refused")
        .await;
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .contains("not a public address"),
        "{refused}"
    );
    // Off, a URL is just an unknown client id.
    let off = TestApp::start(&[]).await;
    let discovery = off
        .server
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert!(
        discovery
            .get("client_id_metadata_document_supported")
            .is_none()
    );
}
