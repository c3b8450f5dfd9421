//! Store operation metrics, recorded by every backend through [`observe`]:
//! `auth_store_operation_duration_seconds{backend,op}` and
//! `auth_store_errors_total{backend}` (docs/operations.md). `NotFound` and
//! `Conflict` are answers, not errors; only `Unavailable` and `Corrupt` count.

use std::future::Future;
use std::time::Instant;

use crate::Error;

/// Runs one store operation, recording its latency and, on failure, an error.
pub async fn observe<T>(
    backend: &'static str,
    op: &'static str,
    fut: impl Future<Output = crate::Result<T>>,
) -> crate::Result<T> {
    let start = Instant::now();
    let result = fut.await;
    metrics::histogram!("auth_store_operation_duration_seconds", "backend" => backend, "op" => op)
        .record(start.elapsed().as_secs_f64());
    if let Err(e @ (Error::Unavailable { .. } | Error::Corrupt { .. })) = &result {
        metrics::counter!("auth_store_errors_total", "backend" => backend).increment(1);
        tracing::warn!(event = "store_error", backend, op, error = %e, "store operation failed");
    }
    result
}
