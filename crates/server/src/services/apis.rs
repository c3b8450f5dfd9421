//! APIs: the protected resources access tokens are issued for (RFC 8707).
//! An API is named by its identifier, the resource indicator clients send
//! and the `aud` of its tokens (`oauth::resource`); it offers scopes, and
//! may have its own token lifetime (capped at the service's) and signing
//! algorithm. Logs `api_created` and `api_deleted`.
//!
//! The token endpoint reads APIs through [`ApiCache`]: each replica keeps
//! what it read for [`CACHE_SECONDS`], so a token for an API costs no store
//! round trip in the common case, and a change made on another replica (or
//! by the CLI) is seen within that time.

use std::collections::HashMap;
use std::sync::RwLock;

use serde_json::{Value, json};
use store::{ApiRecord, Clock, Store};

use crate::keys::Alg;

/// How long a replica trusts an API it read (the signing keys' refresh
/// interval too).
pub const CACHE_SECONDS: i64 = 5;
/// The most APIs a replica keeps; past it, it starts again.
const CACHE_ENTRIES: usize = 4096;

/// APIs as this replica last read them, each for [`CACHE_SECONDS`].
#[derive(Debug, Default)]
pub struct ApiCache {
    entries: RwLock<HashMap<String, (i64, ApiRecord)>>,
}

impl ApiCache {
    /// The API `identifier`, from the cache or the store. `NotFound` is not
    /// kept: only identifiers a client is registered for are asked for.
    pub async fn get(
        &self,
        store: &dyn Store,
        clock: &dyn Clock,
        identifier: &str,
    ) -> Result<ApiRecord, store::Error> {
        let now = clock.now();
        if let Ok(entries) = self.entries.read()
            && let Some((read_at, api)) = entries.get(identifier)
            && now - read_at < CACHE_SECONDS
        {
            return Ok(api.clone());
        }
        let api = store.get_api(identifier).await?;
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= CACHE_ENTRIES {
                entries.clear();
            }
            entries.insert(identifier.to_owned(), (now, api.clone()));
        }
        Ok(api)
    }
}

/// An API to register, as an operator gives it.
#[derive(Debug, Clone, Default)]
pub struct NewApi {
    pub identifier: String,
    pub name: Option<String>,
    /// Space-separated, as in a token request.
    pub scope: Option<String>,
    pub access_token_ttl: Option<std::time::Duration>,
    pub alg: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Which setting is wrong, and why.
    #[error("{field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
    #[error("an API with the identifier {0} exists")]
    Exists(String),
    #[error(transparent)]
    Store(store::Error),
}

fn invalid(field: &'static str, problem: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        field,
        problem: problem.into(),
    }
}

/// Validates and stores a new API.
pub async fn create(store: &dyn Store, now: i64, new: NewApi) -> Result<ApiRecord, ApiError> {
    let identifier = oauth::resource::ResourceIndicator::parse(&new.identifier)
        .map_err(|e| invalid("identifier", e.description))?;
    let scopes = oauth::Scope::parse(new.scope.as_deref().unwrap_or_default())
        .map_err(|e| invalid("scope", format!("{:?} is not a scope token", e.token)))?;
    let alg = match new.alg.as_deref() {
        None => None,
        Some(name) => Some(
            Alg::parse(name)
                .ok_or_else(|| invalid("alg", format!("{name:?} is not ES256 or RS256")))?
                .as_str()
                .to_owned(),
        ),
    };
    let access_token_ttl = match new.access_token_ttl {
        Some(ttl) if ttl.as_secs() == 0 => {
            return Err(invalid("access_token_ttl", "at least one second"));
        }
        ttl => ttl.map(|t| t.as_secs()),
    };
    let name = new
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| identifier.to_string());
    let record = ApiRecord {
        identifier: identifier.to_string(),
        name,
        scopes: scopes.iter().map(str::to_owned).collect(),
        access_token_ttl,
        alg,
        created_at: now,
    };
    match store.create_api(&record).await {
        Ok(()) => {}
        Err(store::Error::Conflict(_)) => return Err(ApiError::Exists(record.identifier)),
        Err(e) => return Err(ApiError::Store(e)),
    }
    tracing::info!(category = "security", event = "api_created", api = %record.identifier, outcome = "success", "an API was registered");
    Ok(record)
}

/// Removes an API. `NotFound` if there is none.
pub async fn delete(store: &dyn Store, identifier: &str) -> Result<(), store::Error> {
    store.delete_api(identifier).await?;
    tracing::info!(category = "security", event = "api_deleted", api = %identifier, outcome = "success", "an API was removed");
    Ok(())
}

/// What the CLI shows of an API.
pub fn view(api: &ApiRecord) -> Value {
    json!({
        "identifier": api.identifier,
        "name": api.name,
        "scopes": api.scopes,
        "access_token_ttl": api.access_token_ttl,
        "alg": api.alg,
        "created_at": crate::services::rfc3339(api.created_at),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use store::sqlite::SqliteStore;
    use store::{ApiStore, TestClock};

    use super::*;

    /// A replica sees an API's removal within CACHE_SECONDS, and reads the
    /// store again only then.
    #[tokio::test]
    async fn the_cache_keeps_an_api_for_a_few_seconds() {
        let dir = tempfile::tempdir().unwrap();
        let clock = TestClock::new(100);
        let store =
            SqliteStore::open(&dir.path().join("auth.db"), Arc::new(clock.clone())).unwrap();
        let new = NewApi {
            identifier: "https://api.example.com".into(),
            ..NewApi::default()
        };
        create(&store, 100, new).await.unwrap();
        let cache = ApiCache::default();
        let id = "https://api.example.com";
        cache.get(&store, &clock, id).await.unwrap();
        store.delete_api(id).await.unwrap();
        clock.advance(CACHE_SECONDS - 1);
        assert!(cache.get(&store, &clock, id).await.is_ok(), "still cached");
        clock.advance(1);
        assert!(matches!(
            cache.get(&store, &clock, id).await,
            Err(store::Error::NotFound)
        ));
    }

    #[tokio::test]
    async fn an_api_is_validated_then_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            SqliteStore::open(&dir.path().join("auth.db"), Arc::new(TestClock::new(0))).unwrap();
        let new = NewApi {
            identifier: "https://api.example.com/orders".into(),
            scope: Some("orders:read orders:write".into()),
            access_token_ttl: Some(Duration::from_secs(300)),
            alg: Some("ES256".into()),
            ..NewApi::default()
        };
        let created = create(&store, 7, new.clone()).await.unwrap();
        assert_eq!(created.name, "https://api.example.com/orders");
        assert_eq!(created.scopes, ["orders:read", "orders:write"]);
        assert_eq!(store.get_api(&created.identifier).await.unwrap(), created);
        assert!(matches!(
            create(&store, 8, new.clone()).await,
            Err(ApiError::Exists(_))
        ));
        for (field, bad) in [
            (
                "identifier",
                NewApi {
                    identifier: "api.example.com".into(),
                    ..new.clone()
                },
            ),
            (
                "scope",
                NewApi {
                    identifier: "https://a.example".into(),
                    scope: Some("bad\"scope".into()),
                    ..new.clone()
                },
            ),
            (
                "alg",
                NewApi {
                    identifier: "https://a.example".into(),
                    alg: Some("HS256".into()),
                    ..new.clone()
                },
            ),
            (
                "access_token_ttl",
                NewApi {
                    identifier: "https://a.example".into(),
                    access_token_ttl: Some(Duration::ZERO),
                    ..new.clone()
                },
            ),
        ] {
            match create(&store, 9, bad).await {
                Err(ApiError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        delete(&store, &created.identifier).await.unwrap();
        assert!(matches!(
            delete(&store, &created.identifier).await,
            Err(store::Error::NotFound)
        ));
    }
}
