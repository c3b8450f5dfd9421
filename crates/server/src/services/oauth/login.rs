//! The password login decision (docs/security.md 13, 14, 22, 23, 24): one
//! function decides whether a userName and password sign in, counting the
//! attempt before the check, and logs and counts the outcome. The page
//! renders what it returns; the HTTP side supplies the device cookie's
//! back-off key, if the browser has one (`web::device`).
//!
//! Every failure looks the same from outside: one public reason
//! (`invalid_credentials`), the same Argon2 work (a dummy hash for unknown,
//! inactive or locked accounts), the same answer. Only the log tells them
//! apart, and not even the log learns whether a guess for an inactive or
//! locked account was right.

use store::{Attempt, UserRecord};

use crate::password::PasswordError;
use crate::secret::Secret;
use crate::services::{Ctx, lockout};

/// A login attempt.
#[derive(Debug)]
pub struct Credentials<'a> {
    pub user_name: &'a str,
    pub password: Secret<String>,
    /// The client the user signs in to, for the log.
    pub client_id: &'a str,
    /// This browser's own back-off key for the account, when it carries a
    /// valid device cookie ([`crate::web::device::lockout_key`]).
    pub device_key: Option<String>,
}

/// What the attempt decided.
#[derive(Debug)]
pub enum Outcome {
    /// Signed in: the attempts of the key it used are forgotten.
    SignedIn(Box<UserRecord>),
    /// The password was right, and the user has a second factor to present
    /// (`services::mfa::challenge`). The attempts are not forgotten until
    /// it is presented (docs/security.md 31), or a known password would
    /// reset the back-off of someone guessing codes.
    SecondFactor(Box<UserRecord>),
    /// Refused, whatever the reason (the page says only that).
    Refused,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Password(#[from] PasswordError),
}

/// Decides a password login.
pub async fn attempt(ctx: &Ctx, credentials: Credentials<'_>) -> Result<Outcome, LoginError> {
    let Credentials {
        user_name,
        password,
        client_id,
        device_key,
    } = credentials;
    // A name no account can have is refused before any store call or lock
    // key is made of it (docs/security.md 23): the same limit as SCIM userName.
    if !crate::services::users::is_valid_name(user_name) {
        failed();
        return Ok(Outcome::Refused);
    }
    let user = match ctx.store.get_user_by_name(user_name).await {
        Ok(user) => Some(user),
        Err(store::Error::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let user_id = user.as_ref().map(|u| u.id.as_str()).unwrap_or_default();
    // Counted before the check, so parallel guesses share one budget. A
    // browser this account signed in from before has a budget of its own.
    let lock_key = device_key.unwrap_or_else(|| lockout::key(user_name));
    let attempt = ctx
        .store
        .register_attempt(&lock_key, &ctx.config.lockout)
        .await?;
    if let Attempt::Locked { until } = attempt {
        // docs/security.md 13: the same work and the same answer as a wrong password.
        let _ = ctx.passwords.verify(password, None).await;
        metrics::counter!("auth_login_attempts_total", "outcome" => "failure", "reason" => "locked").increment(1);
        tracing::warn!(
            category = "security",
            event = "account_locked",
            user_id = %user_id,
            client_id = %client_id,
            locked_until = %crate::services::rfc3339(until),
            outcome = "failure",
            "login refused: the account is locked after failed logins"
        );
        return Ok(Outcome::Refused);
    }
    // The account's state is decided before and apart from the password: an
    // inactive account is checked against the dummy hash, so nothing (not
    // even the log) learns whether a guess for it was right (docs/security.md 22).
    let active = user.as_ref().filter(|u| u.active);
    let hash = active.and_then(|u| u.password_hash.clone());
    let matches = ctx.passwords.verify(password, hash).await?;
    let reason = match (&user, active) {
        (None, _) => "unknown_user",
        (Some(_), None) => "inactive",
        (Some(_), Some(_)) if !matches => "bad_password",
        (Some(_), Some(user)) => {
            if ctx.config.mfa != crate::config::MfaPolicy::Off
                && !ctx.store.list_factors(&user.id).await?.is_empty()
            {
                tracing::info!(category = "security", event = "password_accepted", user_id = %user.id, client_id = %client_id, outcome = "success", "password accepted; a second factor follows");
                return Ok(Outcome::SecondFactor(Box::new(user.clone())));
            }
            ctx.store.clear_attempts(&lock_key).await?;
            metrics::counter!("auth_login_attempts_total", "outcome" => "success", "reason" => "password").increment(1);
            tracing::info!(category = "security", event = "authentication_success", user_id = %user.id, client_id = %client_id, outcome = "success", "login succeeded");
            return Ok(Outcome::SignedIn(Box::new(user.clone())));
        }
    };
    failed();
    tracing::info!(
        category = "security",
        event = "authentication_failure",
        user_id = %user_id,
        client_id = %client_id,
        reason,
        outcome = "failure",
        "login failed"
    );
    if let Attempt::Allowed { failures } = attempt
        && ctx.config.lockout.delay(failures) > 0
    {
        metrics::counter!("auth_lockouts_total").increment(1);
        tracing::warn!(
            category = "security",
            event = "account_locked",
            user_id = %user_id,
            client_id = %client_id,
            failures,
            lock_seconds = ctx.config.lockout.delay(failures),
            outcome = "failure",
            "too many failed logins: the account waits before the next check"
        );
    }
    Ok(Outcome::Refused)
}

/// One public reason for every failure: the log (not public) keeps the detail.
fn failed() {
    metrics::counter!("auth_login_attempts_total", "outcome" => "failure", "reason" => "invalid_credentials").increment(1);
}
