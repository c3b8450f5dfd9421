//! Refresh-token families and sessions on Redis Cluster: the pointer-first
//! steps of the module docs (`super`).

use store::{Conflict, Error, RefreshFamily, Result, Rotation};

use crate::grants::{add_to_user_index, family_from, ttl};
use crate::{RedisStore, redis_err, status, to_json};

impl RedisStore {
    /// Points `token:{hash}` at a family, unless a pointer has that hash.
    async fn point(
        &self,
        op: &'static str,
        hash: &str,
        family_id: &str,
        ttl_ms: u64,
    ) -> Result<()> {
        let (key, value) = (self.tagged("token", hash), family_id.to_owned());
        let set: Option<String> = self
            .call(op, |mut conn| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms.max(1))
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

    async fn unpoint(&self, op: &'static str, hash: &str) -> Result<()> {
        let key = self.tagged("token", hash);
        self.call(op, |mut conn| async move {
            redis::cmd("DEL")
                .arg(key)
                .query_async::<()>(&mut conn)
                .await
                .map_err(redis_err)
        })
        .await
    }

    /// The family a token points at, and how long the pointer lives (ms).
    async fn pointed(&self, op: &'static str, hash: &str) -> Result<(String, u64)> {
        let key = self.tagged("token", hash);
        let (family, ttl_ms): (Option<String>, i64) = self
            .call(op, |mut conn| async move {
                redis::pipe()
                    .get(&key)
                    .pttl(&key)
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        let family = family.ok_or(Error::NotFound)?;
        Ok((family, u64::try_from(ttl_ms).unwrap_or(1)))
    }

    pub(crate) async fn cluster_create_family(
        &self,
        family: &RefreshFamily,
        token_hash: &str,
    ) -> Result<()> {
        let op = "create_family";
        let now = self.now();
        let ttl = ttl(family.expires_at, now);
        if let Some(user) = &family.user_id {
            let (index, id) = (self.tagged("idx:user-families", user), family.id.clone());
            self.call(op, |mut conn| async move {
                let mut pipe = redis::pipe();
                pipe.atomic();
                add_to_user_index(&mut pipe, &index, id, ttl);
                pipe.query_async::<()>(&mut conn).await.map_err(redis_err)
            })
            .await?;
        }
        self.point(op, token_hash, &family.id, ttl.saturating_mul(1000))
            .await?;
        let mut invocation = self.cluster_scripts().family_init.prepare_invoke();
        invocation
            .key(self.tagged("family", &family.id))
            .arg(to_json(family)?)
            .arg(token_hash)
            .arg(family.rotated_at)
            .arg(family.idle_expires_at)
            .arg(family.expires_at)
            .arg(now)
            .arg(family.session_id.as_deref().unwrap_or_default());
        match self.invoke_status(op, invocation).await {
            Err(Error::Conflict(Conflict::Exists)) => {
                self.unpoint(op, token_hash).await?;
                Err(Error::Conflict(Conflict::Exists))
            }
            other => other,
        }
    }

    pub(crate) async fn cluster_rotate(
        &self,
        presented_hash: &str,
        new_hash: &str,
        idle_expires_at: i64,
        grace_seconds: i64,
    ) -> Result<Rotation> {
        let op = "rotate_refresh_token";
        let (family_id, ttl_ms) = self.pointed(op, presented_hash).await?;
        // The new pointer lives as long as the presented one: both end
        // with the family.
        self.point(op, new_hash, &family_id, ttl_ms).await?;
        let mut invocation = self.cluster_scripts().family_step.prepare_invoke();
        invocation
            .key(self.tagged("family", &family_id))
            .arg(presented_hash)
            .arg(new_hash)
            .arg(self.now())
            .arg(idle_expires_at)
            .arg(grace_seconds);
        let reply: Vec<String> = match self.invoke(op, invocation).await {
            Ok(reply) => reply,
            // Unknown outcome: the pointer stays; if the swap did not
            // happen, no reader trusts it.
            Err(e) => return Err(e),
        };
        let rotation = match reply.first().map(String::as_str) {
            Some("rotated") => return Ok(Rotation::Rotated(family_from(&reply)?)),
            Some("grace") => Rotation::WithinGrace(family_from(&reply)?),
            Some("reuse") => Rotation::ReuseDetected(family_from(&reply)?),
            _ => {
                self.unpoint(op, new_hash).await?;
                return status(&reply).and(Err(Error::NotFound));
            }
        };
        self.unpoint(op, new_hash).await?;
        Ok(rotation)
    }

    pub(crate) async fn cluster_current_family(&self, token_hash: &str) -> Result<RefreshFamily> {
        let op = "get_current_family";
        let (family_id, _) = self.pointed(op, token_hash).await?;
        let mut invocation = self.cluster_scripts().family_read.prepare_invoke();
        invocation
            .key(self.tagged("family", &family_id))
            .arg(token_hash)
            .arg(self.now());
        let reply: Vec<String> = self.invoke(op, invocation).await?;
        status(&reply)?;
        family_from(&reply)
    }

    pub(crate) async fn cluster_revoke_families(
        &self,
        op: &'static str,
        family_id: &str,
        user_id: &str,
        session_id: &str,
    ) -> Result<u64> {
        let ids = if family_id.is_empty() {
            self.set_members(op, self.tagged("idx:user-families", user_id))
                .await?
        } else {
            vec![family_id.to_owned()]
        };
        let now = self.now();
        let revocations = ids.iter().map(|id| {
            let mut invocation = self.cluster_scripts().family_revoke_one.prepare_invoke();
            invocation
                .key(self.tagged("family", id))
                .arg(now)
                .arg(session_id);
            async move { self.invoke::<Vec<String>>(op, invocation).await }
        });
        let counts = futures_util::future::try_join_all(revocations).await?;
        Ok(counts
            .iter()
            .filter(|reply| reply.first().is_some_and(|n| n == "1"))
            .count() as u64)
    }

    pub(crate) async fn cluster_delete_sessions(
        &self,
        op: &'static str,
        id_hash: &str,
        user_id: &str,
    ) -> Result<u64> {
        if !id_hash.is_empty() {
            let mut invocation = self.cluster_scripts().session_remove.prepare_invoke();
            invocation.key(self.tagged("session", id_hash));
            let reply: Vec<String> = self.invoke(op, invocation).await?;
            let user = match reply.as_slice() {
                [n, user] if n == "1" => user.clone(),
                _ => return Ok(0),
            };
            let (index, member) = (self.tagged("idx:user-sessions", &user), id_hash.to_owned());
            self.call(op, |mut conn| async move {
                redis::cmd("SREM")
                    .arg(index)
                    .arg(member)
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
            return Ok(1);
        }
        let index = self.tagged("idx:user-sessions", user_id);
        let hashes = self.set_members(op, index.clone()).await?;
        if hashes.is_empty() {
            return Ok(0);
        }
        let deletes = hashes
            .iter()
            .map(|h| redis::cmd("DEL").arg(self.tagged("session", h)).clone())
            .collect();
        let deleted: u64 = self.each::<u64>(op, deletes).await?.iter().sum();
        // Only the members read: a session put meanwhile stays listed.
        self.call(op, |mut conn| async move {
            redis::cmd("SREM")
                .arg(index)
                .arg(hashes)
                .query_async::<()>(&mut conn)
                .await
                .map_err(redis_err)
        })
        .await?;
        Ok(deleted)
    }
}
