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

/// A store on one node of the set, by a plain `redis://` URL (no
/// Sentinel), to read what that node holds.
fn node_store(sentinel: &TestSentinel, port: u16) -> RedisStore {
    RedisStore::new(
        &RedisConfig {
            url: format!("redis://127.0.0.1:{port}/0"),
            ..config(sentinel)
        },
        Arc::new(TestClock::new(T0)),
    )
    .unwrap()
}

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
    let new_primary = node_store(&sentinel, promoted);
    assert_eq!(
        new_primary.get_client("before").await.unwrap().name,
        "before"
    );
}

/// What four writers saw through a partition: ids acknowledged, refused,
/// and acknowledged but missing from the new primary afterwards.
#[derive(Debug)]
struct Partition {
    acknowledged: usize,
    refused: usize,
    lost: Vec<String>,
}

/// A partition as `CLIENT PAUSE … ALL` makes one: for 4 s the primary
/// answers no one (the Sentinels, its replica, the service), then runs what
/// it had queued. The Sentinels call it down after 1 s and promote the
/// replica; the service, whose calls wait up to 5 s, moves on the
/// Sentinels' `+switch-master`, but the writes already sent to the paused
/// primary are answered by it when the pause ends, just before the
/// Sentinels demote it.
async fn write_through_a_partition(min_replicas_ack: u32) -> Partition {
    let sentinel = TestSentinel::start().unwrap_or_else(|e| panic!("{e}"));
    sentinel.wait_replica().unwrap();
    let store = Arc::new(
        RedisStore::new(
            &RedisConfig {
                timeout: Duration::from_secs(5),
                min_replicas_ack,
                ..config(&sentinel)
            },
            Arc::new(TestClock::new(T0)),
        )
        .unwrap(),
    );
    store.create_client(&client("before")).await.unwrap();

    let writers = (0..4).map(|w| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let (mut acked, mut refused) = (Vec::new(), 0);
            let started = Instant::now();
            let mut i = 0;
            while started.elapsed() < Duration::from_secs(9) {
                let id = format!("w{w}-{i}");
                i += 1;
                match store.create_client(&client(&id)).await {
                    Ok(()) => acked.push(id),
                    Err(store::Error::Unavailable { .. }) => {
                        refused += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => panic!("{e}"),
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (acked, refused)
        })
    });
    let writers: Vec<_> = writers.collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let primary = sentinel.nodes[0].port;
    let mut pause = redis::Client::open(format!("redis://127.0.0.1:{primary}"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(4000)
        .arg("ALL")
        .query_async(&mut pause)
        .await
        .unwrap();

    let (mut acknowledged, mut refused) = (Vec::new(), 0);
    for writer in writers {
        let (acked, r) = writer.await.unwrap();
        acknowledged.extend(acked);
        refused += r;
    }
    // The old primary is a replica of the new one by now (or soon).
    let promoted = sentinel.nodes[1].port;
    // Generous: at the end of a full CI run on 2 cores the failover once
    // took longer than 15 s.
    let deadline = Instant::now() + Duration::from_secs(45);
    while sentinel.primary_port_at(sentinel.sentinel_ports[0]) != Some(promoted) {
        assert!(
            Instant::now() < deadline,
            "the Sentinels never promoted the replica"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let new_primary = node_store(&sentinel, promoted);
    let mut lost = Vec::new();
    for id in acknowledged.iter().chain([&"before".to_owned()]) {
        match new_primary.get_client(id).await {
            Ok(_) => {}
            Err(store::Error::NotFound) => lost.push(id.clone()),
            Err(e) => panic!("{e}"),
        }
    }
    Partition {
        acknowledged: acknowledged.len(),
        refused,
        lost,
    }
}

/// With `min_replicas_ack = 1`, what the paused primary ran when the pause
/// ended is refused: its replica had left to become the new primary, so
/// `WAIT` counts none. Nothing acknowledged is missing afterwards, and
/// writes were acknowledged before and after the partition.
#[tokio::test]
async fn a_partitioned_primary_acknowledges_nothing_the_new_one_lacks() {
    let seen = write_through_a_partition(1).await;
    eprintln!("min_replicas_ack=1: {seen:?}");
    assert!(seen.lost.is_empty(), "{seen:?}");
    assert!(seen.acknowledged > 20 && seen.refused > 0, "{seen:?}");
}

/// With 0 (the default), the writes the paused primary ran when the pause
/// ended are acknowledged and then lost when the Sentinels demote it: at
/// most one per writer, the ones in flight. This is the loss the
/// durability table in docs/deployment.md states for 0.
#[tokio::test]
async fn without_acknowledgements_a_partition_loses_only_the_writes_in_flight() {
    let seen = write_through_a_partition(0).await;
    eprintln!("min_replicas_ack=0: {seen:?}");
    assert!(seen.lost.len() <= 4, "{seen:?}");
    assert!(
        !seen.lost.contains(&"before".to_owned()),
        "a write from before the partition, replicated, survives"
    );
    assert!(seen.acknowledged > 20, "{seen:?}");
}
