//! Signing keys, counters and leases on Redis.

use async_trait::async_trait;
use redis::AsyncCommands;
use store::{
    Attempt, AttemptState, BackoffPolicy, CounterStore, KeyStore, RateDecision, Result, SigningKey,
};

use crate::{RedisStore, parse_i64, redis_err, to_json};

impl RedisStore {
    async fn write_key(
        &self,
        op: &'static str,
        key: &SigningKey,
        expected: Option<u64>,
    ) -> Result<()> {
        self.versioned_write(
            op,
            crate::Versioned {
                record: self.tagged("key", &key.kid),
                index: self.key("idx:keys"),
                expected,
                version: key.version,
                data: to_json(key)?,
                score: key.created_at,
                member: &key.kid,
            },
        )
        .await
    }
}

#[async_trait]
impl KeyStore for RedisStore {
    async fn insert_key(&self, key: &SigningKey) -> Result<()> {
        self.write_key("insert_key", key, None).await
    }

    async fn get_key(&self, kid: &str) -> Result<SigningKey> {
        self.load_one("get_key", self.tagged("key", kid)).await
    }

    async fn list_keys(&self) -> Result<Vec<SigningKey>> {
        let kids = self
            .index_members("list_keys", self.key("idx:keys"))
            .await?;
        let keys = kids.iter().map(|kid| self.tagged("key", kid)).collect();
        self.load_many("list_keys", keys).await
    }

    async fn update_key(&self, key: &SigningKey) -> Result<SigningKey> {
        let mut next = key.clone();
        next.version += 1;
        self.write_key("update_key", &next, Some(key.version))
            .await?;
        Ok(next)
    }

    async fn delete_key(&self, kid: &str) -> Result<()> {
        let key = self.tagged("key", kid);
        self.delete_indexed("delete_key", key, self.key("idx:keys"), kid.to_owned())
            .await
    }
}

#[async_trait]
impl CounterStore for RedisStore {
    async fn increment(&self, key: &str, by: i64, ttl_seconds: i64) -> Result<i64> {
        let mut invocation = self.scripts().counter_incr.prepare_invoke();
        invocation
            .key(self.tagged("rl", key))
            .arg(by)
            .arg(ttl_seconds)
            .arg(self.now());
        let reply: Vec<String> = self.invoke("increment", invocation).await?;
        parse_i64(reply.first())
    }

    async fn get_counter(&self, key: &str) -> Result<i64> {
        let key = self.tagged("rl", key);
        let (value, exp): (Option<i64>, Option<i64>) = self
            .call("get_counter", |mut conn| async move {
                conn.hmget(key, &["value", "exp"]).await.map_err(redis_err)
            })
            .await?;
        Ok(match (value, exp) {
            (Some(value), Some(exp)) if exp > self.now() => value,
            _ => 0,
        })
    }

    async fn reset_counter(&self, key: &str) -> Result<()> {
        let key = self.tagged("rl", key);
        self.call("reset_counter", |mut conn| async move {
            conn.del::<_, ()>(key).await.map_err(redis_err)
        })
        .await
    }

    async fn rate_limit(
        &self,
        key: &str,
        interval_ms: i64,
        burst: i64,
        cost: i64,
    ) -> Result<RateDecision> {
        let mut invocation = self.scripts().rate_limit.prepare_invoke();
        invocation
            .key(self.tagged("rate", key))
            .arg(self.now().saturating_mul(1000))
            .arg(interval_ms)
            .arg(burst)
            .arg(cost);
        let reply: Vec<String> = self.invoke("rate_limit", invocation).await?;
        Ok(RateDecision {
            allowed: reply.first().is_some_and(|r| r == "1"),
            retry_after_ms: parse_i64(reply.get(1))?,
        })
    }

    async fn register_attempt(&self, key: &str, policy: &BackoffPolicy) -> Result<Attempt> {
        let mut invocation = self.scripts().attempt.prepare_invoke();
        invocation
            .key(self.tagged("attempt", key))
            .arg(self.now())
            .arg(policy.threshold)
            .arg(policy.base_delay)
            .arg(policy.max_delay)
            .arg(policy.quiet_period);
        let reply: Vec<String> = self.invoke("register_attempt", invocation).await?;
        let value = parse_i64(reply.get(1))?;
        Ok(match reply.first().map(String::as_str) {
            Some("locked") => Attempt::Locked { until: value },
            _ => Attempt::Allowed { failures: value },
        })
    }

    async fn attempt_state(&self, key: &str) -> Result<AttemptState> {
        let key = self.tagged("attempt", key);
        let (failures, until, exp): (Option<i64>, Option<i64>, Option<i64>) = self
            .call("attempt_state", |mut conn| async move {
                conn.hmget(key, &["failures", "until", "exp"])
                    .await
                    .map_err(redis_err)
            })
            .await?;
        Ok(match (failures, until, exp) {
            (Some(failures), Some(locked_until), Some(exp)) if exp > self.now() => AttemptState {
                failures,
                locked_until,
            },
            _ => AttemptState::default(),
        })
    }

    async fn clear_attempts(&self, key: &str) -> Result<()> {
        let key = self.tagged("attempt", key);
        self.call("clear_attempts", |mut conn| async move {
            conn.del::<_, ()>(key).await.map_err(redis_err)
        })
        .await
    }

    async fn acquire_lease(&self, name: &str, holder: &str, ttl_seconds: i64) -> Result<bool> {
        let mut invocation = self.scripts().lease.prepare_invoke();
        invocation
            .key(self.tagged("lease", name))
            .arg(holder)
            .arg(ttl_seconds)
            .arg(self.now());
        let reply: Vec<String> = self.invoke("acquire_lease", invocation).await?;
        Ok(reply.first().is_some_and(|r| r == "1"))
    }
}
