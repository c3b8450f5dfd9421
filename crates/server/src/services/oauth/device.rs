//! The device authorization grant (RFC 8628) around the store: starting
//! one for a client (§3.1–3.2), finding the pending one a user's code names
//! (§3.3), what the signed-in user must still do before deciding, and the
//! decision itself. The token endpoint's side, polling, is
//! `grants::device_code`.
//!
//! Codes at rest (docs/security.md 9): the device code is a 256-bit random
//! token stored as the SHA-256 of `client_id:device_code`, so only the
//! client it was issued to can poll with it (a device code shown to
//! another client finds nothing). The user code has only ~34 bits, so it
//! is stored as an HMAC under a key derived from the master key: a copy of
//! the store alone does not give the codes of pending authorizations.
//! Guessing user codes at the verification page is bounded by its rate
//! limits (§5.1; `routes::device`).

use oauth::acr::Level;
use oauth::device::{DeviceAuthorizationRequest, DeviceAuthorizationResponse, UserCode};
use oauth::{GrantType, Scope};
use store::{ClientRecord, DeviceAuthorization, DeviceDecision, GrantContext};

use super::authorize::{Done, in_enrolment_grace, required_level};
use super::grants::{GrantError, registered_scope};
use super::resources::Apis;
use super::session::Current;
use crate::opaque::{hash_token, random_token};
use crate::services::Ctx;

/// How long the user has to enter the code (§3.2 `expires_in`).
pub const LIFETIME_SECONDS: i64 = 600;
/// The least number of seconds between polls at first (§3.2 `interval`).
pub const INTERVAL_SECONDS: i64 = 5;
/// The verification page (§3.2 `verification_uri`), under the issuer.
pub const PAGE: &str = "/device";
/// How many user codes are drawn before giving up on a free one.
const DRAWS: usize = 5;
const USER_CODE_MAC: &str = "device-user-code";

/// The name under which the device code `device_code` of `client_id` is
/// stored.
pub fn device_code_hash(client_id: &str, device_code: &str) -> String {
    hash_token(&format!("{client_id}:{device_code}"))
}

/// The name under which `code` is stored.
pub fn user_code_hash(ctx: &Ctx, code: &UserCode) -> String {
    ctx.master_key.mac(USER_CODE_MAC, code.as_str().as_bytes())
}

/// Starts a device authorization for an authenticated `client` (§3.1):
/// the scope is narrowed to the client's registration and the APIs judged
/// now, as at `/authorize`, so the device hears `invalid_scope` or
/// `invalid_target` before a user is involved.
pub async fn start(
    ctx: &Ctx,
    client: &ClientRecord,
    request: &DeviceAuthorizationRequest,
) -> Result<DeviceAuthorizationResponse, GrantError> {
    if !client
        .grant_types
        .iter()
        .any(|g| g == GrantType::DeviceCode.as_str())
    {
        return Err(GrantError::NotAllowed(GrantType::DeviceCode));
    }
    let scope = registered_scope(client).narrow(request.scope.as_ref())?;
    let apis = Apis::resolve_or_default(ctx, client, &request.resources).await?;
    let scope = apis.scope(&scope, request.scope.is_some())?;
    let device_code = random_token().map_err(|_| no_randomness())?;
    let device_code_hash = device_code_hash(&client.client_id, device_code.expose());
    let now = ctx.clock.now();
    for _ in 0..DRAWS {
        let random: [u8; 32] = crate::opaque::random_bytes().map_err(|_| no_randomness())?;
        let user_code = UserCode::from_random(&random).ok_or_else(no_randomness)?;
        let record = DeviceAuthorization {
            device_code_hash: device_code_hash.clone(),
            user_code_hash: user_code_hash(ctx, &user_code),
            client_id: client.client_id.clone(),
            scope: scope.to_string(),
            resources: apis.audience(),
            created_at: now,
            expires_at: now + LIFETIME_SECONDS,
            interval: INTERVAL_SECONDS,
        };
        match ctx.store.insert_device_authorization(&record).await {
            Ok(()) => {
                tracing::info!(event = "device_authorization_started", client_id = %client.client_id, "device authorization started");
                return Ok(DeviceAuthorizationResponse::new(
                    device_code.expose().clone(),
                    &user_code,
                    &format!("{}{PAGE}", ctx.config.issuer),
                    LIFETIME_SECONDS,
                    INTERVAL_SECONDS,
                ));
            }
            // Another pending authorization has this user code: draw again.
            Err(store::Error::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(store::Error::Unavailable {
        message: "no free user code".into(),
        source: None,
    }
    .into())
}

fn no_randomness() -> GrantError {
    GrantError::Store(store::Error::Unavailable {
        message: "no randomness".into(),
        source: None,
    })
}

/// A pending authorization, and its client, still enabled.
#[derive(Debug)]
pub struct Pending {
    pub device: DeviceAuthorization,
    pub client: ClientRecord,
}

impl Pending {
    pub fn scope(&self) -> Scope {
        // Validated when it started; one that no longer parses grants nothing.
        Scope::parse(&self.device.scope).unwrap_or_default()
    }
}

/// The pending authorization whose user code hashes to `user_code_hash`;
/// `None` if there is none (unknown, expired, decided) or its client is
/// gone or disabled.
pub async fn pending(ctx: &Ctx, user_code_hash: &str) -> Result<Option<Pending>, store::Error> {
    let device = match ctx.store.get_device_authorization(user_code_hash).await {
        Ok(device) => device,
        Err(store::Error::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    match ctx.store.get_client(&device.client_id).await {
        Ok(client) if super::verify::client_enabled(&client, ctx.clock.now()) => {
            Ok(Some(Pending { device, client }))
        }
        Ok(_) | Err(store::Error::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What the user must do before deciding on a pending authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    SignIn,
    /// Add a factor to reach the level the policy or the client requires
    /// (docs/security.md 31), as at `/authorize`.
    StepUp(Level),
    /// Just signed in without the factor `AUTH_MFA=required` will demand.
    OfferEnrolment,
    /// Approve or deny. Always asked: the user must see which client asks
    /// (§5.4, remote phishing), even for a first-party one.
    Decide,
}

/// The next step for the browser's session `current`.
pub async fn next(
    ctx: &Ctx,
    pending: &Pending,
    current: Option<&Current>,
    done: Done,
) -> Result<Step, store::Error> {
    let Some(current) = current else {
        return Ok(Step::SignIn);
    };
    let now = ctx.clock.now();
    if let Some(required) = required_level(ctx, &pending.client, &current.user, now)
        && Level::of(&current.session.data.amr) < required
    {
        return Ok(Step::StepUp(required));
    }
    if done.signed_in
        && !done.enrolment_declined
        && in_enrolment_grace(ctx, &current.user, now)
        && ctx.store.list_factors(&current.user.id).await?.is_empty()
    {
        return Ok(Step::OfferEnrolment);
    }
    Ok(Step::Decide)
}

/// Records the signed-in user's decision. `Ok(false)` if the
/// authorization was decided, or expired, meanwhile: the code is spent.
pub async fn decide(
    ctx: &Ctx,
    pending: &Pending,
    current: &Current,
    approve: bool,
) -> Result<bool, store::Error> {
    let decision = if approve {
        DeviceDecision::Approved {
            user_id: current.user.id.clone(),
            grant: GrantContext {
                auth_time: Some(current.session.auth_time),
                // The device is not the browser that approved it: signing
                // out there leaves the device signed in (its ID token
                // names no session). What ends all of a user's tokens
                // (deactivation, a new password or factor, other sessions
                // signed out) ends the device's too.
                sid: None,
                amr: current.session.data.amr.clone(),
                nonce: None,
                resources: pending.device.resources.clone(),
                dpop_jkt: None,
            },
        }
    } else {
        DeviceDecision::Denied
    };
    match ctx
        .store
        .decide_device_authorization(&pending.device.user_code_hash, &decision)
        .await
    {
        Ok(()) => {
            tracing::info!(
                category = "security",
                event = "device_authorization_decided",
                client_id = %pending.client.client_id,
                user_id = %current.user.id,
                decision = if approve { "approved" } else { "denied" },
                outcome = "success",
                "a device authorization was decided"
            );
            Ok(true)
        }
        Err(store::Error::NotFound) => Ok(false),
        Err(e) => Err(e),
    }
}
