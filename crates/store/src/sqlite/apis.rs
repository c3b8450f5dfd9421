//! APIs (RFC 8707 resources) on SQLite: one row per API, keyed by its
//! identifier.

use async_trait::async_trait;
use rusqlite::params;

use super::{SqliteStore, db, found, from_json, to_json};
use crate::error::Conflict;
use crate::{ApiRecord, ApiStore, Error, Result};

#[async_trait]
impl ApiStore for SqliteStore {
    async fn create_api(&self, api: &ApiRecord) -> Result<()> {
        let (id, data) = (api.identifier.clone(), to_json(api)?);
        self.write("create_api", move |tx, _| {
            let inserted = tx
                .execute(
                    "INSERT INTO apis (identifier, data) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    params![id, data],
                )
                .map_err(db)?;
            if inserted == 0 {
                Err(Error::Conflict(Conflict::Exists))
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn get_api(&self, identifier: &str) -> Result<ApiRecord> {
        let id = identifier.to_owned();
        self.read("get_api", move |conn, _| {
            let data: String = found(conn.query_row(
                "SELECT data FROM apis WHERE identifier = ?1",
                [id],
                |row| row.get(0),
            ))?;
            from_json(&data)
        })
        .await
    }

    async fn list_apis(&self) -> Result<Vec<ApiRecord>> {
        self.read("list_apis", |conn, _| {
            let mut stmt = conn
                .prepare("SELECT data FROM apis ORDER BY identifier")
                .map_err(db)?;
            let rows = stmt
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(db)?;
            rows.map(|data| from_json(&data.map_err(db)?)).collect()
        })
        .await
    }

    async fn delete_api(&self, identifier: &str) -> Result<()> {
        let id = identifier.to_owned();
        self.write("delete_api", move |tx, _| {
            match tx
                .execute("DELETE FROM apis WHERE identifier = ?1", [id])
                .map_err(db)?
            {
                0 => Err(Error::NotFound),
                _ => Ok(()),
            }
        })
        .await
    }
}
