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
