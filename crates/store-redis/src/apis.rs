//! APIs (RFC 8707 resources) on Redis, as clients are: a record hash per
//! API, `api:{id}`, and the index `idx:apis`. The key's id is the
//! identifier percent-encoded, so that no character of a URI can open a
//! cluster hash tag.

use async_trait::async_trait;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use store::{ApiRecord, ApiStore, Result};

use crate::{RedisStore, to_json};

/// The id of an API in its key and index.
fn key_id(identifier: &str) -> String {
    utf8_percent_encode(identifier, NON_ALPHANUMERIC).to_string()
}

#[async_trait]
impl ApiStore for RedisStore {
    async fn create_api(&self, api: &ApiRecord) -> Result<()> {
        let id = key_id(&api.identifier);
        self.versioned_write(
            "create_api",
            crate::Versioned {
                record: self.tagged("api", &id),
                index: self.key("idx:apis"),
                expected: None,
                version: 1,
                data: to_json(api)?,
                score: 0,
                member: &id,
            },
        )
        .await
    }

    async fn get_api(&self, identifier: &str) -> Result<ApiRecord> {
        self.load_one("get_api", self.tagged("api", &key_id(identifier)))
            .await
    }

    async fn list_apis(&self) -> Result<Vec<ApiRecord>> {
        let ids = self
            .index_members("list_apis", self.key("idx:apis"))
            .await?;
        let mut apis: Vec<ApiRecord> = self.load_ids("list_apis", "api", &ids).await?;
        apis.sort_by(|a, b| a.identifier.cmp(&b.identifier));
        Ok(apis)
    }

    async fn delete_api(&self, identifier: &str) -> Result<()> {
        let id = key_id(identifier);
        self.delete_indexed(
            "delete_api",
            self.tagged("api", &id),
            self.key("idx:apis"),
            id,
        )
        .await
    }
}
