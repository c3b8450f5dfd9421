//! The second-factor check of a sign-in or a step up: a TOTP code or a
//! recovery code, against the same per-account back-off as passwords
//! (docs/security.md 14 and 31), so that knowing the password buys no
//! extra guesses at the code: the password step leaves the attempts
//! counted (`services::oauth::login::Outcome::SecondFactor`), every code
//! is counted before it is checked, and only a right code forgets them.
//!
//! Logs `mfa_challenge_succeeded`, `mfa_challenge_failed` and
//! `recovery_code_used`; counts `auth_mfa_challenges_total` by method and
//! outcome.

use store::{Attempt, FactorKind, UserRecord};

use super::{recovery, totp};
use crate::services::Ctx;

/// The longest input taken for a code; anything longer is wrong.
const MAX_CODE: usize = 64;

/// What a presented code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Right and unused: the RFC 8176 methods it adds.
    Passed {
        amr: &'static [&'static str],
        /// Recovery codes left, when one was used.
        recovery_left: Option<usize>,
    },
    /// Wrong, used before, or the account waits (the page says only that).
    Refused,
}

#[derive(Debug, thiserror::Error)]
pub enum ChallengeError {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Totp(#[from] totp::TotpError),
}

/// Checks `code` as the second factor of `user`, counting the attempt
/// under `lock_key` (the same key the password step counted under).
pub async fn verify(
    ctx: &Ctx,
    user: &UserRecord,
    code: &str,
    lock_key: &str,
    client_id: &str,
) -> Result<Outcome, ChallengeError> {
    let attempt = ctx
        .store
        .register_attempt(lock_key, &ctx.config.lockout)
        .await?;
    if let Attempt::Locked { .. } = attempt {
        return Ok(failed(ctx, user, client_id, "unknown", "locked", attempt));
    }
    let code = code.trim();
    let (method, result) = if code.len() > MAX_CODE {
        ("unknown", None)
    } else if recovery::looks_like_one(code) {
        let left = recovery::consume(ctx.store.as_ref(), &ctx.master_key, &user.id, code).await?;
        ("recovery_code", left.map(Some))
    } else {
        ("totp", totp_check(ctx, user, code).await?)
    };
    let Some(recovery_left) = result else {
        let reason = if method == "totp" {
            "wrong_code"
        } else {
            "wrong_or_used_code"
        };
        return Ok(failed(ctx, user, client_id, method, reason, attempt));
    };
    ctx.store.clear_attempts(lock_key).await?;
    metrics::counter!("auth_mfa_challenges_total", "method" => method, "outcome" => "success")
        .increment(1);
    tracing::info!(category = "security", event = "mfa_challenge_succeeded", user_id = %user.id, client_id = %client_id, method, outcome = "success", "second factor accepted");
    if let Some(left) = recovery_left {
        tracing::warn!(category = "security", event = "recovery_code_used", user_id = %user.id, client_id = %client_id, remaining = left, outcome = "success", "a recovery code was used");
    }
    Ok(Outcome::Passed {
        amr: &["otp"],
        recovery_left,
    })
}

/// `Some(None)` when a TOTP factor of the user takes `code` now (no
/// recovery count), `None` when none does. A replayed code is refused
/// like a wrong one; the log tells them apart.
async fn totp_check(
    ctx: &Ctx,
    user: &UserRecord,
    code: &str,
) -> Result<Option<Option<usize>>, ChallengeError> {
    let now = ctx.clock.now();
    let mut replayed = false;
    for factor in ctx.store.list_factors(&user.id).await? {
        if factor.kind != FactorKind::Totp {
            continue;
        }
        match totp::check(ctx.store.as_ref(), &ctx.master_key, &factor, code, now).await? {
            totp::Check::Accepted => return Ok(Some(None)),
            totp::Check::Replayed => replayed = true,
            totp::Check::Wrong => {}
        }
    }
    if replayed {
        tracing::warn!(category = "security", event = "mfa_code_replayed", user_id = %user.id, outcome = "failure", "a TOTP code was presented again");
    }
    Ok(None)
}

pub(super) fn failed(
    ctx: &Ctx,
    user: &UserRecord,
    client_id: &str,
    method: &'static str,
    reason: &'static str,
    attempt: Attempt,
) -> Outcome {
    metrics::counter!("auth_mfa_challenges_total", "method" => method, "outcome" => "failure")
        .increment(1);
    tracing::info!(category = "security", event = "mfa_challenge_failed", user_id = %user.id, client_id = %client_id, method, reason, outcome = "failure", "second factor refused");
    if let Attempt::Allowed { failures } = attempt
        && ctx.config.lockout.delay(failures) > 0
    {
        metrics::counter!("auth_lockouts_total").increment(1);
        tracing::warn!(category = "security", event = "account_locked", user_id = %user.id, client_id = %client_id, failures, lock_seconds = ctx.config.lockout.delay(failures), outcome = "failure", "too many failed sign-ins: the account waits before the next check");
    }
    Outcome::Refused
}
