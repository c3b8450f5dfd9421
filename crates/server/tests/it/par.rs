//! Pushed authorization requests (RFC 9126): authlib pushes and signs in
//! (scripts/par_flow.py); the pushed request is judged as `/authorize`
//! judges one, its `request_uri` is single-use and the pushing client's,
//! and a client (or the server) can require pushing.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::client;
use crate::oidc::{
    Browser, CHALLENGE, PASSWORD, Provider, REDIRECT, error_of, location, post_login,
};

/// The Provider client's authorization request, as pushed.
fn request(p: &Provider) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", p.client_id.clone()),
        ("redirect_uri", REDIRECT.into()),
        ("scope", "openid profile".into()),
        ("state", "pushed-state".into()),
        ("code_challenge", CHALLENGE.into()),
        ("code_challenge_method", "S256".into()),
    ]
}

async fn push(p: &Provider, form: &[(&str, String)]) -> reqwest::Response {
    client()
        .post(format!("{}/par", p.base))
        .basic_auth(&p.client_id, Some(&p.client_secret))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn request_uri(p: &Provider) -> String {
    let response = push(p, &request(p)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["request_uri"].as_str().unwrap().to_owned()
}

fn authorize(p: &Provider, params: &[(&str, &str)]) -> String {
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("{}/authorize?{q}", p.base)
}

/// The issue's client that is not ours: authlib builds the request, pushes
/// it, follows the browser through the login form and redeems the code.
#[tokio::test]
async fn authlib_pushes_a_request_and_signs_in() {
    let p = Provider::start_with(&[("AUTH_ISSUER", "self")]).await;
    let created = p.cli(&[
        "client",
        "create",
        "--name",
        "authlib",
        "--redirect-uri",
        "http://127.0.0.1:9/callback",
        "--scope",
        "openid profile",
        "--first-party",
    ]);
    crate::ops_kit::run_client_script(
        "par_flow.py",
        vec![
            p.base.clone(),
            created["client_id"].as_str().unwrap().to_owned(),
            created["client_secret"].as_str().unwrap().to_owned(),
            "bjensen".to_owned(),
            PASSWORD.to_owned(),
        ],
        "par flow: ok",
    )
    .await;
}

/// §2.1, §2.3: a pushed request is refused in the token endpoint's words
/// for what `/authorize` would refuse, and for PAR's own rules.
#[tokio::test]
async fn pushed_requests_are_judged_as_authorization_requests() {
    let p = Provider::start().await;
    let with = |name: &'static str, value: &str| {
        let mut form = request(&p);
        form.retain(|(n, _)| *n != name);
        form.push((name, value.to_owned()));
        form
    };
    for (form, status, code) in [
        (with("client_id", "someone-else"), 400, "invalid_request"),
        (
            with("request_uri", "urn:ietf:params:oauth:request_uri:x"),
            400,
            "invalid_request",
        ),
        (
            with("redirect_uri", "https://evil.example/cb"),
            400,
            "invalid_request",
        ),
        (with("scope", "openid scim:write"), 400, "invalid_scope"),
        (
            with("response_type", "token"),
            400,
            "unsupported_response_type",
        ),
        (with("auth-service:pushed", "1"), 400, "invalid_request"),
    ] {
        let response = push(&p, &form).await;
        assert_eq!(response.status(), status, "{form:?}");
        assert_eq!(error_of(response).await, code, "{form:?}");
    }
    let anonymous = client()
        .post(format!("{}/par", p.base))
        .form(&request(&p))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(anonymous).await, "invalid_client");
}

/// §4: the `request_uri` is the pushing client's, single-use, and ours.
#[tokio::test]
async fn a_request_uri_is_single_use_and_the_pushing_clients() {
    let p = Provider::start().await;
    let uri = request_uri(&p).await;
    let mut browser = Browser::new();
    let to_login = location(
        &browser
            .get(&authorize(
                &p,
                &[("client_id", &p.client_id), ("request_uri", &uri)],
            ))
            .await,
    );
    assert!(to_login.starts_with("/login?authz="), "{to_login}");
    // Signing in goes on with the pushed request.
    let to_consent =
        location(&post_login(&p.base, &mut browser, &to_login, "bjensen", PASSWORD).await);
    assert!(to_consent.starts_with("/consent?authz="), "{to_consent}");

    for (params, why) in [
        (
            vec![
                ("client_id", p.client_id.as_str()),
                ("request_uri", uri.as_str()),
            ],
            "a replay",
        ),
        (
            vec![
                ("client_id", p.client_id.as_str()),
                ("request_uri", "urn:ietf:params:oauth:request_uri:made-up"),
            ],
            "an unknown reference",
        ),
    ] {
        let page = client().get(authorize(&p, &params)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::BAD_REQUEST, "{why}");
        assert!(
            page.text().await.unwrap().contains("invalid_request_uri"),
            "{why}"
        );
    }
    // A request object by reference would make this server fetch a URL.
    let page = client()
        .get(authorize(
            &p,
            &[
                ("client_id", &p.client_id),
                ("request_uri", "https://x.example/r"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("request_uri_not_supported")
    );
    // Another client's name on the request_uri: refused (and spent).
    let other = request_uri(&p).await;
    let page = client()
        .get(authorize(
            &p,
            &[("client_id", "another"), ("request_uri", &other)],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.text().await.unwrap().contains("invalid_request_uri"));
    // Without client_id (§4 requires it).
    let page = client()
        .get(authorize(&p, &[("request_uri", &request_uri(&p).await)]))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
}

/// §5, §6: a client registered to push, or every client when the server
/// says so, is refused at `/authorize` without a pushed request; the
/// server's own marker cannot be forged from the browser.
#[tokio::test]
async fn pushing_can_be_required_per_client_and_for_all() {
    let p = Provider::start_with_client(&[], &["--require-pushed-authorization-requests"]).await;
    let direct = client().get(p.authorize_url(&[])).send().await.unwrap();
    assert_eq!(direct.status(), StatusCode::BAD_REQUEST);
    assert!(direct.text().await.unwrap().contains("push"));
    let forged = client()
        .get(p.authorize_url(&[("auth-service:pushed", "1")]))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    let uri = request_uri(&p).await;
    let pushed = Browser::new()
        .get(&authorize(
            &p,
            &[("client_id", &p.client_id), ("request_uri", &uri)],
        ))
        .await;
    assert!(location(&pushed).starts_with("/login?authz="));
    let shown = p.cli(&["client", "get", &p.client_id]);
    assert_eq!(shown["require_pushed_authorization_requests"], true);

    let all = Provider::start_with(&[("AUTH_REQUIRE_PUSHED_AUTHORIZATION_REQUESTS", "true")]).await;
    let meta = all
        .server
        .get_json("/.well-known/openid-configuration")
        .await;
    assert_eq!(meta["require_pushed_authorization_requests"], true);
    assert_eq!(
        meta["pushed_authorization_request_endpoint"],
        format!("{}/par", crate::helpers::ISSUER)
    );
    let direct = client().get(all.authorize_url(&[])).send().await.unwrap();
    assert_eq!(direct.status(), StatusCode::BAD_REQUEST);
}

/// RFC 9101 with a client that is not ours: authlib.jose signs request
/// objects (sent at `/authorize` and pushed) and private_key_jwt
/// assertions; objects signed by another key, for another audience, or
/// outside their time are refused (scripts/jar_flow.py).
#[tokio::test]
async fn authlib_signs_request_objects() {
    let p = Provider::start_with(&[("AUTH_ISSUER", "self")]).await;
    let python = crate::ops_kit::python();
    let script = format!("{}/../../scripts/jar_flow.py", env!("CARGO_MANIFEST_DIR"));
    let private = p.server.dir.path().join("rp-private.json");
    let public = p.server.dir.path().join("rp-jwks.json");
    let keygen = std::process::Command::new(&python)
        .arg(&script)
        .arg("keygen")
        .args([&private, &public])
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{keygen:?}");
    let created = p.cli(&[
        "client",
        "create",
        "--name",
        "authlib JAR",
        "--redirect-uri",
        "http://127.0.0.1:9/callback",
        "--scope",
        "openid profile",
        "--first-party",
        "--require-signed-request-object",
        "--jwks-file",
        public.to_str().unwrap(),
    ]);
    crate::ops_kit::run_client_script(
        "jar_flow.py",
        vec![
            "flow".to_owned(),
            p.base.clone(),
            created["client_id"].as_str().unwrap().to_owned(),
            private.to_str().unwrap().to_owned(),
            "bjensen".to_owned(),
            PASSWORD.to_owned(),
        ],
        "jar flow: ok",
    )
    .await;
}
