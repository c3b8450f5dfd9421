//! Signing keys, counters and leases on SQLite.

use async_trait::async_trait;
use rusqlite::params;

use super::{SqliteStore, db, found, from_json, int, to_json};
use crate::error::Conflict;
use crate::{CounterStore, Error, KeyStore, Result, SigningKey};

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
            let data: String = found(conn.query_row(
                "SELECT data FROM signing_keys WHERE kid = ?1",
                [kid],
                |row| row.get(0),
            ))?;
            from_json(&data)
        })
        .await
    }

    async fn list_keys(&self) -> Result<Vec<SigningKey>> {
        self.read("list_keys", |conn, _| {
            let mut stmt = conn
                .prepare("SELECT data FROM signing_keys ORDER BY created_at, kid")
                .map_err(db)?;
            let rows = stmt
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(db)?;
            rows.map(|data| from_json(&data.map_err(db)?)).collect()
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
