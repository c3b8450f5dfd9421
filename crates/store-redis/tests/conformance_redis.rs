//! The store conformance suite on Redis. Each test starts its own
//! `redis-server` (or uses `AUTH_TEST_REDIS_URL` with a fresh key prefix);
//! a missing Redis fails the test, it never skips.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use store::conformance::{Harness, T0};
use store::{Store, TestClock};
use store_redis::testing::TestRedis;
use store_redis::{RedisConfig, RedisStore};

/// A server per test, stopped when the harness drops (a static one would
/// outlive the test process). With `AUTH_TEST_REDIS_URL`, the prefix isolates.
async fn harness() -> Harness {
    let server = TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
    let config = store_redis::testing::config(&server.url);
    let clock = TestClock::new(T0);
    let store: Arc<dyn Store> =
        Arc::new(RedisStore::new(&config, Arc::new(clock.clone())).unwrap());
    let other: Arc<dyn Store> =
        Arc::new(RedisStore::new(&config, Arc::new(clock.clone())).unwrap());
    Harness {
        store,
        other,
        clock,
        guard: Some(Box::new(server)),
    }
}

store::conformance_tests!(harness);

/// Users written by an earlier version (lower-case keys) move to RFC 8265
/// keys once; a look-alike that would collide keeps its old key and is
/// reported.
#[tokio::test]
async fn upgrade_moves_user_names_to_rfc_8265_keys_once() {
    use store::UserStore;
    let server = TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
    let prefix = TestRedis::unique_prefix();
    let config = RedisConfig {
        prefix: prefix.clone(),
        ..store_redis::testing::config(&server.url)
    };
    let store = RedisStore::new(&config, Arc::new(TestClock::new(T0))).unwrap();
    let user = |id: &str, name: &str| store::UserRecord {
        id: id.into(),
        user_name: name.into(),
        external_id: None,
        active: true,
        password_hash: None,
        attributes: serde_json::json!({}),
        version: 1,
        created_at: T0,
        updated_at: T0,
    };
    store.create_user(&user("u-1", "admin")).await.unwrap();
    store.create_user(&user("u-2", "Bob  Smith")).await.unwrap();
    store.create_user(&user("u-3", "carol")).await.unwrap();
    // As an earlier version stored them: "ＡＤＭＩＮ" under its lower case
    // (a look-alike of u-1), "Bob  Smith" with both spaces.
    let client = redis::Client::open(server.url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let raw = |args: Vec<String>| {
        let mut cmd = redis::cmd(&args[0]);
        for a in &args[1..] {
            cmd.arg(a);
        }
        cmd
    };
    for (id, name_now, old) in [
        ("u-2", "bob smith", "bob  smith"),
        ("u-3", "carol", "ａｄｍｉｎ"),
    ] {
        let _: () = raw(vec![
            "DEL".into(),
            format!("{prefix}idx:username:{name_now}"),
        ])
        .query_async(&mut conn)
        .await
        .unwrap();
        let _: () = raw(vec![
            "SET".into(),
            format!("{prefix}idx:username:{old}"),
            id.into(),
        ])
        .query_async(&mut conn)
        .await
        .unwrap();
        let _: () = raw(vec![
            "HSET".into(),
            format!("{prefix}user:{id}"),
            "name".into(),
            old.into(),
        ])
        .query_async(&mut conn)
        .await
        .unwrap();
    }
    // u-3's record says "ＡＤＭＩＮ" as well, as it would have.
    let mut carol = store.get_user("u-3").await.unwrap();
    carol.user_name = "ＡＤＭＩＮ".into();
    let data = serde_json::to_string(&carol).unwrap();
    let _: () = raw(vec![
        "HSET".into(),
        format!("{prefix}user:u-3"),
        "data".into(),
        data,
    ])
    .query_async(&mut conn)
    .await
    .unwrap();

    assert_eq!(store.upgrade_user_name_keys().await.unwrap(), ["u-3"]);
    assert_eq!(store.get_user_by_name("BOB SMITH").await.unwrap().id, "u-2");
    assert_eq!(store.get_user_by_name("admin").await.unwrap().id, "u-1");
    // Done once: the marker makes the next start skip the scan.
    assert!(store.upgrade_user_name_keys().await.unwrap().is_empty());
}

/// A Redis without replicas cannot acknowledge a durable write that must
/// reach one: refused as unavailable, with the count in the message.
#[tokio::test]
async fn min_replicas_ack_without_replicas_refuses_durable_writes() {
    use store::ConsentStore;
    let server = TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
    let store = RedisStore::new(
        &RedisConfig {
            timeout: Duration::from_millis(400),
            min_replicas_ack: 1,
            ..store_redis::testing::config(&server.url)
        },
        Arc::new(TestClock::new(T0)),
    )
    .unwrap();
    let consent = store::Consent {
        user_id: "u".into(),
        client_id: "c".into(),
        scopes: vec!["openid".into()],
        granted_at: T0,
    };
    match store.put_consent(&consent).await {
        Err(store::Error::Unavailable { message, .. }) => {
            assert!(message.contains("0 of 1 Redis replicas"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Counters are not durable writes: they do not wait.
    assert_eq!(
        store::CounterStore::increment(&store, "k", 1, 60)
            .await
            .unwrap(),
        1
    );
}
