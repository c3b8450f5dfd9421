//! Operating the service: logs, metrics, health, and the per-request
//! middleware that ties them together (request id, access log, latency).

pub mod audit;
pub mod client_ip;
pub mod connections;
pub mod health;
pub mod logging;
pub mod metrics;
pub mod outbound;
pub mod quota;
pub mod request;
