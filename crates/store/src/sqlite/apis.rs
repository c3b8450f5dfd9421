//! APIs (RFC 8707 resources) on SQLite: one row per API, keyed by its
//! identifier.

use async_trait::async_trait;
use rusqlite::params;

use super::{SqliteStore, changed, db, inserted, record, records, to_json};
use crate::{ApiRecord, ApiStore, Result};

#[async_trait]
impl ApiStore for SqliteStore {
    async fn create_api(&self, api: &ApiRecord) -> Result<()> {
        let (id, data) = (api.identifier.clone(), to_json(api)?);
        self.write("create_api", move |tx, _| {
            inserted(
                tx.execute(
                    "INSERT INTO apis (identifier, data) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    params![id, data],
                )
                .map_err(db)?,
            )
        })
        .await
    }

    async fn get_api(&self, identifier: &str) -> Result<ApiRecord> {
        let id = identifier.to_owned();
        self.read("get_api", move |conn, _| {
            record(conn, "SELECT data FROM apis WHERE identifier = ?1", &id)
        })
        .await
    }

    async fn list_apis(&self) -> Result<Vec<ApiRecord>> {
        self.read("list_apis", |conn, _| {
            records(conn, "SELECT data FROM apis ORDER BY identifier")
        })
        .await
    }

    async fn delete_api(&self, identifier: &str) -> Result<()> {
        let id = identifier.to_owned();
        self.write("delete_api", move |tx, _| {
            changed(
                tx.execute("DELETE FROM apis WHERE identifier = ?1", [id])
                    .map_err(db)?,
            )
        })
        .await
    }
}
