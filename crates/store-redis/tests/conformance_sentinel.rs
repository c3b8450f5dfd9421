//! The store conformance suite behind Redis Sentinel: a primary, a replica
//! and three Sentinels per test, private processes on loopback. Plus what
//! only this topology has: following a failover.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use store::conformance::{Harness, T0};
use store::{ClientRecord, ClientStore, Store, TestClock};
use store_redis::testing::TestSentinel;
use store_redis::{RedisConfig, RedisStore};

fn config(sentinel: &TestSentinel) -> RedisConfig {
    RedisConfig {
        prefix: String::new(),
        timeout: Duration::from_secs(2),
        ..store_redis::testing::config(&sentinel.url)
    }
}

async fn harness() -> Harness {
    let sentinel = TestSentinel::start().unwrap_or_else(|e| panic!("{e}"));
    let config = config(&sentinel);
    let clock = TestClock::new(T0);
    let store: Arc<dyn Store> =
        Arc::new(RedisStore::new(&config, Arc::new(clock.clone())).unwrap());
    let other: Arc<dyn Store> =
        Arc::new(RedisStore::new(&config, Arc::new(clock.clone())).unwrap());
    Harness {
        store,
        other,
        clock,
        guard: Some(Box::new(sentinel)),
    }
}

store::conformance_tests!(harness);

fn client(id: &str) -> ClientRecord {
    ClientRecord {
        client_id: id.into(),
        name: id.into(),
        secret_hash: None,
        public: true,
        grant_types: vec!["authorization_code".into()],
        redirect_uris: vec!["https://app.example/cb".into()],
        scopes: vec!["openid".into()],
        token_endpoint_auth_method: "none".into(),
        created_at: T0,
        metadata: Default::default(),
    }
}

/// After the Sentinels promote the replica, the store writes to the new
/// primary within a few seconds, without a restart, and what was written
/// before is there.
#[tokio::test]
async fn a_failover_is_followed_without_a_restart() {
    let sentinel = TestSentinel::start().unwrap_or_else(|e| panic!("{e}"));
    let store = RedisStore::new(&config(&sentinel), Arc::new(TestClock::new(T0))).unwrap();
    store.create_client(&client("before")).await.unwrap();
    sentinel.wait_replica().unwrap();
    let first = store.primary().expect("connected");
    assert_eq!(first, format!("127.0.0.1:{}", sentinel.nodes[0].port));
    // Replication is asynchronous: let the replica have the write, as
    // AUTH_REDIS_MIN_REPLICAS_ACK will make sure of.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let promoted = sentinel.failover().unwrap();
    assert_eq!(promoted, sentinel.nodes[1].port);
    let expected = format!("127.0.0.1:{promoted}");
    // Until the store has moved, a write may still land on the demoted
    // node while it is not yet a replica: that window (at most
    // SENTINEL_POLL after the Sentinels agree) is what
    // AUTH_REDIS_MIN_REPLICAS_ACK closes. Here: the store moves by itself.
    let started = Instant::now();
    let mut refused = 0;
    loop {
        match store.ping().await {
            Ok(()) if store.primary().as_deref() == Some(expected.as_str()) => break,
            Ok(()) => {}
            Err(store::Error::Unavailable { .. }) => refused += 1,
            Err(e) => panic!("{e}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still on {:?} after 10 s ({refused} refused)",
            store.primary()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let moved = started.elapsed();
    store.create_client(&client("after")).await.unwrap();
    assert_eq!(store.get_client("before").await.unwrap().name, "before");
    assert_eq!(store.get_client("after").await.unwrap().name, "after");
    assert!(
        moved <= store_redis::SENTINEL_POLL + Duration::from_secs(2),
        "{moved:?}"
    );
    eprintln!(
        "on the new primary {} ms after the Sentinels named it; {refused} calls refused meanwhile",
        moved.as_millis()
    );
}

/// A Sentinel URL whose Sentinels do not know the service: the store says
/// so, as unavailable (readiness shows it; nothing hangs).
#[tokio::test]
async fn an_unknown_service_is_unavailable_with_a_reason() {
    let sentinel = TestSentinel::start().unwrap_or_else(|e| panic!("{e}"));
    let url = sentinel.url.replace("/auth/0", "/nosuch/0");
    let store = RedisStore::new(
        &RedisConfig {
            url,
            ..config(&sentinel)
        },
        Arc::new(TestClock::new(T0)),
    )
    .unwrap();
    match store.ping().await {
        Err(store::Error::Unavailable { message, .. }) => {
            assert!(message.contains("do not name a primary"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// With `min_replicas_ack = 1`, a durable write is acknowledged only once
/// the replica has it: with the replica stopped, writes are refused as
/// unavailable (and reads still answer); short-lived writes (codes) are
/// not held up; when the replica is back, writes are acknowledged again.
#[tokio::test]
async fn durable_writes_wait_for_a_replica() {
    let sentinel = TestSentinel::start().unwrap_or_else(|e| panic!("{e}"));
    sentinel.wait_replica().unwrap();
    let store = RedisStore::new(
        &RedisConfig {
            min_replicas_ack: 1,
            ..config(&sentinel)
        },
        Arc::new(TestClock::new(T0)),
    )
    .unwrap();
    store.create_client(&client("acked")).await.unwrap();

    let replica = sentinel.nodes[1].pid().expect("a private replica");
    signal(replica, "STOP");
    let refused = store.create_client(&client("unacked")).await;
    match &refused {
        Err(store::Error::Unavailable { message, .. }) => {
            assert!(message.contains("0 of 1 Redis replicas"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.get_client("acked").await.unwrap().name, "acked");
    let code = store::AuthorizationCode {
        code_hash: "h".into(),
        client_id: "acked".into(),
        user_id: "u".into(),
        redirect_uri: "https://app.example/cb".into(),
        scope: "openid".into(),
        code_challenge: "c".into(),
        expires_at: T0 + 60,
        grant: Default::default(),
    };
    store::CodeStore::insert_code(&store, &code).await.unwrap();
    signal(replica, "CONT");

    let started = Instant::now();
    while store.create_client(&client("again")).await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(10), "still refused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The partition case: a replica of the service still talking to the old
/// primary after the Sentinels moved on (here pinned to its address with a
/// plain `redis://` URL). With `min_replicas_ack = 1` it cannot have a
/// durable write acknowledged: the old primary has lost its replica (and
/// soon turns into one, answering READONLY). Nothing it refused appears on
/// the new primary.
#[tokio::test]
async fn a_demoted_primary_cannot_acknowledge_durable_writes() {
    let sentinel = TestSentinel::start().unwrap_or_else(|e| panic!("{e}"));
    sentinel.wait_replica().unwrap();
    let pinned = RedisStore::new(
        &RedisConfig {
            url: sentinel.nodes[0].url.clone(),
            min_replicas_ack: 1,
            ..config(&sentinel)
        },
        Arc::new(TestClock::new(T0)),
    )
    .unwrap();
    pinned.create_client(&client("before")).await.unwrap();
    let promoted = sentinel.failover().unwrap();

    // Each refusal may take the WAIT timeout (half the store timeout).
    let mut refused = 0;
    for i in 0..5 {
        match pinned.create_client(&client(&format!("late-{i}"))).await {
            Err(store::Error::Unavailable { .. }) => refused += 1,
            other => panic!("the old primary acknowledged a durable write: {other:?}"),
        }
    }
    assert_eq!(refused, 5);
    let new_primary = RedisStore::new(
        &RedisConfig {
            url: format!("redis://127.0.0.1:{promoted}/0"),
            ..config(&sentinel)
        },
        Arc::new(TestClock::new(T0)),
    )
    .unwrap();
    assert_eq!(
        new_primary.get_client("before").await.unwrap().name,
        "before"
    );
}
