//! The application state handed to every handler: the services' [`Ctx`]
//! (configuration, store, keys, clock) plus health, metrics and the
//! rate-limit quota, passed explicitly (no globals).

use std::sync::Arc;

use crate::config::Config;
use crate::keys::KeySettings;
use crate::ops::health::Health;
use crate::ops::metrics::Metrics;
use crate::services::Ctx;

#[derive(Debug, Clone)]
pub struct AppState {
    /// What the services work with, shared with the CLI.
    pub ctx: Ctx,
    pub health: Health,
    pub metrics: Metrics,
    /// Rate-limit quota this replica took from the store in batches.
    pub quota: Arc<crate::ops::quota::LocalQuota>,
}

/// Handlers reach the services' context directly (`state.store`,
/// `state.config`): the state is that context plus what only HTTP needs.
impl std::ops::Deref for AppState {
    type Target = Ctx;

    fn deref(&self) -> &Ctx {
        &self.ctx
    }
}

/// Clock skew allowed between replicas and relying parties.
pub const SKEW_SECONDS: i64 = 300;

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
