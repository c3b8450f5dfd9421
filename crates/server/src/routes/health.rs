//! `/health`, `/health/live`, `/health/ready` (docs/operations.md "Health").

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::AppState;

/// The process answers. Checks nothing external.
pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// 200 when the store answers within the health timeout and the process is
/// not draining; 503 otherwise, with the failing checks.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    // Once draining, answer at once: the load balancer must stop sending now,
    // whatever the store is doing.
    if state.health.is_draining() {
        let body =
            json!({"status": "unavailable", "checks": [{"name": "shutdown", "status": "fail"}]});
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body));
    }
    let checks = state.health.checks().await;
    let ready = checks.iter().all(|c| c.ok());
    let failing: Vec<_> = checks.iter().filter(|c| !c.ok()).collect();
    if ready {
        let mut body = json!({"status": "ready"});
        // Behind Sentinel: which primary this replica is ready on.
        if let Some(primary) = state.store.primary() {
            body["store_primary"] = json!(primary);
        }
        (StatusCode::OK, Json(body))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "checks": failing})),
        )
    }
}

/// The runbook's view: overall status and every check with its latency.
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let checks = state.health.checks().await;
    let ready = checks.iter().all(|c| c.ok());
    let body = json!({
        "status": if ready { "ok" } else { "unavailable" },
        "version": env!("CARGO_PKG_VERSION"),
        "store": state.store.backend(),
        // Behind Sentinel, the primary in use: what a failover changes.
        "store_primary": state.store.primary(),
        "checks": checks,
    });
    (
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(body),
    )
}
