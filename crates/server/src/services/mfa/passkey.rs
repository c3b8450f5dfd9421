//! Passkeys: W3C WebAuthn Level 3 credentials, verified by `webauthn-rs`
//! (the Kanidm project's relying-party library: attestation, COSE keys,
//! client data, flags and counters), stored as the store's factors.
//!
//! - **Registration** from the account page asks for a discoverable
//!   credential (`residentKey: required`) with user verification and
//!   attestation `none` (§5.4.4, §5.4.6). The user handle is the user's id
//!   (a UUID, no personal data; §14.6.1).
//! - **Sign-in** as the second factor after a password (the user's
//!   credentials in `allowCredentials`), or **passwordless**: the browser
//!   picks a discoverable credential, whose user handle names the user.
//!   User verification is required in both, so a passkey is possession
//!   plus the authenticator's PIN or biometric: RFC 8176 `hwk` (or `swk`
//!   for one that may be synced, its backup-eligible flag) with `user`,
//!   the phishing-resistant level of `oauth::acr`.
//! - **Every ceremony's state is a store [`Challenge`]**, taken once
//!   (`FactorStore::take_challenge`): a replayed response, or one to a
//!   challenge that expired, finds nothing (§13.4.3). The origin and the
//!   RP id hash are checked against this server's (§7.1 steps 9 and 15;
//!   §7.2 steps 13 and 15).
//! - **The signature counter is the factor's counter**, which only
//!   `FactorStore::advance_factor` moves, only up, atomically. A counter
//!   that does not go up is the sign of a cloned authenticator (§6.1.1):
//!   the sign-in is refused and `passkey_clone_suspected` logged.
//!   Authenticators that keep no counter (synced passkeys) send 0 always.
//! - The backup-eligible flag is fixed at registration and checked on
//!   every use (§6.1.3); the backup state is shown on the account page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store::{Attempt, Challenge, Factor, FactorKind, UserRecord};
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn,
    WebauthnBuilder, WebauthnError,
};

use super::challenge;
use super::enrol::{self, EnrolError, Enrolled};
use crate::services::Ctx;
use crate::services::oauth::session::Current;

/// How long a ceremony may take: the WebAuthn default timeout.
pub const CEREMONY_SECONDS: i64 = 300;
/// The longest credential response taken; real ones are under 2 KiB.
pub const MAX_RESPONSE: usize = 16 * 1024;

/// This server as a WebAuthn relying party: its RP id and origin.
#[derive(Debug)]
pub struct RelyingParty {
    webauthn: Webauthn,
    rp_id: String,
}

/// What [`RelyingParty::new`] refuses.
#[derive(Debug, thiserror::Error)]
pub enum RelyingPartyError {
    #[error("passkeys need the issuer's host to be a domain name, not {0:?}")]
    NotADomain(String),
    #[error("the WebAuthn RP id {rp_id:?} is not the issuer's host or a parent domain of it")]
    NotASuffix { rp_id: String },
}

impl RelyingParty {
    /// The relying party of `issuer`, whose origin is the only one
    /// accepted. `rp_id` defaults to the issuer's host; a parent domain
    /// lets passkeys serve sibling hosts (§5.1.4.1 — "RP ID").
    pub fn new(issuer: &str, rp_id: Option<&str>) -> Result<Self, RelyingPartyError> {
        let origin =
            Url::parse(issuer).map_err(|_| RelyingPartyError::NotADomain(issuer.to_owned()))?;
        let host = origin
            .domain()
            .ok_or_else(|| RelyingPartyError::NotADomain(issuer.to_owned()))?
            .to_owned();
        let rp_id = rp_id
            .filter(|id| !id.is_empty())
            .unwrap_or(&host)
            .to_owned();
        let webauthn = WebauthnBuilder::new(&rp_id, &origin)
            .and_then(|b| b.rp_name(&rp_id).build())
            .map_err(|_| RelyingPartyError::NotASuffix {
                rp_id: rp_id.clone(),
            })?;
        Ok(Self { webauthn, rp_id })
    }

    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }
}

/// A ceremony's state, as its challenge record keeps it.
#[derive(Serialize, Deserialize)]
#[serde(tag = "ceremony", rename_all = "snake_case")]
enum Ceremony {
    Registration { state: PasskeyRegistration },
    SecondFactor { state: PasskeyAuthentication },
    Passwordless { state: DiscoverableAuthentication },
}

/// Options for the browser (`PublicKeyCredentialCreationOptions` or
/// `…RequestOptions` as JSON, §5.4 and §5.5) and the challenge id the
/// response must come back with.
#[derive(Debug, Clone, Serialize)]
pub struct Offer {
    pub challenge_id: String,
    #[serde(rename = "publicKey")]
    pub public_key: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mediation: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// No such ceremony: expired, used already, or another user's.
    #[error("the passkey request has expired or was used already")]
    Expired,
    /// The response does not verify; the reason is for the log.
    #[error("the passkey response was refused: {0}")]
    Refused(&'static str),
    /// This credential is registered to the user already.
    #[error("this passkey is registered already")]
    Duplicate,
    /// The user's id is not a UUID, which a WebAuthn user handle must be here.
    #[error("this account cannot hold passkeys")]
    Unsupported,
    #[error("webauthn: {0}")]
    Webauthn(WebauthnError),
    #[error(transparent)]
    Enrol(#[from] EnrolError),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("the system random number generator failed")]
    Random,
}

/// A use of a passkey that verified.
#[derive(Debug)]
pub struct Verified {
    pub user: UserRecord,
    pub factor_id: String,
    /// RFC 8176: `hwk` or `swk`, and `user` (verification was required).
    pub amr: [&'static str; 2],
}

/// What a sign-in with a passkey did.
#[derive(Debug)]
pub enum Outcome {
    Passed(Box<Verified>),
    /// Refused (the page says only that); the log has the reason.
    Refused,
}

/// The user handle of `user`: its id, which this service makes a UUID.
fn user_handle(user: &UserRecord) -> Result<Uuid, PasskeyError> {
    Uuid::parse_str(&user.id).map_err(|_| PasskeyError::Unsupported)
}

/// A passkey factor's id: from its credential id, so that one credential
/// is one factor of its user (a second registration is `Conflict`).
fn factor_id(credential_id: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, credential_id);
    format!("pk-{}", URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16]))
}

/// The stored passkey of a factor, with the factor's counter in it: the
/// store's counter is the one that counts (module docs).
fn passkey_of(factor: &Factor) -> Option<Passkey> {
    let mut stored = factor.data.get("passkey")?.clone();
    if let Some(counter) = stored.pointer_mut("/cred/counter") {
        *counter = json!(u32::try_from(factor.counter).unwrap_or(u32::MAX));
    }
    serde_json::from_value(stored).ok()
}

fn flag(passkey: &Value, name: &str) -> bool {
    passkey
        .pointer(&format!("/cred/{name}"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Whether a passkey factor may be synced between devices (its
/// backup-eligible flag), for the account page.
pub fn is_synced(factor: &Factor) -> bool {
    factor
        .data
        .get("passkey")
        .is_some_and(|p| flag(p, "backup_eligible"))
}

/// The RFC 8176 methods a use of the passkey `factor` shows: a key
/// (`swk` if it may be synced, else `hwk`) and user verification.
pub fn methods(factor: &Factor) -> [&'static str; 2] {
    if is_synced(factor) {
        ["swk", "user"]
    } else {
        ["hwk", "user"]
    }
}

fn passkeys(factors: &[Factor]) -> Vec<(&Factor, Passkey)> {
    factors
        .iter()
        .filter(|f| f.kind == FactorKind::Passkey)
        .filter_map(|f| passkey_of(f).map(|p| (f, p)))
        .collect()
}

async fn keep(
    ctx: &Ctx,
    user_id: Option<&str>,
    ceremony: &Ceremony,
    public_key: Value,
) -> Result<Offer, PasskeyError> {
    let mut public_key = public_key;
    let mediation = public_key
        .as_object_mut()
        .and_then(|o| o.remove("mediation"));
    let id = crate::opaque::random_token().map_err(|_| PasskeyError::Random)?;
    let challenge = Challenge {
        id: id.expose().clone(),
        user_id: user_id.map(str::to_owned),
        state: serde_json::to_value(ceremony)?,
        expires_at: ctx.clock.now() + CEREMONY_SECONDS,
    };
    ctx.store.insert_challenge(&challenge).await?;
    let public_key = public_key.get("publicKey").cloned().unwrap_or(public_key);
    Ok(Offer {
        challenge_id: challenge.id,
        public_key,
        mediation,
    })
}

/// Takes the ceremony `challenge_id` if it is `user_id`'s.
async fn take(
    ctx: &Ctx,
    challenge_id: &str,
    user_id: Option<&str>,
) -> Result<Ceremony, PasskeyError> {
    if challenge_id.is_empty() || challenge_id.len() > 128 {
        return Err(PasskeyError::Expired);
    }
    let challenge = match ctx.store.take_challenge(challenge_id).await {
        Ok(challenge) => challenge,
        Err(store::Error::NotFound) => return Err(PasskeyError::Expired),
        Err(e) => return Err(e.into()),
    };
    if challenge.user_id.as_deref() != user_id {
        return Err(PasskeyError::Expired);
    }
    serde_json::from_value(challenge.state).map_err(|_| PasskeyError::Expired)
}

/// The log's word for why a response did not verify.
fn reason(e: &WebauthnError) -> &'static str {
    match e {
        WebauthnError::InvalidRPOrigin => "wrong_origin",
        WebauthnError::InvalidRPIDHash => "wrong_rp_id",
        WebauthnError::MismatchedChallenge => "wrong_challenge",
        WebauthnError::UserNotVerified => "user_not_verified",
        WebauthnError::UserNotPresent => "user_not_present",
        WebauthnError::CredentialPossibleCompromise => "counter_not_increased",
        WebauthnError::CredentialNotFound => "unknown_credential",
        WebauthnError::InvalidClientDataType => "wrong_ceremony",
        _ => "invalid_response",
    }
}

fn parse<T: serde::de::DeserializeOwned>(response: &str) -> Result<T, PasskeyError> {
    if response.len() > MAX_RESPONSE {
        return Err(PasskeyError::Refused("response_too_large"));
    }
    serde_json::from_str(response).map_err(|_| PasskeyError::Refused("malformed_response"))
}

/// Starts adding a passkey to `user`'s account.
pub async fn offer_registration(
    ctx: &Ctx,
    rp: &RelyingParty,
    user: &UserRecord,
) -> Result<Offer, PasskeyError> {
    let handle = user_handle(user)?;
    let factors = ctx.store.list_factors(&user.id).await?;
    let exclude: Vec<_> = passkeys(&factors)
        .into_iter()
        .map(|(_, p)| p.cred_id().clone())
        .collect();
    let display = user
        .attributes
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or(&user.user_name);
    let (options, state) = rp
        .webauthn
        .start_passkey_registration(handle, &user.user_name, display, Some(exclude))
        .map_err(PasskeyError::Webauthn)?;
    let mut options = serde_json::to_value(options)?;
    // A discoverable credential, so that it can sign in without a
    // username (§5.4.6); webauthn-rs asks for one only as a preference.
    if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection") {
        selection["residentKey"] = json!("required");
        selection["requireResidentKey"] = json!(true);
    }
    keep(
        ctx,
        Some(&user.id),
        &Ceremony::Registration { state },
        options,
    )
    .await
}

/// Adds the passkey the browser made for the offer `challenge_id`.
pub async fn confirm_registration(
    ctx: &Ctx,
    rp: &RelyingParty,
    current: &Current,
    (challenge_id, response): (&str, &str),
    name: &str,
) -> Result<Enrolled, PasskeyError> {
    let user = &current.user;
    let Ceremony::Registration { state } = take(ctx, challenge_id, Some(&user.id)).await? else {
        return Err(PasskeyError::Expired);
    };
    let credential: RegisterPublicKeyCredential = parse(response)?;
    // One of excludeCredentials, which the authenticator ignored: said
    // plainly here; the factor id below would refuse it anyway.
    if ctx
        .store
        .get_factor(&user.id, &factor_id(&credential.raw_id))
        .await
        .is_ok()
    {
        return Err(PasskeyError::Duplicate);
    }
    let passkey = rp
        .webauthn
        .finish_passkey_registration(&credential, &state)
        .map_err(|e| PasskeyError::Refused(reason(&e)))?;
    let stored = serde_json::to_value(&passkey)?;
    let counter = stored
        .pointer("/cred/counter")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let now = ctx.clock.now();
    let factor = Factor {
        id: factor_id(passkey.cred_id()),
        user_id: user.id.clone(),
        kind: FactorKind::Passkey,
        name: enrol::factor_name(name, "Passkey"),
        sealed_secret: None,
        data: json!({
            "credential_id": URL_SAFE_NO_PAD.encode(passkey.cred_id()),
            "passkey": stored,
        }),
        counter,
        created_at: now,
        last_used_at: None,
    };
    match enrol::added(ctx, current, factor, "passkey").await {
        Err(EnrolError::Store(store::Error::Conflict(_))) => Err(PasskeyError::Duplicate),
        other => Ok(other?),
    }
}

/// Starts a passkey second factor for `user`; `None` if it has none.
pub async fn offer_second_factor(
    ctx: &Ctx,
    rp: &RelyingParty,
    user: &UserRecord,
) -> Result<Option<Offer>, PasskeyError> {
    let factors = ctx.store.list_factors(&user.id).await?;
    let keys: Vec<Passkey> = passkeys(&factors).into_iter().map(|(_, p)| p).collect();
    if keys.is_empty() {
        return Ok(None);
    }
    let (options, state) = rp
        .webauthn
        .start_passkey_authentication(&keys)
        .map_err(PasskeyError::Webauthn)?;
    let offer = keep(
        ctx,
        Some(&user.id),
        &Ceremony::SecondFactor { state },
        serde_json::to_value(options)?,
    )
    .await?;
    Ok(Some(offer))
}

/// Starts a passwordless sign-in: any discoverable credential of this RP.
pub async fn offer_passwordless(ctx: &Ctx, rp: &RelyingParty) -> Result<Offer, PasskeyError> {
    let (options, state) = rp
        .webauthn
        .start_discoverable_authentication()
        .map_err(PasskeyError::Webauthn)?;
    keep(
        ctx,
        None,
        &Ceremony::Passwordless { state },
        serde_json::to_value(options)?,
    )
    .await
}

/// Where a passwordless sign-in's failures are counted, once its user is
/// known: the back-off key of the user's name (and the browser's device
/// cookie), as for passwords.
pub type LockKey<'a> = &'a (dyn Fn(&str) -> String + Send + Sync);

/// Checks a passkey as the second factor of `user` (counted under the
/// account's back-off, as codes are: docs/security.md 31).
pub async fn verify_second_factor(
    ctx: &Ctx,
    rp: &RelyingParty,
    user: &UserRecord,
    (challenge_id, response): (&str, &str),
    lock_key: &str,
    client_id: &str,
) -> Result<Outcome, PasskeyError> {
    let ceremony = match take(ctx, challenge_id, Some(&user.id)).await {
        Ok(Ceremony::SecondFactor { state }) => state,
        Ok(_) | Err(PasskeyError::Expired) => {
            return Ok(refused(Some(user), client_id, "expired_challenge"));
        }
        Err(e) => return Err(e),
    };
    let credential: PublicKeyCredential = match parse(response) {
        Ok(credential) => credential,
        Err(PasskeyError::Refused(why)) => return Ok(refused(Some(user), client_id, why)),
        Err(e) => return Err(e),
    };
    let checked = |_: &Passkey| {
        rp.webauthn
            .finish_passkey_authentication(&credential, &ceremony)
    };
    assert_passkey(ctx, user.clone(), &credential, lock_key, client_id, checked).await
}

/// Checks a passwordless sign-in: the credential's user handle names the
/// user, whose passkey it must be.
pub async fn verify_passwordless(
    ctx: &Ctx,
    rp: &RelyingParty,
    (challenge_id, response): (&str, &str),
    lock_key: LockKey<'_>,
    client_id: &str,
) -> Result<Outcome, PasskeyError> {
    let state = match take(ctx, challenge_id, None).await {
        Ok(Ceremony::Passwordless { state }) => state,
        Ok(_) | Err(PasskeyError::Expired) => {
            return Ok(refused(None, client_id, "expired_challenge"));
        }
        Err(e) => return Err(e),
    };
    let credential: PublicKeyCredential = match parse(response) {
        Ok(credential) => credential,
        Err(PasskeyError::Refused(why)) => return Ok(refused(None, client_id, why)),
        Err(e) => return Err(e),
    };
    let Ok((handle, _)) = rp
        .webauthn
        .identify_discoverable_authentication(&credential)
    else {
        return Ok(refused(None, client_id, "no_user_handle"));
    };
    let user = match ctx.store.get_user(&handle.to_string()).await {
        Ok(user) if user.active => user,
        Ok(_) | Err(store::Error::NotFound) => {
            return Ok(refused(None, client_id, "unknown_user"));
        }
        Err(e) => return Err(e.into()),
    };
    let checked = |passkey: &Passkey| {
        rp.webauthn
            .finish_discoverable_authentication_v2(&credential, state.clone(), passkey)
    };
    let lock_key = lock_key(&user.user_name);
    assert_passkey(ctx, user, &credential, &lock_key, client_id, checked).await
}

/// The part of both sign-ins after the ceremony is known: the account's
/// back-off, the user's passkey named by the response, the signature and
/// flags (`check`), then the counter, atomically.
async fn assert_passkey<F>(
    ctx: &Ctx,
    user: UserRecord,
    credential: &PublicKeyCredential,
    lock_key: &str,
    client_id: &str,
    check: F,
) -> Result<Outcome, PasskeyError>
where
    F: Fn(&Passkey) -> Result<AuthenticationResult, WebauthnError>,
{
    let attempt = ctx
        .store
        .register_attempt(lock_key, &ctx.config.lockout)
        .await?;
    if let Attempt::Locked { .. } = attempt {
        return Ok(challenge::failed(ctx, &user, client_id, "passkey", "locked", attempt).into());
    }
    let factors = ctx.store.list_factors(&user.id).await?;
    let Some((factor, passkey)) = passkeys(&factors)
        .into_iter()
        .find(|(_, p)| p.cred_id().as_slice() == credential.get_credential_id())
    else {
        return Ok(challenge::failed(
            ctx,
            &user,
            client_id,
            "passkey",
            "unknown_credential",
            attempt,
        )
        .into());
    };
    let failed = |reason| challenge::failed(ctx, &user, client_id, "passkey", reason, attempt);
    let result = match check(&passkey) {
        Ok(result) => result,
        Err(WebauthnError::CredentialPossibleCompromise) => {
            clone_suspected(&user, &factor.id, client_id, factor.counter);
            return Ok(failed("counter_not_increased").into());
        }
        Err(e) => return Ok(failed(reason(&e)).into()),
    };
    let counter = u64::from(result.counter());
    let now = ctx.clock.now();
    if counter == 0 && factor.counter == 0 {
        // No counter kept (synced passkeys): the challenge, taken once, is
        // what makes the response single-use.
        ctx.store.touch_factor(&user.id, &factor.id, now).await?;
    } else if !ctx
        .store
        .advance_factor(&user.id, &factor.id, counter, now)
        .await?
    {
        // Another use with this counter won the race, or a clone is in use.
        clone_suspected(&user, &factor.id, client_id, counter);
        return Ok(failed("counter_not_increased").into());
    }
    ctx.store.clear_attempts(lock_key).await?;
    metrics::counter!("auth_mfa_challenges_total", "method" => "passkey", "outcome" => "success")
        .increment(1);
    tracing::info!(category = "security", event = "mfa_challenge_succeeded", user_id = %user.id, client_id = %client_id, method = "passkey", factor_id = %factor.id, outcome = "success", "passkey accepted");
    let key = if result.backup_eligible() {
        "swk"
    } else {
        "hwk"
    };
    let factor_id = factor.id.clone();
    Ok(Outcome::Passed(Box::new(Verified {
        user,
        factor_id,
        amr: [key, "user"],
    })))
}

fn clone_suspected(user: &UserRecord, factor_id: &str, client_id: &str, counter: u64) {
    tracing::warn!(category = "security", event = "passkey_clone_suspected", user_id = %user.id, client_id = %client_id, factor_id = %factor_id, counter, outcome = "failure", "a passkey's signature counter did not increase: the authenticator may be cloned");
}

impl From<challenge::Outcome> for Outcome {
    /// Only refusals come this way.
    fn from(_: challenge::Outcome) -> Self {
        Outcome::Refused
    }
}

/// A refusal before the account's back-off counts anything: no ceremony,
/// or a response that is not one.
fn refused(user: Option<&UserRecord>, client_id: &str, reason: &'static str) -> Outcome {
    metrics::counter!("auth_mfa_challenges_total", "method" => "passkey", "outcome" => "failure")
        .increment(1);
    let user_id = user.map_or("", |u| u.id.as_str());
    tracing::info!(category = "security", event = "mfa_challenge_failed", user_id = %user_id, client_id = %client_id, method = "passkey", reason, outcome = "failure", "passkey refused");
    Outcome::Refused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_issuers_domain() {
        let rp = RelyingParty::new("https://login.example.com/tenant", None).unwrap();
        assert_eq!(rp.rp_id(), "login.example.com");
        let parent = RelyingParty::new("https://login.example.com", Some("example.com")).unwrap();
        assert_eq!(parent.rp_id(), "example.com");
        // Browsers take http://localhost as a secure context.
        assert!(RelyingParty::new("http://localhost:3001", None).is_ok());
        // WebAuthn has no RP id for an IP address (§5.1.4.1).
        for issuer in ["http://127.0.0.1:3001", "https://[::1]:8443"] {
            assert!(matches!(
                RelyingParty::new(issuer, None),
                Err(RelyingPartyError::NotADomain(_))
            ));
        }
        assert!(matches!(
            RelyingParty::new("https://login.example.com", Some("example.org")),
            Err(RelyingPartyError::NotASuffix { .. })
        ));
    }

    #[test]
    fn one_credential_is_one_factor_id() {
        assert_eq!(factor_id(b"credential"), factor_id(b"credential"));
        assert_ne!(factor_id(b"credential"), factor_id(b"credential2"));
        assert!(factor_id(b"x").starts_with("pk-"));
        assert_eq!(factor_id(b"x").len(), 3 + 22);
    }

    #[test]
    fn user_handles_are_uuids() {
        let mut user = crate::services::fixtures::user("u-1", "alice");
        assert!(matches!(user_handle(&user), Err(PasskeyError::Unsupported)));
        user.id = "1b4e28ba-2fa1-11d2-883f-0016d3cca427".into();
        assert_eq!(user_handle(&user).unwrap().to_string(), user.id);
    }
}
