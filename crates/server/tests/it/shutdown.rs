//! SIGTERM and SIGINT: readiness turns 503 at once, requests are still
//! served during the drain, in-flight requests finish, and the process
//! exits 0 within the drain plus the grace period.

use std::time::Duration;

use store_redis::testing::TestRedis;

use crate::helpers::{MASTER_KEY, Server, client, redis_command};

async fn drains_then_exits_zero(signal: &str) {
    let mut server = Server::start(&[
        ("AUTH_SHUTDOWN_DRAIN", "1500ms"),
        ("AUTH_SHUTDOWN_GRACE", "5s"),
    ]);
    server.wait_live().await;
    let http = client();
    assert_eq!(
        http.get(server.url("/health/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    server.signal(signal);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Draining: not ready, still alive, still serving.
    let ready = http.get(server.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(
        http.get(server.url("/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(server.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );

    let status = server
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("exited");
    assert_eq!(status.code(), Some(0), "{}", server.logs().join("\n"));
    assert!(
        http.get(server.url("/health/live")).send().await.is_err(),
        "the listener is closed"
    );
    let logs = server.json_logs();
    assert!(logs.iter().any(|l| l["event"] == "shutdown_started"));
    assert!(logs.iter().any(|l| l["event"] == "server_stopped"));
}

#[tokio::test]
async fn sigterm_drains_then_exits_zero() {
    drains_then_exits_zero("TERM").await;
}

#[tokio::test]
async fn sigint_drains_then_exits_zero() {
    drains_then_exits_zero("INT").await;
}

/// A request in flight when SIGTERM arrives gets its whole response. The
/// request is made slow by pausing Redis under the health check.
#[tokio::test]
async fn in_flight_requests_finish() {
    let redis = TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
    let mut server = Server::start(&[
        ("AUTH_STORE", redis.url.as_str()),
        ("AUTH_MASTER_KEY", MASTER_KEY),
        ("AUTH_STORE_TIMEOUT", "5s"),
        ("AUTH_HEALTH_TIMEOUT", "5s"),
        ("AUTH_SHUTDOWN_DRAIN", "300ms"),
        ("AUTH_SHUTDOWN_GRACE", "10s"),
    ]);
    server.wait_live().await;
    let http = client();
    assert_eq!(
        http.get(server.url("/health/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    assert_eq!(redis_command(redis.port, "CLIENT PAUSE 2500 ALL"), "+OK");
    let in_flight = tokio::spawn({
        let (http, url) = (http.clone(), server.url("/health"));
        async move { http.get(url).send().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.signal("TERM");

    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request got a response");
    let body: serde_json::Value = response.json().await.expect("a whole JSON body");
    assert_eq!(body["checks"][0]["name"], "store");
    let status = server
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("exited");
    assert_eq!(status.code(), Some(0));
}
