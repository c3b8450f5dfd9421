//! docs/runbook.md: every `curl`, `redis-cli` and `auth-service` command in
//! its shell blocks (those without a `<placeholder>`) runs, as written,
//! against a real server on a real Redis, and exits 0.

use std::process::Command;

use crate::helpers::{MASTER_KEY, Server};

const BIN: &str = env!("CARGO_BIN_EXE_auth-service");

fn commands(markdown: &str) -> (Vec<String>, usize) {
    let mut runnable = Vec::new();
    let mut skipped = 0;
    let mut in_block = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_block = line == "```sh";
            continue;
        }
        if !in_block {
            continue;
        }
        let line = line.trim();
        if ["curl ", "redis-cli ", "auth-service "]
            .iter()
            .any(|p| line.starts_with(p))
            && !line.contains('<')
        {
            runnable.push(line.to_owned());
        } else if !line.is_empty() {
            skipped += 1;
        }
    }
    (runnable, skipped)
}

#[tokio::test]
async fn every_runbook_command_works_as_written() {
    let mut redis = store_redis::testing::TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        redis.port != 0,
        "needs a private redis-server (unset AUTH_TEST_REDIS_URL)"
    );
    let mut server = Server::start(&[
        ("AUTH_STORE", redis.url.as_str()),
        ("AUTH_MASTER_KEY", MASTER_KEY),
        ("AUTH_ISSUER", "self"),
    ]);
    server.wait_live().await;
    let base = server.base.clone();
    let scratch = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/runbook.md"
    ))
    .unwrap();
    let (runnable, skipped) = commands(&text);
    assert!(runnable.len() >= 15, "{runnable:?}");
    assert!(skipped > 0, "the kubectl lines");
    for line in &runnable {
        let command = line
            .replace("http://auth-service:3001", &base)
            .replace("https://auth.example.com", &base)
            .replace("/tmp/", &format!("{}/", scratch.path().display()))
            .replacen("redis-cli ", &format!("redis-cli -p {} ", redis.port), 1)
            .replacen("auth-service ", &format!("{BIN} "), 1);
        let output = Command::new("bash")
            .arg("-c")
            .arg(&command)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AUTH_STORE", &redis.url)
            .env("AUTH_MASTER_KEY", MASTER_KEY)
            .env("AUTH_ISSUER", &base)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "runbook command failed: {line}\nran: {command}\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    redis.kill();
}

/// docs/runbook.md, "Redis Cluster": every command runs against a real
/// cluster, with `<node>` one of its nodes.
#[tokio::test]
async fn every_cluster_runbook_command_works_on_a_cluster() {
    let cluster =
        store_redis::testing::TestCluster::start_private(3, 1).unwrap_or_else(|e| panic!("{e}"));
    let node = format!("127.0.0.1:{}", cluster.nodes[0].port);
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/runbook.md"
    ))
    .unwrap();
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with("Redis Cluster"))
        .expect("a Redis Cluster section");
    let lines: Vec<String> = section
        .split("```sh")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .flat_map(|block| block.lines().map(str::trim).map(str::to_owned))
        .filter(|line| line.starts_with("redis-cli "))
        .collect();
    assert!(lines.len() >= 5, "{lines:?}");
    for line in &lines {
        let command = line.replace("<node>", &node);
        assert!(!command.contains('<'), "{command}");
        let output = Command::new("bash")
            .arg("-c")
            .arg(&command)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && !out.contains("[ERR]"),
            "runbook command failed: {line}\n{out}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
