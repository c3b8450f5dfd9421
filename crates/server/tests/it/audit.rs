//! The audit trail: security events of the server and of the CLI (which
//! logs only warnings) reach the store in order, with the request's id,
//! and `audit tail` reads them back, filtered, once or following; with
//! two replicas on one Redis, both replicas' events are in one trail.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
