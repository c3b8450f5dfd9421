//! Redis faults: down at startup, killed while serving, paused. The service
//! keeps answering (liveness 200, readiness 503 saying why, nothing hanging
//! past the timeouts) and recovers without a restart.

use std::time::{Duration, Instant};

use serde_json::Value;
use store_redis::testing::TestRedis;

use crate::helpers::{MASTER_KEY, Server, client, redis_command};

fn start_server(redis: &TestRedis) -> Server {
    Server::start(&[
        ("AUTH_STORE", redis.url.as_str()),
        ("AUTH_MASTER_KEY", MASTER_KEY),
        ("AUTH_STORE_TIMEOUT", "1s"),
        ("AUTH_HEALTH_TIMEOUT", "500ms"),
    ])
}

/// Polls readiness until it is 200; returns how long that took.
async fn ready_within(server: &Server, limit: Duration) -> Duration {
    let http = client();
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(response) = http.get(server.url("/health/ready")).send().await
            && response.status() == 200
        {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not ready within {limit:?}:\n{}", server.logs().join("\n"));
}

async fn assert_unready_saying_why(server: &Server) {
    let http = client();
    assert_eq!(
        http.get(server.url("/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let started = Instant::now();
    let ready = http.get(server.url("/health/ready")).send().await.unwrap();
    // Bounded by the health timeout (500 ms), with scheduling slack.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "readiness hung for {:?}",
        started.elapsed()
    );
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    let store = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "store")
        .expect("a store check");
    assert_eq!(store["status"], "fail");
    assert!(
        store["error"].as_str().unwrap().starts_with("redis store:"),
        "{body}"
    );
}

#[tokio::test]
async fn redis_down_at_startup_then_recovers_without_restart() {
    let mut redis = TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
    redis.kill();
    let mut server = start_server(&redis);
    server.wait_live().await;
    assert_unready_saying_why(&server).await;
    assert_eq!(
        client()
            .get(server.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );

    redis.spawn().unwrap();
    ready_within(&server, Duration::from_secs(2)).await;
}

#[tokio::test]
async fn redis_killed_while_serving_then_recovers() {
    let mut redis = TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
    let mut server = start_server(&redis);
    server.wait_live().await;
    ready_within(&server, Duration::from_secs(5)).await;

    redis.kill();
    assert_unready_saying_why(&server).await;
    // Stays unready (and answering) while Redis is gone.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_unready_saying_why(&server).await;

    redis.spawn().unwrap();
    ready_within(&server, Duration::from_secs(2)).await;
    let errors = server
        .json_logs()
        .into_iter()
        .filter(|l| l["event"] == "store_error")
        .count();
    assert!(errors > 0, "store errors are logged");
}

#[tokio::test]
async fn a_paused_redis_does_not_hang_requests() {
    let redis = TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
    let mut server = start_server(&redis);
    server.wait_live().await;
    ready_within(&server, Duration::from_secs(5)).await;

    assert_eq!(redis_command(redis.port, "CLIENT PAUSE 4000 ALL"), "+OK");
    assert_unready_saying_why(&server).await;
    // After the pause, service resumes by itself.
    tokio::time::sleep(Duration::from_secs(3)).await;
    ready_within(&server, Duration::from_secs(3)).await;
}

/// docs/security.md 20: with the store gone, the token endpoint fails closed with
/// 503 while the JWKS and metadata keep serving from memory.
#[tokio::test]
async fn token_endpoint_fails_closed_while_jwks_keeps_serving() {
    let mut redis = TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
    let mut server = start_server(&redis);
    server.wait_live().await;
    ready_within(&server, Duration::from_secs(5)).await;
    let vars = [
        ("AUTH_STORE", redis.url.as_str()),
        ("AUTH_MASTER_KEY", MASTER_KEY),
    ];
    let created = crate::helpers::stdout_json(&crate::helpers::cli(
        &vars,
        &["client", "create", "--name", "svc", "--scope", "read"],
        None,
    ));
    let (id, secret) = (
        created["client_id"].as_str().unwrap(),
        created["client_secret"].as_str().unwrap(),
    );
    let http = client();
    let token = |http: reqwest::Client| {
        let url = server.url("/token");
        async move {
            http.post(url)
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(token(http.clone()).await.status(), 200);

    redis.kill();
    let started = Instant::now();
    let refused = token(http.clone()).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "no hang past the store timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(refused.status(), 503);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    let jwks = http.get(server.url("/jwks.json")).send().await.unwrap();
    assert_eq!(jwks.status(), 200);
    assert_eq!(
        jwks.json::<Value>().await.unwrap()["keys"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        http.get(server.url("/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    redis.spawn().unwrap();
    ready_within(&server, Duration::from_secs(2)).await;
    assert_eq!(
        token(http).await.status(),
        200,
        "Redis persisted the client (AOF) and service resumed"
    );
}
