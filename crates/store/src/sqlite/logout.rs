//! Back-channel logout on SQLite: session clients are rows keyed by user,
//! sid and client; the notice queue is a table indexed by due time, and a
//! lease is one `UPDATE … RETURNING` that moves the due time forward, in
//! a transaction of the single writer connection.

use async_trait::async_trait;
use rusqlite::params;

use super::{SqliteStore, db, from_json, to_json};
use crate::{Error, LogoutNotice, LogoutStore, Result, SessionClient};

#[async_trait]
impl LogoutStore for SqliteStore {
    async fn record_session_client(&self, entry: &SessionClient) -> Result<()> {
        let entry = entry.clone();
        self.write("record_session_client", move |tx, _| {
            tx.execute(
                "INSERT INTO session_clients (user_id, sid, client_id, expires_at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user_id, sid, client_id) \
                 DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
                params![entry.user_id, entry.sid, entry.client_id, entry.expires_at],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn session_clients(&self, user_id: &str) -> Result<Vec<SessionClient>> {
        let user_id = user_id.to_owned();
        self.read("session_clients", move |conn, now| {
            let mut select = conn
                .prepare_cached(
                    "SELECT sid, client_id, expires_at FROM session_clients \
                     WHERE user_id = ?1 AND expires_at > ?2 ORDER BY sid, client_id",
                )
                .map_err(db)?;
            let rows = select
                .query_map(params![user_id, now], |row| {
                    Ok(SessionClient {
                        user_id: user_id.clone(),
                        sid: row.get(0)?,
                        client_id: row.get(1)?,
                        expires_at: row.get(2)?,
                    })
                })
                .map_err(db)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db)
        })
        .await
    }

    async fn forget_session_clients(&self, user_id: &str, entries: &[SessionClient]) -> Result<()> {
        let user_id = user_id.to_owned();
        let entries = entries.to_vec();
        self.write("forget_session_clients", move |tx, _| {
            for entry in &entries {
                tx.execute(
                    "DELETE FROM session_clients WHERE user_id = ?1 AND sid = ?2 \
                     AND client_id = ?3",
                    params![user_id, entry.sid, entry.client_id],
                )
                .map_err(db)?;
            }
            Ok(())
        })
        .await
    }

    async fn queue_logout_notices(&self, notices: &[LogoutNotice]) -> Result<()> {
        let rows = notices
            .iter()
            .map(|n| Ok((n.id.clone(), n.due_at, to_json(n)?)))
            .collect::<Result<Vec<_>>>()?;
        self.write("queue_logout_notices", move |tx, _| {
            for (id, due_at, data) in &rows {
                tx.execute(
                    "INSERT INTO logout_notices (id, due_at, data) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (id) DO NOTHING",
                    params![id, due_at, data],
                )
                .map_err(db)?;
            }
            Ok(())
        })
        .await
    }

    async fn lease_logout_notices(
        &self,
        limit: usize,
        lease_seconds: i64,
    ) -> Result<Vec<LogoutNotice>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.write("lease_logout_notices", move |tx, now| {
            let mut lease = tx
                .prepare_cached(
                    "UPDATE logout_notices SET due_at = ?2 WHERE id IN \
                     (SELECT id FROM logout_notices WHERE due_at <= ?1 \
                      ORDER BY due_at, id LIMIT ?3) RETURNING data",
                )
                .map_err(db)?;
            let rows = lease
                .query_map(params![now, now + lease_seconds, limit], |row| {
                    row.get::<_, String>(0)
                })
                .map_err(db)?;
            let mut leased = rows
                .map(|data| from_json::<LogoutNotice>(&data.map_err(db)?))
                .collect::<Result<Vec<_>>>()?;
            // RETURNING gives no order; the contract does.
            leased.sort_by(|a, b| (a.due_at, &a.id).cmp(&(b.due_at, &b.id)));
            Ok(leased)
        })
        .await
    }

    async fn reschedule_logout_notice(&self, notice: &LogoutNotice) -> Result<()> {
        let (id, due_at, data) = (notice.id.clone(), notice.due_at, to_json(notice)?);
        self.write("reschedule_logout_notice", move |tx, _| {
            let changed = tx
                .execute(
                    "UPDATE logout_notices SET due_at = ?2, data = ?3 WHERE id = ?1",
                    params![id, due_at, data],
                )
                .map_err(db)?;
            if changed == 0 {
                return Err(Error::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn remove_logout_notice(&self, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.write("remove_logout_notice", move |tx, _| {
            tx.execute("DELETE FROM logout_notices WHERE id = ?1", [&id])
                .map_err(db)?;
            Ok(())
        })
        .await
    }
}
