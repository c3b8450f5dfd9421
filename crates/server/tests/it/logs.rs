//! Log lines: JSON by default with the docs/operations.md fields, the request id
//! on every line of a request, and pretty output on request.

use crate::helpers::{Server, client};

#[tokio::test]
async fn json_lines_carry_the_request_id_of_their_request() {
    let mut server = Server::start(&[]);
    server.wait_live().await;
    let response = client()
        .get(server.url("/no-such-page"))
        .header("x-request-id", "trace-me-7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // The access line is written after the response; give it a moment.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let lines = server.json_logs();
    for line in &lines {
        for field in ["timestamp", "level", "target", "message"] {
            assert!(line.get(field).is_some(), "{field} missing in {line}");
        }
        let timestamp = line["timestamp"].as_str().unwrap();
        assert!(
            timestamp.ends_with('Z') && timestamp.contains('T'),
            "RFC 3339 UTC: {timestamp}"
        );
    }
    let started = lines
        .iter()
        .find(|l| l["event"] == "server_started")
        .unwrap();
    assert_eq!(started["level"], "INFO");
    let of_request: Vec<_> = lines
        .iter()
        .filter(|l| l["path"] == "/no-such-page")
        .collect();
    assert!(
        !of_request.is_empty(),
        "no line for the request in {lines:?}"
    );
    for line in &of_request {
        assert_eq!(line["request_id"], "trace-me-7", "{line}");
    }
    let access = of_request
        .iter()
        .find(|l| l["event"] == "http_request")
        .unwrap();
    assert_eq!(access["status"], 404);
    assert_eq!(access["route"], "unmatched");
    assert!(access["duration_ms"].as_f64().is_some());
}

#[tokio::test]
async fn slow_requests_are_logged() {
    let mut server = Server::start(&[("AUTH_SLOW_REQUEST_THRESHOLD", "0s")]);
    server.wait_live().await;
    client()
        .get(server.url("/health"))
        .header("x-request-id", "slow-1")
        .send()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let lines = server.json_logs();
    let slow = lines
        .iter()
        .find(|l| l["event"] == "slow_request" && l["request_id"] == "slow-1")
        .expect("a slow_request line for the request");
    assert_eq!(slow["level"], "WARN");
    assert_eq!(slow["route"], "/health");
}

#[tokio::test]
async fn pretty_format_is_for_humans() {
    let mut server = Server::start(&[("AUTH_LOG_FORMAT", "pretty")]);
    server.wait_live().await;
    let logs = server.logs();
    let started = logs
        .iter()
        .find(|l| l.contains("auth-service listening"))
        .expect("a start line");
    assert!(
        serde_json::from_str::<serde_json::Value>(started).is_err(),
        "not JSON: {started}"
    );
    assert!(started.contains("INFO"));
}

/// docs/security.md 18: credentials in headers never reach the logs.
#[tokio::test]
async fn credentials_in_headers_are_never_logged() {
    let mut server = Server::start(&[]);
    server.wait_live().await;
    client()
        .get(server.url("/health?access_token=query-secret-789"))
        .header("authorization", "Bearer header-secret-123")
        .header("cookie", "__Host-sid=cookie-secret-456")
        .send()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let logs = server.logs().join("\n");
    assert!(
        logs.contains("\"path\":\"/health\""),
        "the request was logged"
    );
    for secret in ["header-secret-123", "cookie-secret-456", "query-secret-789"] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
}
