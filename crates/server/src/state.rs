//! The application state handed to every handler: configuration, store
//! handles, keys and the clock, passed explicitly (no globals).

use std::sync::Arc;

use store::{Clock, Store};

use crate::config::Config;
use crate::keys::{KeySettings, Keys, MasterKey};
use crate::ops::health::Health;
use crate::ops::metrics::Metrics;

#[derive(Debug, Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub master_key: MasterKey,
    pub keys: Keys,
    pub clock: Arc<dyn Clock>,
    pub passwords: crate::password::PasswordHasher,
    pub health: Health,
    pub metrics: Metrics,
    /// Rate-limit quota this replica took from the store in batches.
    pub quota: Arc<crate::routes::LocalQuota>,
}

/// Clock skew allowed between replicas and relying parties.
const SKEW_SECONDS: i64 = 300;

/// The key lifecycle settings a configuration implies.
pub fn key_settings(config: &Config) -> KeySettings {
    let seconds = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4);
    KeySettings {
        rotation_interval: seconds(config.key_rotation_interval),
        publish_lead: seconds(config.key_publish_lead),
        // The longest-lived token a key signs is an access token.
        retain_after_retirement: seconds(config.access_token_ttl) + SKEW_SECONDS,
        refresh_interval: std::time::Duration::from_secs(5),
    }
}
