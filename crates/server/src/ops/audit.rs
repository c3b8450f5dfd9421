//! The audit trail's intake: a tracing layer that copies every security
//! event (`category = "security"`, docs/operations.md) into a bounded
//! channel, as the same flat JSON object the log line is, for
//! `services::audit` to append to the store.
//!
//! The layer sits beside the log formatter with its own filter, so the
//! trail is whole whatever `AUTH_LOG_LEVEL` hides (the CLI logs only
//! warnings, yet its `user mfa reset` is in the trail). Logging never
//! waits for the store: when the channel is full (the store is down for
//! long) an event is dropped and counted,
//! `auth_audit_events_total{outcome="dropped"}`.

use std::sync::OnceLock;

use serde_json::{Map, Value};
use store::AuditEntry;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{mpsc, oneshot};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::FormattedFields;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::logging::FieldVisitor;

/// How many events may wait for the store.
pub const CAPACITY: usize = 10_000;

/// What the writer receives: an event, or a request to answer once every
/// event sent before it is appended.
#[derive(Debug)]
pub enum Intake {
    Event(AuditEntry),
    Flush(oneshot::Sender<()>),
}

static SINK: OnceLock<mpsc::Sender<Intake>> = OnceLock::new();

/// Opens the process's intake: the receiver for its writer, or `None` if
/// one is open already (the first writer of the process keeps it).
pub fn open() -> Option<mpsc::Receiver<Intake>> {
    let (tx, rx) = mpsc::channel(CAPACITY);
    SINK.set(tx).ok().map(|()| rx)
}

/// Waits until every event logged before the call is appended (or the
/// writer is gone): before a CLI command exits.
pub async fn flush() {
    let Some(sink) = SINK.get() else { return };
    let (tx, rx) = oneshot::channel();
    if sink.send(Intake::Flush(tx)).await.is_ok() {
        let _ = rx.await;
    }
}

/// The layer; install with a filter that passes this crate's INFO events.
#[derive(Debug)]
pub struct AuditLayer;

/// Finds `category` without allocating: most events are not security ones.
#[derive(Default)]
struct IsSecurity(bool);

impl Visit for IsSecurity {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "category" && value == "security" {
            self.0 = true;
        }
    }
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl<S> Layer<S> for AuditLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(sink) = SINK.get() else { return };
        let mut security = IsSecurity::default();
        event.record(&mut security);
        if !security.0 {
            return;
        }
        let now = OffsetDateTime::now_utc();
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::String(now.format(&Rfc3339).unwrap_or_default()),
        );
        line.insert("level".into(), Value::String(meta.level().as_str().into()));
        line.insert("target".into(), Value::String(meta.target().into()));
        // The request's span fields (`request_id`), as the JSON log line
        // has them.
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<JsonFields>>()
                    && let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&fields.fields)
                {
                    line.extend(fields);
                }
            }
        }
        event.record(&mut FieldVisitor(&mut line));
        let entry = AuditEntry {
            at: now.unix_timestamp(),
            data: Value::Object(line).to_string(),
        };
        if sink.try_send(Intake::Event(entry)).is_err() {
            metrics::counter!("auth_audit_events_total", "outcome" => "dropped").increment(1);
        }
    }
}
