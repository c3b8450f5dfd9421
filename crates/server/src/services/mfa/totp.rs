//! TOTP second factors (RFC 6238): the seed, the `otpauth://` URI that
//! authenticator apps read, and the check.
//!
//! - The seed is 160 random bits (RFC 4226 §4 recommends at least 128,
//!   160 is what apps expect), sealed with the master key as signing keys
//!   are, bound to its user and factor (`totp:<user>:<factor>`), so a sealed
//!   seed copied onto another user's factor does not open.
//! - Codes are HMAC-SHA-1, 6 digits, 30 s steps: what every authenticator
//!   app accepts without asking (RFC 6238 §4 and §5.2).
//! - A code of the current step or of one step either side is accepted
//!   (RFC 6238 §5.2 allows "at most one time step" of network delay), and
//!   only once: the matched step moves the factor's counter forward through
//!   the store's one compare-and-set (`store::FactorStore::advance_factor`),
//!   so the same code, or any code of an earlier step, is refused even when
//!   two requests carry it at once (RFC 6238 §5.2: "the verifier MUST NOT
//!   accept the second attempt of the OTP after the successful validation
//!   has been issued for the first OTP").
//! - Comparison is constant-time (the `totp-rs` crate compares tokens with
//!   `constant_time_eq`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use store::{Factor, FactorKind, Store};
use totp_rs::{Algorithm, Builder, Totp};

use crate::keys::MasterKey;
use crate::secret::Secret;

/// Digits per code.
pub const DIGITS: u8 = 6;
/// Seconds per step.
pub const STEP: u64 = 30;
/// Steps accepted either side of the current one.
pub const SKEW: u16 = 1;
/// Seed length in bytes (160 bits).
const SEED_LEN: usize = 20;

/// Why a TOTP factor cannot be made or checked.
#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error("the factor is not a TOTP generator, or its seed does not open")]
    NotTotp,
    #[error("no randomness for a seed")]
    Random,
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// What a checked code did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// A code of the current step or one either side, not used before.
    Accepted,
    /// A right code whose step was already used (or is older than one used).
    Replayed,
    /// Not a code of this generator now.
    Wrong,
}

/// A new TOTP factor, not yet stored, with what the user's app needs.
#[derive(Debug)]
pub struct Enrolment {
    pub factor: Factor,
    /// The `otpauth://totp/…` URI (for the QR code).
    pub uri: Secret<String>,
    /// The seed in base32, for typing into an app.
    pub base32: Secret<String>,
}

fn context(user_id: &str, factor_id: &str) -> String {
    format!("totp:{user_id}:{factor_id}")
}

/// The generator of a seed. `issuer` and `account` label it in the app
/// (a colon would split the label, RFC-less but universal, so it becomes a
/// space).
fn generator(seed: Vec<u8>, issuer: &str, account: &str) -> Result<Totp, TotpError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW)
        .with_step_duration(STEP)
        .with_secret(seed)
        .with_issuer(Some(issuer.replace(':', " ")))
        .with_account_name(account.replace(':', " "))
        .build()
        .map_err(|_| TotpError::NotTotp)
}

/// A new TOTP factor `id` named `name` for the user, labelled in the app
/// with `issuer` (the issuer's host) and the user's `account` name.
pub fn enrol(
    master: &MasterKey,
    user_id: &str,
    id: &str,
    name: &str,
    (issuer, account): (&str, &str),
    now: i64,
) -> Result<Enrolment, TotpError> {
    let mut seed = vec![0u8; SEED_LEN];
    aws_lc_rs::rand::fill(&mut seed).map_err(|_| TotpError::Random)?;
    let sealed = master
        .seal(&context(user_id, id), &seed)
        .map_err(|_| TotpError::Random)?;
    let base32 = totp_rs::Secret::from(seed.as_slice()).to_base32();
    let uri = generator(seed, issuer, account)?
        .to_url()
        .map_err(|_| TotpError::NotTotp)?;
    Ok(Enrolment {
        factor: Factor {
            id: id.to_owned(),
            user_id: user_id.to_owned(),
            kind: FactorKind::Totp,
            name: name.to_owned(),
            sealed_secret: Some(URL_SAFE_NO_PAD.encode(sealed)),
            data: json!({"algorithm": "SHA1", "digits": DIGITS, "period": STEP}),
            counter: 0,
            created_at: now,
            last_used_at: None,
        },
        uri: Secret::new(uri),
        base32: Secret::new(base32),
    })
}

/// The factor's seed, opened.
fn seed(master: &MasterKey, factor: &Factor) -> Result<Secret<Vec<u8>>, TotpError> {
    if factor.kind != FactorKind::Totp {
        return Err(TotpError::NotTotp);
    }
    let sealed = factor
        .sealed_secret
        .as_deref()
        .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
        .ok_or(TotpError::NotTotp)?;
    master
        .open(&context(&factor.user_id, &factor.id), &sealed)
        .map_err(|_| TotpError::NotTotp)
}

/// The step `code` belongs to, if it is a code of the factor at `now`.
pub fn matching_step(
    master: &MasterKey,
    factor: &Factor,
    code: &str,
    now: i64,
) -> Result<Option<u64>, TotpError> {
    let seed = seed(master, factor)?;
    let totp = generator(seed.expose().clone(), "-", "-")?;
    let now = u64::try_from(now).unwrap_or(0);
    Ok(totp.check(code.trim(), now))
}

/// Checks `code` against the factor at `now` and, when it matches, uses
/// its step once (module docs).
pub async fn check(
    store: &dyn Store,
    master: &MasterKey,
    factor: &Factor,
    code: &str,
    now: i64,
) -> Result<Check, TotpError> {
    let Some(step) = matching_step(master, factor, code, now)? else {
        return Ok(Check::Wrong);
    };
    // Step 0 (1970) is the counter's starting value: never a real use.
    if step == 0 {
        return Ok(Check::Wrong);
    }
    Ok(
        if store
            .advance_factor(&factor.user_id, &factor.id, step, now)
            .await?
        {
            Check::Accepted
        } else {
            Check::Replayed
        },
    )
}

#[cfg(test)]
mod tests;
