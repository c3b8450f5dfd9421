//! Dynamic client registration (RFC 7591) and client configuration (RFC
//! 7592) over HTTP: off by default, open, behind initial access tokens;
//! the policy's refusals in the RFC's error codes; a registered client
//! signing a user in (always through the consent page); read, update and
//! delete with the registration access token; the per-IP limit.

use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::{Value, json};

use crate::helpers::{ISSUER, client};
use crate::oidc::{Browser, PASSWORD, Provider, REDIRECT, VERIFIER, location, query};

/// What the MCP Python SDK registers: a public native client.
fn mcp_client() -> Value {
    json!({
        "client_name": "MCP client",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": "openid profile",
    })
}

async fn register(p: &Provider, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = client().post(format!("{}/register", p.base)).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn registration_is_off_by_default() {
    let p = Provider::start().await;
    let response = register(&p, None, &mcp_client()).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let discovery = p
        .server
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert!(discovery.get("registration_endpoint").is_none());
}

#[tokio::test]
async fn an_open_registration_signs_a_user_in_and_is_managed_by_its_token() {
    let p = Provider::start_with(&[("AUTH_REGISTRATION", "open")]).await;
    let discovery = p
        .server
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(
        discovery["registration_endpoint"],
        format!("{ISSUER}/register")
    );

    // RFC 7591 §3.2.1: 201 with the client information and its credentials.
    let response = register(&p, None, &mcp_client()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let info: Value = response.json().await.unwrap();
    let client_id = info["client_id"].as_str().unwrap().to_owned();
    let rat = info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(info["token_endpoint_auth_method"], "none");
    assert_eq!(info["redirect_uris"], json!([REDIRECT]));
    assert_eq!(info["response_types"], json!(["code"]));
    assert_eq!(info["scope"], "openid profile");
    assert!(info.get("client_secret").is_none());
    assert_eq!(
        info["registration_client_uri"],
        format!("{ISSUER}/register/{client_id}")
    );
    let event = p.server.security_event("client_registered").await;
    assert_eq!(event["client_id"], client_id.as_str());
    // The store keeps only the token's hash.
    let stored = std::fs::read(p.server.database()).unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains(&rat));

    // The consent page says the name is the client's own claim, and for
    // which API the tokens are.
    let html = p
        .consent_page(
            &mut Browser::new(),
            &[
                ("client_id", &client_id),
                ("scope", "openid profile"),
                ("resource", ISSUER),
            ],
            "bjensen",
            PASSWORD,
        )
        .await;
    assert!(html.contains("registered itself"), "{html}");
    assert!(html.contains(&format!("<code>{ISSUER}</code>")), "{html}");
    // The client signs a user in with PKCE; a dynamically registered client
    // is never first-party, so the consent page is shown (sign_in asserts it).
    let mut browser = Browser::new();
    let callback = p
        .sign_in(
            &mut browser,
            &[("client_id", &client_id), ("scope", "openid profile")],
        )
        .await;
    let code = query(&callback)["code"].clone();
    let response = client()
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
    assert_eq!(response.status(), StatusCode::OK);

    // RFC 7592 §2.1: read with the registration access token.
    let config = format!("{}/register/{client_id}", p.base);
    let read = client()
        .get(&config)
        .bearer_auth(&rat)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["client_id"], client_id.as_str());
    assert_eq!(read["registration_access_token"], rat.as_str());
    for token in [None, Some("wrong"), Some(p.client_secret.as_str())] {
        let mut request = client().get(&config);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(
            response.headers()[WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Bearer ")
        );
        assert_eq!(error_code(response).await, "invalid_token");
    }
    // A client registered on the command line is not marked, and has no
    // registration access token: nothing reaches it here.
    let html = p
        .consent_page(&mut Browser::new(), &[], "bjensen", PASSWORD)
        .await;
    assert!(!html.contains("registered itself"));
    let cli_client = format!("{}/register/{}", p.base, p.client_id);
    let response = client()
        .get(&cli_client)
        .bearer_auth(&rat)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // §2.2: update. The body names the client; the method cannot change.
    let mut body = mcp_client();
    body["client_id"] = json!(client_id);
    body["redirect_uris"] = json!([REDIRECT, "http://127.0.0.1/callback"]);
    let put = |body: Value| {
        let config = config.clone();
        let rat = rat.clone();
        async move {
            client()
                .put(&config)
                .bearer_auth(&rat)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let response = put(body.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["redirect_uris"][1], "http://127.0.0.1/callback");
    let mut other_id = body.clone();
    other_id["client_id"] = json!(p.client_id);
    assert_eq!(
        error_code(put(other_id).await).await,
        "invalid_client_metadata"
    );
    let mut secret_method = body.clone();
    secret_method["token_endpoint_auth_method"] = json!("client_secret_basic");
    assert_eq!(
        error_code(put(secret_method).await).await,
        "invalid_client_metadata"
    );

    // §2.3: delete; the registration access token is gone with the client.
    let response = client()
        .delete(&config)
        .bearer_auth(&rat)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = client()
        .get(&config)
        .bearer_auth(&rat)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    p.server.security_event("client_registration_deleted").await;
}

#[tokio::test]
async fn the_policy_refuses_in_rfc_7591_error_codes() {
    let p = Provider::start_with(&[
        ("AUTH_REGISTRATION", "open"),
        ("AUTH_REGISTRATION_REDIRECT_SCHEMES", "com.example.app"),
    ])
    .await;
    let with = |member: &str, value: Value| {
        let mut body = mcp_client();
        body[member] = value;
        body
    };
    for (body, code) in [
        (
            with("redirect_uris", json!(["http://app.example.test/cb"])),
            "invalid_redirect_uri",
        ),
        (
            with("redirect_uris", json!(["org.other.app:/cb"])),
            "invalid_redirect_uri",
        ),
        (
            with("redirect_uris", json!(["https://app.example.test/cb#f"])),
            "invalid_redirect_uri",
        ),
        (
            with("grant_types", json!(["client_credentials"])),
            "invalid_client_metadata",
        ),
        (
            with("grant_types", json!(["password"])),
            "invalid_client_metadata",
        ),
        (
            with("token_endpoint_auth_method", json!("tls_client_auth")),
            "invalid_client_metadata",
        ),
        (
            with("scope", json!("scim:write")),
            "invalid_client_metadata",
        ),
        (
            with("redirect_uris", json!("https://a.example")),
            "invalid_redirect_uri",
        ),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
        // Back-Channel Logout 1.0 §2.2: no fragment; http not for a public
        // client (mcp_client is one).
        (
            with(
                "backchannel_logout_uri",
                json!("https://app.example.test/bcl#f"),
            ),
            "invalid_client_metadata",
        ),
        (
            with(
                "backchannel_logout_uri",
                json!("http://app.example.test/bcl"),
            ),
            "invalid_client_metadata",
        ),
        (
            with("backchannel_logout_session_required", json!("yes")),
            "invalid_client_metadata",
        ),
    ] {
        let response = register(&p, None, &body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_code(response).await, code, "{body}");
    }
    // Not JSON at all.
    let response = client()
        .post(format!("{}/register", p.base))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(response).await, "invalid_client_metadata");
    // docs/security.md 23: the body is bounded before it is parsed.
    let mut huge = mcp_client();
    huge["client_name"] = json!("x".repeat(oauth::client_metadata::MAX_BODY + 1));
    let response = register(&p, None, &huge).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let event = p.server.security_event("client_registration_refused").await;
    assert_eq!(event["outcome"], "failure");

    // An allowed private-use scheme (RFC 8252 §7.1); the scope narrowed to
    // what the policy allows (§3.2.1), and what a client may not choose
    // itself ignored.
    let mut body = with("redirect_uris", json!(["com.example.app:/callback"]));
    body["scope"] = json!("openid scim:write profile");
    body["first_party"] = json!(true);
    let response = register(&p, None, &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let info: Value = response.json().await.unwrap();
    assert_eq!(info["scope"], "openid profile");
    let shown = p.cli(&["client", "get", info["client_id"].as_str().unwrap()]);
    assert_eq!(shown["first_party"], false);

    // A confidential client: a secret, shown once, that ends with the open
    // registration (AUTH_REGISTRATION_CLIENT_TTL, 30 days by default).
    let mut body = mcp_client();
    body["token_endpoint_auth_method"] = json!("client_secret_post");
    body["backchannel_logout_uri"] = json!("https://app.example.test/bcl?x=1");
    body["backchannel_logout_session_required"] = json!(true);
    let info: Value = register(&p, None, &body).await.json().await.unwrap();
    assert_eq!(
        info["backchannel_logout_uri"],
        "https://app.example.test/bcl?x=1"
    );
    assert_eq!(info["backchannel_logout_session_required"], true);
    assert!(info["client_secret"].as_str().unwrap().len() >= 43);
    assert_eq!(
        info["client_secret_expires_at"].as_i64().unwrap(),
        info["client_id_issued_at"].as_i64().unwrap() + 30 * 86_400
    );
    assert_eq!(info["token_endpoint_auth_method"], "client_secret_post");
    // docs/security.md 18: neither credential reaches the log.
    let logs = p.server.logs().join("\n");
    assert!(!logs.contains(info["client_secret"].as_str().unwrap()));
    assert!(!logs.contains(info["registration_access_token"].as_str().unwrap()));
}

#[tokio::test]
async fn initial_access_tokens_are_counted_expire_and_revoke() {
    let p = Provider::start_with(&[("AUTH_REGISTRATION", "initial-token")]).await;
    let response = register(&p, None, &mcp_client()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(response).await, "invalid_token");

    let minted = p.cli(&["token", "mint", "--registration", "--max-clients", "2"]);
    let token = minted["initial_access_token"].as_str().unwrap().to_owned();
    assert_eq!(minted["max_clients"], 2);
    // A refused registration does not use the token up.
    let mut bad = mcp_client();
    bad["redirect_uris"] = json!(["http://app.example.test/cb"]);
    assert_eq!(
        register(&p, Some(&token), &bad).await.status(),
        StatusCode::BAD_REQUEST
    );
    for _ in 0..2 {
        let response = register(&p, Some(&token), &mcp_client()).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let response = register(&p, Some(&token), &mcp_client()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "used up");

    // Tampered with: the MAC no longer matches.
    let fresh = p.cli(&["token", "mint", "--registration"]);
    let fresh = fresh["initial_access_token"].as_str().unwrap().to_owned();
    let parts: Vec<&str> = fresh.split('.').collect();
    let [jti, _, expires_at, tag] = parts[..] else {
        panic!("{fresh}")
    };
    let forged = format!("{jti}.99.{expires_at}.{tag}");
    assert_eq!(
        register(&p, Some(&forged), &mcp_client()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Revoked by its id before it was used.
    p.cli(&["token", "revoke", "--jti", jti]);
    assert_eq!(
        register(&p, Some(&fresh), &mcp_client()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // docs/security.md 18: initial access tokens never reach the log.
    let logs = p.server.logs().join("\n");
    assert!(!logs.contains(&token) && !logs.contains(&fresh));
}

#[tokio::test]
async fn open_registrations_expire_and_the_endpoint_is_rate_limited() {
    let p = Provider::start_with(&[
        ("AUTH_REGISTRATION", "open"),
        ("AUTH_REGISTRATION_CLIENT_TTL", "2s"),
        ("AUTH_RATE_LIMIT_REGISTRATION", "3/1m"),
    ])
    .await;
    let info: Value = register(&p, None, &mcp_client())
        .await
        .json()
        .await
        .unwrap();
    let client_id = info["client_id"].as_str().unwrap().to_owned();
    let authorize = |client_id: String| {
        let url = p.authorize_url(&[("client_id", &client_id), ("scope", "openid profile")]);
        async move { Browser::new().get(&url).await }
    };
    let to_login = location(&authorize(client_id.clone()).await);
    assert!(to_login.starts_with("/login?authz="), "{to_login}");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    // RFC 6749 §4.1.2.1: an unknown client is told to the user, not redirected.
    let page = authorize(client_id).await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.text().await.unwrap().contains("client"));

    for _ in 0..2 {
        register(&p, None, &mcp_client()).await;
    }
    let response = register(&p, None, &mcp_client()).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
}
