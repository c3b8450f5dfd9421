//! The audit trail: every security event of every replica (and of the
//! CLI), appended to the store by one writer per process from the intake
//! (`ops::audit`), kept `AUTH_AUDIT_RETENTION` (30 days by default) and
//! read back oldest or newest first (`audit tail`).
//!
//! An event is appended once it is in the channel; a store that fails is
//! tried again with back-off while the channel holds what comes meanwhile
//! (`ops::audit::CAPACITY` events), so an outage shorter than that loses
//! nothing. A replica killed with events in its channel loses those: the
//! log lines are their record.

use std::time::Duration;

use store::{AuditEntry, AuditEvent};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::ops::audit::Intake;
use crate::services::Ctx;

pub mod webhook;

/// Events appended in one store call.
const BATCH: usize = 256;
/// How often each replica removes what is past the retention.
const PURGE_EVERY: Duration = Duration::from_secs(600);
/// Events removed in one store call.
const PURGE_BATCH: usize = 5_000;

/// Whether a writer also removes what is past the retention: a server
/// does, at its start and every [`PURGE_EVERY`]; a CLI command, which
/// lives for a moment, does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    Yes,
    No,
}

/// Starts this process's writer, if no other has the intake.
pub fn spawn(ctx: Ctx, purge: Purge) -> Option<JoinHandle<()>> {
    let intake = crate::ops::audit::open()?;
    Some(tokio::spawn(write(ctx, intake, purge)))
}

async fn write(ctx: Ctx, mut intake: mpsc::Receiver<Intake>, purging: Purge) {
    let mut received = Vec::with_capacity(BATCH);
    let mut purge = tokio::time::interval(PURGE_EVERY);
    loop {
        tokio::select! {
            count = intake.recv_many(&mut received, BATCH) => {
                if count == 0 {
                    return;
                }
                let mut events = Vec::with_capacity(count);
                let mut flushes = Vec::new();
                for item in received.drain(..) {
                    match item {
                        Intake::Event(entry) => events.push(entry),
                        Intake::Flush(done) => flushes.push(done),
                    }
                }
                append(&ctx, &events).await;
                for done in flushes {
                    let _ = done.send(());
                }
            }
            _ = purge.tick(), if purging == Purge::Yes => purge_old(&ctx).await,
        }
    }
}

/// Appends `events`, trying again (1 s, 2 s, … at most 30 s apart) until
/// the store takes them.
async fn append(ctx: &Ctx, events: &[AuditEntry]) {
    if events.is_empty() {
        return;
    }
    let mut delay = Duration::from_secs(1);
    loop {
        match ctx.store.append_audit(events).await {
            Ok(()) => {
                metrics::counter!("auth_audit_events_total", "outcome" => "appended")
                    .increment(events.len() as u64);
                return;
            }
            Err(e) => {
                // Not a security event: it would come back here.
                tracing::warn!(
                    event = "audit_append_failed",
                    error = %e,
                    events = events.len(),
                    retry_in_seconds = delay.as_secs(),
                    "could not append to the audit trail; trying again"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

async fn purge_old(ctx: &Ctx) {
    let retention = i64::try_from(ctx.config.audit_retention.as_secs()).unwrap_or(i64::MAX);
    let cutoff = ctx.clock.now().saturating_sub(retention);
    loop {
        match ctx.store.purge_audit(cutoff, PURGE_BATCH).await {
            Ok(removed) if removed == PURGE_BATCH => continue,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(event = "audit_purge_failed", error = %e, "could not purge the audit trail; will try again");
                return;
            }
        }
    }
}

/// What to read of the trail.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only events of this name (`login_failed`, …).
    pub event: Option<String>,
}

impl Filter {
    fn keeps(&self, event: &AuditEvent) -> bool {
        let Some(name) = &self.event else { return true };
        serde_json::from_str::<serde_json::Value>(&event.data)
            .is_ok_and(|data| data["event"].as_str() == Some(name))
    }
}

/// How many events one read may look at to find its matches.
pub const SCAN_BUDGET: usize = 10_000;

/// The newest `count` events that pass `filter`, oldest first, looking
/// at no more than [`SCAN_BUDGET`] events.
pub async fn newest(
    ctx: &Ctx,
    filter: &Filter,
    count: usize,
) -> Result<Vec<AuditEvent>, store::Error> {
    let mut found = Vec::new();
    let mut before: Option<String> = None;
    let mut scanned = 0;
    while found.len() < count && scanned < SCAN_BUDGET {
        let page = ctx.store.audit_before(before.as_deref(), 500).await?;
        let Some(last) = page.last() else { break };
        before = Some(last.id.clone());
        scanned += page.len();
        found.extend(page.into_iter().filter(|e| filter.keeps(e)));
    }
    found.truncate(count);
    found.reverse();
    Ok(found)
}

/// The events after `after` that pass `filter`, oldest first (at most
/// `count` looked at), and the id to continue from.
pub async fn after(
    ctx: &Ctx,
    filter: &Filter,
    after: Option<&str>,
    count: usize,
) -> Result<(Vec<AuditEvent>, Option<String>), store::Error> {
    let page = ctx.store.audit_after(after, count).await?;
    let next = page
        .last()
        .map(|e| e.id.clone())
        .or_else(|| after.map(str::to_owned));
    Ok((page.into_iter().filter(|e| filter.keeps(e)).collect(), next))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use store::sqlite::SqliteStore;
    use store::{Store, TestClock};

    use super::*;

    const DAY: i64 = 86_400;

    #[tokio::test]
    async fn the_purge_keeps_the_retention_and_filters_read_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let clock = TestClock::new(1_800_000_000);
        let config = crate::config::Config::load_from(None, &|name| {
            (name == "AUTH_AUDIT_RETENTION").then(|| "7d".to_owned())
        })
        .unwrap();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("auth.db"), Arc::new(clock.clone())).unwrap(),
        );
        let mut ctx = Ctx::new(
            config,
            store,
            crate::keys::MasterKey::from_bytes(&[7; 32]).unwrap(),
        )
        .unwrap();
        ctx.clock = Arc::new(clock.clone());
        let entry = |days: i64, event: &str| AuditEntry {
            at: 1_800_000_000 + days * DAY,
            data: serde_json::json!({"event": event, "day": days}).to_string(),
        };
        ctx.store
            .append_audit(&[entry(0, "a"), entry(1, "b"), entry(5, "a"), entry(9, "b")])
            .await
            .unwrap();
        clock.advance(9 * DAY);
        purge_old(&ctx).await;
        let left = newest(&ctx, &Filter::default(), 10).await.unwrap();
        let days: Vec<i64> = left
            .iter()
            .map(|e| {
                serde_json::from_str::<serde_json::Value>(&e.data).unwrap()["day"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(days, [5, 9], "older than 7 days is gone");
        let only_b = Filter {
            event: Some("b".into()),
        };
        let found = newest(&ctx, &only_b, 10).await.unwrap();
        assert_eq!(found.len(), 1);
        let (after_first, next) = after(&ctx, &only_b, Some(&left[0].id), 10).await.unwrap();
        assert_eq!(after_first, found);
        assert_eq!(next.as_deref(), Some(left[1].id.as_str()));
    }
}
