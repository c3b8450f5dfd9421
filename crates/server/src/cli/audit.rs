//! `auth-service audit tail [--lines N] [--event NAME] [--follow]`: the
//! audit trail (`services::audit`) as JSON lines, oldest first, each the
//! security event's log line with the trail's `audit_id`.

use std::time::Duration;

use clap::Subcommand;
use serde_json::Value;
use store::AuditEvent;

use super::{CliError, Context};
use crate::services::audit::{Filter, after, newest};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the newest security events, oldest first, one JSON object a line.
    Tail {
        /// How many events.
        #[arg(long, short = 'n', default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=10_000))]
        lines: u16,
        /// Only events of this name (e.g. login_failed).
        #[arg(long, value_name = "NAME")]
        event: Option<String>,
        /// Keep printing new events as they are appended, until interrupted.
        #[arg(long, short = 'f')]
        follow: bool,
    },
}

/// How often `--follow` asks the store for new events.
const FOLLOW_POLL: Duration = Duration::from_secs(1);

fn print(event: &AuditEvent) -> Result<(), CliError> {
    let mut line: Value = serde_json::from_str(&event.data)
        .map_err(|e| CliError::runtime(format!("audit event {} is not JSON: {e}", event.id)))?;
    if let Some(object) = line.as_object_mut() {
        object.insert("audit_id".into(), Value::String(event.id.clone()));
    }
    println!("{line}");
    Ok(())
}

pub async fn run(command: AuditCommand, ctx: Context) -> Result<(), CliError> {
    let AuditCommand::Tail {
        lines,
        event,
        follow,
    } = command;
    let filter = Filter { event };
    let shown = newest(&ctx, &filter, usize::from(lines)).await?;
    for event in &shown {
        print(event)?;
    }
    if !follow {
        return Ok(());
    }
    // From the newest event now, whether or not it passed the filter.
    let mut cursor = ctx.store.audit_before(None, 1).await?.pop().map(|e| e.id);
    let stop = crate::startup::shutdown_signal();
    tokio::pin!(stop);
    loop {
        let (events, next) = after(&ctx, &filter, cursor.as_deref(), 500).await?;
        for event in &events {
            print(event)?;
        }
        let caught_up = next == cursor;
        cursor = next;
        if caught_up {
            tokio::select! {
                () = &mut stop => return Ok(()),
                () = tokio::time::sleep(FOLLOW_POLL) => {}
            }
        }
    }
}
