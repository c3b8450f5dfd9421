//! Codes, refresh-token families, sessions, consents and revoked token ids
//! on Redis.

use async_trait::async_trait;
use redis::AsyncCommands;
use store::{
    AuthorizationCode, CodeStore, CodeTake, Consent, ConsentStore, Error, RefreshFamily,
    RefreshTokenStore, Result, RevocationStore, Rotation, Session, SessionStore,
};

use crate::{RedisStore, from_json, parse_i64, redis_err, status, to_json};

/// Rebuilds a family from a script's `{outcome, data, rotated_at, idle_exp, revoked}`.
pub(crate) fn family_from(reply: &[String]) -> Result<RefreshFamily> {
    let data = reply.get(1).ok_or(Error::Corrupt {
        message: "short family reply".into(),
        source: None,
    })?;
    let mut family: RefreshFamily = from_json(data)?;
    family.rotated_at = parse_i64(reply.get(2))?;
    family.idle_expires_at = parse_i64(reply.get(3))?;
    family.revoked = reply.get(4).is_some_and(|r| r == "1");
    Ok(family)
}

/// Adds a session or a refresh-token family to its user's index, which
/// lives as long as the longest-lived member.
pub(crate) fn add_to_user_index(pipe: &mut redis::Pipeline, index: &str, member: String, ttl: u64) {
    pipe.sadd(index, member)
        .cmd("EXPIRE")
        .arg(index)
        .arg(ttl)
        .arg("NX")
        .cmd("EXPIRE")
        .arg(index)
        .arg(ttl)
        .arg("GT");
}

pub(crate) fn ttl(expires_at: i64, now: i64) -> u64 {
    u64::try_from(expires_at - now).unwrap_or(0).max(1)
}

/// A script reply `{count}` as a number.
fn count(reply: &[String]) -> Result<u64> {
    Ok(u64::try_from(parse_i64(reply.first())?).unwrap_or(0))
}

#[async_trait]
impl CodeStore for RedisStore {
    async fn insert_code(&self, code: &AuthorizationCode) -> Result<()> {
        let mut invocation = self.scripts().code_insert.prepare_invoke();
        invocation
            .key(self.tagged("code", &code.code_hash))
            .arg(to_json(code)?)
            .arg(code.expires_at)
            .arg(self.now());
        self.invoke_status("insert_code", invocation).await
    }

    async fn take_code(&self, code_hash: &str) -> Result<CodeTake> {
        let mut invocation = self.scripts().code_take.prepare_invoke();
        invocation
            .key(self.tagged("code", code_hash))
            .arg(self.now());
        let reply: Vec<String> = self.invoke("take_code", invocation).await?;
        match (reply.first().map(String::as_str), reply.get(1)) {
            (Some("fresh"), Some(data)) => Ok(CodeTake::Fresh(from_json(data)?)),
            (Some("used"), Some(data)) => Ok(CodeTake::AlreadyUsed(from_json(data)?)),
            _ => status(&reply).and(Err(Error::NotFound)),
        }
    }
}

#[async_trait]
impl RefreshTokenStore for RedisStore {
    async fn create_family(&self, family: &RefreshFamily, token_hash: &str) -> Result<()> {
        if self.clustered() {
            return self.cluster_create_family(family, token_hash).await;
        }
        let mut invocation = self.scripts().family_create.prepare_invoke();
        invocation
            .arg(self.prefix())
            .arg(&family.id)
            .arg(token_hash)
            .arg(family.user_id.as_deref().unwrap_or_default())
            .arg(to_json(family)?)
            .arg(family.rotated_at)
            .arg(family.idle_expires_at)
            .arg(family.expires_at)
            .arg(self.now())
            .arg(family.session_id.as_deref().unwrap_or_default());
        self.invoke_status("create_family", invocation).await
    }

    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        new_hash: &str,
        idle_expires_at: i64,
        grace_seconds: i64,
    ) -> Result<Rotation> {
        if self.clustered() {
            return self
                .cluster_rotate(presented_hash, new_hash, idle_expires_at, grace_seconds)
                .await;
        }
        let mut invocation = self.scripts().family_rotate.prepare_invoke();
        invocation
            .arg(self.prefix())
            .arg(presented_hash)
            .arg(new_hash)
            .arg(self.now())
            .arg(idle_expires_at)
            .arg(grace_seconds);
        let reply: Vec<String> = self.invoke("rotate_refresh_token", invocation).await?;
        match reply.first().map(String::as_str) {
            Some("rotated") => Ok(Rotation::Rotated(family_from(&reply)?)),
            Some("grace") => Ok(Rotation::WithinGrace(family_from(&reply)?)),
            Some("reuse") => Ok(Rotation::ReuseDetected(family_from(&reply)?)),
            _ => status(&reply).and(Err(Error::NotFound)),
        }
    }

    async fn get_current_family(&self, token_hash: &str) -> Result<RefreshFamily> {
        if self.clustered() {
            return self.cluster_current_family(token_hash).await;
        }
        let mut invocation = self.scripts().family_current.prepare_invoke();
        invocation
            .arg(self.prefix())
            .arg(token_hash)
            .arg(self.now());
        let reply: Vec<String> = self.invoke("get_current_family", invocation).await?;
        status(&reply)?;
        family_from(&reply)
    }

    async fn revoke_family(&self, family_id: &str) -> Result<()> {
        if self
            .revoke_families("revoke_family", family_id, "", "")
            .await?
            == 0
        {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    async fn revoke_families_for_user(
        &self,
        user_id: &str,
        session_id: Option<&str>,
    ) -> Result<u64> {
        self.revoke_families(
            "revoke_families_for_user",
            "",
            user_id,
            session_id.unwrap_or_default(),
        )
        .await
    }
}

impl RedisStore {
    async fn revoke_families(
        &self,
        op: &'static str,
        family_id: &str,
        user_id: &str,
        session_id: &str,
    ) -> Result<u64> {
        if self.clustered() {
            return self
                .cluster_revoke_families(op, family_id, user_id, session_id)
                .await;
        }
        let mut invocation = self.scripts().family_revoke.prepare_invoke();
        invocation
            .arg(self.prefix())
            .arg(self.now())
            .arg(family_id)
            .arg(user_id)
            .arg(session_id);
        count(&self.invoke::<Vec<String>>(op, invocation).await?)
    }

    async fn delete_sessions(&self, op: &'static str, id_hash: &str, user_id: &str) -> Result<u64> {
        if self.clustered() {
            return self.cluster_delete_sessions(op, id_hash, user_id).await;
        }
        let mut invocation = self.scripts().sessions_delete.prepare_invoke();
        invocation.arg(self.prefix()).arg(id_hash).arg(user_id);
        count(&self.invoke::<Vec<String>>(op, invocation).await?)
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn put_session(&self, session: &Session) -> Result<()> {
        let key = self.tagged("session", &session.id_hash);
        let index = self.tagged("idx:user-sessions", &session.user_id);
        let fields = [
            ("data", to_json(session)?),
            ("user", session.user_id.clone()),
            ("idle_exp", session.idle_expires_at.to_string()),
            ("exp", session.expires_at.to_string()),
        ];
        let (hash, ttl) = (session.id_hash.clone(), ttl(session.expires_at, self.now()));
        let clustered = self.clustered();
        self.call("put_session", |mut conn| async move {
            let mut pipe = redis::pipe();
            pipe.atomic();
            add_to_user_index(&mut pipe, &index, hash, ttl);
            if clustered {
                // The session and its user's index are in different slots:
                // the index first, as a superset (crate::cluster).
                pipe.query_async::<()>(&mut conn).await.map_err(redis_err)?;
                pipe.clear();
            }
            pipe.del(&key)
                .hset_multiple(&key, &fields)
                .expire(&key, ttl as i64)
                .query_async::<()>(&mut conn)
                .await
                .map_err(redis_err)
        })
        .await
    }

    async fn get_session(&self, id_hash: &str) -> Result<Session> {
        let key = self.tagged("session", id_hash);
        let (data, idle): (Option<String>, Option<String>) = self
            .call("get_session", |mut conn| async move {
                conn.hmget(&key, &["data", "idle_exp"])
                    .await
                    .map_err(redis_err)
            })
            .await?;
        let mut session: Session = from_json(&data.ok_or(Error::NotFound)?)?;
        session.idle_expires_at = parse_i64(idle.as_ref())?;
        let now = self.now();
        if session.expires_at > now && session.idle_expires_at > now {
            Ok(session)
        } else {
            Err(Error::NotFound)
        }
    }

    async fn touch_session(&self, id_hash: &str, idle_expires_at: i64) -> Result<()> {
        let mut invocation = self.scripts().session_touch.prepare_invoke();
        invocation
            .key(self.tagged("session", id_hash))
            .arg(self.now())
            .arg(idle_expires_at);
        self.invoke_status("touch_session", invocation).await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        self.delete_sessions("delete_session", id_hash, "")
            .await
            .map(drop)
    }

    async fn delete_sessions_for_user(&self, user_id: &str) -> Result<u64> {
        self.delete_sessions("delete_sessions_for_user", "", user_id)
            .await
    }
}

#[async_trait]
impl ConsentStore for RedisStore {
    async fn put_consent(&self, consent: &Consent) -> Result<()> {
        let key = self.tagged_under("consent", &consent.user_id, &consent.client_id);
        let index = self.tagged("idx:consents", &consent.user_id);
        let (data, client) = (to_json(consent)?, consent.client_id.clone());
        self.call("put_consent", |mut conn| async move {
            redis::pipe()
                .atomic()
                .set(&key, data)
                .zadd(&index, client, 0)
                .query_async::<()>(&mut conn)
                .await
                .map_err(redis_err)
        })
        .await
    }

    async fn get_consent(&self, user_id: &str, client_id: &str) -> Result<Consent> {
        let key = self.tagged_under("consent", user_id, client_id);
        let data: Option<String> = self
            .call("get_consent", |mut conn| async move {
                conn.get(key).await.map_err(redis_err)
            })
            .await?;
        from_json(&data.ok_or(Error::NotFound)?)
    }

    async fn list_consents(&self, user_id: &str) -> Result<Vec<Consent>> {
        let clients = self
            .index_members("list_consents", self.tagged("idx:consents", user_id))
            .await?;
        if clients.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = clients
            .iter()
            .map(|c| self.tagged_under("consent", user_id, c))
            .collect();
        let rows: Vec<Option<String>> = self
            .call("list_consents", |mut conn| async move {
                conn.mget(keys).await.map_err(redis_err)
            })
            .await?;
        rows.into_iter()
            .flatten()
            .map(|data| from_json(&data))
            .collect()
    }

    async fn delete_consent(&self, user_id: &str, client_id: &str) -> Result<()> {
        let key = self.tagged_under("consent", user_id, client_id);
        let index = self.tagged("idx:consents", user_id);
        let client = client_id.to_owned();
        self.call("delete_consent", |mut conn| async move {
            redis::pipe()
                .atomic()
                .del(&key)
                .zrem(&index, client)
                .query_async::<()>(&mut conn)
                .await
                .map_err(redis_err)
        })
        .await
    }
}

#[async_trait]
impl RevocationStore for RedisStore {
    async fn revoke_token_id(&self, jti: &str, expires_at: i64) -> Result<()> {
        let mut invocation = self.scripts().revoke_jti.prepare_invoke();
        invocation
            .key(self.tagged("revoked", jti))
            .arg(expires_at)
            .arg(self.now());
        self.invoke_status("revoke_token_id", invocation).await
    }

    async fn is_token_id_revoked(&self, jti: &str) -> Result<bool> {
        let key = self.tagged("revoked", jti);
        let exp: Option<i64> = self
            .call("is_token_id_revoked", |mut conn| async move {
                conn.get(key).await.map_err(redis_err)
            })
            .await?;
        Ok(exp.is_some_and(|exp| exp > self.now()))
    }
}
