//! Logs: one JSON object per line on stdout by default, or human-readable
//! lines with `AUTH_LOG_FORMAT=pretty`.
//!
//! The JSON line is flat, as docs/operations.md names the fields: `timestamp`
//! (RFC 3339 UTC), `level`, `target`, `message`, the event's own fields
//! (`event`, `outcome`, `error`, …), and the fields of every enclosing span
//! (so `request_id` appears on every line logged while serving a request).
//!
//! What it does not do: decide what is secret. Secrets never reach a log
//! call, because they are [`Secret`](crate::secret::Secret)s that print
//! `[REDACTED]`.

use std::fmt;
use std::io;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt as subscriber_fmt};

use crate::config::LogFormat;

/// Installs the process's log subscriber. Like stdout itself, the subscriber
/// is process-wide; a second call (tests) leaves the first in place.
pub fn init(format: LogFormat, level: &str) {
    init_with_writer(format, level, io::stdout);
}

/// `level` with the WebAuthn library silenced unless it names it: the
/// library logs every refused ceremony at ERROR (a browser's wrong
/// answer, not our failure), and its debug lines are whole credentials.
/// Our own events (`mfa_challenge_failed` with a `reason`) say what
/// happened.
fn with_quiet_libraries(level: &str) -> String {
    if level.contains("webauthn") {
        level.to_owned()
    } else {
        format!("{level},webauthn_rs_core=off,webauthn_rs=off")
    }
}

pub fn init_with_writer<W>(format: LogFormat, level: &str, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    // The level was validated with the config; fall back rather than fail.
    let filter =
        EnvFilter::try_new(with_quiet_libraries(level)).unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = match format {
        LogFormat::Json => subscriber_fmt::layer()
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
        LogFormat::Pretty => subscriber_fmt::layer()
            .with_target(false)
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
    };
    // Security events reach the audit trail whatever the log level.
    let audit = super::audit::AuditLayer
        .with_filter(Targets::new().with_target(env!("CARGO_CRATE_NAME"), tracing::Level::INFO));
    let _ = tracing_subscriber::registry()
        .with(lines)
        .with(audit)
        .try_init();
}

/// The flat JSON line formatter.
struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        let timestamp = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        line.insert("timestamp".into(), Value::String(timestamp));
        line.insert("level".into(), Value::String(meta.level().as_str().into()));
        line.insert("target".into(), Value::String(meta.target().into()));
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                // With `JsonFields`, a span's recorded fields are a JSON object.
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&fields.fields)
                {
                    line.extend(fields);
                }
            }
        }
        event.record(&mut FieldVisitor(&mut line));
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

pub(super) struct FieldVisitor<'a>(pub(super) &'a mut Map<String, Value>);

impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().into(), Value::String(value.into()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // The whole cause chain, once, in the request's line.
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        self.0.insert(field.name().into(), Value::String(text));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::String(format!("{value:?}")));
    }
}
