//! Building and running the server. [`Application::build`] opens the store
//! and binds the listener first (port 0 in tests), so the bound port is
//! known before serving; [`Application::run_until_stopped`] serves until the
//! given shutdown future resolves, then drains:
//!
//! 1. readiness turns 503 at once (load balancers stop sending);
//! 2. requests are still served for `shutdown_drain`;
//! 3. the listener closes and in-flight requests get up to `shutdown_grace`
//!    to finish; then the process exits 0.
//!
//! Tests and SIGTERM share this one path.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use store::{Clock, Store, SystemClock};
use store_redis::{RedisConfig, RedisStore};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{Config, StoreUrl};
use crate::keys::{MasterKey, resolve_master_key};
use crate::ops::health::Health;
use crate::ops::metrics::Metrics;
use crate::routes::router;
use crate::state::AppState;

/// How often the embedded store deletes expired records.
const PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// Opens the configured store. SQLite is opened (and migrated) now; Redis is
/// only validated, and connects on first use so the service can start while
/// Redis is down.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Ok(match &config.store {
        StoreUrl::Sqlite(path) => {
            let shown = path.display().to_string();
            let path = path.clone();
            let store =
                tokio::task::spawn_blocking(move || store::sqlite::SqliteStore::open(&path, clock))
                    .await
                    .context("the store thread failed")?
                    .map_err(|e| {
                        anyhow::Error::new(e)
                            .context(format!("cannot open the SQLite store {shown}"))
                    })?;
            Arc::new(store)
        }
        StoreUrl::Redis(url) => {
            let redis = RedisConfig {
                url: url.expose().clone(),
                prefix: config.redis_prefix.clone(),
                timeout: config.store_timeout,
                min_replicas_ack: config.redis_min_replicas_ack,
                sentinel_auth: store_redis::SentinelAuth {
                    username: config.redis_sentinel_username.clone(),
                    password: config
                        .redis_sentinel_password
                        .as_ref()
                        .map(|p| p.expose().clone()),
                },
            };
            Arc::new(RedisStore::new(&redis, clock)?)
        }
    })
}

/// The master key for this configuration (see [`resolve_master_key`]).
pub fn master_key(config: &Config) -> Result<MasterKey, String> {
    let sqlite = match &config.store {
        StoreUrl::Sqlite(path) => Some(path.as_path()),
        StoreUrl::Redis(_) => None,
    };
    resolve_master_key(config.master_key.as_ref(), sqlite)
}

#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Opens the store and binds the listener. The master key comes from
    /// [`master_key`], resolved by the caller so that a missing key is told
    /// apart from a failure to start.
    pub async fn build(config: Config, master_key: MasterKey) -> anyhow::Result<Self> {
        let store = open_store(&config).await?;
        upgrade_user_name_keys(store.as_ref()).await;
        let metrics = Metrics::install()
            .map_err(|e| anyhow::anyhow!(e))
            .context("cannot install metrics")?;
        crate::ops::metrics::zero_store_errors(store.backend());
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let health_timeout = config.health_timeout;
        // Argon2id with OWASP parameters; verification runs off the async threads.
        let ctx = crate::services::Ctx::new(config, Arc::clone(&store), master_key)
            .context("cannot set up password hashing")?;
        // Load (or create, on first start) the signing keys now if the store
        // answers; if not, the refresher keeps trying and readiness says why.
        if let Err(e) = ctx.keys.refresh().await {
            tracing::warn!(event = "signing_keys_refresh_failed", error = %e, "signing keys not loaded yet");
        }
        let health = Health::new(store, health_timeout, ctx.keys.clone());
        let state = AppState {
            ctx,
            health,
            metrics,
            quota: Arc::default(),
        };
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then drains as the module says.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self { listener, state } = self;
        let config = Arc::clone(&state.config);
        let addr = listener.local_addr()?;
        tracing::info!(
            event = "server_started",
            listen = %addr,
            issuer = %config.issuer,
            store = state.store.backend(),
            version = env!("CARGO_PKG_VERSION"),
            "auth-service listening"
        );

        let purge = tokio::spawn(purge_expired(Arc::clone(&state.store)));
        let refresher = state.keys.spawn_refresher();
        // Stopped mid-delivery, a notice comes due again when its lease ends.
        let logouts = crate::services::oauth::backchannel::spawn(state.ctx.clone());
        let audit =
            crate::services::audit::spawn(state.ctx.clone(), crate::services::audit::Purge::Yes);
        let webhook = crate::services::audit::webhook::spawn(state.ctx.clone());
        let (closing_tx, mut closing_rx) = watch::channel(false);
        let health = state.health.clone();
        let drain = config.shutdown_drain;
        tokio::spawn(async move {
            shutdown.await;
            health.start_draining();
            tracing::info!(
                event = "shutdown_started",
                drain_ms = drain.as_millis() as u64,
                "shutting down: readiness is now 503; still serving during the drain period"
            );
            tokio::time::sleep(drain).await;
            let _ = closing_tx.send(true);
        });

        let max_connections = crate::ops::connections::prepare(&config.http);
        let server = crate::ops::connections::serve(
            listener,
            router(state),
            config.http,
            max_connections,
            closing_rx.clone(),
        );
        let grace = config.shutdown_grace;
        let result = tokio::select! {
            () = server => Ok(()),
            () = async {
                let _ = closing_rx.wait_for(|closing| *closing).await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(
                    event = "shutdown_grace_expired",
                    grace_ms = grace.as_millis() as u64,
                    "in-flight requests did not finish within the grace period; closing them"
                );
                Ok(())
            }
        };
        purge.abort();
        refresher.abort();
        logouts.abort();
        // The security events of the last requests reach the trail.
        let _ = tokio::time::timeout(Duration::from_secs(2), crate::ops::audit::flush()).await;
        for task in [audit, webhook].into_iter().flatten() {
            task.abort();
        }
        tracing::info!(event = "server_stopped", "auth-service stopped");
        result
    }
}

/// Brings users stored by an earlier version to RFC 8265 userName keys
/// (docs/security.md 26). A failure (Redis down at start) is logged; the next
/// start tries again.
async fn upgrade_user_name_keys(store: &dyn Store) {
    match store.upgrade_user_name_keys().await {
        Ok(left) if left.is_empty() => {}
        Ok(left) => {
            for user_id in &left {
                tracing::warn!(
                    event = "user_name_collision",
                    user_id = %user_id,
                    "this user's userName is the same as another's under RFC 8265 (e.g. fullwidth or case forms); it keeps its old key until one of them is renamed over SCIM"
                );
            }
        }
        Err(e) => {
            tracing::warn!(event = "user_name_upgrade_failed", error = %e, "could not re-key userNames; will retry at the next start");
        }
    }
}

/// Deletes expired records now and then; a failure is logged and retried
/// at the next tick (Redis expires keys itself, so this is a no-op there).
async fn purge_expired(store: Arc<dyn Store>) {
    let mut ticks = tokio::time::interval(PURGE_INTERVAL);
    loop {
        ticks.tick().await;
        match store.purge_expired().await {
            Ok(0) => {}
            Ok(removed) => {
                tracing::debug!(event = "store_purged", removed, "purged expired records")
            }
            Err(e) => {
                tracing::warn!(event = "store_purge_failed", error = %e, "could not purge expired records")
            }
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        () = terminate => {},
    }
}
