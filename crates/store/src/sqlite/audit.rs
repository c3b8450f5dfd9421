//! The audit trail on SQLite: one table in append order, its
//! `AUTOINCREMENT` key the event id (never reused, even after a purge), and
//! an index by time for the purge.

use async_trait::async_trait;
use rusqlite::params;

use super::{SqliteStore, db};
use crate::{AuditEntry, AuditEvent, AuditStore, Error, Result};

fn seq(id: &str) -> Result<i64> {
    id.parse().map_err(|_| Error::NotFound)
}

fn event(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEvent> {
    Ok(AuditEvent {
        id: row.get::<_, i64>(0)?.to_string(),
        at: row.get(1)?,
        data: row.get(2)?,
    })
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, entries: &[AuditEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let entries = entries.to_vec();
        self.write("append_audit", move |tx, _| {
            let mut insert = tx
                .prepare_cached("INSERT INTO audit_events (at, data) VALUES (?1, ?2)")
                .map_err(db)?;
            for entry in &entries {
                insert.execute(params![entry.at, entry.data]).map_err(db)?;
            }
            Ok(())
        })
        .await
    }

    async fn audit_after(&self, after: Option<&str>, count: usize) -> Result<Vec<AuditEvent>> {
        let after = after.map(seq).transpose()?.unwrap_or(0);
        self.read("audit_after", move |conn, _| {
            let mut select = conn
                .prepare_cached(
                    "SELECT seq, at, data FROM audit_events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .map_err(db)?;
            let rows = select
                .query_map(params![after, limit(count)], event)
                .map_err(db)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db)
        })
        .await
    }

    async fn audit_before(&self, before: Option<&str>, count: usize) -> Result<Vec<AuditEvent>> {
        let before = before.map(seq).transpose()?.unwrap_or(i64::MAX);
        self.read("audit_before", move |conn, _| {
            let mut select = conn
                .prepare_cached(
                    "SELECT seq, at, data FROM audit_events WHERE seq < ?1 \
                     ORDER BY seq DESC LIMIT ?2",
                )
                .map_err(db)?;
            let rows = select
                .query_map(params![before, limit(count)], event)
                .map_err(db)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db)
        })
        .await
    }

    async fn purge_audit(&self, cutoff: i64, count: usize) -> Result<usize> {
        self.write("purge_audit", move |tx, _| {
            tx.execute(
                "DELETE FROM audit_events WHERE seq IN \
                 (SELECT seq FROM audit_events WHERE at < ?1 ORDER BY seq LIMIT ?2)",
                params![cutoff, limit(count)],
            )
            .map_err(db)
        })
        .await
    }

    async fn audit_cursor(&self, reader: &str) -> Result<Option<String>> {
        let reader = reader.to_owned();
        self.read("audit_cursor", move |conn, _| {
            let mut select = conn
                .prepare_cached("SELECT id FROM audit_cursors WHERE reader = ?1")
                .map_err(db)?;
            let mut rows = select.query(params![reader]).map_err(db)?;
            match rows.next().map_err(db)? {
                Some(row) => Ok(Some(row.get(0).map_err(db)?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn set_audit_cursor(&self, reader: &str, id: &str) -> Result<()> {
        let (reader, id) = (reader.to_owned(), id.to_owned());
        self.write("set_audit_cursor", move |tx, _| {
            tx.execute(
                "INSERT INTO audit_cursors (reader, id) VALUES (?1, ?2) \
                 ON CONFLICT (reader) DO UPDATE SET id = excluded.id",
                params![reader, id],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }
}
