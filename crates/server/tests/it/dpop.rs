//! DPoP (RFC 9449) with proofs from an independent implementation, Python
//! jwcrypto (scripts/dpop_checks.py): bound tokens from /token with each
//! algorithm, the proof checks (htu, htm, replayed jti, stale iat, bad
//! signature, two headers), a bound token at SCIM with its proof and
//! refused as Bearer or with another key, introspection's `cnf`, a public
//! client's refresh token bound to its key, and server nonces.

use crate::helpers::TestApp;
use crate::oidc::PASSWORD;

async fn run_checks(app: &TestApp, mode: Option<&str>) -> String {
    let python = crate::ops_kit::python();
    let (id, secret) = crate::helpers::service_client(&app.cli_env(), "scim:read");
    let script = format!(
        "{}/../../scripts/dpop_checks.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut args = vec![
        script,
        app.server.base.clone(),
        id,
        secret,
        "bjensen".to_owned(),
        PASSWORD.to_owned(),
    ];
    args.extend(mode.map(str::to_owned));
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python)
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "DPoP checks failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn user(app: &TestApp) {
    app.run(
        &[
            "user",
            "create",
            "--username",
            "bjensen",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
}

#[tokio::test]
async fn dpop_proofs_from_jwcrypto() {
    let app = TestApp::start(&[("AUTH_ISSUER", "self"), ("AUTH_REGISTRATION", "open")]).await;
    user(&app);
    let stdout = run_checks(&app, None).await;
    assert!(stdout.contains("DPoP checks: ok"), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
    let refused = app.server.security_event("dpop_proof_refused").await;
    assert_eq!(refused["outcome"], "failure");
    let discovery = app
        .server
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(
        discovery["dpop_signing_alg_values_supported"],
        serde_json::json!(["ES256", "EdDSA", "RS256"])
    );
}

/// RFC 9449 §5.2: a client registered with `dpop_bound_access_tokens`
/// gets no token without a proof.
#[tokio::test]
async fn a_client_registered_for_dpop_must_send_a_proof() {
    let app = TestApp::start(&[]).await;
    let created = app.cli(&[
        "client",
        "create",
        "--name",
        "bound",
        "--grant-type",
        "client_credentials",
        "--scope",
        "scim:read",
        "--dpop-bound-access-tokens",
    ]);
    let shown = app.cli(&["client", "get", created["client_id"].as_str().unwrap()]);
    assert_eq!(shown["dpop_bound_access_tokens"], true);
    let answer = crate::helpers::client()
        .post(app.server.url("/token"))
        .basic_auth(
            created["client_id"].as_str().unwrap(),
            created["client_secret"].as_str(),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::BAD_REQUEST);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof");
}

#[tokio::test]
async fn with_server_nonces_a_proof_needs_the_current_one() {
    let app = TestApp::start(&[("AUTH_ISSUER", "self"), ("AUTH_DPOP_NONCE", "true")]).await;
    user(&app);
    let stdout = run_checks(&app, Some("nonce")).await;
    assert!(stdout.contains("nonce mode: done"), "{stdout}");
}
