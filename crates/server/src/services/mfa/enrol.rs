//! Adding a factor: a TOTP generator is offered (a seed, sealed, carried by
//! the page, nothing stored) and added only when the user types a code of
//! it (RFC 6238 leaves enrolment to us; a confirmation code proves the app
//! holds the seed before the account depends on it). The confirming code's
//! step is the factor's first counter, so it cannot sign in again.
//!
//! A user's first factor comes with a set of recovery codes. Adding a
//! factor is a credential change (docs/security.md 25): the user's other
//! sessions end and refresh families are revoked; the caller starts the
//! user's own session again. Logs `mfa_enrolled`; counts
//! `auth_mfa_enrolments_total` by method.

use store::{Factor, FactorKind, UserRecord};

use super::{recovery, totp};
use crate::secret::Secret;
use crate::services::Ctx;
use crate::services::oauth::session::Current;

/// The longest factor name kept (docs/security.md 23).
pub const MAX_NAME: usize = 64;

/// A TOTP generator offered to the user, not stored.
#[derive(Debug)]
pub struct TotpOffer {
    pub factor_id: String,
    /// The seed sealed for this user and factor id: the page carries it.
    pub sealed_seed: String,
    pub uri: Secret<String>,
    pub base32: Secret<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    /// The code is not one of the offered generator now.
    #[error("the code does not match the new authenticator")]
    WrongCode,
    /// The offer was altered, or belongs to another user.
    #[error("the enrolment is not valid")]
    BadOffer,
    #[error(transparent)]
    Totp(#[from] totp::TotpError),
    #[error(transparent)]
    Recovery(#[from] recovery::RecoveryError),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// What an enrolment added.
#[derive(Debug)]
pub struct Enrolled {
    pub factor: Factor,
    /// The user's first recovery codes, to show once; `None` when the user
    /// had some already.
    pub recovery_codes: Option<Vec<Secret<String>>>,
}

/// A new TOTP generator for `user`, labelled with the issuer's host.
pub fn offer_totp(ctx: &Ctx, user: &UserRecord) -> Result<TotpOffer, totp::TotpError> {
    let id = format!("totp-{}", uuid::Uuid::new_v4().simple());
    let label = crate::services::issuer_host(&ctx.config.issuer);
    let enrolment = totp::enrol(
        &ctx.master_key,
        &user.id,
        &id,
        "Authenticator app",
        (label, &user.user_name),
        ctx.clock.now(),
    )?;
    Ok(TotpOffer {
        factor_id: id,
        sealed_seed: enrolment.factor.sealed_secret.unwrap_or_default(),
        uri: enrolment.uri,
        base32: enrolment.base32,
    })
}

/// A factor name as the user typed it, bounded and trimmed; a default for
/// an empty one.
pub fn factor_name(typed: &str, default: &str) -> String {
    let name: String = typed
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME)
        .collect();
    if name.is_empty() {
        default.to_owned()
    } else {
        name
    }
}

/// Adds the offered generator `factor_id` with `sealed_seed` if `code` is
/// one of its codes now.
pub async fn confirm_totp(
    ctx: &Ctx,
    current: &Current,
    (factor_id, sealed_seed): (&str, &str),
    name: &str,
    code: &str,
) -> Result<Enrolled, EnrolError> {
    let user = &current.user;
    if !factor_id.starts_with("totp-") || factor_id.len() > 40 || sealed_seed.len() > 256 {
        return Err(EnrolError::BadOffer);
    }
    let now = ctx.clock.now();
    let mut factor = Factor {
        id: factor_id.to_owned(),
        user_id: user.id.clone(),
        kind: FactorKind::Totp,
        name: factor_name(name, "Authenticator app"),
        sealed_secret: Some(sealed_seed.to_owned()),
        data: serde_json::json!({"algorithm": "SHA1", "digits": totp::DIGITS, "period": totp::STEP}),
        counter: 0,
        created_at: now,
        last_used_at: None,
    };
    // The seal is bound to this user and factor id: another user's offer,
    // or an altered one, does not open (nor does one that is not base64).
    let step = match totp::matching_step(&ctx.master_key, &factor, code, now) {
        Ok(Some(step)) if step > 0 => step,
        Ok(_) => return Err(EnrolError::WrongCode),
        Err(totp::TotpError::NotTotp) => return Err(EnrolError::BadOffer),
        Err(e) => return Err(e.into()),
    };
    factor.counter = step;
    factor.last_used_at = Some(now);
    added(ctx, current, factor, "totp").await
}

/// Stores `factor`, with recovery codes if it is the user's first, and
/// ends the user's sessions (module docs).
pub(super) async fn added(
    ctx: &Ctx,
    current: &Current,
    factor: Factor,
    method: &'static str,
) -> Result<Enrolled, EnrolError> {
    let user = &current.user;
    let existing = ctx.store.list_factors(&user.id).await?;
    ctx.store.insert_factor(&factor).await?;
    let recovery_codes = if recovery::remaining(&existing) == 0 {
        Some(
            recovery::regenerate(
                ctx.store.as_ref(),
                &ctx.master_key,
                &user.id,
                ctx.clock.now(),
            )
            .await?,
        )
    } else {
        None
    };
    crate::services::users::end_sessions(ctx, &user.id, Some(&current.session)).await?;
    metrics::counter!("auth_mfa_enrolments_total", "method" => method).increment(1);
    tracing::warn!(category = "security", event = "mfa_enrolled", user_id = %user.id, factor_id = %factor.id, method, outcome = "success", "a sign-in factor was added; the user's other sessions ended");
    Ok(Enrolled {
        factor,
        recovery_codes,
    })
}

/// Removes one of the user's own factors (from the account page). Removing
/// the last TOTP or passkey takes the recovery codes with it: they exist
/// only beside a factor. A credential change (module docs).
pub async fn remove(ctx: &Ctx, current: &Current, factor_id: &str) -> Result<(), store::Error> {
    let user = &current.user;
    let factor = ctx.store.get_factor(&user.id, factor_id).await?;
    if factor.kind == FactorKind::RecoveryCodes {
        return Err(store::Error::NotFound);
    }
    ctx.store.delete_factor(&user.id, factor_id).await?;
    let left = ctx.store.list_factors(&user.id).await?;
    if left.iter().all(|f| f.kind == FactorKind::RecoveryCodes) {
        for code in left {
            match ctx.store.delete_factor(&user.id, &code.id).await {
                Ok(()) | Err(store::Error::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
    }
    crate::services::users::end_sessions(ctx, &user.id, Some(&current.session)).await?;
    tracing::warn!(category = "security", event = "mfa_removed", user_id = %user.id, factor_id = %factor_id, removed = 1, outcome = "success", "the user removed a sign-in factor; the user's other sessions ended");
    Ok(())
}
