//! Signing keys, counters and leases on SQLite.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, db, found, int, record, records, to_json};
use crate::error::Conflict;
use crate::{
    Attempt, AttemptState, BackoffPolicy, CounterStore, Error, KeyStore, RateDecision, Result,
    SigningKey,
};

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_key(&self, key: &SigningKey) -> Result<()> {
        let key = key.clone();
        self.write("insert_key", move |tx, _| {
            let inserted = tx
                .execute(
                    "INSERT INTO signing_keys (kid, created_at, version, data) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT DO NOTHING",
                    params![key.kid, key.created_at, int(key.version), to_json(&key)?],
                )
                .map_err(db)?;
            if inserted == 0 { Err(Error::Conflict(Conflict::Exists)) } else { Ok(()) }
        })
        .await
    }

    async fn get_key(&self, kid: &str) -> Result<SigningKey> {
        let kid = kid.to_owned();
        self.read("get_key", move |conn, _| {
            record(conn, "SELECT data FROM signing_keys WHERE kid = ?1", &kid)
        })
        .await
    }

    async fn list_keys(&self) -> Result<Vec<SigningKey>> {
        self.read("list_keys", |conn, _| {
            records(
                conn,
                "SELECT data FROM signing_keys ORDER BY created_at, kid",
            )
        })
        .await
    }

    async fn update_key(&self, key: &SigningKey) -> Result<SigningKey> {
        let mut key = key.clone();
        self.write("update_key", move |tx, _| {
            let stored: i64 = found(tx.query_row(
                "SELECT version FROM signing_keys WHERE kid = ?1",
                [&key.kid],
                |row| row.get(0),
            ))?;
            if stored != int(key.version) {
                return Err(Error::Conflict(Conflict::Version));
            }
            key.version += 1;
            tx.execute(
                "UPDATE signing_keys SET version = ?2, data = ?3 WHERE kid = ?1",
                params![key.kid, int(key.version), to_json(&key)?],
            )
            .map_err(db)?;
            Ok(key)
        })
        .await
    }

    async fn delete_key(&self, kid: &str) -> Result<()> {
        let kid = kid.to_owned();
        self.write("delete_key", move |tx, _| {
            let changed = tx
                .execute("DELETE FROM signing_keys WHERE kid = ?1", [kid])
                .map_err(db)?;
            if changed == 0 {
                Err(Error::NotFound)
            } else {
                Ok(())
            }
        })
        .await
    }
}

fn read_attempts(conn: &rusqlite::Connection, key: &str, now: i64) -> Result<AttemptState> {
    Ok(conn
        .query_row(
            "SELECT failures, locked_until FROM attempts WHERE key = ?1 AND expires_at > ?2",
            params![key, now],
            |row| {
                Ok(AttemptState {
                    failures: row.get(0)?,
                    locked_until: row.get(1)?,
                })
            },
        )
        .optional()
        .map_err(db)?
        .unwrap_or_default())
}

#[async_trait]
impl CounterStore for SqliteStore {
    async fn increment(&self, key: &str, by: i64, ttl_seconds: i64) -> Result<i64> {
        let key = key.to_owned();
        self.write("increment", move |tx, now| {
            found(tx.query_row(
                "INSERT INTO counters (key, value, expires_at) VALUES (?1, ?2, ?3 + ?4) \
                 ON CONFLICT (key) DO UPDATE SET \
                   value = CASE WHEN counters.expires_at <= ?3 THEN excluded.value ELSE counters.value + excluded.value END, \
                   expires_at = CASE WHEN counters.expires_at <= ?3 THEN excluded.expires_at ELSE counters.expires_at END \
                 RETURNING value",
                params![key, by, now, ttl_seconds],
                |row| row.get(0),
            ))
        })
        .await
    }

    async fn get_counter(&self, key: &str) -> Result<i64> {
        let key = key.to_owned();
        self.read("get_counter", move |conn, now| {
            match found(conn.query_row(
                "SELECT value FROM counters WHERE key = ?1 AND expires_at > ?2",
                params![key, now],
                |row| row.get(0),
            )) {
                Err(Error::NotFound) => Ok(0),
                other => other,
            }
        })
        .await
    }

    async fn reset_counter(&self, key: &str) -> Result<()> {
        let key = key.to_owned();
        self.write("reset_counter", move |tx, _| {
            tx.execute("DELETE FROM counters WHERE key = ?1", [key])
                .map_err(db)?;
            Ok(())
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
        let key = key.to_owned();
        self.write("rate_limit", move |tx, now| {
            let now_ms = now.saturating_mul(1000);
            let tat: Option<i64> = tx
                .query_row(
                    "SELECT value FROM counters WHERE key = ?1 AND expires_at > ?2",
                    params![key, now],
                    |row| row.get(0),
                )
                .optional()
                .map_err(db)?;
            let (decision, new_tat) = crate::limits::gcra(tat, now_ms, interval_ms, burst, cost);
            if decision.allowed {
                // Kept until the TAT has passed: then it limits nothing.
                let expires_at = new_tat.div_euclid(1000) + 1;
                tx.execute(
                    "INSERT INTO counters (key, value, expires_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                    params![key, new_tat, expires_at],
                )
                .map_err(db)?;
            }
            Ok(decision)
        })
        .await
    }

    async fn register_attempt(&self, key: &str, policy: &BackoffPolicy) -> Result<Attempt> {
        let (key, policy) = (key.to_owned(), *policy);
        self.write("register_attempt", move |tx, now| {
            let state = read_attempts(tx, &key, now)?;
            let (attempt, stored) = crate::limits::next_attempt(state, now, &policy);
            if let Some((next, expires_at)) = stored {
                tx.execute(
                    "INSERT INTO attempts (key, failures, locked_until, expires_at) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, \
                       locked_until = excluded.locked_until, expires_at = excluded.expires_at",
                    params![key, next.failures, next.locked_until, expires_at],
                )
                .map_err(db)?;
            }
            Ok(attempt)
        })
        .await
    }

    async fn attempt_state(&self, key: &str) -> Result<AttemptState> {
        let key = key.to_owned();
        self.read("attempt_state", move |conn, now| {
            read_attempts(conn, &key, now)
        })
        .await
    }

    async fn clear_attempts(&self, key: &str) -> Result<()> {
        let key = key.to_owned();
        self.write("clear_attempts", move |tx, _| {
            tx.execute("DELETE FROM attempts WHERE key = ?1", [key])
                .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn acquire_lease(&self, name: &str, holder: &str, ttl_seconds: i64) -> Result<bool> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write("acquire_lease", move |tx, now| {
            let written = tx
                .execute(
                    "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3 + ?4) \
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
                     WHERE leases.expires_at <= ?3 OR leases.holder = excluded.holder",
                    params![name, holder, now, ttl_seconds],
                )
                .map_err(db)?;
            Ok(written == 1)
        })
        .await
    }
}
