//! Back-channel logout on Redis. A user's session clients are one hash,
//! `session-clients:{uid}`, field `sid\nclient_id` → expiry, the key
//! expiring with its longest-lived entry. The notice queue is two keys in
//! one slot: `logout:{queue}`, ids sorted by due time, and
//! `logout:{queue}:notices`, id → JSON. Every change to the queue is one
//! script on both (`lua/logout_*.lua`); a lease moves the due time
//! forward, so a notice whose leaseholder died comes due again.

use std::collections::HashMap;

use async_trait::async_trait;
use store::{Error, LogoutNotice, LogoutStore, Result, SessionClient};

use crate::{RedisStore, from_json, redis_err, to_json};

impl RedisStore {
    fn session_clients_key(&self, user_id: &str) -> String {
        self.tagged("session-clients", user_id)
    }

    /// The queue and the notices: one hash tag, so one slot.
    fn logout_keys(&self) -> [String; 2] {
        [
            self.tagged("logout", "queue"),
            self.tagged_under("logout", "queue", "notices"),
        ]
    }
}

fn field(entry: &SessionClient) -> String {
    format!("{}\n{}", entry.sid, entry.client_id)
}

#[async_trait]
impl LogoutStore for RedisStore {
    async fn record_session_client(&self, entry: &SessionClient) -> Result<()> {
        let mut invocation = self.scripts().session_client.prepare_invoke();
        invocation
            .key(self.session_clients_key(&entry.user_id))
            .arg(field(entry))
            .arg(entry.expires_at)
            .arg(self.now());
        self.invoke_status("record_session_client", invocation)
            .await
    }

    async fn session_clients(&self, user_id: &str) -> Result<Vec<SessionClient>> {
        let key = self.session_clients_key(user_id);
        let fields: HashMap<String, i64> = self
            .call("session_clients", |mut conn| async move {
                redis::cmd("HGETALL")
                    .arg(key)
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        let now = self.now();
        let mut entries = Vec::with_capacity(fields.len());
        for (field, expires_at) in fields {
            let (sid, client_id) = field.split_once('\n').ok_or_else(|| Error::Corrupt {
                message: format!("session client field {field:?}"),
                source: None,
            })?;
            if expires_at > now {
                entries.push(SessionClient {
                    user_id: user_id.to_owned(),
                    sid: sid.to_owned(),
                    client_id: client_id.to_owned(),
                    expires_at,
                });
            }
        }
        entries.sort_by(|a, b| (&a.sid, &a.client_id).cmp(&(&b.sid, &b.client_id)));
        Ok(entries)
    }

    async fn forget_session_clients(&self, user_id: &str, entries: &[SessionClient]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let key = self.session_clients_key(user_id);
        let fields: Vec<String> = entries.iter().map(field).collect();
        let _: i64 = self
            .call("forget_session_clients", |mut conn| async move {
                redis::cmd("HDEL")
                    .arg(key)
                    .arg(fields)
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        Ok(())
    }

    async fn queue_logout_notices(&self, notices: &[LogoutNotice]) -> Result<()> {
        if notices.is_empty() {
            return Ok(());
        }
        let mut invocation = self.scripts().logout_queue.prepare_invoke();
        for key in self.logout_keys() {
            invocation.key(key);
        }
        for notice in notices {
            invocation
                .arg(&notice.id)
                .arg(notice.due_at)
                .arg(to_json(notice)?);
        }
        self.invoke_status("queue_logout_notices", invocation).await
    }

    async fn lease_logout_notices(
        &self,
        limit: usize,
        lease_seconds: i64,
    ) -> Result<Vec<LogoutNotice>> {
        let now = self.now();
        let mut invocation = self.scripts().logout_lease.prepare_invoke();
        for key in self.logout_keys() {
            invocation.key(key);
        }
        invocation.arg(now).arg(limit).arg(now + lease_seconds);
        let leased: Vec<String> = self.invoke("lease_logout_notices", invocation).await?;
        leased.iter().map(|data| from_json(data)).collect()
    }

    async fn reschedule_logout_notice(&self, notice: &LogoutNotice) -> Result<()> {
        let mut invocation = self.scripts().logout_reschedule.prepare_invoke();
        for key in self.logout_keys() {
            invocation.key(key);
        }
        invocation
            .arg(&notice.id)
            .arg(notice.due_at)
            .arg(to_json(notice)?);
        self.invoke_status("reschedule_logout_notice", invocation)
            .await
    }

    async fn remove_logout_notice(&self, id: &str) -> Result<()> {
        let mut invocation = self.scripts().logout_remove.prepare_invoke();
        for key in self.logout_keys() {
            invocation.key(key);
        }
        invocation.arg(id);
        self.invoke_status("remove_logout_notice", invocation).await
    }
}
