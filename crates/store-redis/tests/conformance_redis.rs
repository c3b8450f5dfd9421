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
    let config = RedisConfig {
        url: server.url.clone(),
        prefix: TestRedis::unique_prefix(),
        timeout: Duration::from_secs(5),
    };
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
