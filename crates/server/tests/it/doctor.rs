//! `auth-service doctor`: healthy and broken setups, readable and JSON.

use serde_json::Value;

use crate::helpers::{MASTER_KEY, Server, cli, redis_command};

fn doctor(env: &[(&str, &str)], json: bool) -> (Option<i32>, String) {
    let mut args = vec!["doctor"];
    if json {
        args.push("--json");
    }
    let output = cli(env, &args, None);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn statuses(report: &str) -> Vec<(String, String)> {
    let report: Value = serde_json::from_str(report).unwrap();
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn healthy_then_broken_on_redis() {
    let mut redis = store_redis::testing::TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
    // This test changes the server's configuration and stops it: a private one.
    assert!(
        redis.port != 0,
        "needs a private redis-server (unset AUTH_TEST_REDIS_URL)"
    );
    let url = redis.url.clone();
    let mut server = Server::start(&[
        ("AUTH_STORE", url.as_str()),
        ("AUTH_MASTER_KEY", MASTER_KEY),
        ("AUTH_ISSUER", "self"),
    ]);
    server.wait_live().await;
    let issuer = server.base.clone();
    let env = [
        ("AUTH_STORE", url.as_str()),
        ("AUTH_MASTER_KEY", MASTER_KEY),
        ("AUTH_ISSUER", issuer.as_str()),
    ];
    let (code, report) = doctor(&env, false);
    assert_eq!(code, Some(0), "{report}");
    assert!(
        report.contains("AOF on") && report.contains("publishes 2 keys"),
        "{report}"
    );
    assert!(report.contains("healthy"));
    let (code, report) = doctor(&env, true);
    assert_eq!(code, Some(0));
    let checks = statuses(&report);
    for (name, status) in &checks {
        // An http issuer, and (an IP address) no passkeys: warnings.
        let expected = if name == "configuration" || name == "passkeys" {
            "warn"
        } else {
            "ok"
        };
        assert_eq!(status, expected, "{name}: {report}");
    }
    assert!(
        report.contains("the issuer's host is an IP address"),
        "{report}"
    );

    // AOF off is a warning with the runbook's fix.
    redis_command(redis.port, "CONFIG SET appendonly no");
    let (code, report) = doctor(&env, false);
    assert_eq!(code, Some(0));
    assert!(
        report.contains("WARN  persistence") && report.contains("Redis durability"),
        "{report}"
    );

    // No maxmemory, or an evicting policy: a warning with the runbook's fix.
    redis_command(redis.port, "CONFIG SET maxmemory 0");
    let (code, report) = doctor(&env, false);
    assert_eq!(code, Some(0));
    assert!(
        report.contains("WARN  memory") && report.contains("Redis memory"),
        "{report}"
    );
    redis_command(redis.port, "CONFIG SET maxmemory 256mb");
    redis_command(redis.port, "CONFIG SET maxmemory-policy allkeys-lru");
    let (_, report) = doctor(&env, false);
    assert!(
        report.contains("maxmemory-policy is allkeys-lru"),
        "{report}"
    );

    // The issuer unreachable and the store down: failures, exit 1.
    drop(server);
    let (code, report) = doctor(&env, true);
    assert_eq!(code, Some(1), "{report}");
    assert!(statuses(&report).contains(&("jwks".to_owned(), "fail".to_owned())));
    redis.kill();
    let (code, report) = doctor(&env, false);
    assert_eq!(code, Some(1));
    assert!(
        report.contains("FAIL  store") && report.contains("Redis down"),
        "{report}"
    );
    assert!(report.contains("NOT healthy"));
}
