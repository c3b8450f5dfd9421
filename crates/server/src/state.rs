//! The application state handed to every handler: configuration and store
//! handles, passed explicitly (no globals).

use std::sync::Arc;

use store::Store;

use crate::config::Config;
use crate::keys::MasterKey;
use crate::ops::health::Health;
use crate::ops::metrics::Metrics;

#[derive(Debug, Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub master_key: MasterKey,
    pub health: Health,
    pub metrics: Metrics,
}
