//! The audit trail on Redis: one stream, `audit:{trail}`, its entry ids
//! (given by Redis, growing across every replica's appends) the event ids,
//! each entry `at` and `data`. A stream is one key, so on a cluster the
//! trail is in one slot; it is capped at [`MAX_EVENTS`] entries besides
//! the purge by age, so a flood of events cannot fill the memory.

use async_trait::async_trait;
use store::{AuditEntry, AuditEvent, AuditStore, Error, Result};

use crate::{RedisStore, redis_err};

/// The most events the stream keeps, whatever their age (approximately:
/// Redis trims whole nodes, `MAXLEN ~`).
pub const MAX_EVENTS: usize = 1_000_000;

/// One stream entry as XRANGE answers it: the id and the flat field list.
type Entry = (String, Vec<String>);

impl RedisStore {
    fn audit_key(&self) -> String {
        self.tagged("audit", "trail")
    }

    /// Readers' positions: a hash in the trail's slot.
    fn audit_cursors_key(&self) -> String {
        self.tagged_under("audit", "trail", "cursors")
    }
}

/// A stream id (`ms-seq`); anything else is no id of this backend's.
fn stream_id(id: &str) -> Result<&str> {
    let ok = id.split_once('-').is_some_and(|(ms, seq)| {
        [ms, seq].iter().all(|part| {
            !part.is_empty() && part.len() <= 20 && part.bytes().all(|b| b.is_ascii_digit())
        })
    });
    if ok { Ok(id) } else { Err(Error::NotFound) }
}

fn event((id, fields): Entry) -> Result<AuditEvent> {
    let field = |name: &str| {
        fields
            .chunks(2)
            .find(|pair| pair[0] == name)
            .and_then(|pair| pair.get(1))
            .cloned()
    };
    let corrupt = || Error::Corrupt {
        message: format!("audit entry {id} lacks at or data"),
        source: None,
    };
    let at = field("at")
        .and_then(|at| at.parse().ok())
        .ok_or_else(corrupt)?;
    let data = field("data").ok_or_else(corrupt)?;
    Ok(AuditEvent { id, at, data })
}

#[async_trait]
impl AuditStore for RedisStore {
    async fn append_audit(&self, entries: &[AuditEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let key = self.audit_key();
        let mut pipe = redis::pipe();
        for entry in entries {
            pipe.cmd("XADD")
                .arg(&key)
                .arg("MAXLEN")
                .arg("~")
                .arg(MAX_EVENTS)
                .arg("*")
                .arg("at")
                .arg(entry.at)
                .arg("data")
                .arg(&entry.data)
                .ignore();
        }
        self.call("append_audit", |mut conn| async move {
            pipe.query_async::<()>(&mut conn).await.map_err(redis_err)
        })
        .await
    }

    async fn audit_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<AuditEvent>> {
        let start = match after {
            Some(id) => format!("({}", stream_id(id)?),
            None => "-".to_owned(),
        };
        let key = self.audit_key();
        let entries: Vec<Entry> = self
            .call("audit_after", |mut conn| async move {
                redis::cmd("XRANGE")
                    .arg(key)
                    .arg(start)
                    .arg("+")
                    .arg("COUNT")
                    .arg(limit)
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        entries.into_iter().map(event).collect()
    }

    async fn audit_before(&self, before: Option<&str>, limit: usize) -> Result<Vec<AuditEvent>> {
        let end = match before {
            Some(id) => format!("({}", stream_id(id)?),
            None => "+".to_owned(),
        };
        let key = self.audit_key();
        let entries: Vec<Entry> = self
            .call("audit_before", |mut conn| async move {
                redis::cmd("XREVRANGE")
                    .arg(key)
                    .arg(end)
                    .arg("-")
                    .arg("COUNT")
                    .arg(limit)
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        entries.into_iter().map(event).collect()
    }

    /// The oldest `limit` entries, then XDEL of those older than `cutoff`
    /// up to the first younger one. Two calls, not one: a purge racing
    /// another deletes each entry once (XDEL counts what it removed).
    async fn purge_audit(&self, cutoff: i64, limit: usize) -> Result<usize> {
        let oldest = self.audit_after(None, limit).await?;
        let old: Vec<String> = oldest
            .into_iter()
            .take_while(|e| e.at < cutoff)
            .map(|e| e.id)
            .collect();
        if old.is_empty() {
            return Ok(0);
        }
        let key = self.audit_key();
        self.call("purge_audit", |mut conn| async move {
            redis::cmd("XDEL")
                .arg(key)
                .arg(old)
                .query_async(&mut conn)
                .await
                .map_err(redis_err)
        })
        .await
    }

    async fn audit_cursor(&self, reader: &str) -> Result<Option<String>> {
        let (key, reader) = (self.audit_cursors_key(), reader.to_owned());
        self.call("audit_cursor", |mut conn| async move {
            redis::cmd("HGET")
                .arg(key)
                .arg(reader)
                .query_async(&mut conn)
                .await
                .map_err(redis_err)
        })
        .await
    }

    async fn set_audit_cursor(&self, reader: &str, id: &str) -> Result<()> {
        let (key, reader, id) = (self.audit_cursors_key(), reader.to_owned(), id.to_owned());
        self.call("set_audit_cursor", |mut conn| async move {
            redis::cmd("HSET")
                .arg(key)
                .arg(reader)
                .arg(id)
                .query_async::<()>(&mut conn)
                .await
                .map_err(redis_err)
        })
        .await
    }
}
