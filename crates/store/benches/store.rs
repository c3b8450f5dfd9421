//! Store throughput on this machine: authorization-code insert + take,
//! refresh-token rotation, and user lookup by userName, on SQLite (a file in
//! a temporary directory) and on Redis (a private `redis-server` on
//! loopback, or `AUTH_TEST_REDIS_URL`).
//!
//! `one-at-a-time` is one caller's latency; `64-concurrent` issues 64
//! operations at once per iteration, which is what a busy server does.
//!
//!     cargo bench -p store --bench store

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use store::sqlite::SqliteStore;
use store::{AuthorizationCode, RefreshFamily, Rotation, Store, SystemClock, UserRecord};
use store_redis::testing::TestRedis;
use store_redis::{RedisConfig, RedisStore};

const FAR: i64 = 4_000_000_000;

fn code(hash: String) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: hash,
        client_id: "client".into(),
        user_id: "user".into(),
        redirect_uri: "https://app.example/cb".into(),
        scope: "openid profile".into(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        expires_at: FAR,
        grant: store::GrantContext {
            nonce: Some("n".into()),
            ..Default::default()
        },
    }
}

async fn code_round(store: &dyn Store, n: u64) {
    let hash = format!("code-{n}");
    store.insert_code(&code(hash.clone())).await.unwrap();
    assert!(matches!(
        store.take_code(&hash).await.unwrap(),
        store::CodeTake::Fresh(_)
    ));
}

/// Each chain is one family rotated over and over; `n` picks a chain and step.
struct Chains {
    current: Vec<std::sync::Mutex<u64>>,
}

async fn rotate(store: &dyn Store, chains: &Chains, chain: usize) {
    let step = {
        let mut guard = chains.current[chain].lock().unwrap();
        *guard += 1;
        *guard
    };
    let presented = format!("rt-{chain}-{}", step - 1);
    let next = format!("rt-{chain}-{step}");
    match store
        .rotate_refresh_token(&presented, &next, FAR - 1, 0)
        .await
        .unwrap()
    {
        Rotation::Rotated(_) => {}
        other => panic!("{other:?}"),
    }
}

async fn setup(store: &dyn Store, chains: usize) -> Chains {
    for chain in 0..chains {
        let family = RefreshFamily {
            id: format!("family-{chain}"),
            client_id: "client".into(),
            user_id: Some("user".into()),
            scope: "openid offline_access".into(),
            grant: Default::default(),
            created_at: 0,
            expires_at: FAR,
            idle_expires_at: FAR - 1,
            rotated_at: 0,
            revoked: false,
            session_id: None,
        };
        store
            .create_family(&family, &format!("rt-{chain}-0"))
            .await
            .unwrap();
    }
    for i in 0..1000 {
        let user = UserRecord {
            id: format!("{i:08}"),
            user_name: format!("User{i}@example.com"),
            external_id: None,
            active: true,
            password_hash: None,
            attributes: json!({"name": {"givenName": "User", "familyName": format!("{i}")}}),
            version: 1,
            created_at: 0,
            updated_at: 0,
        };
        store.create_user(&user).await.unwrap();
    }
    Chains {
        current: (0..chains).map(|_| std::sync::Mutex::new(0)).collect(),
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let redis = TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("bench.db"), Arc::new(SystemClock)).unwrap());
    let config = RedisConfig {
        url: redis.url.clone(),
        prefix: TestRedis::unique_prefix(),
        timeout: Duration::from_secs(5),
        min_replicas_ack: 0,
        sentinel_auth: store_redis::SentinelAuth::default(),
    };
    let redis_store: Arc<dyn Store> =
        Arc::new(RedisStore::new(&config, Arc::new(SystemClock)).unwrap());

    for (name, store) in [("sqlite", sqlite), ("redis", redis_store)] {
        const CONCURRENT: usize = 64;
        let chains = Arc::new(runtime.block_on(setup(store.as_ref(), CONCURRENT)));
        let counter = Arc::new(AtomicU64::new(0));
        let mut group = c.benchmark_group(name);
        group
            .measurement_time(Duration::from_secs(4))
            .warm_up_time(Duration::from_secs(1))
            .sample_size(20);

        group.throughput(Throughput::Elements(1));
        group.bench_function("code_insert_take/one-at-a-time", |b| {
            b.to_async(&runtime)
                .iter(|| code_round(store.as_ref(), counter.fetch_add(1, Ordering::Relaxed)))
        });
        group.bench_function("refresh_rotate/one-at-a-time", |b| {
            b.to_async(&runtime)
                .iter(|| rotate(store.as_ref(), &chains, 0))
        });
        group.bench_function("user_get_by_name/one-at-a-time", |b| {
            b.to_async(&runtime).iter(|| async {
                let i = counter.fetch_add(1, Ordering::Relaxed) % 1000;
                store
                    .get_user_by_name(&format!("user{i}@EXAMPLE.com"))
                    .await
                    .unwrap();
            })
        });

        group.throughput(Throughput::Elements(CONCURRENT as u64));
        group.bench_function("code_insert_take/64-concurrent", |b| {
            b.to_async(&runtime).iter(|| {
                let tasks: Vec<_> = (0..CONCURRENT)
                    .map(|_| {
                        let (store, n) =
                            (Arc::clone(&store), counter.fetch_add(1, Ordering::Relaxed));
                        tokio::spawn(async move { code_round(store.as_ref(), n).await })
                    })
                    .collect();
                async move {
                    for task in tasks {
                        task.await.unwrap();
                    }
                }
            })
        });
        group.bench_function("refresh_rotate/64-concurrent", |b| {
            b.to_async(&runtime).iter(|| {
                let tasks: Vec<_> = (0..CONCURRENT)
                    .map(|chain| {
                        let (store, chains) = (Arc::clone(&store), Arc::clone(&chains));
                        tokio::spawn(async move { rotate(store.as_ref(), &chains, chain).await })
                    })
                    .collect();
                async move {
                    for task in tasks {
                        task.await.unwrap();
                    }
                }
            })
        });
        group.bench_function("user_get_by_name/64-concurrent", |b| {
            b.to_async(&runtime).iter(|| {
                let tasks: Vec<_> = (0..CONCURRENT)
                    .map(|_| {
                        let (store, i) = (
                            Arc::clone(&store),
                            counter.fetch_add(1, Ordering::Relaxed) % 1000,
                        );
                        tokio::spawn(async move {
                            store
                                .get_user_by_name(&format!("user{i}@example.com"))
                                .await
                                .unwrap()
                        })
                    })
                    .collect();
                async move {
                    for task in tasks {
                        task.await.unwrap();
                    }
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
