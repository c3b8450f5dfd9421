//! `/health`, `/health/live`, `/health/ready` on the embedded store.

use serde_json::Value;

use crate::helpers::{Server, client};

#[tokio::test]
async fn health_endpoints_report_each_check() {
    let mut server = Server::start(&[]);
    server.wait_live().await;
    let http = client();

    let live = http.get(server.url("/health/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);

    let ready = http.get(server.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");

    let health = http.get(server.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let body: Value = health.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["store"], "sqlite");
    let checks = body["checks"].as_array().unwrap();
    let store = checks.iter().find(|c| c["name"] == "store").unwrap();
    assert_eq!(store["status"], "ok");
    assert!(store["latency_ms"].as_f64().unwrap() >= 0.0);
    assert!(checks.iter().any(|c| c["name"] == "shutdown"));
}

#[tokio::test]
async fn request_id_is_kept_or_made_and_echoed() {
    let mut server = Server::start(&[]);
    server.wait_live().await;
    let http = client();
    let kept = http
        .get(server.url("/health/live"))
        .header("x-request-id", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "req-42");
    let made = http.get(server.url("/health/live")).send().await.unwrap();
    let made = made.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made.len(), 36, "a UUID: {made}");
    // A value that could pollute logs is replaced, not echoed.
    let long = "x".repeat(500);
    let replaced = http
        .get(server.url("/health/live"))
        .header("x-request-id", &long)
        .send()
        .await
        .unwrap();
    assert_ne!(replaced.headers()["x-request-id"], long.as_str());
    // Unknown routes get one too.
    let missing = http.get(server.url("/no/such/route")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().contains_key("x-request-id"));
}
