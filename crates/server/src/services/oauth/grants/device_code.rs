//! The device access token request (RFC 8628 §3.4–3.5): one poll of the
//! authorization the device code names.
//!
//! The store decides each poll atomically (`DeviceStore::poll`): too soon
//! after the previous one is `slow_down` and the interval grows for every
//! later poll; undecided is `authorization_pending`; a denial is
//! `access_denied`; an approval issues tokens once, and every later poll
//! is `invalid_grant`; unknown or expired is `expired_token` (an expired
//! authorization is no longer told apart from one that never was).
//!
//! What is issued is what the user approved at the verification page
//! (`routes::device`): the scope and APIs fixed when the device asked
//! (§3.1), judged again now, so an API or permission removed since is
//! refused; a refresh token only if the client may use that grant.

use oauth::device::SLOW_DOWN_STEP;
use oauth::{Error, ErrorCode, Scope};
use store::{ClientRecord, DeviceDecision, DevicePoll};

use super::{GrantError, InvalidGrant};
use crate::services::Ctx;
use crate::services::oauth::device::device_code_hash;
use crate::services::oauth::issue::{Grant, TokenSet, issue};
use crate::services::oauth::resources::Apis;

/// The id of something the device code with `hash` issued.
fn derived(hash: &str, what: &str) -> String {
    format!("device-{what}-{}", hash.get(..32).unwrap_or(hash))
}

pub async fn poll(
    ctx: &Ctx,
    client: &ClientRecord,
    device_code: &str,
    dpop_jkt: Option<&str>,
) -> Result<TokenSet, GrantError> {
    let hash = device_code_hash(&client.client_id, device_code);
    let refused = |code: ErrorCode, description: &str| {
        Err(GrantError::Protocol(Error::new(code, description)))
    };
    let (device, decision) = match ctx
        .store
        .poll_device_authorization(&hash, SLOW_DOWN_STEP)
        .await
    {
        Ok(DevicePoll::Decided(device, decision)) => (device, *decision),
        Ok(DevicePoll::Pending) => {
            return refused(
                ErrorCode::AuthorizationPending,
                "the user has not yet approved or denied the request",
            );
        }
        Ok(DevicePoll::SlowDown(interval)) => {
            return refused(
                ErrorCode::SlowDown,
                &format!("polling too often: wait at least {interval} s between requests"),
            );
        }
        Ok(DevicePoll::AlreadyUsed) => {
            return Err(InvalidGrant::DeviceCodeUsed.into());
        }
        Err(store::Error::NotFound) => {
            return refused(
                ErrorCode::ExpiredToken,
                "the device code is invalid or has expired; start again",
            );
        }
        Err(e) => return Err(e.into()),
    };
    let (user_id, context) = match decision {
        DeviceDecision::Approved { user_id, grant } => (user_id, grant),
        DeviceDecision::Denied => {
            return refused(ErrorCode::AccessDenied, "the user denied the request");
        }
    };
    let user = match ctx.store.get_user(&user_id).await {
        Ok(user) if user.active => user,
        Ok(_) | Err(store::Error::NotFound) => return Err(InvalidGrant::UserInactive.into()),
        Err(e) => return Err(e.into()),
    };
    let granted = Scope::parse(&device.scope).unwrap_or_default();
    let resources = context
        .resources
        .iter()
        .map(|r| oauth::resource::ResourceIndicator::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    let apis = Apis::resolve(ctx, client, &resources).await?;
    let scope = apis.scope(&granted, false)?;
    let refresh = super::new_family(client, derived(&hash, "family"), granted);
    let grant = Grant {
        grant_type: "device_code",
        client,
        user: Some(&user),
        scope,
        jti: derived(&hash, "at"),
        context,
        refresh,
        audience: apis.audience(),
        ttl: apis.ttl(),
        alg: apis.alg(),
        dpop_jkt: dpop_jkt.map(str::to_owned),
        exchange: None,
    };
    let tokens = issue(ctx, grant).await?;
    tracing::info!(event = "token_issued", client_id = %client.client_id, user_id = %user.id, grant_type = "device_code", "tokens issued");
    Ok(tokens)
}
