//! Health: `/health/live` (the process answers; nothing external, so a
//! Redis outage never makes Kubernetes restart every pod), `/health/ready`
//! (store reachable within a short timeout and not shutting down), and
//! `/health` (the runbook's view: overall status and each check with its
//! latency). Readiness also requires an active signing key for every
//! algorithm ([`Keys::complete`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use store::Store;

use crate::keys::{Alg, Keys};

/// One check's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: &'static str,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Check {
    pub fn ok(&self) -> bool {
        self.status == "ok"
    }
}

/// What readiness depends on.
#[derive(Debug, Clone)]
pub struct Health {
    store: Arc<dyn Store>,
    timeout: Duration,
    draining: Arc<AtomicBool>,
    keys: Keys,
}

impl Health {
    pub fn new(store: Arc<dyn Store>, timeout: Duration, keys: Keys) -> Self {
        Self {
            store,
            timeout,
            draining: Arc::new(AtomicBool::new(false)),
            keys,
        }
    }

    /// From now on readiness fails: the process is shutting down.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Runs every readiness check.
    pub async fn checks(&self) -> Vec<Check> {
        let shutdown = Check {
            name: "shutdown",
            status: if self.is_draining() { "fail" } else { "ok" },
            latency_ms: 0.0,
            error: self
                .is_draining()
                .then(|| "the process is shutting down".to_owned()),
        };
        let store = self.check_store().await;
        // Every algorithm, not just the access-token one: ID tokens are
        // RS256 by default, and a replica ready with half a ring signs what
        // others cannot verify yet.
        let mut signing = self.keys.complete();
        if !signing && store.ok() {
            // The store is back (or was never gone) but no key is loaded yet:
            // load now rather than wait for the next scheduled refresh, so
            // readiness returns as soon as the store does.
            if let Ok(Err(e)) = tokio::time::timeout(self.timeout, self.keys.refresh()).await {
                tracing::warn!(event = "signing_keys_refresh_failed", error = %e, "could not load signing keys");
            }
            signing = self.keys.complete();
        }
        let signing_key = Check {
            name: "signing_key",
            status: if signing { "ok" } else { "fail" },
            latency_ms: 0.0,
            error: (!signing).then(|| {
                let missing: Vec<&str> = Alg::ALL
                    .into_iter()
                    .filter(|alg| self.keys.signer(*alg).is_none())
                    .map(Alg::as_str)
                    .collect();
                format!("no active {} signing key loaded", missing.join(", "))
            }),
        };
        vec![store, signing_key, shutdown]
    }

    async fn check_store(&self) -> Check {
        let start = Instant::now();
        let outcome = tokio::time::timeout(self.timeout, self.store.ping()).await;
        let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
        let error = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(error_chain(&e)),
            Err(_) => Some(format!("no answer within {} ms", self.timeout.as_millis())),
        };
        metrics::gauge!("auth_store_up").set(if error.is_none() { 1.0 } else { 0.0 });
        Check {
            name: "store",
            status: if error.is_none() { "ok" } else { "fail" },
            latency_ms: (latency_ms * 1000.0).round() / 1000.0,
            error: error.map(|e| format!("{} store: {e}", self.store.backend())),
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
