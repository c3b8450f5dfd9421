//! The store conformance suite on a Redis Cluster of three primaries (made
//! with `redis-cli --cluster create`, or `AUTH_TEST_REDIS_CLUSTER_URL` with
//! a fresh key prefix), and what the cluster protocols promise beyond it:
//! the repair after a crash between steps, stale userName reservations, and
//! refusing a URL that names a Redis that is not a cluster.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use store::conformance::{Harness, T0};
use store::{GroupStore, Store, TestClock, UserStore};
use store_redis::testing::{TestCluster, TestRedis};
use store_redis::{RedisConfig, RedisStore};

fn config(url: &str, prefix: String) -> RedisConfig {
    RedisConfig {
        prefix,
        ..store_redis::testing::config(url)
    }
}

async fn harness() -> Harness {
    let cluster = TestCluster::start(3, 0).unwrap_or_else(|e| panic!("{e}"));
    let config = config(&cluster.url, TestRedis::unique_prefix());
    let clock = TestClock::new(T0);
    let store: Arc<dyn Store> =
        Arc::new(RedisStore::new(&config, Arc::new(clock.clone())).unwrap());
    let other: Arc<dyn Store> =
        Arc::new(RedisStore::new(&config, Arc::new(clock.clone())).unwrap());
    Harness {
        store,
        other,
        clock,
        guard: Some(Box::new(cluster)),
    }
}

store::conformance_tests!(harness);

fn user(id: &str, name: &str) -> store::UserRecord {
    store::UserRecord {
        id: id.into(),
        user_name: name.into(),
        external_id: Some(format!("ext-{id}")),
        active: true,
        password_hash: None,
        attributes: serde_json::json!({"emails": [{"value": format!("{id}@example.com")}]}),
        version: 1,
        created_at: T0,
        updated_at: T0,
    }
}

/// A raw connection to the cluster, to play a writer that crashed.
async fn raw(url: &str) -> redis::cluster_async::ClusterConnection {
    let seeds: Vec<String> = url
        .trim_start_matches("redis+cluster://")
        .split(',')
        .map(|s| format!("redis://{s}"))
        .collect();
    redis::cluster::ClusterClient::new(seeds)
        .unwrap()
        .get_async_connection()
        .await
        .unwrap()
}

/// A crash between the record and its list leaves a user the list lacks,
/// or an entry whose record is gone: the periodic purge repairs both.
#[tokio::test]
async fn the_purge_repairs_lists_a_crashed_write_left_behind() {
    let cluster = TestCluster::start(3, 0).unwrap_or_else(|e| panic!("{e}"));
    let prefix = TestRedis::unique_prefix();
    let store = RedisStore::new(
        &config(&cluster.url, prefix.clone()),
        Arc::new(TestClock::new(T0)),
    )
    .unwrap();
    store.create_user(&user("u-1", "alice")).await.unwrap();
    store.create_user(&user("u-2", "bob")).await.unwrap();
    let first_ten = store::Page {
        offset: 0,
        limit: 10,
    };
    let mut conn = raw(&cluster.url).await;
    // u-1's list entry lost, u-3 listed without a record.
    let _: () = redis::cmd("ZREM")
        .arg(format!("{prefix}idx:users"))
        .arg("u-1")
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = redis::cmd("ZADD")
        .arg(format!("{prefix}idx:users"))
        .arg(0)
        .arg("u-3")
        .query_async(&mut conn)
        .await
        .unwrap();
    let page = store.list_users(first_ten).await.unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(
        page.items.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        ["u-2"]
    );

    assert_eq!(store.purge_expired().await.unwrap(), 2);
    let page = store.list_users(first_ten).await.unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(
        page.items.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        ["u-1", "u-2"]
    );
    assert_eq!(
        store.purge_expired().await.unwrap(),
        0,
        "nothing left to repair"
    );
}

/// A writer that reserved a userName and crashed before writing its record
/// holds the name for the grace period only; lookups never answer with it.
#[tokio::test]
async fn a_crashed_writers_user_name_reservation_goes_stale() {
    let cluster = TestCluster::start(3, 0).unwrap_or_else(|e| panic!("{e}"));
    let prefix = TestRedis::unique_prefix();
    let clock = TestClock::new(T0);
    let store = RedisStore::new(
        &config(&cluster.url, prefix.clone()),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let mut conn = raw(&cluster.url).await;
    let _: () = redis::cmd("SET")
        .arg(format!("{prefix}idx:username:{{carol}}"))
        .arg(format!("u-crashed 1 {T0}"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(matches!(
        store.get_user_by_name("carol").await,
        Err(store::Error::NotFound)
    ));
    // Within the grace period, the name is held: the writer may still commit.
    assert!(matches!(
        store.create_user(&user("u-9", "Carol")).await,
        Err(store::Error::Conflict(store::Conflict::Unique("userName")))
    ));
    clock.advance(store_redis::cluster::RESERVATION_GRACE.as_secs() as i64 + 1);
    store.create_user(&user("u-9", "Carol")).await.unwrap();
    assert_eq!(store.get_user_by_name("CAROL").await.unwrap().id, "u-9");
    // A held name whose user carries it is never stale.
    clock.advance(3600);
    assert!(matches!(
        store.create_user(&user("u-10", "carol")).await,
        Err(store::Error::Conflict(store::Conflict::Unique("userName")))
    ));
}

/// `redis+cluster://` at a Redis that is not a cluster: unavailable, and
/// the reason says so.
#[tokio::test]
async fn a_cluster_url_at_a_plain_redis_is_refused_with_the_reason() {
    let server = TestRedis::start_private(&[]).unwrap_or_else(|e| panic!("{e}"));
    let store = RedisStore::new(
        &config(
            &format!("redis+cluster://127.0.0.1:{}", server.port),
            String::new(),
        ),
        Arc::new(TestClock::new(T0)),
    )
    .unwrap();
    match store.ping().await {
        Err(store::Error::Unavailable { message, .. }) => {
            assert!(message.contains("cluster"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// `AUTH_REDIS_MIN_REPLICAS_ACK` on a cluster: a durable write waits for
/// the replicas of each primary it touched; without replicas it is refused
/// as unavailable, and short-lived writes never wait.
#[tokio::test]
async fn durable_writes_wait_for_the_replicas_of_the_primaries_they_touch() {
    use store::CounterStore;
    let with = TestCluster::start_private(3, 1).unwrap_or_else(|e| panic!("{e}"));
    let mut acked = config(&with.url, TestRedis::unique_prefix());
    acked.min_replicas_ack = 1;
    let store = RedisStore::new(&acked, Arc::new(TestClock::new(T0))).unwrap();
    for i in 0..20 {
        store
            .create_user(&user(&format!("u-{i}"), &format!("user-{i}")))
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .list_users(store::Page {
                offset: 0,
                limit: 0
            })
            .await
            .unwrap()
            .total,
        20
    );

    let without = TestCluster::start_private(3, 0).unwrap_or_else(|e| panic!("{e}"));
    let mut acked = config(&without.url, TestRedis::unique_prefix());
    acked.min_replicas_ack = 1;
    acked.timeout = Duration::from_secs(1);
    let store = RedisStore::new(&acked, Arc::new(TestClock::new(T0))).unwrap();
    // Joined first, so the write's own timeout is the WAIT's.
    store.ping().await.unwrap();
    match store.create_user(&user("u-1", "alice")).await {
        Err(store::Error::Unavailable { message, .. }) => {
            assert!(message.contains("0 of 1 Redis replicas"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.increment("k", 1, 60).await.unwrap(), 1);
}

/// A plain connection to one node, for `CLUSTER SETSLOT` and `MIGRATE`.
async fn node(port: u16) -> redis::aio::MultiplexedConnection {
    redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Moves `slot` and its keys from the node at `from` to the one at `to`,
/// as `redis-cli --cluster reshard` does (Redis Cluster specification,
/// "Live reconfiguration").
async fn move_slot(slot: u16, from: u16, to: u16) {
    let (mut source, mut target) = (node(from).await, node(to).await);
    let source_id: String = redis::cmd("CLUSTER")
        .arg("MYID")
        .query_async(&mut source)
        .await
        .unwrap();
    let target_id: String = redis::cmd("CLUSTER")
        .arg("MYID")
        .query_async(&mut target)
        .await
        .unwrap();
    let setslot = |state: &str, id: &str| {
        redis::cmd("CLUSTER")
            .arg("SETSLOT")
            .arg(slot)
            .arg(state)
            .arg(id)
            .clone()
    };
    let () = setslot("IMPORTING", &source_id)
        .query_async(&mut target)
        .await
        .unwrap();
    let () = setslot("MIGRATING", &target_id)
        .query_async(&mut source)
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("CLUSTER")
        .arg("GETKEYSINSLOT")
        .arg(slot)
        .arg(1000)
        .query_async(&mut source)
        .await
        .unwrap();
    assert!(!keys.is_empty(), "the slot holds the user's keys");
    let () = redis::cmd("MIGRATE")
        .arg("127.0.0.1")
        .arg(to)
        .arg("")
        .arg(0)
        .arg(5000)
        .arg("KEYS")
        .arg(&keys)
        .query_async(&mut source)
        .await
        .unwrap();
    for conn in [&mut target, &mut source] {
        let () = setslot("NODE", &target_id).query_async(conn).await.unwrap();
    }
}

/// Reads of many keys go as one pipeline per node, by a slot map that a
/// reshard makes stale: the node that lost the slot answers `MOVED`, and
/// the read is sent again where the slot went, so the answer is whole.
#[tokio::test]
async fn batched_reads_follow_a_slot_that_moved_under_a_stale_map() {
    let cluster = TestCluster::start_private(3, 0).unwrap_or_else(|e| panic!("{e}"));
    let prefix = TestRedis::unique_prefix();
    let store = RedisStore::new(
        &config(&cluster.url, prefix.clone()),
        Arc::new(TestClock::new(T0)),
    )
    .unwrap();
    let ids: Vec<String> = (1..=9).map(|n| format!("u-{n}")).collect();
    for id in &ids {
        store
            .create_user(&user(id, &format!("name-{id}")))
            .await
            .unwrap();
    }
    let group = store::GroupRecord {
        id: "g-1".into(),
        display_name: "staff".into(),
        external_id: None,
        members: ids
            .iter()
            .map(|m| store::GroupMember {
                value: m.clone(),
                kind: store::MemberKind::User,
            })
            .collect(),
        attributes: serde_json::json!({}),
        version: 1,
        created_at: T0,
        updated_at: T0,
    };
    store.create_group(&group).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !store.batches_reads() {
        assert!(
            std::time::Instant::now() < deadline,
            "the slot map was never read"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all = store::Page {
        offset: 0,
        limit: 10,
    };
    let before = store.list_users(all).await.unwrap();
    assert_eq!(before.items.len(), 9);

    // A user whose node serves another user too: the pipeline to that node
    // then holds a read that succeeds and one that meets `MOVED`.
    let slot_of =
        |id: &str| store_redis::cluster::slot(format!("{prefix}user:{{{id}}}").as_bytes());
    let node_of = |id: &str| cluster.primary_of_slot(slot_of(id)).unwrap();
    let moved = ids
        .iter()
        .find(|id| {
            ids.iter()
                .any(|other| other != *id && node_of(other) == node_of(id))
        })
        .unwrap();
    let (slot, from) = (slot_of(moved), node_of(moved));
    let to = cluster
        .nodes
        .iter()
        .map(|n| n.port)
        .find(|&p| p != from)
        .unwrap();
    move_slot(slot, from, to).await;

    let after = store.list_users(all).await.unwrap();
    assert_eq!(
        after.items, before.items,
        "the moved user is read where it went"
    );
    let groups = store.groups_with_members(&ids).await.unwrap();
    assert_eq!(
        groups
            .iter()
            .map(|(m, g)| (m.clone(), g.id.as_str()))
            .collect::<Vec<_>>(),
        ids.iter().map(|m| (m.clone(), "g-1")).collect::<Vec<_>>(),
        "the moved member index is read where it went"
    );
}
