//! The refresh token grant (RFC 6749 §6) with rotation: every use returns a
//! new refresh token; presenting a replaced one revokes the family
//! (RFC 9700 §4.14.2), except within a short grace window for concurrent
//! refreshes of the same token, which are refused without revoking. The
//! rotation rule itself is `store::rotation::decide`.
//!
//! The family keeps the APIs of its grant; a refresh may ask for a token
//! for some of them (`resource`, RFC 8707 §2.2), never for another.

use oauth::Scope;
use oauth::resource::ResourceIndicator;
use store::{ClientRecord, RefreshFamily, Rotation, UserRecord};

use super::{GrantError, InvalidGrant};
use crate::config::seconds;
use crate::opaque::{hash_token, random_token};
use crate::services::Ctx;
use crate::services::oauth::issue::{Grant, IssueFailure, Refresh, TokenSet, issue};
use crate::services::oauth::resources::{self, Apis};

/// What a refresh request asks for.
#[derive(Debug, Clone, Copy)]
pub struct RefreshRequest<'a> {
    pub presented: &'a str,
    pub scope: Option<&'a Scope>,
    pub resources: &'a [ResourceIndicator],
}

pub async fn refresh(
    ctx: &Ctx,
    client: &ClientRecord,
    request: RefreshRequest<'_>,
    dpop_jkt: Option<&str>,
) -> Result<TokenSet, GrantError> {
    let RefreshRequest {
        presented,
        scope: requested,
        resources,
    } = request;
    let presented = hash_token(presented);
    // Everything that can refuse the request is decided before the rotation,
    // so a refused refresh leaves the presented token usable (docs/security.md 25).
    // The family read here is the one the rotation will find, unless a
    // concurrent refresh wins; then rotation refuses the request itself.
    let checked_user = match ctx.store.get_current_family(&presented).await {
        Ok(family) if family.client_id != client.client_id => {
            return Err(InvalidGrant::RefreshTokenOfAnotherClient.into());
        }
        Ok(family) => {
            same_key(&family, dpop_jkt)?;
            for_apis(ctx, client, requested, resources, &family).await?;
            Some(active_user(ctx, &family).await?)
        }
        Err(store::Error::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let new_token = random_token().map_err(|_| IssueFailure::Randomness)?;
    let now = ctx.clock.now();
    let idle = now + seconds(ctx.config.refresh_token_idle_ttl);
    let grace = seconds(ctx.config.refresh_token_grace);
    let family = match ctx
        .store
        .rotate_refresh_token(&presented, &hash_token(new_token.expose()), idle, grace)
        .await
    {
        Ok(Rotation::Rotated(family)) => family,
        Ok(Rotation::WithinGrace(_)) => return Err(InvalidGrant::RefreshTokenJustUsed.into()),
        Ok(Rotation::ReuseDetected(family)) => {
            metrics::counter!("auth_refresh_token_reuse_detected_total").increment(1);
            tracing::warn!(
                category = "security",
                event = "refresh_token_reuse_detected",
                client_id = %family.client_id,
                user_id = family.user_id.as_deref().unwrap_or_default(),
                outcome = "failure",
                "a rotated refresh token was presented again; its family is revoked"
            );
            return Err(InvalidGrant::RefreshTokenReused.into());
        }
        Err(store::Error::NotFound) => return Err(InvalidGrant::UnknownRefreshToken.into()),
        Err(e) => return Err(e.into()),
    };
    let (scope, apis) = for_apis(ctx, client, requested, resources, &family).await?;
    // The user read before the rotation, unless a concurrent refresh won
    // that race and the rotation succeeded anyway: one store read, not two.
    let user = match checked_user {
        Some(user) => user,
        None => {
            same_key(&family, dpop_jkt)?;
            active_user(ctx, &family).await?
        }
    };
    let mut context = family.grant.clone();
    // A family from before auth_time was kept: the family's start.
    context.auth_time = Some(context.auth_time.unwrap_or(family.created_at));
    let grant = Grant {
        grant_type: "refresh_token",
        client,
        user: Some(&user),
        scope,
        jti: uuid::Uuid::new_v4().to_string(),
        context,
        refresh: Refresh::Rotated(new_token.expose().clone()),
        audience: apis.audience(),
        ttl: apis.ttl(),
        alg: apis.alg(),
        dpop_jkt: dpop_jkt.map(str::to_owned),
        exchange: None,
    };
    Ok(issue(ctx, grant).await?)
}

/// The scope and APIs of the new access token: the family's, or narrower
/// ones requested (RFC 6749 §6, RFC 8707 §2.2). The APIs are judged again,
/// so one removed (or no longer allowed the client) since the grant is
/// refused.
async fn for_apis(
    ctx: &Ctx,
    client: &ClientRecord,
    requested: Option<&Scope>,
    resources: &[ResourceIndicator],
    family: &RefreshFamily,
) -> Result<(Scope, Apis), GrantError> {
    // Validated when the family started; a stored scope that no longer
    // parses grants nothing rather than something.
    let granted = Scope::parse(&family.scope).unwrap_or_default();
    let scope = granted.narrow(requested)?;
    let narrowed = resources::narrow(&family.grant.resources, resources)?;
    let apis = Apis::resolve(ctx, client, &narrowed).await?;
    let scope = apis.scope(&scope, requested.is_some())?;
    Ok((scope, apis))
}

/// A family bound to a DPoP key (a public client's, RFC 9449 §5) is
/// refreshed only with a proof of that key.
fn same_key(family: &RefreshFamily, dpop_jkt: Option<&str>) -> Result<(), GrantError> {
    match family.grant.dpop_jkt.as_deref() {
        Some(bound) if dpop_jkt != Some(bound) => Err(GrantError::Protocol(oauth::Error::new(
            oauth::ErrorCode::InvalidDpopProof,
            "the refresh token is bound to a DPoP key; send a proof of that key",
        ))),
        _ => Ok(()),
    }
}

/// The family's user, if still active; otherwise the family is revoked.
async fn active_user(ctx: &Ctx, family: &RefreshFamily) -> Result<UserRecord, GrantError> {
    let user_id = family.user_id.as_deref().unwrap_or_default();
    match ctx.store.get_user(user_id).await {
        Ok(user) if user.active => Ok(user),
        Ok(_) | Err(store::Error::NotFound) => {
            // Fail closed: the family must be gone before the client hears so.
            match ctx.store.revoke_family(&family.id).await {
                Ok(()) | Err(store::Error::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            Err(InvalidGrant::UserInactive.into())
        }
        Err(e) => Err(e.into()),
    }
}
