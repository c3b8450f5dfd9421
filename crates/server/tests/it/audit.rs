//! The audit trail: security events of the server and of the CLI (which
//! logs only warnings) reach the store in order, with the request's id,
//! and `audit tail` reads them back, filtered, once or following; with
//! two replicas on one Redis, both replicas' events are in one trail; the
//! webhook gets each event once, signed, after its receiver recovers, and
//! is held to the SSRF policy.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::cluster::Cluster;
use crate::helpers::{BIN, TestApp, cli, client};

/// The trail's lines as `audit tail ARGS` prints them.
fn tail(env: &[(&str, &str)], args: &[&str]) -> Vec<Value> {
    let mut all = vec!["audit", "tail"];
    all.extend_from_slice(args);
    let output = cli(env, &all, None);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// `tail` once it has `count` lines (the server appends a moment after
/// answering).
async fn tail_until(env: &[(&str, &str)], args: &[&str], count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = tail(env, args);
        if lines.len() >= count || Instant::now() > deadline {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A request SCIM refuses: a `scim_unauthorized` security event.
async fn unauthorized(base: &str, request_id: &str) {
    let response = client()
        .get(format!("{base}/scim/v2/Users"))
        .header("x-request-id", request_id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn security_events_of_the_server_and_the_cli_are_in_the_trail() {
    let app = TestApp::start(&[]).await;
    let env = app.cli_env();
    let created = app.cli(&[
        "client",
        "create",
        "--name",
        "audited",
        "--grant-type",
        "client_credentials",
        "--scope",
        "read",
    ]);
    unauthorized(&app.server.base, "audit-test-1").await;

    let lines = tail_until(&env, &[], 2).await;
    let names: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(names, ["client_created", "scim_unauthorized"], "{lines:?}");
    // The CLI's event, though the CLI logs only warnings.
    assert_eq!(lines[0]["client_id"], created["client_id"]);
    assert_eq!(lines[0]["category"], "security");
    // The server's, as its log line has it, with the request's id.
    let logged = app.server.security_event("scim_unauthorized").await;
    assert_eq!(lines[1]["request_id"], "audit-test-1");
    assert_eq!(lines[1]["message"], logged["message"]);
    assert_eq!(lines[1]["outcome"], "failure");
    assert!(lines[1]["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_ne!(lines[0]["audit_id"], lines[1]["audit_id"]);

    // Filtered by name, and the newest N.
    unauthorized(&app.server.base, "audit-test-2").await;
    let refused = tail_until(&env, &["--event", "scim_unauthorized"], 2).await;
    let ids: Vec<&str> = refused
        .iter()
        .map(|l| l["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["audit-test-1", "audit-test-2"]);
    let newest = tail(&env, &["-n", "1"]);
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0]["request_id"], "audit-test-2");
    assert!(tail(&env, &["--event", "no_such_event"]).is_empty());

    // --follow prints what comes after it started.
    let mut follow = Command::new(BIN)
        .args([
            "audit",
            "tail",
            "--follow",
            "-n",
            "1",
            "--event",
            "scim_unauthorized",
        ])
        .env_clear()
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["request_id"], "audit-test-2");
    unauthorized(&app.server.base, "audit-test-3").await;
    let next = tokio::task::spawn_blocking(move || lines.next().unwrap().unwrap())
        .await
        .unwrap();
    let next: Value = serde_json::from_str(&next).unwrap();
    assert_eq!(next["request_id"], "audit-test-3");
    let _ = follow.kill();
    let _ = follow.wait();
}

#[tokio::test]
async fn every_replica_appends_to_one_trail_on_redis() {
    let cluster = Cluster::start(2, &[]).await;
    for replica in 0..2 {
        unauthorized(&cluster.base(replica), &format!("replica-{replica}")).await;
    }
    let env = [
        ("AUTH_STORE", cluster.redis.url.as_str()),
        ("AUTH_MASTER_KEY", crate::helpers::MASTER_KEY),
    ];
    let lines = tail_until(&env, &["--event", "scim_unauthorized"], 2).await;
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| l["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["replica-0", "replica-1"]);
}

/// The test's webhook receiver: answers 503 to the first `failures`
/// requests, then checks each request's HMAC and keeps its events.
#[derive(Clone, Default)]
struct Receiver {
    failures: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
    bad_signatures: Arc<AtomicUsize>,
    events: Arc<Mutex<Vec<Value>>>,
}

const SECRET: &str = "a-webhook-secret-of-at-least-32-chars";

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if r.failures.load(Ordering::SeqCst) > 0 {
        r.failures.fetch_sub(1, Ordering::SeqCst);
        r.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let timestamp = header("x-auth-service-timestamp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let fresh = timestamp.parse::<i64>().is_ok_and(|t| (now - t).abs() < 60);
    let tag = header("x-auth-service-signature")
        .strip_prefix("sha256=")
        .and_then(|hex| {
            (0..hex.len())
                .step_by(2)
                .map(|i| {
                    hex.get(i..i + 2)
                        .and_then(|b| u8::from_str_radix(b, 16).ok())
                })
                .collect::<Option<Vec<u8>>>()
        })
        .unwrap_or_default();
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, SECRET.as_bytes());
    let signed = [timestamp.as_bytes(), b".", &body].concat();
    if !fresh || aws_lc_rs::hmac::verify(&key, &signed, &tag).is_err() {
        r.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    }
    let body: Value = serde_json::from_slice(&body).unwrap();
    r.events
        .lock()
        .unwrap()
        .extend(body["events"].as_array().unwrap().iter().cloned());
    StatusCode::NO_CONTENT
}

/// A receiver that fails twice gets every event once, signed, after the
/// server's back-off (1 s, then 2 s).
#[tokio::test]
async fn the_webhook_gets_every_event_once_after_its_receiver_recovers() {
    let receiver = Receiver::default();
    receiver.failures.store(2, Ordering::SeqCst);
    let port = crate::helpers::free_port();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let url = format!("http://127.0.0.1:{port}/hook");
    let app = TestApp::start(&[
        ("AUTH_AUDIT_WEBHOOK_URL", &url),
        ("AUTH_AUDIT_WEBHOOK_SECRET", SECRET),
        ("AUTH_AUDIT_WEBHOOK_ALLOW", "127.0.0.1/32"),
    ])
    .await;
    for i in 0..5 {
        unauthorized(&app.server.base, &format!("hook-{i}")).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let wanted: Vec<String> = (0..5).map(|i| format!("hook-{i}")).collect();
    let delivered = loop {
        let ids: Vec<String> = receiver
            .events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "scim_unauthorized")
            .map(|e| e["request_id"].as_str().unwrap().to_owned())
            .collect();
        if ids.len() >= 5 || Instant::now() > deadline {
            break ids;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Nothing more comes once it is all delivered.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(delivered, wanted);
    assert_eq!(receiver.refused.load(Ordering::SeqCst), 2);
    assert_eq!(receiver.bad_signatures.load(Ordering::SeqCst), 0);
    let all = receiver.events.lock().unwrap().clone();
    let ids: std::collections::BTreeSet<&str> = all
        .iter()
        .map(|e| e["audit_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        all.len(),
        "an event was delivered twice: {all:?}"
    );
    let failed = app
        .server
        .log_lines(|l| l["event"] == "audit_webhook_failed", 2)
        .await;
    let delays: Vec<&Value> = failed.iter().map(|l| &l["retry_in_seconds"]).collect();
    assert_eq!(delays, [1, 2]);
}

/// The webhook is held to the SSRF policy: loopback is refused unless
/// allow-listed, and nothing is sent there.
#[tokio::test]
async fn the_webhook_reaches_no_private_address_unless_allowed() {
    let receiver = Receiver::default();
    let port = crate::helpers::free_port();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let router = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let url = format!("http://127.0.0.1:{port}/hook");
    let app = TestApp::start(&[
        ("AUTH_AUDIT_WEBHOOK_URL", &url),
        ("AUTH_AUDIT_WEBHOOK_SECRET", SECRET),
    ])
    .await;
    unauthorized(&app.server.base, "ssrf").await;
    let failed = app
        .server
        .log_lines(|l| l["event"] == "audit_webhook_failed", 1)
        .await;
    assert!(
        failed[0]["reason"].as_str().unwrap().contains("127.0.0.1"),
        "{failed:?}"
    );
    assert!(receiver.events.lock().unwrap().is_empty());
    assert_eq!(receiver.refused.load(Ordering::SeqCst), 0);
}
