//! The per-request middleware: a request id on every request (an incoming
//! `x-request-id` is kept if it is sane, else one is made), echoed in the
//! response and recorded on the request's span so every log line of the
//! request carries it; the access log line; `slow_request`; and the HTTP
//! metrics by route template (never the raw path: bounded labels only).

use std::sync::Arc;
use std::time::{Duration, Instant};

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::client_ip::{ClientIp, IpBlock, client_ip};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The matched route template, carried from the router to the outer layer.
#[derive(Debug, Clone)]
struct RouteTemplate(Arc<str>);

/// Settings of the middleware.
#[derive(Debug, Clone)]
pub struct RequestSettings {
    pub slow_request_threshold: Duration,
    /// Peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpBlock>,
}

/// A request id we accept from a client: short, visible ASCII. Anything else
/// is replaced, so a log line never carries a client's megabyte or escapes.
fn acceptable(value: &HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?;
    let ok = !text.is_empty() && text.len() <= 128 && text.bytes().all(|b| b.is_ascii_graphic());
    ok.then_some(text)
}

fn method_label(method: &Method) -> &'static str {
    // Extension methods would be an unbounded label.
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Inner layer (`route_layer`): remembers which route template matched.
pub async fn record_route(matched: MatchedPath, request: Request, next: Next) -> Response {
    let template = RouteTemplate(Arc::from(matched.as_str()));
    let mut response = next.run(request).await;
    response.extensions_mut().insert(template);
    response
}

/// Outer layer: request id, span, access log, metrics.
pub async fn observe(
    State(settings): State<Arc<RequestSettings>>,
    mut request: Request,
    next: Next,
) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(acceptable)
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let header = HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("invalid"));
    request.headers_mut().insert(REQUEST_ID, header.clone());
    let method = method_label(request.method());
    let path = request.uri().path().to_owned();
    // Every log line of the request carries the client address (docs/operations.md).
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| client_ip(*peer, request.headers(), &settings.trusted_proxies));
    if let Some(ip) = ip {
        request.extensions_mut().insert(ClientIp(ip));
    }
    let ip_field = ip.map(|ip| ip.to_string()).unwrap_or_default();
    let span =
        tracing::info_span!("request", request_id = %id, ip = %ip_field, method, path = %path);

    let start = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = start.elapsed();

    let route = response
        .extensions()
        .get::<RouteTemplate>()
        .map_or(Arc::from("unmatched"), |r| Arc::clone(&r.0));
    let route_label = route.to_string();
    let status = response.status();
    let status_class = match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::counter!(
        "http_requests_total",
        "method" => method, "route" => route_label.clone(), "status" => status.as_str().to_owned()
    )
    .increment(1);
    metrics::histogram!(
        "http_request_duration_seconds",
        "method" => method, "route" => route_label, "status_class" => status_class
    )
    .record(elapsed.as_secs_f64());

    let duration_ms = (elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
    let _entered = span.enter();
    let probe = route.starts_with("/health") || route.as_ref() == "/metrics";
    if status.is_server_error() {
        tracing::warn!(event = "http_request", route = %route, status = status.as_u16(), duration_ms, "request failed");
    } else if probe {
        tracing::debug!(event = "http_request", route = %route, status = status.as_u16(), duration_ms, "request completed");
    } else {
        tracing::info!(event = "http_request", route = %route, status = status.as_u16(), duration_ms, "request completed");
    }
    if elapsed > settings.slow_request_threshold {
        tracing::warn!(
            event = "slow_request",
            route = %route,
            duration_ms,
            threshold_ms = settings.slow_request_threshold.as_millis() as u64,
            "slow request"
        );
    }
    response.headers_mut().insert(REQUEST_ID, header);
    response
}
