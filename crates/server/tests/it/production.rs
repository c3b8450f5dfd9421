//! Proof under production conditions, on loopback: three replicas on one
//! Redis behind a round-robin front (`cluster.rs`), a rolling restart under
//! load, and `kill -9` of the embedded store under writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::helpers::{MASTER_KEY, Server, client};
use crate::oidc::{Browser, CHALLENGE, REDIRECT, VERIFIER, hidden, location, query};

const PASSWORD: &str = "a long enough password";

/// Signs `user` in at `base` (first-party client: no consent) and returns the code.
async fn code_at(base: &str, client_id: &str, user: &str) -> String {
    let mut browser = Browser::new();
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid profile"),
            ("state", "s"),
            ("nonce", "n"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let to_login = location(&browser.get(&format!("{base}/authorize?{q}")).await);
    let html = browser
        .get(&format!("{base}{to_login}"))
        .await
        .text()
        .await
        .unwrap();
    let form = [
        ("authz", hidden(&html, "authz")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("username", user.to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let back = location(&browser.post(&format!("{base}/login"), &form).await);
    query(&back)["code"].clone()
}

async fn post(
    base: &str,
    path: &str,
    id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client()
        .post(format!("{base}{path}"))
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn json(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

#[tokio::test]
async fn three_replicas_on_one_redis_behave_as_one_service() {
    let cluster = Cluster::start(
        3,
        &[
            ("AUTH_RATE_LIMIT_TOKEN_CLIENT", "6/1m"),
            ("AUTH_REFRESH_TOKEN_GRACE", "0s"),
        ],
    )
    .await;
    let b = |i: usize| cluster.base(i);
    let app = cluster.cli(
        &[
            "client",
            "create",
            "--name",
            "App",
            "--redirect-uri",
            REDIRECT,
            "--scope",
            "openid profile",
            "--first-party",
        ],
        None,
    );
    let (app_id, app_secret) = (
        app["client_id"].as_str().unwrap(),
        app["client_secret"].as_str().unwrap(),
    );
    cluster.cli(
        &["user", "create", "--username", "alice", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );

    // A code issued by replica 0 is redeemed at replica 1.
    let code = code_at(&b(0), app_id, "alice").await;
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let tokens = json(post(&b(1), "/token", app_id, app_secret, &exchange).await).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    // A refresh token rotated at replica 2 and replayed at replica 0: the family is revoked.
    let rotated = json(
        post(
            &b(2),
            "/token",
            app_id,
            app_secret,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await,
    )
    .await;
    let new_refresh = rotated["refresh_token"].as_str().unwrap().to_owned();
    let reuse = post(
        &b(0),
        "/token",
        app_id,
        app_secret,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(reuse.status(), StatusCode::BAD_REQUEST);
    let introspected = json(
        post(
            &b(1),
            "/introspect",
            app_id,
            app_secret,
            &[("token", &new_refresh)],
        )
        .await,
    )
    .await;
    assert_eq!(introspected["active"], false, "the whole family is revoked");

    // A token revoked at replica 0 is refused at 1 (introspection) and 2 (userinfo).
    let access = rotated["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        json(
            post(
                &b(1),
                "/introspect",
                app_id,
                app_secret,
                &[("token", &access)]
            )
            .await
        )
        .await["active"],
        true
    );
    assert_eq!(
        post(&b(0), "/revoke", app_id, app_secret, &[("token", &access)])
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        json(
            post(
                &b(1),
                "/introspect",
                app_id,
                app_secret,
                &[("token", &access)]
            )
            .await
        )
        .await["active"],
        false
    );
    let userinfo = client()
        .get(format!("{}/userinfo", b(2)))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);

    // The per-client rate limit is one limit across replicas: 6 a minute.
    let svc = cluster.cli(
        &[
            "client",
            "create",
            "--name",
            "svc",
            "--grant-type",
            "client_credentials",
            "--scope",
            "scim:write",
        ],
        None,
    );
    let (svc_id, svc_secret) = (
        svc["client_id"].as_str().unwrap(),
        svc["client_secret"].as_str().unwrap(),
    );
    let mut statuses = Vec::new();
    let mut scim_token = String::new();
    for i in 0..7 {
        let answer = post(
            &b(i % 3),
            "/token",
            svc_id,
            svc_secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
        statuses.push(answer.status().as_u16());
        if answer.status() == StatusCode::OK {
            scim_token = json(answer).await["access_token"]
                .as_str()
                .unwrap()
                .to_owned();
        }
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 429]);

    // SCIM: a write at one replica is read at the others at once, and
    // If-Match holds under concurrent updates from all three.
    let created = client()
        .post(format!("{}/scim/v2/Users", b(0)))
        .bearer_auth(&scim_token)
        .json(&json!({"userName": "bob"}))
        .send()
        .await
        .unwrap();
    let created = json(created).await;
    let id = created["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    for i in 1..3 {
        let read = client()
            .get(format!("{}/scim/v2/Users/{id}", b(i)))
            .bearer_auth(&scim_token)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), StatusCode::OK, "replica {i}");
    }
    let tasks: Vec<_> = (0..12)
        .map(|n| {
            let (url, token) = (format!("{}/scim/v2/Users/{id}", b(n % 3)), scim_token.clone());
            tokio::spawn(async move {
                client()
                    .patch(url)
                    .bearer_auth(token)
                    .header("if-match", "W/\"1\"")
                    .json(&json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "nickName", "value": format!("writer {n}")}]}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    assert_eq!(
        outcomes.iter().filter(|s| **s == 200).count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|s| **s == 412).count(),
        11,
        "{outcomes:?}"
    );

    // A key rotation at one replica is published by every replica within
    // seconds (each refreshes every 5 s), and the old keys stay published.
    let before: Vec<String> = kids(&b(1)).await;
    let rotated = cluster.cli(&["keys", "rotate"], None);
    let new_kids: Vec<String> = rotated["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    let started = Instant::now();
    for i in 0..3 {
        loop {
            let published = kids(&b(i)).await;
            if new_kids.iter().all(|k| published.contains(k)) {
                assert!(
                    before.iter().all(|k| published.contains(k)),
                    "old keys stay published"
                );
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(8),
                "replica {i} did not publish the new keys"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let id_token = tokens["id_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            id_token.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    for i in 0..3 {
        assert!(
            kids(&b(i))
                .await
                .contains(&header["kid"].as_str().unwrap().to_owned())
        );
    }
}

async fn kids(base: &str) -> Vec<String> {
    let jwks = json(
        client()
            .get(format!("{base}/jwks.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// The runbook's rolling restart: a successor is ready before its
/// predecessor gets SIGTERM; the front stops sending to a draining replica.
#[tokio::test]
async fn a_rolling_restart_under_load_fails_no_request() {
    let mut cluster = Cluster::start(
        3,
        &[
            ("AUTH_SHUTDOWN_DRAIN", "1s"),
            ("AUTH_RATE_LIMIT_TOKEN", "off"),
            ("AUTH_RATE_LIMIT_TOKEN_CLIENT", "off"),
        ],
    )
    .await;
    let svc = cluster.cli(
        &[
            "client",
            "create",
            "--name",
            "svc",
            "--grant-type",
            "client_credentials",
            "--scope",
            "read",
        ],
        None,
    );
    let (id, secret) = (
        svc["client_id"].as_str().unwrap().to_owned(),
        svc["client_secret"].as_str().unwrap().to_owned(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for n in 0..4 {
        let (front, id, secret) = (cluster.front.url.clone(), id.clone(), secret.clone());
        let (stop, ok, failed) = (Arc::clone(&stop), Arc::clone(&ok), Arc::clone(&failed));
        load.push(tokio::spawn(async move {
            let http = client();
            while !stop.load(Ordering::Relaxed) {
                let response = if n % 2 == 0 {
                    http.post(format!("{front}/token"))
                        .basic_auth(&id, Some(&secret))
                        .form(&[("grant_type", "client_credentials")])
                        .send()
                        .await
                } else {
                    http.get(format!("{front}/jwks.json")).send().await
                };
                match response {
                    Ok(r) if r.status().is_success() => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for old in 0..3 {
        cluster.add_replica().await;
        cluster.replicas[old].signal("TERM");
        let status = cluster.replicas[old]
            .wait_exit(Duration::from_secs(10))
            .await;
        assert!(
            status.is_some_and(|s| s.success()),
            "replica {old} exits 0 after draining"
        );
        let base = cluster.base(old);
        cluster.front.remove(&base);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    println!("rolling restart: {ok} requests succeeded, {failed} failed");
    assert_eq!(failed, 0, "{ok} succeeded");
    assert!(ok > 100, "the load ran ({ok})");
}

/// The embedded store survives `kill -9` under writes: every acknowledged
/// SCIM create and the last refresh token issued are there after a restart,
/// and the database passes `PRAGMA integrity_check`.
#[tokio::test]
async fn the_embedded_store_survives_kill_9_under_writes() {
    let env = [
        ("AUTH_MASTER_KEY", MASTER_KEY),
        ("AUTH_RATE_LIMIT_SCIM", "off"),
    ];
    let mut server = Server::start(&env);
    server.wait_live().await;
    let store = format!("sqlite://{}", server.database().display());
    let cli_env = [
        ("AUTH_STORE", store.as_str()),
        ("AUTH_MASTER_KEY", MASTER_KEY),
    ];
    let svc = crate::helpers::stdout_json(&crate::helpers::cli(
        &cli_env,
        &[
            "client",
            "create",
            "--name",
            "svc",
            "--grant-type",
            "client_credentials",
            "--scope",
            "scim:write",
        ],
        None,
    ));
    let token = json(
        post(
            &server.base,
            "/token",
            svc["client_id"].as_str().unwrap(),
            svc["client_secret"].as_str().unwrap(),
            &[("grant_type", "client_credentials")],
        )
        .await,
    )
    .await;
    let token = token["access_token"].as_str().unwrap().to_owned();
    let app = crate::helpers::stdout_json(&crate::helpers::cli(
        &cli_env,
        &[
            "client",
            "create",
            "--name",
            "App",
            "--redirect-uri",
            REDIRECT,
            "--scope",
            "openid profile",
            "--first-party",
        ],
        None,
    ));
    let (app_id, app_secret) = (
        app["client_id"].as_str().unwrap().to_owned(),
        app["client_secret"].as_str().unwrap().to_owned(),
    );
    crate::helpers::stdout_json(&crate::helpers::cli(
        &cli_env,
        &["user", "create", "--username", "carol", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    ));
    let code = code_at(&server.base, &app_id, "carol").await;
    let first = json(
        post(
            &server.base,
            "/token",
            &app_id,
            &app_secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await,
    )
    .await;

    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let last_refresh = Arc::new(std::sync::Mutex::new(
        first["refresh_token"].as_str().unwrap().to_owned(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (base, token, acknowledged, stop) = (
            server.base.clone(),
            token.clone(),
            Arc::clone(&acknowledged),
            Arc::clone(&stop),
        );
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let answer = client()
                    .post(format!("{base}/scim/v2/Users"))
                    .bearer_auth(&token)
                    .json(&json!({"userName": format!("w{w}-{n}")}))
                    .send()
                    .await;
                if let Ok(answer) = answer
                    && answer.status() == StatusCode::CREATED
                    && let Ok(body) = answer.json::<Value>().await
                {
                    acknowledged
                        .lock()
                        .unwrap()
                        .push(body["id"].as_str().unwrap().to_owned());
                }
            }
        }));
    }
    let stop_refresh = Arc::new(AtomicBool::new(false));
    let refresher = {
        let (base, last_refresh, stop) = (
            server.base.clone(),
            Arc::clone(&last_refresh),
            Arc::clone(&stop_refresh),
        );
        let (app_id, app_secret) = (app_id.clone(), app_secret.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let current = last_refresh.lock().unwrap().clone();
                let answer = post(
                    &base,
                    "/token",
                    &app_id,
                    &app_secret,
                    &[("grant_type", "refresh_token"), ("refresh_token", &current)],
                )
                .await;
                if answer.status() == StatusCode::OK
                    && let Ok(body) = answer.json::<Value>().await
                {
                    *last_refresh.lock().unwrap() =
                        body["refresh_token"].as_str().unwrap().to_owned();
                }
            }
        })
    };
    // Load for 1.5 s, and until enough writes were acknowledged that the
    // kill lands among many (a loaded CI machine is slower; at most 30 s).
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(1500)
        || (acknowledged.lock().unwrap().len() <= 50 && started.elapsed() < Duration::from_secs(30))
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Rotation answered before the kill: the client holds the current token.
    // (A rotation committed but never answered leaves the client a stale
    // token by design of rotation; that is not a loss.)
    stop_refresh.store(true, Ordering::Relaxed);
    refresher.await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.signal("KILL");
    server.wait_exit(Duration::from_secs(5)).await.unwrap();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        let _ = writer.await;
    }
    let ids = acknowledged.lock().unwrap().clone();
    assert!(ids.len() > 50, "the load ran ({})", ids.len());

    let integrity: String = rusqlite::Connection::open(server.database())
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");

    let dir = std::mem::replace(&mut server.dir, tempfile::tempdir().unwrap());
    let mut restarted = Server::start_in(dir, &env);
    restarted.wait_live().await;
    let listed =
        crate::helpers::stdout_json(&crate::helpers::cli(&cli_env, &["user", "list"], None));
    let present: std::collections::HashSet<String> = listed["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    let missing: Vec<&String> = ids.iter().filter(|id| !present.contains(*id)).collect();
    println!(
        "kill -9: {} acknowledged SCIM creates, {} missing after restart",
        ids.len(),
        missing.len()
    );
    assert!(missing.is_empty(), "acknowledged creates lost: {missing:?}");
    let refresh = last_refresh.lock().unwrap().clone();
    let introspected = json(
        post(
            &restarted.base,
            "/introspect",
            &app_id,
            &app_secret,
            &[("token", &refresh)],
        )
        .await,
    )
    .await;
    assert_eq!(
        introspected["active"], true,
        "the last refresh token issued is still valid"
    );
}

/// During a fault, what must hold on every replica (checked on all three
/// at once, so a short pause covers them): token issuance, the login flow's
/// entry and SCIM writes fail with 503 within the store timeout; readiness
/// is 503, liveness 200, and JWKS and discovery keep serving from memory.
async fn during_fault(cluster: &Cluster, svc: (&str, &str), scim_token: &str, timeout: Duration) {
    let mut checks = Vec::new();
    for i in 0..cluster.replicas.len() {
        let base = cluster.base(i);
        let (id, secret, scim_token) = (svc.0.to_owned(), svc.1.to_owned(), scim_token.to_owned());
        checks.push(tokio::spawn(async move {
            let limit = timeout + Duration::from_millis(800);
            let started = Instant::now();
            let token = post(
                &base,
                "/token",
                &id,
                &secret,
                &[("grant_type", "client_credentials")],
            )
            .await;
            let took = started.elapsed();
            println!("replica {i}: token {} after {took:?}", token.status());
            assert_eq!(
                token.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "replica {i}: token fails closed"
            );
            assert!(took < limit, "replica {i}: token took {took:?}");
            let started = Instant::now();
            let login = client()
                .get(format!(
                    "{base}/authorize?response_type=code&client_id={id}"
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(
                login.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "replica {i}: the login flow fails closed"
            );
            assert!(
                started.elapsed() < limit,
                "replica {i}: authorize took {:?}",
                started.elapsed()
            );
            let started = Instant::now();
            let write = client()
                .post(format!("{base}/scim/v2/Users"))
                .bearer_auth(&scim_token)
                .json(&json!({"userName": format!("during-fault-{i}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                write.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "replica {i}: SCIM writes fail closed"
            );
            assert!(
                started.elapsed() < limit,
                "replica {i}: SCIM took {:?}",
                started.elapsed()
            );
            let get = |path: &str| client().get(format!("{base}{path}")).send();
            assert_eq!(
                get("/health/ready").await.unwrap().status(),
                503,
                "replica {i}: not ready"
            );
            assert_eq!(
                get("/health/live").await.unwrap().status(),
                200,
                "replica {i}: alive"
            );
            assert_eq!(
                get("/jwks.json").await.unwrap().status(),
                200,
                "replica {i}: JWKS from memory"
            );
            assert_eq!(
                get("/.well-known/openid-configuration")
                    .await
                    .unwrap()
                    .status(),
                200
            );
        }));
    }
    for check in checks {
        check.await.unwrap();
    }
}

/// Every replica ready again; returns how long it took.
async fn recovery(cluster: &Cluster) -> Duration {
    let started = Instant::now();
    for i in 0..cluster.replicas.len() {
        let url = format!("{}/health/ready", cluster.base(i));
        while !client()
            .get(&url)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "replica {i} not ready again"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    started.elapsed()
}

/// Redis stopped for 10 s, paused by CLIENT PAUSE, and frozen by SIGSTOP,
/// under three replicas: writes fail fast with 503, health says so, JWKS
/// and discovery keep serving, service is back within 2 s, and every write
/// acknowledged before the fault is still there.
#[tokio::test]
async fn redis_faults_fail_closed_recover_fast_and_lose_no_acknowledged_write() {
    let mut cluster = Cluster::start(
        3,
        &[
            ("AUTH_STORE_TIMEOUT", "1s"),
            ("AUTH_HEALTH_TIMEOUT", "500ms"),
        ],
    )
    .await;
    assert!(
        cluster.redis.pid().is_some(),
        "needs a private redis-server (unset AUTH_TEST_REDIS_URL)"
    );
    let svc = cluster.cli(
        &[
            "client",
            "create",
            "--name",
            "svc",
            "--grant-type",
            "client_credentials",
            "--scope",
            "scim:write",
        ],
        None,
    );
    let svc = (
        svc["client_id"].as_str().unwrap().to_owned(),
        svc["client_secret"].as_str().unwrap().to_owned(),
    );
    let token = json(
        post(
            &cluster.front.url,
            "/token",
            &svc.0,
            &svc.1,
            &[("grant_type", "client_credentials")],
        )
        .await,
    )
    .await;
    let token = token["access_token"].as_str().unwrap().to_owned();
    // A bounded load through the front for the whole test: SCIM creates.
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let slowest = Arc::new(std::sync::Mutex::new(Duration::ZERO));
    let refused = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for w in 0..2 {
        let (front, token) = (cluster.front.url.clone(), token.clone());
        let (stop, acknowledged, slowest, refused) = (
            Arc::clone(&stop),
            Arc::clone(&acknowledged),
            Arc::clone(&slowest),
            Arc::clone(&refused),
        );
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let started = Instant::now();
                let answer = client()
                    .post(format!("{front}/scim/v2/Users"))
                    .bearer_auth(&token)
                    .json(&json!({"userName": format!("load-{w}-{n}")}))
                    .send()
                    .await;
                let took = started.elapsed();
                {
                    let mut slowest = slowest.lock().unwrap();
                    *slowest = (*slowest).max(took);
                }
                match answer {
                    Ok(r) if r.status() == StatusCode::CREATED => {
                        let body: Value = r.json().await.unwrap();
                        acknowledged
                            .lock()
                            .unwrap()
                            .push(body["id"].as_str().unwrap().to_owned());
                    }
                    _ => {
                        refused.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }));
    }
    let port = cluster.redis.port;
    let acknowledged_count = || acknowledged.lock().unwrap().len();
    // The load must be writing before each fault and after the last one: the
    // count of acknowledged creates grows between faults. A count rather than
    // a rate, so a slow, loaded machine passes as long as writes go through.
    let grows_past = |count: usize| async move {
        let deadline = Instant::now() + Duration::from_secs(15);
        while acknowledged_count() < count + 5 {
            assert!(
                Instant::now() < deadline,
                "the load acknowledged {} creates, wanted {} within 15 s",
                acknowledged_count(),
                count + 5
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let mut before = 0;
    for (fault, seconds) in [("stop", 10), ("client pause", 8), ("sigstop", 8)] {
        grows_past(before).await;
        before = acknowledged_count();
        match fault {
            // A clean stop: Redis syncs its AOF and exits.
            "stop" => {
                let _ = crate::helpers::redis_command(port, "SHUTDOWN");
            }
            "client pause" => {
                let reply = crate::helpers::redis_command(
                    port,
                    &format!("CLIENT PAUSE {} ALL", seconds * 1000),
                );
                assert_eq!(reply, "+OK");
            }
            _ => {
                let pid = cluster.redis.pid().unwrap().to_string();
                std::process::Command::new("kill")
                    .args(["-STOP", &pid])
                    .status()
                    .unwrap();
            }
        }
        let fault_started = Instant::now();
        tokio::time::sleep(Duration::from_millis(1200)).await;
        during_fault(&cluster, (&svc.0, &svc.1), &token, Duration::from_secs(1)).await;
        let remaining = Duration::from_secs(seconds).saturating_sub(fault_started.elapsed());
        tokio::time::sleep(remaining).await;
        match fault {
            "stop" => cluster.redis.spawn().unwrap(),
            "client pause" => {}
            _ => {
                let pid = cluster.redis.pid().unwrap().to_string();
                std::process::Command::new("kill")
                    .args(["-CONT", &pid])
                    .status()
                    .unwrap();
            }
        }
        let took = recovery(&cluster).await;
        println!(
            "{fault} for {seconds} s: ready again {took:?} after Redis returned; \
             {before} creates acknowledged before it"
        );
        assert!(took < Duration::from_secs(2), "{fault}: {took:?}");
    }
    grows_past(acknowledged_count()).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    let slowest = *slowest.lock().unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    // Every acknowledged create is there (a create the client saw fail may
    // also be there: Redis ran it after the timeout; that loses nothing).
    let mut present = std::collections::HashSet::new();
    let mut start = 1;
    loop {
        let page = json(
            client()
                .get(format!(
                    "{}/scim/v2/Users?startIndex={start}&count=1000&attributes=id",
                    cluster.front.url
                ))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let items = page["Resources"].as_array().unwrap();
        present.extend(items.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        if items.len() < 1000 {
            break;
        }
        start += 1000;
    }
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !present.contains(*id))
        .collect();
    println!(
        "load: {} creates acknowledged, {} refused during faults, slowest answer {slowest:?}, {} lost",
        acknowledged.len(),
        refused.load(Ordering::Relaxed),
        lost.len()
    );
    assert!(lost.is_empty(), "acknowledged creates lost: {lost:?}");
    // No request hung past the store timeout (1 s) by more than the front's hop.
    assert!(slowest < Duration::from_millis(2500), "slowest {slowest:?}");
}
