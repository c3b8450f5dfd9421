//! The service on Redis behind Sentinel (`redis+sentinel://`): it finds the
//! primary through the Sentinels, says which one in `/health`, and follows
//! a failover without a restart.

use std::time::{Duration, Instant};

use serde_json::Value;
use store_redis::testing::TestSentinel;

use crate::helpers::{TestApp, client};

async fn health(app: &TestApp) -> Value {
    app.server.get_json("/health").await
}

#[tokio::test]
async fn the_service_follows_a_sentinel_failover() {
    let sentinel = TestSentinel::start().unwrap_or_else(|e| panic!("{e}"));
    let app = TestApp::start(&[("AUTH_STORE", &sentinel.url)]).await;
    let svc = app.client("read");
    let before = app.token(&svc, None).await;
    assert!(before["access_token"].is_string());
    let first = format!("127.0.0.1:{}", sentinel.nodes[0].port);
    assert_eq!(health(&app).await["store_primary"], first.as_str());
    let ready = app.server.get_json("/health/ready").await;
    assert_eq!(ready["store_primary"], first.as_str(), "{ready}");

    sentinel.wait_replica().unwrap();
    let promoted = format!("127.0.0.1:{}", sentinel.failover().unwrap());
    // Tokens are issued again, from the new primary, within the poll
    // interval plus a margin; meanwhile a refusal is a 503, never a 500.
    let started = Instant::now();
    loop {
        let status = app.token_status(&svc).await;
        assert!(status == 200 || status == 503, "{status}");
        if status == 200 && health(&app).await["store_primary"] == promoted.as_str() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not on {promoted} after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The client registered before the failover is still there.
    let token = app.token(&svc, None).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.introspect(&svc, &token).await["active"], true);
    app.server
        .log_lines(
            |l| l["event"] == "redis_primary" && l["primary"] == promoted.as_str(),
            1,
        )
        .await;
    // The watcher sets the replica gauge within a second of connecting.
    let deadline = Instant::now() + Duration::from_secs(5);
    let metrics = loop {
        let metrics = app.server.get_text("/metrics").await;
        if metrics.contains("auth_redis_replicas") || Instant::now() > deadline {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        metrics.contains("auth_redis_primary_changes_total 1")
            && metrics.contains("auth_redis_last_failover_timestamp_seconds")
            && metrics.contains("auth_redis_replicas"),
        "{metrics}"
    );
}

/// What a failover under load does: three replicas of the service create
/// SCIM users against Redis behind Sentinel while the primary is killed
/// (`kill -9`) and, once the Sentinels have promoted the replica, started
/// again (it rejoins as a replica, as an orchestrator would bring it back).
/// Returns (ms from the kill until every replica is ready and writing
/// again, acknowledged writes, refused writes, acknowledged writes lost).
async fn failover_under_load(min_replicas_ack: &str) -> (u128, usize, usize, usize) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use crate::helpers::{MASTER_KEY, Server};

    let mut sentinel = TestSentinel::start().unwrap_or_else(|e| panic!("{e}"));
    sentinel.wait_replica().unwrap();
    let env = [
        ("AUTH_STORE", sentinel.url.as_str()),
        ("AUTH_MASTER_KEY", MASTER_KEY),
        ("AUTH_ISSUER", crate::helpers::ISSUER),
        ("AUTH_STORE_TIMEOUT", "1s"),
        ("AUTH_RATE_LIMIT_SCIM", "off"),
        ("AUTH_REDIS_MIN_REPLICAS_ACK", min_replicas_ack),
    ];
    let mut replicas = Vec::new();
    for _ in 0..3 {
        let mut server = Server::start(&env);
        server.wait_live().await;
        replicas.push(server);
    }
    let (id, secret) = crate::helpers::service_client(&env, "scim:read scim:write");
    let token = crate::helpers::service_token(&replicas[0].base, (&id, &secret)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for (n, server) in replicas.iter().enumerate() {
        let (base, token, stop, refused) = (
            server.base.clone(),
            token.clone(),
            Arc::clone(&stop),
            Arc::clone(&refused),
        );
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let user = serde_json::json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("load-{n}-{i}"),
                });
                let response = client()
                    .post(format!("{base}/scim/v2/Users"))
                    .bearer_auth(&token)
                    .header("content-type", "application/scim+json")
                    .body(user.to_string())
                    .send()
                    .await;
                match response.map(|r| r.status().as_u16()) {
                    Ok(201) => acked.push(format!("load-{n}-{i}")),
                    Ok(503) | Err(_) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Ok(other) => panic!("a write answered {other}"),
                }
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let killed = Instant::now();
    sentinel.nodes[0].kill();
    let promoted = loop {
        let named = sentinel.primary_port_at(sentinel.sentinel_ports[0]);
        if named.is_some() && named != Some(sentinel.nodes[0].port) {
            break named;
        }
        assert!(killed.elapsed() < Duration::from_secs(15), "no failover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The killed node comes back (from its AOF) and is turned into a
    // replica of the new primary by the Sentinels.
    sentinel.nodes[0].spawn().unwrap();
    let primary = format!("127.0.0.1:{}", promoted.unwrap());
    // Every replica ready, on the new primary, and writing again.
    loop {
        let mut all = true;
        for server in &replicas {
            let health = server.get_json("/health").await;
            all &= health["status"] == "ok" && health["store_primary"] == primary.as_str();
        }
        if all {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "not every replica on {primary} 20 s after the kill"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready = killed.elapsed().as_millis();
    // A second more of writes on the new topology, then stop.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for writer in writers {
        acked.extend(writer.await.unwrap());
    }
    // Every acknowledged user must be there.
    let mut lost = 0;
    for name in &acked {
        let found: Value = client()
            .get(replicas[0].url(&format!(
                "/scim/v2/Users?filter=userName%20eq%20%22{name}%22"
            )))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if found["totalResults"] != 1 {
            lost += 1;
        }
    }
    (ready, acked.len(), refused.load(Ordering::Relaxed), lost)
}

/// With `AUTH_REDIS_MIN_REPLICAS_ACK=1`, no acknowledged write is lost.
#[tokio::test]
async fn a_killed_primary_loses_no_acknowledged_write_with_replica_acks() {
    let (ready, acked, refused, lost) = failover_under_load("1").await;
    eprintln!(
        "min_replicas_ack=1: ready {ready} ms after kill -9; {acked} acknowledged, {refused} refused, {lost} lost"
    );
    assert!(acked > 0);
    assert_eq!(lost, 0, "acknowledged writes lost");
}

/// Without replica acknowledgements, the same failover: the service
/// recovers by itself; what it loses is measured, not promised.
#[tokio::test]
async fn a_killed_primary_without_replica_acks_recovers_and_reports_losses() {
    let (ready, acked, refused, lost) = failover_under_load("0").await;
    eprintln!(
        "min_replicas_ack=0: ready {ready} ms after kill -9; {acked} acknowledged, {refused} refused, {lost} lost"
    );
    assert!(acked > 0);
}

/// `doctor` reports the Sentinel topology: the primary, its replicas and
/// the quorum; and fails when AUTH_REDIS_MIN_REPLICAS_ACK asks for more
/// replicas than there are.
#[tokio::test]
async fn doctor_checks_the_sentinel_topology() {
    let sentinel = TestSentinel::start().unwrap_or_else(|e| panic!("{e}"));
    sentinel.wait_replica().unwrap();
    // The issuer is the server itself, so doctor's issuer check can pass.
    let app = TestApp::start(&[("AUTH_STORE", &sentinel.url), ("AUTH_ISSUER", "self")]).await;
    let topology = |extra: &[(&str, &str)]| {
        let mut env = app.cli_env();
        env.extend_from_slice(extra);
        let output = crate::helpers::cli(&env, &["doctor", "--json"], None);
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        let check = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "topology")
            .cloned()
            .unwrap_or_else(|| panic!("no topology check: {report}"));
        (output.status.code(), check)
    };
    let (code, check) = topology(&[]);
    assert_eq!(check["status"], "ok", "{check}");
    let detail = check["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("primary 127.0.0.1:{}", sentinel.nodes[0].port))
            && detail.contains("1 replica")
            && detail.contains("OK"),
        "{detail}"
    );
    assert_eq!(code, Some(0));
    let (code, check) = topology(&[("AUTH_REDIS_MIN_REPLICAS_ACK", "2")]);
    assert_eq!(check["status"], "fail", "{check}");
    assert!(check["fix"].as_str().unwrap().contains("Redis replicas"));
    assert_ne!(code, Some(0));
}

/// `backup` reads from a store behind Sentinel and `restore` writes into
/// one (through the primary the Sentinels name), byte for byte.
#[tokio::test]
async fn backup_and_restore_work_behind_sentinel() {
    let source = TestSentinel::start().unwrap_or_else(|e| panic!("{e}"));
    let app = TestApp::start(&[("AUTH_STORE", &source.url)]).await;
    let svc = app.client("read");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.jsonl");
    let file = file.to_str().unwrap();
    let taken = app.cli(&["backup", "--output", file]);
    assert_eq!(taken["counts"]["client"], 1);
    assert_eq!(taken["counts"]["signing_key"], 2);

    let target = TestSentinel::start().unwrap_or_else(|e| panic!("{e}"));
    crate::backup::restore_and_compare(&target.url, std::path::Path::new(file), &taken["counts"]);
    let client = crate::helpers::stdout_json(&crate::backup::run(
        &target.url,
        &["client", "get", &svc.id],
    ));
    assert_eq!(client["client_id"], svc.id.as_str());
}
