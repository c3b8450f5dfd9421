//! RFC 8707 resource indicators at `/authorize` and `/token`: a token
//! asked for a registered API carries it as `aud`, with the scopes and the
//! lifetime of that API; a token for another API is refused by this
//! server's own (SCIM), which found the flaw: every token used to carry
//! `aud` = the issuer, so any resource server trusting this issuer took
//! any token.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ISSUER, TestApp, client};

const ORDERS: &str = "https://api.example.com/orders";
const BILLING: &str = "https://api.example.com/billing";

async fn token(
    app: &TestApp,
    (id, secret): (&str, &str),
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut fields = vec![("grant_type", "client_credentials")];
    fields.extend_from_slice(form);
    let answer = client()
        .post(app.server.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&fields)
        .send()
        .await
        .unwrap();
    (answer.status(), answer.json().await.unwrap())
}

fn claims(token: &str) -> Value {
    crate::mfa::payload(token)
}

#[tokio::test]
async fn a_token_for_an_api_is_for_that_api_only() {
    let app = TestApp::start(&[]).await;
    app.cli(&[
        "api",
        "create",
        "--identifier",
        ORDERS,
        "--scope",
        "orders:read orders:write",
        "--access-token-ttl",
        "2m",
        "--alg",
        "RS256",
    ]);
    app.cli(&[
        "api",
        "create",
        "--identifier",
        BILLING,
        "--scope",
        "billing:read",
    ]);
    let created = app.cli(&[
        "client",
        "create",
        "--name",
        "orders-job",
        "--grant-type",
        "client_credentials",
        "--scope",
        "orders:read billing:read scim:read",
        "--resource",
        ORDERS,
    ]);
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let me = (id.as_str(), secret.as_str());

    // For the orders API: its audience, the scopes it offers that the
    // client has, and its shorter lifetime.
    let (status, body) = token(&app, me, &[("resource", ORDERS)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let orders_token = body["access_token"].as_str().unwrap().to_owned();
    let c = claims(&orders_token);
    assert_eq!(c["aud"], ORDERS);
    let header = orders_token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256", "the API's algorithm");
    assert_eq!(c["scope"], "orders:read");
    assert!(body["expires_in"].as_u64().unwrap() <= 120, "{body}");
    let introspected = client()
        .post(app.server.url("/introspect"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", orders_token.as_str())])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(introspected["aud"], ORDERS, "{introspected}");

    // This server's own API does not take it (the flaw this fixes)...
    let scim = |token: String| {
        let url = app.server.url("/scim/v2/Users");
        async move {
            client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(scim(orders_token).await, StatusCode::UNAUTHORIZED);
    // ...and takes one without a resource: the issuer is its audience.
    let (status, body) = token(&app, me, &[("scope", "scim:read")]).await;
    assert_eq!(status, StatusCode::OK);
    let own = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&own)["aud"], ISSUER);
    assert_eq!(scim(own).await, StatusCode::OK);

    // Refused in RFC 8707's and RFC 6749's words.
    for (form, error) in [
        (vec![("resource", BILLING)], "invalid_target"),
        (
            vec![("resource", "https://unknown.example")],
            "invalid_target",
        ),
        (
            vec![("resource", "https://api.example.com/orders#x")],
            "invalid_target",
        ),
        (vec![("resource", "orders")], "invalid_target"),
        (
            vec![("resource", ORDERS), ("resource", BILLING)],
            "invalid_target",
        ),
        (
            vec![("resource", ORDERS), ("scope", "orders:write")],
            "invalid_scope",
        ),
        (
            vec![("resource", ORDERS), ("scope", "scim:read")],
            "invalid_scope",
        ),
    ] {
        let (status, body) = token(&app, me, &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}: {body}");
        assert_eq!(body["error"], error, "{form:?}: {body}");
    }

    // Two APIs the client may use: both in `aud`, the scopes of each.
    let both = app.cli(&[
        "client",
        "create",
        "--name",
        "both",
        "--grant-type",
        "client_credentials",
        "--scope",
        "orders:read billing:read",
        "--resource",
        ORDERS,
        "--resource",
        BILLING,
    ]);
    let pair = (
        both["client_id"].as_str().unwrap(),
        both["client_secret"].as_str().unwrap(),
    );
    let (status, body) = token(&app, pair, &[("resource", ORDERS), ("resource", BILLING)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["aud"], json!([ORDERS, BILLING]));
    assert_eq!(c["scope"], "billing:read orders:read");

    // A default API: a request that names none gets a token for it.
    let defaulted = app.cli(&[
        "client",
        "create",
        "--name",
        "default",
        "--grant-type",
        "client_credentials",
        "--scope",
        "orders:read",
        "--resource",
        ORDERS,
        "--default-resource",
        ORDERS,
    ]);
    let pair = (
        defaulted["client_id"].as_str().unwrap(),
        defaulted["client_secret"].as_str().unwrap(),
    );
    let (status, body) = token(&app, pair, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["aud"],
        ORDERS
    );
    let refused = app.run(
        &[
            "client",
            "create",
            "--name",
            "bad",
            "--grant-type",
            "client_credentials",
            "--resource",
            ORDERS,
            "--default-resource",
            BILLING,
        ],
        None,
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--default-resource"));
}

/// The flow's callback: the code, or the error sent there.
fn callback(url: &str) -> std::collections::HashMap<String, String> {
    crate::oidc::query(url)
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    (response.status(), response.json().await.unwrap())
}

async fn status_at(app: &TestApp, path: &str, token: &str) -> StatusCode {
    client()
        .get(app.server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn the_code_flow_is_for_the_apis_asked_and_a_refresh_narrows_to_some() {
    use crate::oidc::{Browser, Provider, REDIRECT, location};

    let mut provider = Provider::start().await;
    provider.cli(&[
        "api",
        "create",
        "--identifier",
        ORDERS,
        "--scope",
        "orders:read",
    ]);
    provider.cli(&[
        "api",
        "create",
        "--identifier",
        BILLING,
        "--scope",
        "billing:read",
    ]);
    let web = provider.cli(&[
        "client",
        "create",
        "--name",
        "Orders web",
        "--redirect-uri",
        REDIRECT,
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
        "--scope",
        "openid profile orders:read billing:read",
        "--resource",
        ORDERS,
        "--resource",
        BILLING,
    ]);
    provider.client_id = web["client_id"].as_str().unwrap().into();
    provider.client_secret = web["client_secret"].as_str().unwrap().into();

    // Refused at the authorization endpoint, at the redirect URI, before
    // anyone signs in (RFC 8707 §2 and RFC 6749 §4.1.2.1). The SCIM API
    // needs a SCIM scope.
    let scim_api = format!("{ISSUER}/scim/v2");
    for (extra, error) in [
        (
            vec![("resource", "https://unknown.example")],
            "invalid_target",
        ),
        (vec![("resource", "orders")], "invalid_target"),
        (vec![("resource", scim_api.as_str())], "invalid_target"),
        (
            vec![("resource", ORDERS), ("scope", "openid billing:read")],
            "invalid_scope",
        ),
    ] {
        let mut extra = extra;
        if extra.len() == 1 {
            extra.push(("scope", "openid"));
        }
        let answer = Browser::new().get(&provider.authorize_url(&extra)).await;
        let to = location(&answer);
        assert!(to.starts_with(REDIRECT), "{extra:?}: {to}");
        assert_eq!(callback(&to)["error"], error, "{extra:?}: {to}");
        assert_eq!(callback(&to)["state"], "xyz-state");
    }

    // A grant for both APIs: the access token is for them, the ID token for
    // the client, and neither userinfo nor SCIM takes the access token.
    let scope = "openid orders:read billing:read";
    let mut browser = Browser::new();
    let back = provider
        .sign_in(
            &mut browser,
            &[
                ("scope", scope),
                ("resource", ORDERS),
                ("resource", BILLING),
            ],
        )
        .await;
    let code = callback(&back)["code"].clone();
    let (status, body) = json_of(provider.exchange(&code).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&access)["aud"], json!([ORDERS, BILLING]));
    assert_eq!(claims(&access)["scope"], "billing:read openid orders:read");
    assert_eq!(
        claims(body["id_token"].as_str().unwrap())["aud"],
        provider.client_id.as_str()
    );
    assert_eq!(
        status_at(&provider, "/userinfo", &access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status_at(&provider, "/scim/v2/Users", &access).await,
        StatusCode::UNAUTHORIZED
    );

    // A refresh narrows to one of them, with that API's scopes only...
    let refresh = |token: String, extra: Vec<(&'static str, &'static str)>| {
        let provider = &provider;
        async move {
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", token.as_str()),
            ];
            form.extend(extra);
            json_of(provider.token(&form).await).await
        }
    };
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    let (status, body) = refresh(rt, vec![("resource", ORDERS)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let narrowed = body["access_token"].as_str().unwrap();
    assert_eq!(claims(narrowed)["aud"], ORDERS);
    assert_eq!(claims(narrowed)["scope"], "openid orders:read");
    // ...never to one it was not granted, which leaves the token usable
    // (docs/security.md 25)...
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    for extra in [
        vec![("resource", "https://unknown.example")],
        vec![("resource", ISSUER)],
        vec![("resource", ORDERS), ("scope", "billing:read")],
    ] {
        let (status, refused) = refresh(rt.clone(), extra.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra:?}");
        let expected = if extra.len() == 2 {
            "invalid_scope"
        } else {
            "invalid_target"
        };
        assert_eq!(refused["error"], expected, "{extra:?}: {refused}");
    }
    // ...and the family keeps the whole grant.
    let (status, body) = refresh(rt, vec![]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["aud"],
        json!([ORDERS, BILLING])
    );

    // The token request may narrow the code's APIs too (§2.2).
    let back = provider
        .sign_in(
            &mut Browser::new(),
            &[
                ("scope", scope),
                ("resource", ORDERS),
                ("resource", BILLING),
                ("prompt", "consent"),
            ],
        )
        .await;
    let code = callback(&back)["code"].clone();
    let (status, body) = json_of(
        provider
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", crate::oidc::VERIFIER),
                ("resource", BILLING),
            ])
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let billing = body["access_token"].as_str().unwrap();
    assert_eq!(claims(billing)["aud"], BILLING);
    assert_eq!(claims(billing)["scope"], "billing:read openid");

    // Naming the issuer too makes a token for userinfo one refresh away.
    let back = provider
        .sign_in(
            &mut Browser::new(),
            &[
                ("scope", scope),
                ("resource", ORDERS),
                ("resource", ISSUER),
                ("prompt", "consent"),
            ],
        )
        .await;
    let (status, body) = json_of(provider.exchange(&callback(&back)["code"]).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    let (status, body) = refresh(rt, vec![("resource", ISSUER)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let own = body["access_token"].as_str().unwrap();
    assert_eq!(claims(own)["aud"], ISSUER);
    assert_eq!(status_at(&provider, "/userinfo", own).await, StatusCode::OK);
}

#[tokio::test]
async fn the_scim_api_is_a_resource_for_clients_with_a_scim_scope() {
    let app = TestApp::start(&[]).await;
    let scim_api = format!("{ISSUER}/scim/v2");
    let provisioner = app.cli(&[
        "client",
        "create",
        "--name",
        "provisioner",
        "--grant-type",
        "client_credentials",
        "--scope",
        "scim:read",
    ]);
    let me = (
        provisioner["client_id"].as_str().unwrap(),
        provisioner["client_secret"].as_str().unwrap(),
    );
    let (status, body) = token(&app, me, &[("resource", &scim_api)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let for_scim = body["access_token"].as_str().unwrap();
    assert_eq!(claims(for_scim)["aud"], scim_api.as_str());
    assert_eq!(claims(for_scim)["scope"], "scim:read");
    assert_eq!(
        status_at(&app, "/scim/v2/Users", for_scim).await,
        StatusCode::OK
    );
    assert_eq!(
        status_at(&app, "/userinfo", for_scim).await,
        StatusCode::UNAUTHORIZED,
        "a token for SCIM is not one for userinfo"
    );

    // A client without a SCIM scope may not name it.
    let other = app.cli(&[
        "client",
        "create",
        "--name",
        "reporting",
        "--grant-type",
        "client_credentials",
        "--scope",
        "reports:read",
    ]);
    let other = (
        other["client_id"].as_str().unwrap(),
        other["client_secret"].as_str().unwrap(),
    );
    let (status, body) = token(&app, other, &[("resource", &scim_api)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_target", "{body}");
}

/// RFC 9728: each of this server's resources says where its tokens come
/// from, and its 401s point there (§5.1), so a client that knows only the
/// resource finds the authorization server and the `resource` to ask for.
#[tokio::test]
async fn this_servers_resources_publish_rfc_9728_metadata_and_point_to_it() {
    let app = TestApp::start(&[]).await;
    let scim = app
        .server
        .get_json("/.well-known/oauth-protected-resource/scim/v2")
        .await;
    // §3.3: `resource` is exactly the identifier the URL was made from.
    assert_eq!(scim["resource"], format!("{ISSUER}/scim/v2"));
    assert_eq!(scim["authorization_servers"], json!([ISSUER]));
    assert_eq!(scim["scopes_supported"], json!(["scim:read", "scim:write"]));
    assert_eq!(scim["bearer_methods_supported"], json!(["header"]));
    let issuer = app
        .server
        .get_json("/.well-known/oauth-protected-resource")
        .await;
    assert_eq!(issuer["resource"], ISSUER);
    assert!(
        issuer["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("openid"))
    );
    // RFC 9728 §4: the authorization server lists them.
    let discovery = app
        .server
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(
        discovery["protected_resources"],
        json!([ISSUER, format!("{ISSUER}/scim/v2")])
    );

    let challenge = |response: &reqwest::Response| {
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let scim_metadata =
        format!("resource_metadata=\"{ISSUER}/.well-known/oauth-protected-resource/scim/v2\"");
    let response = client()
        .get(app.server.url("/scim/v2/Users"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let value = challenge(&response);
    assert!(value.contains(&scim_metadata), "{value}");
    // RFC 6750 §3.1: no error code when no token was sent; one when it was.
    assert!(!value.contains("error="), "{value}");
    let response = client()
        .get(app.server.url("/scim/v2/Users"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    let value = challenge(&response);
    assert!(value.contains("error=\"invalid_token\""), "{value}");
    assert!(value.contains(&scim_metadata), "{value}");
    let response = client()
        .get(app.server.url("/userinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let value = challenge(&response);
    assert!(
        value.contains(&format!(
            "resource_metadata=\"{ISSUER}/.well-known/oauth-protected-resource\""
        )),
        "{value}"
    );
}
