//! The OAuth endpoints available so far: JWKS, RFC 8414 metadata, the token
//! endpoint with client_credentials, introspection and revocation.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Client, TestApp, client};

pub async fn oauth_error(
    response: reqwest::Response,
    status: StatusCode,
    code: &str,
) -> reqwest::header::HeaderMap {
    assert_eq!(response.status(), status);
    let headers = response.headers().clone();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(body["error_description"].is_string());
    headers
}

pub fn segment(token: &str, index: usize) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(index).unwrap())
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn client_credentials_issues_an_rfc_9068_token_that_verifies_through_the_jwks() {
    let p = TestApp::start(&[]).await;
    let c = p.client("invoices:read invoices:write");
    let response = p
        .post(
            "/token",
            Some(&c),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "invoices:read"),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "invoices:read");
    assert_eq!(body["expires_in"], 900);
    let token = body["access_token"].as_str().unwrap();

    let header = segment(token, 0);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    let claims = segment(token, 1);
    for (name, value) in [
        ("iss", json!("https://auth.example.test")),
        ("sub", json!(c.id)),
        ("client_id", json!(c.id)),
        ("scope", json!("invoices:read")),
    ] {
        assert_eq!(claims[name], value, "{name}");
    }
    for name in ["aud", "exp", "iat", "jti"] {
        assert!(claims.get(name).is_some(), "{name} missing");
    }

    // A relying party verifies it with nothing but the JWKS.
    let jwks: jsonwebtoken::jwk::JwkSet = client()
        .get(p.server.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks
        .find(header["kid"].as_str().unwrap())
        .expect("the kid is published");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&["https://auth.example.test"]);
    validation.set_audience(&["https://auth.example.test"]);
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .unwrap();

    // client_secret_post works too, and no scope means every allowed scope.
    let response = p
        .post(
            "/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &c.id),
                ("client_secret", &c.secret),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "invoices:read invoices:write");
}

#[tokio::test]
async fn token_endpoint_errors_speak_rfc_6749() {
    let p = TestApp::start(&[]).await;
    let c = p.client("read");
    let wrong = Client {
        id: c.id.clone(),
        secret: "not-the-secret".into(),
    };
    let unknown = Client {
        id: "no-such-client".into(),
        secret: "x".into(),
    };
    for who in [&wrong, &unknown] {
        let headers = oauth_error(
            p.post("/token", Some(who), &[("grant_type", "client_credentials")])
                .await,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        )
        .await;
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        assert_eq!(headers["cache-control"], "no-store");
    }
    oauth_error(
        p.post("/token", None, &[("grant_type", "client_credentials")])
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    oauth_error(
        p.post("/token", Some(&c), &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    oauth_error(
        p.post(
            "/token",
            Some(&c),
            &[
                ("grant_type", "client_credentials"),
                ("grant_type", "client_credentials"),
            ],
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    oauth_error(
        p.post(
            "/token",
            Some(&c),
            &[
                ("grant_type", "password"),
                ("username", "u"),
                ("password", "p"),
            ],
        )
        .await,
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
    )
    .await;
    oauth_error(
        p.post(
            "/token",
            Some(&c),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "read admin"),
            ],
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_scope",
    )
    .await;
    oauth_error(
        p.post(
            "/token",
            Some(&c),
            &[
                ("grant_type", "client_credentials"),
                ("client_secret", &c.secret),
            ],
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    let json_body = client()
        .post(p.server.url("/token"))
        .basic_auth(&c.id, Some(&c.secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    oauth_error(json_body, StatusCode::BAD_REQUEST, "invalid_request").await;

    // A client registered for the code flow may not use client_credentials.
    let web = p.cli(&[
        "client",
        "create",
        "--name",
        "web",
        "--redirect-uri",
        "https://app.example/cb",
    ]);
    let web = Client {
        id: web["client_id"].as_str().unwrap().into(),
        secret: web["client_secret"].as_str().unwrap().into(),
    };
    oauth_error(
        p.post(
            "/token",
            Some(&web),
            &[("grant_type", "client_credentials")],
        )
        .await,
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
    )
    .await;

    // Failed client authentication is a security event.
    p.server.security_event("authentication_failure").await;
    assert!(
        !p.server.logs().join("\n").contains(&c.secret),
        "the secret never reaches the logs"
    );
}

#[tokio::test]
async fn introspection_and_revocation() {
    let p = TestApp::start(&[]).await;
    let a = p.client("read");
    let b = p.client("read");
    let token = p.token(&a, None).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let active = p.introspect(&b, &token).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], a.id.as_str());
    assert_eq!(active["scope"], "read");
    assert_eq!(active["token_type"], "Bearer");
    assert_eq!(
        p.introspect(&b, "not-a-token").await,
        json!({"active": false})
    );
    oauth_error(
        p.post("/introspect", None, &[("token", &token)]).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;

    // A forged token with alg "none" is simply inactive.
    let header = segment(&token, 0);
    let forged = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD
            .encode(json!({"alg": "none", "typ": "at+jwt", "kid": header["kid"]}).to_string()),
        token.split('.').nth(1).unwrap()
    );
    assert_eq!(p.introspect(&b, &forged).await["active"], false);

    // Only the client the token was issued to may revoke it.
    oauth_error(
        p.post("/revoke", Some(&b), &[("token", &token)]).await,
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
    )
    .await;
    assert_eq!(p.introspect(&b, &token).await["active"], true);
    let revoked = p
        .post(
            "/revoke",
            Some(&a),
            &[("token", &token), ("token_type_hint", "access_token")],
        )
        .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(p.introspect(&b, &token).await, json!({"active": false}));
    // Revoking twice, or revoking nonsense, is not an error (RFC 7009 §2.2).
    assert_eq!(
        p.post("/revoke", Some(&a), &[("token", &token)])
            .await
            .status(),
        200
    );
    assert_eq!(
        p.post("/revoke", Some(&a), &[("token", "garbage")])
            .await
            .status(),
        200
    );

    p.server.security_event("token_revoked").await;
    let metrics = client()
        .get(p.server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        "auth_tokens_issued_total{grant_type=\"client_credentials\",token_type=\"access_token\"}",
        "auth_token_introspections_total{active=\"true\"}",
        "auth_token_introspections_total{active=\"false\"}",
        "auth_tokens_revoked_total{token_type=\"access_token\"}",
        "auth_signing_key_age_seconds{alg=\"ES256\"}",
        "auth_jwks_keys 2",
    ] {
        assert!(metrics.contains(series), "missing {series}");
    }
}

#[tokio::test]
async fn jwks_and_metadata() {
    let p = TestApp::start(&[]).await;
    let response = client()
        .get(p.server.url("/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for key in keys {
        assert!(key["kid"].is_string() && key["use"] == "sig" && key["alg"].is_string());
        assert!(key.get("d").is_none() && key.get("p").is_none());
    }
    let metadata: Value = client()
        .get(p.server.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], "https://auth.example.test");
    assert_eq!(
        metadata["token_endpoint"],
        "https://auth.example.test/token"
    );
    assert_eq!(metadata["jwks_uri"], "https://auth.example.test/jwks.json");
    assert_eq!(
        metadata["device_authorization_endpoint"],
        "https://auth.example.test/device_authorization"
    );
    assert_eq!(
        metadata["grant_types_supported"],
        json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code"
        ])
    );
    assert!(
        metadata["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g != "implicit" && g != "password")
    );
    // Derived from the code's own lists (issue 12): the names are the
    // registered JOSE and OAuth ones.
    assert_eq!(
        metadata["response_modes_supported"],
        json!(["query", "form_post"])
    );
    assert_eq!(
        metadata["id_token_signing_alg_values_supported"],
        json!(["ES256", "RS256"])
    );
    assert_eq!(
        metadata["token_endpoint_auth_signing_alg_values_supported"],
        json!([
            "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"
        ])
    );
}

#[tokio::test]
async fn keys_cli_lists_and_rotates_and_the_server_publishes_the_new_keys() {
    let p = TestApp::start(&[]).await;
    let listed = p.cli(&["keys", "list"]);
    assert_eq!(listed["keys"].as_array().unwrap().len(), 2);
    assert!(
        listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["state"] == "active")
    );
    let rotated = p.cli(&["keys", "rotate"]);
    let new_kids: Vec<String> = rotated["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        rotated["created"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["state"] == "pending")
    );

    // The running server picks them up within its refresh interval and
    // publishes them, while the old keys keep signing.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let jwks: Value = client()
            .get(p.server.url("/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        if new_kids.iter().all(|k| kids.contains(&k.as_str())) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "new keys not published: {kids:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let c = p.client("read");
    let token = p.token(&c, None).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        !new_kids.contains(&segment(&token, 0)["kid"].as_str().unwrap().to_owned()),
        "pending keys do not sign"
    );
}

#[tokio::test]
async fn minted_tokens_are_recorded_and_revocable() {
    let p = TestApp::start(&[]).await;
    let c = p.client("scim:read scim:write");
    let minted = p.cli(&[
        "token",
        "mint",
        "--client-id",
        &c.id,
        "--scope",
        "scim:write",
        "--ttl",
        "30days",
    ]);
    let token = minted["access_token"].as_str().unwrap();
    assert_eq!(minted["expires_in"], 30 * 86_400);
    let jti = minted["jti"].as_str().unwrap();
    let active = p.introspect(&c, token).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["scope"], "scim:write");
    let shown = p.cli(&["client", "get", &c.id]);
    assert_eq!(shown["minted_tokens"][0]["jti"], jti);
    // The signing key is kept at least as long as the token.
    let keys = p.cli(&["keys", "list"]);
    let kid = segment(token, 0)["kid"].as_str().unwrap().to_owned();
    assert!(
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid.as_str())
    );

    for (args, expected) in [
        (vec!["--scope", "admin"], "--scope must be within"),
        (
            vec!["--scope", "scim:read", "--ttl", "10s"],
            "--ttl must be at least",
        ),
        // The documented cap (AUTH_MINTED_TOKEN_MAX_TTL, 90 days by default).
        (
            vec!["--scope", "scim:read", "--ttl", "365days"],
            "--ttl: at most 90 days",
        ),
    ] {
        let mut full = vec!["token", "mint", "--client-id", c.id.as_str()];
        full.extend(args);
        let output = p.run(&full, None);
        assert_eq!(output.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&output.stderr).contains(expected));
    }

    assert_eq!(
        p.cli(&["token", "revoke", "--client-id", &c.id, "--jti", jti])["revoked"],
        true
    );
    assert_eq!(p.introspect(&c, token).await["active"], false);
}

/// RFC 7523 client authentication with a registered public key.
#[tokio::test]
async fn private_key_jwt_authenticates_once_per_assertion() {
    private_key_jwt(false).await;
}

/// With the documented compatibility setting, the token endpoint URL is an
/// accepted audience too; an array still is not.
#[tokio::test]
async fn private_key_jwt_accepts_the_token_endpoint_audience_only_when_configured() {
    private_key_jwt(true).await;
}

async fn private_key_jwt(token_endpoint_audience: bool) {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    let setting = if token_endpoint_audience {
        "true"
    } else {
        "false"
    };
    let p = TestApp::start(&[("AUTH_ASSERTION_AUDIENCE_TOKEN_ENDPOINT", setting)]).await;
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "rp-key-1", "use": "sig", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    }]});
    let file = p.server.dir.path().join("client-jwks.json");
    std::fs::write(&file, jwks.to_string()).unwrap();
    let created = p.cli(&[
        "client",
        "create",
        "--name",
        "keyed",
        "--scope",
        "read",
        "--jwks-file",
        file.to_str().unwrap(),
    ]);
    assert!(
        created.get("client_secret").is_none(),
        "no secret for private_key_jwt"
    );
    let id = created["client_id"].as_str().unwrap().to_owned();
    assert_eq!(
        p.cli(&["client", "get", &id])["token_endpoint_auth_method"],
        "private_key_jwt"
    );

    let key = jsonwebtoken::EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let assertion = |aud: Value, jti: &str| {
        let header = jsonwebtoken::Header {
            kid: Some("rp-key-1".into()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256)
        };
        let claims =
            json!({"iss": id, "sub": id, "aud": aud, "iat": now, "exp": now + 60, "jti": jti});
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    };
    let token_with = |assertion: String| {
        let url = p.server.url("/token");
        async move {
            client()
                .post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let good = assertion(json!("https://auth.example.test"), "jti-1");
    assert_eq!(token_with(good.clone()).await.status(), 200);
    // The same assertion again is a replay.
    oauth_error(
        token_with(good).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    // Another audience, or an HMAC "signature", is refused. So is any
    // audience but the issuer alone (draft-ietf-oauth-rfc7523bis: audience injection):
    // the token endpoint URL (unless configured), or an array naming us.
    let endpoint = token_with(assertion(json!("https://auth.example.test/token"), "jti-4")).await;
    if token_endpoint_audience {
        assert_eq!(endpoint.status(), 200);
    } else {
        oauth_error(endpoint, StatusCode::UNAUTHORIZED, "invalid_client").await;
    }
    for (jti, aud) in [
        ("jti-2", json!("https://other.example/token")),
        ("jti-5", json!(["https://auth.example.test"])),
        (
            "jti-6",
            json!(["https://auth.example.test", "https://other.example"]),
        ),
        ("jti-7", json!(["https://auth.example.test/token"])),
    ] {
        oauth_error(
            token_with(assertion(aud.clone(), jti)).await,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        )
        .await;
    }
    let hmac = jsonwebtoken::encode(
        &jsonwebtoken::Header { kid: Some("rp-key-1".into()), ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256) },
        &json!({"iss": id, "sub": id, "aud": "https://auth.example.test/token", "exp": now + 60, "jti": "jti-3"}),
        &jsonwebtoken::EncodingKey::from_secret(b"guess").unwrap(),
    )
    .unwrap();
    oauth_error(
        token_with(hmac).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    // The client cannot fall back to a secret it never had.
    let secretless = Client {
        id: id.clone(),
        secret: "anything".into(),
    };
    oauth_error(
        p.post(
            "/token",
            Some(&secretless),
            &[("grant_type", "client_credentials")],
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;

    // Registration refuses private keys.
    std::fs::write(
        &file,
        json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}).to_string(),
    )
    .unwrap();
    let output = p.run(
        &[
            "client",
            "create",
            "--name",
            "bad",
            "--jwks-file",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
}

/// WebFinger issuer discovery (RFC 7033, OpenID Connect Discovery §2): the
/// issuer for any account of a configured domain, a user who exists or
/// not alike (no enumeration); 404 elsewhere; 400 without a resource.
#[tokio::test]
async fn webfinger_names_the_issuer_for_configured_domains_only() {
    let app = TestApp::start(&[("AUTH_WEBFINGER_DOMAINS", "Example.com,corp.example")]).await;
    app.run(
        &[
            "user",
            "create",
            "--username",
            "bjensen@example.com",
            "--password-stdin",
        ],
        Some("correct horse battery staple\n"),
    );
    let rel = "http://openid.net/specs/connect/1.0/issuer";
    let ask = |query: String| {
        let url = app.server.url(&format!("/.well-known/webfinger?{query}"));
        async move { client().get(url).send().await.unwrap() }
    };
    let query = |resource: &str| {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("resource", resource)
            .append_pair("rel", rel)
            .finish()
    };
    let mut bodies = Vec::new();
    for resource in ["acct:bjensen@example.com", "acct:nobody@example.com"] {
        let answer = ask(query(resource)).await;
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()["content-type"], "application/jrd+json");
        assert_eq!(answer.headers()["access-control-allow-origin"], "*");
        let jrd: Value = answer.json().await.unwrap();
        assert_eq!(jrd["subject"], resource);
        assert_eq!(
            jrd["links"],
            json!([{"rel": rel, "href": crate::helpers::ISSUER}])
        );
        bodies.push(jrd["links"].clone());
    }
    // The same answer whether or not the account exists.
    assert_eq!(bodies[0], bodies[1]);
    let url_form = ask(query("https://corp.example/joe")).await;
    assert_eq!(url_form.status(), 200);
    assert_eq!(ask(query("acct:joe@elsewhere.example")).await.status(), 404);
    assert_eq!(ask(String::new()).await.status(), 400);
    assert_eq!(ask(query("joe")).await.status(), 400);
}
