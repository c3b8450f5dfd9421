//! Every token check refuses what an operator has taken away (docs/security.md
//! 21, 25): deleted or disabled clients, deleted or deactivated users,
//! retired keys, expired tokens (no leeway), and refused refreshes that must
//! change nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::{MASTER_KEY, client};
use crate::oauth::{oauth_error, segment};
use crate::oidc::{Browser, Provider, error_of, query};

/// `/introspect` at `server`, as the client `(id, secret)`.
async fn introspect(
    server: &crate::helpers::Server,
    (id, secret): &(String, String),
    token: &str,
) -> Value {
    client()
        .post(server.url("/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn scim_create(base: &str, token: &str, user_name: &str) -> StatusCode {
    client()
        .post(format!("{base}/scim/v2/Users"))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .body(json!({"userName": user_name}).to_string())
        .send()
        .await
        .unwrap()
        .status()
}

/// The finding: `token mint --ttl 365days`, then `client delete`; the token
/// still created users, `token revoke` failed, `/introspect` said active.
#[tokio::test]
async fn a_minted_token_dies_with_its_client_and_stays_revocable() {
    let p = TestApp::start(&[]).await;
    let idp = p.client("scim:write");
    let caller = p.client("read");
    let minted = p.cli(&[
        "token",
        "mint",
        "--client-id",
        &idp.id,
        "--scope",
        "scim:write",
    ]);
    let token = minted["access_token"].as_str().unwrap();
    let jti = minted["jti"].as_str().unwrap();
    assert_eq!(minted["expires_in"], 90 * 86_400, "the cap is the default");
    assert_eq!(
        scim_create(&p.server.base, token, "before").await,
        StatusCode::CREATED
    );

    let deleted = p.cli(&["client", "delete", &idp.id]);
    assert_eq!(deleted["minted_tokens_revoked"], 1);
    assert_eq!(
        scim_create(&p.server.base, token, "after").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(p.introspect(&caller, token).await["active"], false);
    // Revocable by jti although the client record is gone.
    assert_eq!(
        p.cli(&["token", "revoke", "--client-id", &idp.id, "--jti", jti])["revoked"],
        true
    );
    assert_eq!(p.cli(&["token", "revoke", "--jti", jti])["revoked"], true);
}

#[tokio::test]
async fn tokens_of_a_deleted_or_disabled_client_are_refused() {
    let p = TestApp::start(&[]).await;
    let svc = p.client("scim:read");
    let caller = p.client("read");
    let token = p.token(&svc, None).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(p.introspect(&caller, &token).await["active"], true);

    assert_eq!(p.cli(&["client", "disable", &svc.id])["disabled"], true);
    assert_eq!(p.introspect(&caller, &token).await["active"], false);
    let listed = client()
        .get(p.server.url("/scim/v2/Users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::UNAUTHORIZED);
    oauth_error(
        p.post(
            "/token",
            Some(&svc),
            &[("grant_type", "client_credentials")],
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    assert_eq!(p.cli(&["client", "enable", &svc.id])["disabled"], false);
    assert_eq!(p.introspect(&caller, &token).await["active"], true);

    p.cli(&["client", "delete", &svc.id]);
    assert_eq!(p.introspect(&caller, &token).await["active"], false);
}

/// `keys retire KID` takes a key out of the JWKS at once; what it signed
/// stops verifying, and a new key signs.
#[tokio::test]
async fn a_retired_key_leaves_the_jwks_and_its_tokens_stop_verifying() {
    let p = TestApp::start(&[]).await;
    let svc = p.client("read");
    let token = p.token(&svc, None).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let kid = segment(&token, 0)["kid"].as_str().unwrap().to_owned();

    let output = p.run(&["keys", "retire", &kid], None);
    assert!(output.status.success(), "{output:?}");
    let warning = String::from_utf8_lossy(&output.stderr);
    assert!(
        warning.contains("warning:") && warning.contains("is now refused"),
        "{warning}"
    );
    assert_eq!(
        p.run(&["keys", "retire", "no-such-kid"], None)
            .status
            .code(),
        Some(1)
    );

    // Every replica reloads its ring within its refresh interval (5 s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let jwks: Value = client()
            .get(p.server.url("/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let published = jwks["keys"].as_array().unwrap();
        if published.iter().all(|k| k["kid"] != kid.as_str()) {
            assert!(!published.is_empty());
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{kid} still published"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(p.introspect(&svc, &token).await["active"], false);
    let fresh = p.token(&svc, None).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(segment(&fresh, 0)["kid"], kid.as_str());
    assert_eq!(p.introspect(&svc, &fresh).await["active"], true);
}

/// Deleting or deactivating a user ends its tokens everywhere at once.
#[tokio::test]
async fn tokens_of_a_deactivated_or_deleted_user_are_refused() {
    let p = Provider::start().await;
    let env = p.cli_env();
    let idp = crate::helpers::service_client(&env, "scim:write");
    let scim_token = crate::helpers::service_token(&p.base, (&idp.0, &idp.1)).await;

    let mut browser = Browser::new();
    let code = query(&p.sign_in(&mut browser, &[]).await)["code"].clone();
    let tokens: Value = p.exchange(&code).await.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(p.introspect(&access).await["active"], true);
    let userinfo = |token: String| {
        let url = format!("{}/userinfo", p.base);
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
    assert_eq!(userinfo(access.clone()).await, StatusCode::OK);

    let patch = client()
        .patch(format!("{}/scim/v2/Users/{}", p.base, p.user_id))
        .bearer_auth(&scim_token)
        .header("content-type", "application/scim+json")
        .body(
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": false}]
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), StatusCode::OK);
    assert_eq!(p.introspect(&access).await["active"], false);
    assert_eq!(userinfo(access.clone()).await, StatusCode::UNAUTHORIZED);

    // A user's token used at SCIM (had the client scim scopes) is refused too:
    // the check is the same one; here the user is deleted outright.
    p.cli(&["user", "delete", &p.user_id]);
    assert_eq!(p.introspect(&access).await["active"], false);
}

/// A refused refresh changes nothing: the old token still works after a
/// refresh that asked for a scope beyond the grant (it used to rotate first,
/// throw the new token away and log a false reuse).
#[tokio::test]
async fn a_refresh_with_a_bad_scope_leaves_the_token_usable() {
    let p = Provider::start().await;
    let mut browser = Browser::new();
    let code = query(&p.sign_in(&mut browser, &[]).await)["code"].clone();
    let tokens: Value = p.exchange(&code).await.json().await.unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    let refused = p
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("scope", "openid admin"),
        ])
        .await;
    assert_eq!(error_of(refused).await, "invalid_scope");
    assert_eq!(p.introspect(&refresh).await["active"], true);
    let renewed = p
        .token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .await;
    assert_eq!(renewed.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        !p.server
            .json_logs()
            .iter()
            .any(|l| l["event"] == "refresh_token_reuse_detected"),
        "no false reuse is logged"
    );
}

/// The authorization server is the clock for its own tokens: no leeway
/// after `exp` (it used to say active for ~5 s more).
#[tokio::test]
async fn introspection_has_no_leeway_after_exp() {
    let mut server = crate::helpers::Server::start(&[
        ("AUTH_MASTER_KEY", MASTER_KEY),
        ("AUTH_ACCESS_TOKEN_TTL", "1s"),
    ]);
    server.wait_live().await;
    let store = format!("sqlite://{}", server.database().display());
    let env = [
        ("AUTH_STORE", store.as_str()),
        ("AUTH_MASTER_KEY", MASTER_KEY),
    ];
    let svc = crate::helpers::service_client(&env, "read");
    let token = crate::helpers::service_token(&server.base, (&svc.0, &svc.1)).await;
    let exp = segment(&token, 1)["exp"].as_i64().unwrap();
    // Wait until one second past exp, well inside the old 5 s leeway.
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        if now >= exp as f64 + 1.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let answer = introspect(&server, &svc, &token).await;
    assert_eq!(answer["active"], false, "{answer}");
}

/// The finding: two replicas started at once on an empty Redis; for up to
/// 5 s one was ready with only its own new key and introspection at the
/// other said `active: false` for a valid token. Once both are ready, each
/// accepts the other's tokens at once.
#[tokio::test]
async fn replicas_started_together_accept_each_others_tokens_once_ready() {
    let redis = store_redis::testing::TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
    let env = [
        ("AUTH_MASTER_KEY", MASTER_KEY),
        ("AUTH_STORE", redis.url.as_str()),
    ];
    let mut a = crate::helpers::Server::start(&env);
    let mut b = crate::helpers::Server::start(&env);
    a.wait_live().await;
    b.wait_live().await;
    let ready = |base: String| async move {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while client()
            .get(format!("{base}/health/ready"))
            .send()
            .await
            .map_or(true, |r| r.status() != StatusCode::OK)
        {
            assert!(std::time::Instant::now() < deadline, "{base} never ready");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    ready(a.base.clone()).await;
    ready(b.base.clone()).await;
    let svc = crate::helpers::service_client(&env, "read");
    for (issuer, verifier) in [(&a, &b), (&b, &a), (&a, &b)] {
        let token = crate::helpers::service_token(&issuer.base, (&svc.0, &svc.1)).await;
        let answer = introspect(verifier, &svc, &token).await;
        assert_eq!(answer["active"], true, "{answer}");
    }
}
