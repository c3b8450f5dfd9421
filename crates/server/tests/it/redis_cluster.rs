//! The service on a Redis Cluster (`redis+cluster://`): it serves tokens
//! and SCIM from seed nodes alone, `doctor` checks the cluster's shape,
//! backups cross into and out of a cluster, a failed primary fails its own
//! slots only, and a reshard under load loses nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use store_redis::testing::TestCluster;

use crate::helpers::{MASTER_KEY, Server, TestApp, client};

fn doctor_check(app: &TestApp, name: &str) -> (Option<i32>, Value) {
    let output = crate::helpers::cli(&app.cli_env(), &["doctor", "--json"], None);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no {name} check: {report}"));
    (output.status.code(), check)
}

#[tokio::test]
async fn the_service_runs_on_a_redis_cluster_and_doctor_checks_it() {
    let cluster = TestCluster::start_private(3, 1).unwrap_or_else(|e| panic!("{e}"));
    let app = TestApp::start(&[("AUTH_STORE", &cluster.url), ("AUTH_ISSUER", "self")]).await;
    let svc = app.client("read");
    let token = app.token(&svc, None).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.introspect(&svc, &token).await["active"], true);
    let ready = app.server.get_json("/health/ready").await;
    assert_eq!(ready["status"], "ready", "{ready}");
    // The watcher reads the cluster's shape on connecting.
    let deadline = Instant::now() + Duration::from_secs(5);
    let metrics = loop {
        let metrics = app.server.get_text("/metrics").await;
        if metrics.contains("auth_redis_primaries") || Instant::now() > deadline {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        metrics.contains("auth_redis_primaries 3") && metrics.contains("auth_redis_replicas 3"),
        "{metrics}"
    );

    let (code, check) = doctor_check(&app, "topology");
    assert_eq!(check["status"], "ok", "{check}");
    let detail = check["detail"].as_str().unwrap();
    assert!(
        detail.contains("3 primaries") && detail.contains("3 replicas") && detail.contains("16384"),
        "{detail}"
    );
    let (_, persistence) = doctor_check(&app, "persistence");
    assert_eq!(persistence["status"], "ok", "{persistence}");
    let (_, memory) = doctor_check(&app, "memory");
    assert_eq!(memory["status"], "ok", "{memory}");
    assert_eq!(code, Some(0));

    // A cluster without replicas: doctor warns; with an ack it cannot get, fails.
    let bare = TestCluster::start_private(3, 0).unwrap_or_else(|e| panic!("{e}"));
    let mut env = app.cli_env();
    env.retain(|(k, _)| *k != "AUTH_STORE");
    env.push(("AUTH_STORE", &bare.url));
    let output = crate::helpers::cli(&env, &["doctor", "--json"], None);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let topology = |report: &Value| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "topology")
            .cloned()
            .unwrap()
    };
    assert_eq!(topology(&report)["status"], "warn", "{report}");
    env.push(("AUTH_REDIS_MIN_REPLICAS_ACK", "1"));
    let output = crate::helpers::cli(&env, &["doctor", "--json"], None);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(topology(&report)["status"], "fail", "{report}");
    assert_ne!(output.status.code(), Some(0));
}

/// `backup` reads a cluster and `restore` writes into another one, byte
/// for byte; and the same file restores into one Redis.
#[tokio::test]
async fn backup_and_restore_cross_into_and_out_of_a_cluster() {
    let source = TestCluster::start_private(3, 0).unwrap_or_else(|e| panic!("{e}"));
    let app = TestApp::start(&[("AUTH_STORE", &source.url)]).await;
    let svc = app.client("read");
    let scim = app.client("scim:read scim:write");
    let token = app.token(&scim, None).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for name in ["alice", "bob", "carol"] {
        let response = client()
            .post(app.server.url("/scim/v2/Users"))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(
                serde_json::json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": name,
                    "emails": [{"value": format!("{name}@example.com")}],
                })
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.jsonl");
    let file = file.to_str().unwrap();
    let taken = app.cli(&["backup", "--output", file]);
    assert_eq!(taken["counts"]["user"], 3);

    let target = TestCluster::start_private(3, 0).unwrap_or_else(|e| panic!("{e}"));
    crate::backup::restore_and_compare(&target.url, std::path::Path::new(file), &taken["counts"]);
    let run =
        |url: &str, args: &[&str]| crate::helpers::stdout_json(&crate::backup::run(url, args));
    let got = run(&target.url, &["client", "get", &svc.id]);
    assert_eq!(got["client_id"], svc.id.as_str());
    // Restored through the cluster protocols: the userName index answers.
    let store = store_redis::RedisStore::new(
        &store_redis::RedisConfig {
            prefix: String::new(),
            ..store_redis::testing::config(&target.url)
        },
        Arc::new(store::SystemClock),
    )
    .unwrap();
    let bob = store::UserStore::get_user_by_name(&store, "BOB")
        .await
        .unwrap();
    assert_eq!(bob.user_name, "bob");
    assert_eq!(
        store::UserStore::find_users_by_email(&store, "bob@example.com")
            .await
            .unwrap()
            .len(),
        1
    );

    // Out of the cluster, into one Redis.
    let single = store_redis::testing::TestRedis::start_private(&[]).unwrap();
    let restored = run(&single.url, &["restore", "--input", file]);
    assert_eq!(restored["counts"], taken["counts"]);
}

/// What each load writer saw.
#[derive(Default)]
struct Seen {
    acked: Vec<String>,
    /// (ms since the start, succeeded) of every request.
    outcomes: Vec<(u128, bool)>,
}

/// Three replicas of the service create SCIM users and issue tokens
/// against a 3-primary cluster with one replica each while `disrupt` runs.
/// Returns what the writers and token clients saw, and the replicas.
async fn under_load<F, Fut>(
    url: &str,
    min_replicas_ack: &str,
    disrupt: F,
) -> (Vec<Seen>, Vec<Seen>, Vec<Server>, String, u128)
where
    F: FnOnce(Instant, (String, String)) -> Fut,
    Fut: std::future::Future<Output = u128>,
{
    let env = [
        ("AUTH_STORE", url),
        ("AUTH_MASTER_KEY", MASTER_KEY),
        ("AUTH_ISSUER", crate::helpers::ISSUER),
        ("AUTH_STORE_TIMEOUT", "1s"),
        ("AUTH_RATE_LIMIT_SCIM", "off"),
        ("AUTH_RATE_LIMIT_TOKEN", "off"),
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
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    let mut issuers = Vec::new();
    // Two writers per replica, each with its own token. Every SCIM request
    // checks its token's revocation entry, one key: with one token for all,
    // a killed primary that held that key stopped every write, which is
    // not what "other slots keep serving" is about (CI saw 0 creates during
    // the outage once).
    for (n, server) in replicas
        .iter()
        .flat_map(|server| std::iter::repeat_n(server, 2))
        .enumerate()
    {
        let token = crate::helpers::service_token(&server.base, (&id, &secret)).await;
        let (base, halt) = (server.base.clone(), Arc::clone(&stop));
        writers.push(tokio::spawn(async move {
            let mut seen = Seen::default();
            let mut i = 0;
            while !halt.load(Ordering::Relaxed) {
                i += 1;
                let name = format!("load-{n}-{i}");
                let response = client()
                    .post(format!("{base}/scim/v2/Users"))
                    .bearer_auth(&token)
                    .header("content-type", "application/scim+json")
                    .body(
                        serde_json::json!({
                            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                            "userName": name,
                        })
                        .to_string(),
                    )
                    .send()
                    .await;
                let at = started.elapsed().as_millis();
                match response.map(|r| r.status().as_u16()) {
                    Ok(201) => {
                        seen.acked.push(name);
                        seen.outcomes.push((at, true));
                    }
                    Ok(503) | Err(_) => {
                        seen.outcomes.push((at, false));
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Ok(other) => panic!("a write answered {other}"),
                }
            }
            seen
        }));
        if n % 2 != 0 {
            continue;
        }
        let (base, id, secret, stop) = (
            server.base.clone(),
            id.clone(),
            secret.clone(),
            Arc::clone(&stop),
        );
        issuers.push(tokio::spawn(async move {
            let mut seen = Seen::default();
            while !stop.load(Ordering::Relaxed) {
                let response = client()
                    .post(format!("{base}/token"))
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await;
                let at = started.elapsed().as_millis();
                match response.map(|r| r.status().as_u16()) {
                    Ok(200) => seen.outcomes.push((at, true)),
                    Ok(503) | Err(_) => {
                        seen.outcomes.push((at, false));
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Ok(other) => panic!("a token request answered {other}"),
                }
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let recovered = disrupt(started, (id, secret)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut written = Vec::new();
    for writer in writers {
        written.push(writer.await.unwrap());
    }
    let mut issued = Vec::new();
    for issuer in issuers {
        issued.push(issuer.await.unwrap());
    }
    (written, issued, replicas, token, recovered)
}

/// How many acknowledged users are missing.
async fn lost(replicas: &[Server], token: &str, written: &[Seen]) -> usize {
    let mut lost = 0;
    for name in written.iter().flat_map(|s| &s.acked) {
        let found: Value = client()
            .get(replicas[0].url(&format!(
                "/scim/v2/Users?filter=userName%20eq%20%22{name}%22"
            )))
            .bearer_auth(token)
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
    lost
}

/// Successes within `[from, to)` ms.
fn succeeded(seen: &[Seen], from: u128, to: u128) -> usize {
    seen.iter()
        .flat_map(|s| &s.outcomes)
        .filter(|(at, ok)| *ok && (from..to).contains(at))
        .count()
}

/// Kills (`kill -9`) the primary that serves neither the SCIM client nor
/// the user list, so that what other slots serve must keep working; waits
/// for its replica's promotion. Returns (ms of the kill, ms of recovery).
async fn kill_a_primary(
    cluster: &mut TestCluster,
    client_id: &str,
    started: Instant,
) -> (u128, u128) {
    let spared: Vec<u16> = [format!("client:{{{client_id}}}"), "idx:users".to_owned()]
        .iter()
        .filter_map(|k| cluster.primary_of_slot(store_redis::cluster::slot(k.as_bytes())))
        .collect();
    let victim = (0..3)
        .find(|i| !spared.contains(&cluster.nodes[*i].port))
        .expect("a primary serving neither");
    let port = cluster.nodes[victim].port;
    let killed = started.elapsed().as_millis();
    cluster.nodes[victim].kill();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let promoted = (0..16384u16)
            .step_by(512)
            .all(|slot| cluster.primary_of_slot(slot).is_some_and(|p| p != port));
        if promoted {
            break;
        }
        assert!(Instant::now() < deadline, "no promotion within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (killed, started.elapsed().as_millis())
}

async fn cluster_failover(min_replicas_ack: &str) {
    let mut cluster = TestCluster::start_private(3, 1).unwrap_or_else(|e| panic!("{e}"));
    let url = cluster.url.clone();
    let window = std::sync::Mutex::new((0, 0));
    let (cluster_ref, window_ref) = (&mut cluster, &window);
    let (written, issued, replicas, token, _) =
        under_load(&url, min_replicas_ack, |started, (id, _)| async move {
            let (killed, promoted) = kill_a_primary(cluster_ref, &id, started).await;
            *window_ref.lock().unwrap() = (killed, promoted);
            promoted
        })
        .await;
    let (killed, promoted) = *window.lock().unwrap();
    let outage_writes = succeeded(&written, killed, promoted);
    let outage_tokens = succeeded(&issued, killed, promoted);
    let failed: usize = written
        .iter()
        .chain(&issued)
        .flat_map(|s| &s.outcomes)
        .filter(|(_, ok)| !ok)
        .count();
    let lost = lost(&replicas, &token, &written).await;
    let acked: usize = written.iter().map(|s| s.acked.len()).sum();
    eprintln!(
        "cluster, min_replicas_ack={min_replicas_ack}: promoted {} ms after kill -9; during it {outage_writes} users created and {outage_tokens} tokens issued; {acked} users acknowledged, {failed} requests refused (503), {lost} lost",
        promoted - killed
    );
    assert!(
        outage_tokens > 0,
        "token issuance stopped while another slot failed over"
    );
    assert!(
        outage_writes > 0,
        "SCIM writes to other slots stopped during the failover"
    );
    assert!(
        succeeded(&written, promoted, u128::MAX) > 0,
        "no write after the promotion"
    );
    if min_replicas_ack != "0" {
        assert_eq!(lost, 0, "acknowledged writes lost");
    }
}

/// With `AUTH_REDIS_MIN_REPLICAS_ACK=1`, a killed primary loses no
/// acknowledged write, and the other slots serve throughout.
#[tokio::test]
async fn a_killed_cluster_primary_fails_its_slots_only_and_loses_no_acked_write() {
    cluster_failover("1").await;
}

/// Without replica acknowledgements, the same: what is lost is measured.
#[tokio::test]
async fn a_killed_cluster_primary_without_replica_acks_reports_losses() {
    cluster_failover("0").await;
}

/// `redis-cli --cluster reshard` moves slots between primaries while the
/// service writes: requests fail only with a retryable 503, nothing
/// acknowledged is lost.
#[tokio::test]
async fn a_reshard_under_load_loses_nothing() {
    let cluster = TestCluster::start_private(3, 0).unwrap_or_else(|e| panic!("{e}"));
    let url = cluster.url.clone();
    let (from, to) = (cluster.nodes[0].port, cluster.nodes[1].port);
    let ids = |port: u16| {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &port.to_string(), "CLUSTER", "MYID"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let (source, target) = (ids(from), ids(to));
    let (written, issued, replicas, token, moved) =
        under_load(&url, "0", |started, _| async move {
            let resharded = tokio::task::spawn_blocking(move || {
                std::process::Command::new("redis-cli")
                    .args(["--cluster", "reshard", &format!("127.0.0.1:{from}")])
                    .args(["--cluster-from", &source, "--cluster-to", &target])
                    .args(["--cluster-slots", "2000", "--cluster-yes"])
                    .stdout(std::process::Stdio::null())
                    .status()
                    .unwrap()
            })
            .await
            .unwrap();
            assert!(resharded.success(), "redis-cli --cluster reshard failed");
            started.elapsed().as_millis()
        })
        .await;
    cluster.wait_ok(Duration::from_secs(10)).unwrap();
    let refused: usize = written
        .iter()
        .chain(&issued)
        .flat_map(|s| &s.outcomes)
        .filter(|(_, ok)| !ok)
        .count();
    let acked: usize = written.iter().map(|s| s.acked.len()).sum();
    let lost = lost(&replicas, &token, &written).await;
    eprintln!(
        "reshard of 2000 slots done {moved} ms into the run: {acked} users acknowledged, {} tokens, {refused} requests refused (503), {lost} lost",
        succeeded(&issued, 0, u128::MAX)
    );
    assert!(acked > 0);
    assert_eq!(lost, 0, "acknowledged writes lost in a reshard");
}
