//! The refresh token grant (RFC 6749 §6) with rotation: every use returns a
//! new refresh token; presenting a replaced one revokes the family
//! (RFC 9700 §4.14.2), except within a short grace window for concurrent
//! refreshes of the same token, which are refused without revoking.

use oauth::{ErrorCode, Scope};
use store::{ClientRecord, Rotation};

use super::{FormParams, invalid_grant, issue_failure, token_response};
use crate::config::seconds;
use crate::routes::oauth_support::{OAuthError, error};
use crate::services::issue::{Grant, GrantContext, Refresh, issue};
use crate::state::AppState;
use crate::tokens::{hash_token, random_token};

pub async fn refresh(
    state: &AppState,
    client: &ClientRecord,
    params: &FormParams,
) -> Result<axum::response::Response, OAuthError> {
    let presented = hash_token(params.require("refresh_token")?);
    let requested = params
        .get("scope")?
        .map(|requested| {
            Scope::parse(requested).map_err(|e| error(ErrorCode::InvalidScope, e.to_string()))
        })
        .transpose()?;
    // Everything that can refuse the request is decided before the rotation,
    // so a refused refresh leaves the presented token usable (docs/security.md 25).
    // The family read here is the one the rotation will find, unless a
    // concurrent refresh wins; then rotation refuses the request itself.
    let checked_user = match state.store.get_current_family(&presented).await {
        Ok(family) if family.client_id != client.client_id => {
            return Err(invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        Ok(family) => {
            narrowed(requested.as_ref(), &family.scope)?;
            Some(active_user(state, &family).await?)
        }
        Err(store::Error::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let new_token = random_token().map_err(|_| error(ErrorCode::ServerError, "no randomness"))?;
    let now = state.clock.now();
    let idle = now + seconds(state.config.refresh_token_idle_ttl);
    let grace = seconds(state.config.refresh_token_grace);
    let family = match state
        .store
        .rotate_refresh_token(&presented, &hash_token(new_token.expose()), idle, grace)
        .await
    {
        Ok(Rotation::Rotated(family)) => family,
        Ok(Rotation::WithinGrace(_)) => {
            return Err(invalid_grant(
                "this refresh token was just used; use the one issued with it",
            ));
        }
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
            return Err(invalid_grant("the refresh token was already used"));
        }
        Err(store::Error::NotFound) => {
            return Err(invalid_grant(
                "the refresh token is invalid, expired or revoked",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let scope = narrowed(requested.as_ref(), &family.scope)?;
    // The user read before the rotation, unless a concurrent refresh won
    // that race and the rotation succeeded anyway: one store read, not two.
    let user = match checked_user {
        Some(user) => user,
        None => active_user(state, &family).await?,
    };
    let mut context = GrantContext::from_stored(&family.grant);
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
    };
    Ok(token_response(
        issue(state, grant).await.map_err(issue_failure)?,
    ))
}

/// The scope of the new tokens: the grant's, or a narrower one requested
/// (RFC 6749 §6: "MUST NOT include any scope not originally granted").
fn narrowed(requested: Option<&Scope>, granted: &str) -> Result<Scope, OAuthError> {
    let granted = Scope::parse(granted).unwrap_or_default();
    match requested {
        None => Ok(granted),
        Some(requested) if requested.is_subset(&granted) => Ok(requested.clone()),
        Some(_) => Err(error(
            ErrorCode::InvalidScope,
            "a refresh cannot widen the scope",
        )),
    }
}

/// The family's user, if still active; otherwise the family is revoked.
async fn active_user(
    state: &AppState,
    family: &store::RefreshFamily,
) -> Result<store::UserRecord, OAuthError> {
    let user_id = family.user_id.as_deref().unwrap_or_default();
    match state.store.get_user(user_id).await {
        Ok(user) if user.active => Ok(user),
        Ok(_) | Err(store::Error::NotFound) => {
            // Fail closed: the family must be gone before the client hears so.
            match state.store.revoke_family(&family.id).await {
                Ok(()) | Err(store::Error::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            Err(invalid_grant("the user is no longer active"))
        }
        Err(e) => Err(e.into()),
    }
}
