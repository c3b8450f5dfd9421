//! Delivering the audit trail to a webhook (`AUTH_AUDIT_WEBHOOK_URL`), so
//! a SIEM can consume it. The trail itself is the durable queue: one
//! replica at a time (a store lease) POSTs the events after the saved
//! position, up to [`BATCH`] a request, and saves the position once the
//! receiver answered 2xx. A refusal or a timeout is retried with the same
//! events after 1 s, 2 s, 4 s, … at most [`MAX_DELAY`] apart, so nothing
//! is lost while the receiver is down (within `AUTH_AUDIT_RETENTION`).
//! An event is delivered twice only when the replica stops between the
//! receiver's answer and the saved position; `audit_id` tells them apart.
//!
//! The body is `{"events": [...]}`, each event its log line with
//! `audit_id`. `X-Auth-Service-Timestamp` is the Unix time of the request,
//! and `X-Auth-Service-Signature` is `sha256=` and the hex HMAC-SHA256 of
//! `TIMESTAMP.BODY` under `AUTH_AUDIT_WEBHOOK_SECRET`: a receiver checks it
//! and refuses an old timestamp, so a recorded request cannot be replayed
//! later. The target is held to the outbound SSRF policy (docs/security.md
//! 30): https to public addresses, or to those in
//! `AUTH_AUDIT_WEBHOOK_ALLOW` (over http as well).

use std::time::Duration;

use aws_lc_rs::hmac;
use hyper::body::Bytes;
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::config::AuditWebhook;
use crate::ops::outbound::{Outbound, Policy};
use crate::services::Ctx;

/// Events in one request.
pub const BATCH: usize = 100;
/// The longest wait between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(300);
/// How often a caught-up deliverer looks for new events.
const POLL: Duration = Duration::from_secs(1);
/// The lease that makes one replica the deliverer; renewed at each round,
/// so it outlives a round's timeout with room to spare.
const LEASE: &str = "audit-webhook";
const LEASE_SECONDS: i64 = 30;
/// The name the position is saved under.
const READER: &str = "webhook";

/// `sha256=` and the hex HMAC-SHA256 of `timestamp.body`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut context = hmac::Context::with_key(&key);
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    let tag = context.sign();
    let mut text = String::with_capacity(7 + 64);
    text.push_str("sha256=");
    for byte in tag.as_ref() {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// Starts the deliverer when a webhook is configured.
pub fn spawn(ctx: Ctx) -> Option<JoinHandle<()>> {
    let webhook = ctx.config.audit_webhook.clone()?;
    Some(tokio::spawn(deliver(ctx, webhook)))
}

async fn deliver(ctx: Ctx, webhook: AuditWebhook) {
    let outbound = match Outbound::new(Policy {
        allow: webhook.allow.clone(),
        http_inside: true,
    }) {
        Ok(outbound) => outbound,
        Err(e) => {
            tracing::error!(event = "audit_webhook_unavailable", error = %e, "the audit trail cannot be delivered");
            return;
        }
    };
    let holder = uuid::Uuid::new_v4().to_string();
    let mut delay = Duration::from_secs(1);
    loop {
        match round(&ctx, &webhook, &outbound, &holder).await {
            Ok(Round::Delivered) => delay = Duration::from_secs(1),
            Ok(Round::Idle) => tokio::time::sleep(POLL).await,
            Err(reason) => {
                tracing::warn!(
                    event = "audit_webhook_failed",
                    reason = %reason,
                    retry_in_seconds = delay.as_secs(),
                    "the audit webhook did not take the events; trying again"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_DELAY);
            }
        }
    }
}

enum Round {
    /// A batch was taken: go on at once.
    Delivered,
    /// Nothing to send, or another replica delivers.
    Idle,
}

async fn round(
    ctx: &Ctx,
    webhook: &AuditWebhook,
    outbound: &Outbound,
    holder: &str,
) -> Result<Round, String> {
    let store = &ctx.store;
    let failed = |e: store::Error| e.to_string();
    if !store
        .acquire_lease(LEASE, holder, LEASE_SECONDS)
        .await
        .map_err(failed)?
    {
        return Ok(Round::Idle);
    }
    let cursor = store.audit_cursor(READER).await.map_err(failed)?;
    let events = match store.audit_after(cursor.as_deref(), BATCH).await {
        Ok(events) => events,
        // The saved position is of another backend (a restore): start over.
        Err(store::Error::NotFound) => store.audit_after(None, BATCH).await.map_err(failed)?,
        Err(e) => return Err(failed(e)),
    };
    let Some(last) = events.last().map(|e| e.id.clone()) else {
        return Ok(Round::Idle);
    };
    let lines: Vec<Value> = events
        .iter()
        .map(|event| {
            let mut line: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
            if let Some(object) = line.as_object_mut() {
                object.insert("audit_id".into(), Value::String(event.id.clone()));
            }
            line
        })
        .collect();
    let body = Bytes::from(serde_json::json!({ "events": lines }).to_string());
    let timestamp = ctx.clock.now();
    let headers = [
        ("x-auth-service-timestamp", timestamp.to_string()),
        (
            "x-auth-service-signature",
            signature(webhook.secret.expose(), timestamp, &body),
        ),
    ];
    outbound
        .post_json(&webhook.url, body, &headers)
        .await
        .map_err(|e| e.to_string())?;
    store
        .set_audit_cursor(READER, &last)
        .await
        .map_err(failed)?;
    metrics::counter!("auth_audit_webhook_events_total").increment(events.len() as u64);
    Ok(Round::Delivered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        let secret = "Jefe";
        let tag = signature(secret, 1_700_000_000, b"{}");
        assert!(tag.starts_with("sha256="), "{tag}");
        assert_eq!(tag.len(), 7 + 64);
        assert_ne!(tag, signature(secret, 1_700_000_001, b"{}"));
        assert_ne!(tag, signature("Jeff", 1_700_000_000, b"{}"));
        // Known answer, computed independently with Python's hmac module:
        // hmac.new(b"Jefe", b"1700000000.{}", "sha256").hexdigest()
        assert_eq!(
            tag,
            "sha256=d3793e2b4103edfbd98cc19591832f5fad701d413db9fcae0ae7dab8184ed207"
        );
    }
}
