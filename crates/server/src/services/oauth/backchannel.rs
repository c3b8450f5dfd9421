//! OpenID Connect Back-Channel Logout 1.0. A client that registered a
//! `backchannel_logout_uri` and received tokens in a browser session is
//! recorded with the session's `sid` ([`record`]). When the session ends
//! (RP-initiated logout, a credential change or "sign out everywhere",
//! deactivation, deletion, an operator's MFA reset), a notice per client
//! is queued in the store ([`sessions_ended`]), and every replica's
//! [`spawn`]ed worker delivers what is due: a logout token
//! (`oauth::backchannel_logout`) signed at each attempt with the client's
//! ID token algorithm, POSTed under the SSRF policy of `ops::outbound`
//! (`AUTH_BACKCHANNEL_LOGOUT_ALLOW` for the operator's own network).
//!
//! Delivery is at least once. A notice is leased to one replica at a time
//! ([`LEASE_SECONDS`], far beyond `outbound::TIMEOUT`), so a replica that
//! dies mid-delivery leaves it to come due again, not lost; a failed
//! attempt is retried with doubling delays (1 s, 2 s, … capped at
//! [`MAX_DELAY_SECONDS`]) up to [`MAX_ATTEMPTS`] times (about 27 minutes),
//! then given up and logged. The `jti` is the notice's id at every attempt,
//! so a receiver that saw a token whose answer was lost can tell the retry.

use std::time::Duration;

use oauth::backchannel_logout::{Events, LIFETIME_SECONDS, LogoutToken, TYP};
use store::{LogoutNotice, SessionClient, Store};

use crate::config::seconds;
use crate::jwt;
use crate::ops::outbound::{Outbound, Policy};
use crate::services::Ctx;

/// How many notices one replica takes from the queue at a time.
pub const BATCH: usize = 32;
/// How long a leased notice stays hidden from the other replicas.
pub const LEASE_SECONDS: i64 = 20;
/// Attempts before a notice is given up.
pub const MAX_ATTEMPTS: u32 = 12;
/// The longest wait between two attempts.
pub const MAX_DELAY_SECONDS: i64 = 600;
/// How often an idle worker looks at the queue for notices other replicas
/// (or the command line) queued and retries that came due; a session that
/// ends on this replica wakes it at once (`Ctx::logouts`).
const POLL: Duration = Duration::from_secs(1);

/// Records that `client` received tokens in session `sid` of `user_id`,
/// if it wants to hear of the session's end (and there is a session: a
/// device grant has none). One store write, for such clients only.
pub async fn record(
    ctx: &Ctx,
    client: &store::ClientRecord,
    user_id: &str,
    sid: Option<&str>,
) -> Result<(), store::Error> {
    let (Some(_), Some(sid)) = (&client.metadata.backchannel_logout_uri, sid) else {
        return Ok(());
    };
    ctx.store
        .record_session_client(&SessionClient {
            user_id: user_id.to_owned(),
            sid: sid.to_owned(),
            client_id: client.client_id.clone(),
            // No session outlives its maximum age from now.
            expires_at: ctx.clock.now() + seconds(ctx.config.session_max_age),
        })
        .await
}

/// Which of a user's sessions ended.
#[derive(Debug, Clone, Copy)]
pub enum Ended<'a> {
    /// One session, by `sid`.
    Session(&'a str),
    /// Every session, but the one with this `sid` if any (the browser
    /// that changed a credential stays signed in).
    All { except: Option<&'a str> },
}

/// Queues a logout notice for every client recorded in the sessions that
/// ended, then forgets them; how many were queued. Queued first: if the
/// store fails in between, a retry queues the same notices again (their
/// ids derive from sid and client), which the store ignores.
pub async fn sessions_ended(
    store: &dyn Store,
    now: i64,
    user_id: &str,
    ended: Ended<'_>,
) -> Result<usize, store::Error> {
    let entries: Vec<SessionClient> = store
        .session_clients(user_id)
        .await?
        .into_iter()
        .filter(|entry| match ended {
            Ended::Session(sid) => entry.sid == sid,
            Ended::All { except } => except != Some(entry.sid.as_str()),
        })
        .collect();
    if entries.is_empty() {
        return Ok(0);
    }
    let notices: Vec<LogoutNotice> = entries
        .iter()
        .map(|entry| LogoutNotice {
            id: notice_id(&entry.sid, &entry.client_id),
            client_id: entry.client_id.clone(),
            user_id: user_id.to_owned(),
            sid: Some(entry.sid.clone()),
            attempts: 0,
            due_at: now,
            queued_at: now,
        })
        .collect();
    store.queue_logout_notices(&notices).await?;
    store.forget_session_clients(user_id, &entries).await?;
    for notice in &notices {
        tracing::info!(
            category = "security",
            event = "backchannel_logout_queued",
            user_id = %user_id,
            client_id = %notice.client_id,
            jti = %notice.id,
            outcome = "success",
            "a logout token is queued for the client"
        );
    }
    Ok(notices.len())
}

/// The notice (and `jti`) of one session's end for one client.
fn notice_id(sid: &str, client_id: &str) -> String {
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    digest.update(sid.as_bytes());
    digest.update(&[0]);
    digest.update(client_id.as_bytes());
    crate::keys::hex(&digest.finish().as_ref()[..16])
}

/// The wait after `attempts` failed attempts.
fn delay(attempts: u32) -> i64 {
    (1_i64 << attempts.saturating_sub(1).min(20)).min(MAX_DELAY_SECONDS)
}

/// Starts this replica's delivery worker; it runs until the process ends.
pub fn spawn(ctx: Ctx) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let outbound = match Outbound::new(Policy {
            allow: ctx.config.backchannel_logout_allow.clone(),
            http_inside: true,
        }) {
            Ok(outbound) => outbound,
            Err(e) => {
                tracing::error!(error = %e, "back-channel logout tokens cannot be delivered");
                return;
            }
        };
        let mut failing = false;
        loop {
            match ctx.store.lease_logout_notices(BATCH, LEASE_SECONDS).await {
                Ok(notices) if notices.is_empty() => {
                    // A wake-up that came while delivering is kept (a
                    // stored permit), so none is missed.
                    let _ = tokio::time::timeout(POLL, ctx.logouts.notified()).await;
                }
                Ok(notices) => {
                    failing = false;
                    let mut deliveries = tokio::task::JoinSet::new();
                    for notice in notices {
                        let (ctx, outbound) = (ctx.clone(), outbound.clone());
                        deliveries.spawn(async move { settle(&ctx, &outbound, notice).await });
                    }
                    while deliveries.join_next().await.is_some() {}
                }
                Err(e) => {
                    // Once per outage, not once a second.
                    if !failing {
                        tracing::warn!(error = %e, "the back-channel logout queue cannot be read");
                    }
                    failing = true;
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    })
}

/// Why a delivery did not succeed.
#[derive(Debug, thiserror::Error)]
enum Undelivered {
    /// Nothing to deliver to any more: the notice is dropped.
    #[error("{0}")]
    Gone(&'static str),
    /// Worth another attempt.
    #[error("{0}")]
    Failed(String),
}

/// One attempt at `notice`, and what follows from it in the queue.
async fn settle(ctx: &Ctx, outbound: &Outbound, mut notice: LogoutNotice) {
    let outcome = deliver(ctx, outbound, &notice).await;
    let now = ctx.clock.now();
    let settled = match &outcome {
        Ok(()) => {
            let waited = (now - notice.queued_at).max(0);
            metrics::counter!("auth_backchannel_logout_deliveries_total", "outcome" => "delivered")
                .increment(1);
            #[allow(clippy::cast_precision_loss)]
            metrics::histogram!("auth_backchannel_logout_delay_seconds").record(waited as f64);
            tracing::info!(
                category = "security",
                event = "backchannel_logout_delivered",
                user_id = %notice.user_id,
                client_id = %notice.client_id,
                jti = %notice.id,
                attempts = notice.attempts + 1,
                queued_seconds = waited,
                outcome = "success",
                "the client was told of the logout"
            );
            ctx.store.remove_logout_notice(&notice.id).await
        }
        Err(e) => {
            notice.attempts += 1;
            let gone = matches!(e, Undelivered::Gone(_));
            if gone || notice.attempts >= MAX_ATTEMPTS {
                metrics::counter!("auth_backchannel_logout_deliveries_total", "outcome" => "abandoned")
                    .increment(1);
                tracing::warn!(
                    category = "security",
                    event = "backchannel_logout_abandoned",
                    user_id = %notice.user_id,
                    client_id = %notice.client_id,
                    jti = %notice.id,
                    attempts = notice.attempts,
                    reason = %e,
                    outcome = "failure",
                    "the client could not be told of the logout; it was given up"
                );
                ctx.store.remove_logout_notice(&notice.id).await
            } else {
                notice.due_at = now + delay(notice.attempts);
                metrics::counter!("auth_backchannel_logout_deliveries_total", "outcome" => "retried")
                    .increment(1);
                tracing::warn!(
                    category = "security",
                    event = "backchannel_logout_failed",
                    user_id = %notice.user_id,
                    client_id = %notice.client_id,
                    jti = %notice.id,
                    attempts = notice.attempts,
                    retry_in_seconds = notice.due_at - now,
                    reason = %e,
                    outcome = "failure",
                    "delivering a logout token failed; it will be tried again"
                );
                match ctx.store.reschedule_logout_notice(&notice).await {
                    // Another replica settled it meanwhile (its lease ran out).
                    Err(store::Error::NotFound) => Ok(()),
                    other => other,
                }
            }
        }
    };
    // The lease brings the notice back if this did not stick.
    if let Err(e) = settled {
        tracing::warn!(error = %e, jti = %notice.id, "a logout notice could not be settled; it comes due again");
    }
}

/// Signs the notice's logout token and POSTs it to the client.
async fn deliver(ctx: &Ctx, outbound: &Outbound, notice: &LogoutNotice) -> Result<(), Undelivered> {
    let client = match ctx.store.get_client(&notice.client_id).await {
        Ok(client) => client,
        Err(store::Error::NotFound) => return Err(Undelivered::Gone("the client was deleted")),
        Err(e) => return Err(Undelivered::Failed(e.to_string())),
    };
    let Some(uri) = &client.metadata.backchannel_logout_uri else {
        return Err(Undelivered::Gone(
            "the client has no backchannel_logout_uri any more",
        ));
    };
    let alg = super::sign::id_token_alg(&client).map_err(|e| Undelivered::Failed(e.to_string()))?;
    let signer = ctx
        .keys
        .signer(alg)
        .ok_or_else(|| Undelivered::Failed(format!("no active {alg} signing key is loaded")))?;
    let now = ctx.clock.now();
    let claims = LogoutToken {
        iss: &ctx.config.issuer,
        aud: &client.client_id,
        iat: now,
        exp: now + LIFETIME_SECONDS,
        jti: &notice.id,
        sub: &notice.user_id,
        sid: notice.sid.as_deref(),
        events: Events,
    };
    let token = jwt::sign(&signer, TYP, &claims).map_err(|e| Undelivered::Failed(e.to_string()))?;
    outbound
        .post_form(uri, &[("logout_token", &token)])
        .await
        .map_err(|e| Undelivered::Failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let delays: Vec<i64> = (1..=MAX_ATTEMPTS).map(delay).collect();
        assert_eq!(delays[..4], [1, 2, 4, 8]);
        assert_eq!(delays.last(), Some(&MAX_DELAY_SECONDS));
        // Given up after about 27 minutes of trying.
        let total: i64 = delays[..delays.len() - 1].iter().sum();
        assert_eq!(total, 1 + 2 + 4 + 8 + 16 + 32 + 64 + 128 + 256 + 512 + 600);
    }

    #[test]
    fn a_notice_id_names_one_session_and_one_client() {
        assert_eq!(notice_id("s", "c"), notice_id("s", "c"));
        assert_ne!(notice_id("s", "c"), notice_id("s", "d"));
        // The separator keeps "ab"+"c" apart from "a"+"bc".
        assert_ne!(notice_id("ab", "c"), notice_id("a", "bc"));
        assert_eq!(notice_id("s", "c").len(), 32);
    }
}
