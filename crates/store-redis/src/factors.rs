//! Sign-in factors on Redis: one hash per user, `factors:{uid}`, so every
//! operation is on one key (one hash slot on a cluster). Field `d:<id>` is
//! the record as JSON; `c:<id>` its counter state, `"counter last_used_at"`,
//! which only `lua/factor_advance.lua` moves, so a rename never races a use.
//! A WebAuthn challenge is a string key of its own, `challenge:{id}`, set
//! with `NX` and an expiry, and taken by `GETDEL`: one command, one winner.

use async_trait::async_trait;
use store::{Challenge, Conflict, Error, Factor, FactorStore, Result};

use crate::{RedisStore, from_json, redis_err, status, to_json};

/// The counter state of a factor: `"counter last_used_at"` (`-` for never).
fn counter_state(counter: u64, last_used_at: Option<i64>) -> String {
    match last_used_at {
        Some(at) => format!("{counter} {at}"),
        None => format!("{counter} -"),
    }
}

/// A factor from its record and counter state.
fn factor(data: &str, state: Option<&str>) -> Result<Factor> {
    let mut factor: Factor = from_json(data)?;
    if let Some(state) = state {
        let mut words = state.split(' ');
        factor.counter = words
            .next()
            .and_then(|c| c.parse().ok())
            .unwrap_or(factor.counter);
        factor.last_used_at = words.next().and_then(|t| t.parse().ok());
    }
    Ok(factor)
}

impl RedisStore {
    fn factors_key(&self, user_id: &str) -> String {
        self.tagged("factors", user_id)
    }

    fn challenge_key(&self, id: &str) -> String {
        self.tagged("challenge", id)
    }
}

/// A factor's two fields in its user's hash: record, counter state.
fn fields(factor_id: &str) -> [String; 2] {
    [format!("d:{factor_id}"), format!("c:{factor_id}")]
}

#[async_trait]
impl FactorStore for RedisStore {
    async fn insert_factor(&self, f: &Factor) -> Result<()> {
        let mut invocation = self.scripts().factor_write.prepare_invoke();
        invocation
            .key(self.factors_key(&f.user_id))
            .arg("insert")
            .arg(&f.id)
            .arg(to_json(f)?)
            .arg(counter_state(f.counter, f.last_used_at));
        self.invoke_status("insert_factor", invocation).await
    }

    async fn list_factors(&self, user_id: &str) -> Result<Vec<Factor>> {
        let key = self.factors_key(user_id);
        let fields: std::collections::HashMap<String, String> = self
            .call("list_factors", |mut conn| async move {
                redis::cmd("HGETALL")
                    .arg(key)
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        let mut out = Vec::new();
        for (field, data) in &fields {
            if let Some(id) = field.strip_prefix("d:") {
                let state = fields.get(&format!("c:{id}")).map(String::as_str);
                out.push(factor(data, state)?);
            }
        }
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    async fn get_factor(&self, user_id: &str, factor_id: &str) -> Result<Factor> {
        let key = self.factors_key(user_id);
        let fields = fields(factor_id);
        let (data, state): (Option<String>, Option<String>) = self
            .call("get_factor", |mut conn| async move {
                redis::cmd("HMGET")
                    .arg(key)
                    .arg(&fields)
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        factor(&data.ok_or(Error::NotFound)?, state.as_deref())
    }

    async fn rename_factor(&self, user_id: &str, factor_id: &str, name: &str) -> Result<()> {
        let mut renamed = self.get_factor(user_id, factor_id).await?;
        renamed.name = name.to_owned();
        let mut invocation = self.scripts().factor_write.prepare_invoke();
        invocation
            .key(self.factors_key(user_id))
            .arg("rename")
            .arg(factor_id)
            .arg(to_json(&renamed)?);
        self.invoke_status("rename_factor", invocation).await
    }

    async fn delete_factor(&self, user_id: &str, factor_id: &str) -> Result<()> {
        let key = self.factors_key(user_id);
        let fields = fields(factor_id);
        let deleted: u64 = self
            .call("delete_factor", |mut conn| async move {
                redis::cmd("HDEL")
                    .arg(key)
                    .arg(&fields)
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        if deleted == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    async fn delete_factors(&self, user_id: &str) -> Result<u64> {
        let key = self.factors_key(user_id);
        let (fields, ()): (u64, ()) = self
            .call("delete_factors", |mut conn| async move {
                redis::pipe()
                    .atomic()
                    .hlen(&key)
                    .del(&key)
                    .ignore()
                    .query_async(&mut conn)
                    .await
                    .map(|(n,): (u64,)| (n, ()))
                    .map_err(redis_err)
            })
            .await?;
        // Two fields per factor.
        Ok(fields / 2)
    }

    async fn advance_factor(
        &self,
        user_id: &str,
        factor_id: &str,
        counter: u64,
        now: i64,
    ) -> Result<bool> {
        let mut invocation = self.scripts().factor_advance.prepare_invoke();
        invocation
            .key(self.factors_key(user_id))
            .arg(factor_id)
            .arg(counter)
            .arg(now);
        let reply: Vec<String> = self.invoke("advance_factor", invocation).await?;
        status(&reply)?;
        Ok(reply.get(1).map(String::as_str) == Some("1"))
    }

    async fn insert_challenge(&self, challenge: &Challenge) -> Result<()> {
        let key = self.challenge_key(&challenge.id);
        let data = to_json(challenge)?;
        let ttl = (challenge.expires_at - self.now()).max(1);
        let set: Option<String> = self
            .call("insert_challenge", |mut conn| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(data)
                    .arg("NX")
                    .arg("EX")
                    .arg(ttl)
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        match set {
            Some(_) => Ok(()),
            None => Err(Error::Conflict(Conflict::Exists)),
        }
    }

    async fn take_challenge(&self, id: &str) -> Result<Challenge> {
        let key = self.challenge_key(id);
        let data: Option<String> = self
            .call("take_challenge", |mut conn| async move {
                redis::cmd("GETDEL")
                    .arg(key)
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        let challenge: Challenge = from_json(&data.ok_or(Error::NotFound)?)?;
        // Redis expires by its own clock; the contract is the store's.
        if challenge.expires_at <= self.now() {
            return Err(Error::NotFound);
        }
        Ok(challenge)
    }

    async fn touch_factor(&self, user_id: &str, factor_id: &str, now: i64) -> Result<()> {
        let mut invocation = self.scripts().factor_advance.prepare_invoke();
        invocation
            .key(self.factors_key(user_id))
            .arg(factor_id)
            .arg(0)
            .arg(now)
            .arg("touch");
        let reply: Vec<String> = self.invoke("touch_factor", invocation).await?;
        status(&reply)
    }
}
