//! RFC 8707 resource indicators at `/token` (client_credentials): a token
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
