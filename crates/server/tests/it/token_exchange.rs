//! Token exchange (RFC 8693): a gateway trades a user's access token for
//! one to another API, acting for the user (`act`); policy on the client
//! record says for which APIs; the refusals in §2.2.2's words; an actor
//! token and a chain of exchanges nest in `act`; an ID token is exchanged
//! only by the client it was issued to.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::client;
use crate::oidc::{Browser, Provider, REDIRECT, VERIFIER, query};

const ORDERS: &str = "https://api.example.com/orders";
const BILLING: &str = "https://api.example.com/billing";
const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";
const ID: &str = "urn:ietf:params:oauth:token-type:id_token";

fn claims(token: &str) -> Value {
    crate::mfa::payload(token)
}

async fn post(
    p: &Provider,
    (id, secret): (&str, &str),
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let answer = client()
        .post(format!("{}/token", p.base))
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    (answer.status(), answer.json().await.unwrap())
}

fn credentials(created: &Value) -> (String, String) {
    (
        created["client_id"].as_str().unwrap().to_owned(),
        created["client_secret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_gateway_exchanges_a_users_token_for_another_api_and_acts_for_the_user() {
    let p = Provider::start_with(&[("AUTH_TOKEN_EXCHANGE", "true")]).await;
    let discovery = p
        .server
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert!(
        discovery["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(EXCHANGE))
    );
    p.cli(&[
        "api",
        "create",
        "--identifier",
        ORDERS,
        "--scope",
        "orders:read orders:write",
    ]);
    p.cli(&[
        "api",
        "create",
        "--identifier",
        BILLING,
        "--scope",
        "billing:read billing:write",
    ]);
    let web = credentials(&p.cli(&[
        "client",
        "create",
        "--name",
        "Shop",
        "--redirect-uri",
        REDIRECT,
        "--scope",
        "openid orders:read orders:write",
        "--resource",
        ORDERS,
        "--grant-type",
        "authorization_code",
        "--grant-type",
        EXCHANGE,
        "--exchange-resource",
        ORDERS,
    ]));
    let gateway = credentials(&p.cli(&[
        "client",
        "create",
        "--name",
        "Gateway",
        "--grant-type",
        EXCHANGE,
        "--scope",
        "billing:read",
        "--exchange-resource",
        BILLING,
    ]));
    let agent = credentials(&p.cli(&[
        "client",
        "create",
        "--name",
        "Agent",
        "--grant-type",
        "client_credentials",
        "--scope",
        "agent",
    ]));
    // The user signs in to the shop, for the orders API.
    let callback = p
        .sign_in(
            &mut Browser::new(),
            &[
                ("client_id", &web.0),
                ("scope", "openid orders:read orders:write"),
                ("resource", ORDERS),
            ],
        )
        .await;
    let code = query(&callback)["code"].clone();
    let (status, tokens) = post(
        &p,
        (&web.0, &web.1),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let user_token = tokens["access_token"].as_str().unwrap().to_owned();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let user_claims = claims(&user_token);

    // The gateway exchanges it for billing, acting for the user.
    let (g_id, g_secret) = gateway.clone();
    let (status, exchanged) = post(
        &p,
        (&g_id, &g_secret),
        &[
            ("grant_type", EXCHANGE),
            ("subject_token", &user_token),
            ("subject_token_type", AT),
            ("audience", BILLING),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{exchanged}");
    assert_eq!(exchanged["issued_token_type"], AT);
    assert_eq!(exchanged["token_type"], "Bearer");
    assert!(exchanged.get("refresh_token").is_none() && exchanged.get("id_token").is_none());
    let token = exchanged["access_token"].as_str().unwrap().to_owned();
    let c = claims(&token);
    assert_eq!(c["aud"], BILLING);
    assert_eq!(c["sub"], user_claims["sub"]);
    assert_eq!(c["client_id"], g_id.as_str());
    assert_eq!(c["scope"], "billing:read");
    assert_eq!(c["act"], json!({"sub": g_id}));
    assert!(c["exp"].as_i64() <= user_claims["exp"].as_i64());
    let event = p.server.security_event("token_exchanged").await;
    assert_eq!(event["client_id"], g_id.as_str());
    let introspected = p.introspect(&token).await;
    assert_eq!(introspected["act"], json!({"sub": g_id}));

    // §2.2.2: the refusals.
    let refused = |form: Vec<(&'static str, String)>, client: (String, String)| {
        let p = &p;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, body) = post(p, (&client.0, &client.1), &form).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            body["error"].as_str().unwrap().to_owned()
        }
    };
    let base = |subject: &str| {
        vec![
            ("grant_type", EXCHANGE.to_owned()),
            ("subject_token", subject.to_owned()),
            ("subject_token_type", AT.to_owned()),
        ]
    };
    let mut wider = base(&user_token);
    wider.extend([
        ("resource", BILLING.to_owned()),
        ("scope", "billing:write".to_owned()),
    ]);
    assert_eq!(refused(wider, gateway.clone()).await, "invalid_scope");
    let mut elsewhere = base(&user_token);
    elsewhere.push(("resource", ORDERS.to_owned()));
    assert_eq!(refused(elsewhere, gateway.clone()).await, "invalid_target");
    assert_eq!(
        refused(base("not-a-token"), gateway.clone()).await,
        "invalid_request"
    );
    // Not registered for the grant.
    let answer = client()
        .post(format!("{}/token", p.base))
        .basic_auth(&p.client_id, Some(&p.client_secret))
        .form(&[
            ("grant_type", EXCHANGE),
            ("subject_token", &user_token),
            ("subject_token_type", AT),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client");

    // An actor token names who acts; exchanging the result again nests
    // the earlier actor (§4.1).
    let (a_id, a_secret) = agent.clone();
    let (_, agent_token) = post(
        &p,
        (&a_id, &a_secret),
        &[("grant_type", "client_credentials")],
    )
    .await;
    let agent_token = agent_token["access_token"].as_str().unwrap().to_owned();
    let (status, delegated) = post(
        &p,
        (&g_id, &g_secret),
        &[
            ("grant_type", EXCHANGE),
            ("subject_token", &user_token),
            ("subject_token_type", AT),
            ("actor_token", &agent_token),
            ("actor_token_type", AT),
            ("resource", BILLING),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{delegated}");
    let delegated = delegated["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&delegated)["act"], json!({"sub": a_id}));
    let (status, chained) = post(
        &p,
        (&g_id, &g_secret),
        &[
            ("grant_type", EXCHANGE),
            ("subject_token", &delegated),
            ("subject_token_type", AT),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{chained}");
    assert_eq!(
        claims(chained["access_token"].as_str().unwrap())["act"],
        json!({"sub": g_id, "act": {"sub": a_id}})
    );

    // An ID token: only the client it was issued to exchanges it.
    let id_form = |resource: &'static str| {
        vec![
            ("grant_type", EXCHANGE.to_owned()),
            ("subject_token", id_token.clone()),
            ("subject_token_type", ID.to_owned()),
            ("resource", resource.to_owned()),
            ("scope", "orders:read".to_owned()),
        ]
    };
    assert_eq!(
        refused(id_form(BILLING), gateway.clone()).await,
        "invalid_request"
    );
    let form = id_form(ORDERS);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, from_id) = post(&p, (&web.0, &web.1), &form).await;
    assert_eq!(status, StatusCode::OK, "{from_id}");
    assert_eq!(
        claims(from_id["access_token"].as_str().unwrap())["aud"],
        ORDERS
    );

    // A revoked subject token is not exchanged any more.
    let answer = client()
        .post(format!("{}/revoke", p.base))
        .basic_auth(&web.0, Some(&web.1))
        .form(&[("token", user_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let mut again = base(&user_token);
    again.push(("resource", BILLING.to_owned()));
    assert_eq!(refused(again, gateway.clone()).await, "invalid_request");
}

#[tokio::test]
async fn token_exchange_is_off_by_default() {
    let p = Provider::start().await;
    let discovery = p
        .server
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert!(
        !discovery["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(EXCHANGE))
    );
    let gateway = credentials(&p.cli(&[
        "client",
        "create",
        "--name",
        "Gateway",
        "--grant-type",
        EXCHANGE,
        "--scope",
        "read",
    ]));
    let (status, body) = post(
        &p,
        (&gateway.0, &gateway.1),
        &[
            ("grant_type", EXCHANGE),
            ("subject_token", "t"),
            ("subject_token_type", AT),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_grant_type");
}
