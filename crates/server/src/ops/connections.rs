//! The HTTP/1.1 listener, with the limits a public service needs
//! (docs/security.md 27). `axum::serve` starts hyper without a timer, which turns
//! off hyper's header-read timeout, and has no idle timeout or connection
//! cap: trickling or idle connections stayed open forever, and at the file
//! descriptor limit the service stopped accepting anyone. Here:
//!
//! - **header-read timeout**: a request's headers must arrive within
//!   `AUTH_HTTP_HEADER_TIMEOUT` (hyper's own timer);
//! - **idle timeout**: a keep-alive connection with no request in flight for
//!   `AUTH_HTTP_IDLE_TIMEOUT` is closed;
//! - **connection cap**: at most `AUTH_HTTP_MAX_CONNECTIONS` connections
//!   (by default three quarters of the file-descriptor limit). At the cap,
//!   idle connections are shed first, so a flood of idle or trickling
//!   connections cannot keep out a client that sends a real request;
//! - at startup the soft `RLIMIT_NOFILE` is raised to the hard limit.
//!
//! The request timeout (body and handler) is a tower layer on the router
//! ([`crate::routes::router`]). Graceful shutdown: when `closing` turns true
//! the listener stops accepting, every connection finishes its in-flight
//! request and closes, and [`serve`] returns once all are gone.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};
use tower::ServiceExt;

use crate::config::HttpLimits;

/// A connection idle for less than this is not shed at the cap: it may be a
/// client about to send its first request.
const SHED_AFTER: Duration = Duration::from_millis(500);
/// How often a connection checks its idle time.
const IDLE_TICK: Duration = Duration::from_millis(250);
/// How often a full listener asks idle connections to go again.
const SHED_TICK: Duration = Duration::from_millis(100);

/// Raises the soft file-descriptor limit to the hard one and returns the
/// connection cap to use: the configured one, or three quarters of the
/// limit (the rest is for the store, the log and the runtime).
pub fn prepare(limits: &HttpLimits) -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let before = getrlimit(Resource::Nofile);
    let mut raised = before;
    if before.current != before.maximum {
        raised.current = before.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(event = "fd_limit_not_raised", error = %e, "could not raise the file-descriptor limit");
            raised = before;
        }
    }
    // `None` is unlimited; a cap is still needed for memory's sake.
    let soft = raised.current.unwrap_or(1 << 20);
    let derived = usize::try_from(soft / 4 * 3)
        .unwrap_or(usize::MAX)
        .clamp(16, 100_000);
    let cap = match limits.max_connections {
        Some(wanted) if wanted > derived => {
            tracing::warn!(
                event = "connection_cap_lowered",
                wanted,
                cap = derived,
                "AUTH_HTTP_MAX_CONNECTIONS is above three quarters of the file-descriptor limit; lowered"
            );
            derived
        }
        Some(wanted) => wanted,
        None => derived,
    };
    tracing::info!(
        event = "connection_limits",
        fd_soft_limit_before = before.current,
        fd_soft_limit = raised.current,
        fd_hard_limit = raised.maximum,
        max_connections = cap,
        header_timeout_ms = limits.header_timeout.as_millis() as u64,
        idle_timeout_ms = limits.idle_timeout.as_millis() as u64,
        request_timeout_ms = limits.request_timeout.as_millis() as u64,
        "connection limits"
    );
    cap
}

/// What one connection is doing, for the idle timeout and shedding.
#[derive(Debug)]
struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `started` of the last request start or end.
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// How long no request has been in flight; zero while one is.
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

/// Counts a request in flight while alive.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        activity.touch();
        Self(Arc::clone(activity))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves `app` on `listener` until `closing` turns true and every
/// connection has finished.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    max_connections: usize,
    mut closing: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(max_connections));
    let shed = Arc::new(Notify::new());
    metrics::gauge!("auth_http_connections_max").set(max_connections as f64);
    loop {
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                metrics::counter!("auth_http_connection_cap_reached_total").increment(1);
                let waited = async {
                    loop {
                        shed.notify_waiters();
                        if let Ok(Ok(permit)) =
                            tokio::time::timeout(SHED_TICK, Arc::clone(&slots).acquire_owned())
                                .await
                        {
                            return permit;
                        }
                    }
                };
                tokio::select! {
                    permit = waited => permit,
                    _ = closing.wait_for(|c| *c) => break,
                }
            }
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = closing.wait_for(|c| *c) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // EMFILE and friends: back off briefly rather than spin.
                tracing::warn!(event = "accept_failed", error = %e, "could not accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            app: app.clone(),
            limits,
            peer,
            closing: closing.clone(),
            shed: Arc::clone(&shed),
        };
        tokio::spawn(async move {
            connection.run(stream).await;
            drop(permit);
        });
    }
    drop(listener);
    // Every connection holds a slot until it is gone.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

struct Connection {
    app: Router,
    limits: HttpLimits,
    peer: SocketAddr,
    closing: watch::Receiver<bool>,
    shed: Arc<Notify>,
}

impl Connection {
    async fn run(mut self, stream: tokio::net::TcpStream) {
        let activity = Arc::new(Activity::new());
        let service = {
            let (app, peer, activity) = (self.app.clone(), self.peer, Arc::clone(&activity));
            tower::service_fn(move |mut request: hyper::Request<Incoming>| {
                let in_flight = InFlight::start(&activity);
                request.extensions_mut().insert(ConnectInfo(peer));
                let app = app.clone();
                async move {
                    let response = app.oneshot(request.map(axum::body::Body::new)).await;
                    drop(in_flight);
                    response
                }
            })
        };
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout)
            .keep_alive(true);
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        tokio::pin!(connection);
        let mut ticks = tokio::time::interval(IDLE_TICK);
        let mut ending = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, peer = %self.peer, "connection ended with an error");
                    }
                    return;
                }
                _ = self.closing.wait_for(|c| *c), if !ending => {
                    ending = true;
                    connection.as_mut().graceful_shutdown();
                }
                _ = ticks.tick(), if !ending => {
                    if activity.idle_for() >= self.limits.idle_timeout {
                        ending = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
                () = self.shed.notified(), if !ending => {
                    if activity.idle_for() >= SHED_AFTER {
                        ending = true;
                        metrics::counter!("auth_http_connections_shed_total").increment(1);
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}
