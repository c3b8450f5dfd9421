//! `/metrics` passes `promtool check metrics` and carries the series
//! docs/operations.md names.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::helpers::{Server, client};

#[tokio::test]
async fn metrics_pass_promtool_and_name_the_runbook_series() {
    let mut server = Server::start(&[]);
    server.wait_live().await;
    let http = client();
    for path in ["/health", "/health/ready", "/no-such-page"] {
        http.get(server.url(path)).send().await.unwrap();
    }
    let response = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();

    for series in [
        "http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"}",
        "http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}",
        "http_request_duration_seconds_bucket{method=\"GET\",route=\"/health/ready\",status_class=\"2xx\",le=\"0.005\"}",
        "auth_build_info{version=\"",
        "process_start_time_seconds ",
        "process_resident_memory_bytes ",
        "auth_store_operation_duration_seconds_bucket{backend=\"sqlite\",op=\"ping\"",
    ] {
        assert!(text.contains(series), "missing {series} in:\n{text}");
    }
    // Raw paths never become labels.
    assert!(!text.contains("no-such-page"));

    // promtool is part of the test environment (.ci/run installs it).
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("promtool not found ({e}): apt-get install prometheus, or run .ci/run")
        });
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = promtool.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
