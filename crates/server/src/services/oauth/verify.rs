//! Judging a presented access token: the one check behind introspection,
//! userinfo, SCIM bearer authentication and revocation (docs/security.md 21).
//!
//! A token is accepted only if all of these hold:
//! - its signature verifies with a key of ours, with the pinned algorithm,
//!   `typ`, `iss`, `aud` and `exp` ([`crate::jwt::verify`], no clock leeway:
//!   the authorization server is the clock for its own tokens);
//! - its `jti` is not revoked;
//! - its client still exists and is not disabled;
//! - its subject, when it is a user, still exists and is active.
//!
//! The client and user are read from the store on every check, so the
//! staleness bound is zero: a deletion or deactivation is effective for the
//! next request on every replica. A token whose `kid` is unknown triggers one
//! reload of the key ring before it is refused
//! ([`crate::keys::Keys::reload_for_unknown_kid`]), so a replica that has not
//! yet seen another replica's new key does not refuse its tokens.
//!
//! It does not decide what the token may do (scopes are the caller's).

use serde_json::Value;
use store::{ClientRecord, RefreshFamily, UserRecord};

use crate::jwt::{self, ACCESS_TOKEN_TYP, RejectedToken};

/// An access token that passed every check, with what it was checked against.
#[derive(Debug)]
pub struct VerifiedToken {
    /// The token's claims as signed.
    pub claims: Value,
    pub client: ClientRecord,
    /// The user the token was issued for; `None` when the subject is the
    /// client itself (client_credentials, minted tokens).
    pub user: Option<UserRecord>,
}

impl VerifiedToken {
    pub fn client_id(&self) -> &str {
        &self.client.client_id
    }

    pub fn subject(&self) -> &str {
        self.claims["sub"].as_str().unwrap_or_default()
    }

    pub fn jti(&self) -> &str {
        self.claims["jti"].as_str().unwrap_or_default()
    }

    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.claims["scope"]
            .as_str()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
    }
}

/// Whether a client record may still hold tokens: present and not disabled
/// (`auth-service client disable`).
pub fn client_enabled(client: &ClientRecord) -> bool {
    !client.metadata.disabled
}

/// Verifies `token` as one of our access tokens. `Ok(None)` for any token
/// that is not acceptable (the reason is logged at debug level); `Err` only
/// when the store cannot answer.
pub async fn access_token(
    state: &crate::services::Ctx,
    token: &str,
) -> Result<Option<VerifiedToken>, store::Error> {
    let check = || jwt::verify(&state.keys, token, ACCESS_TOKEN_TYP, &state.config.issuer);
    let mut verified = check();
    if let Err(RejectedToken::UnknownKey(Some(kid))) = &verified
        && state.keys.reload_for_unknown_kid(kid).await
    {
        verified = check();
    }
    let claims = match verified {
        Ok(claims) => claims,
        Err(reason) => return Ok(rejected(&reason.to_string())),
    };
    // RFC 7519 §4.1.4: valid only *before* exp, judged by our clock (the
    // injected one, which the JWT library does not know).
    if claims["exp"]
        .as_i64()
        .is_none_or(|exp| exp <= state.clock.now())
    {
        return Ok(rejected("expired"));
    }
    let jti = claims["jti"].as_str().unwrap_or_default();
    if jti.is_empty() {
        return Ok(rejected("no jti"));
    }
    if state.store.is_token_id_revoked(jti).await? {
        return Ok(rejected("revoked"));
    }
    let client_id = claims["client_id"].as_str().unwrap_or_default();
    let subject = claims["sub"].as_str().unwrap_or_default();
    let Some(client) = live_client(state, client_id).await? else {
        return Ok(rejected("client deleted or disabled"));
    };
    let user = if subject == client_id {
        None
    } else {
        match live_user(state, subject).await? {
            Some(user) => Some(user),
            None => return Ok(rejected("user deleted or inactive")),
        }
    };
    Ok(Some(VerifiedToken {
        claims,
        client,
        user,
    }))
}

/// The family of a live refresh token whose client and user are still
/// valid. `Ok(None)` otherwise.
pub async fn refresh_token(
    state: &crate::services::Ctx,
    token_hash: &str,
) -> Result<Option<RefreshFamily>, store::Error> {
    let family = match state.store.get_current_family(token_hash).await {
        Ok(family) => family,
        Err(store::Error::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    if live_client(state, &family.client_id).await?.is_none() {
        return Ok(rejected("client deleted or disabled"));
    }
    if let Some(user_id) = &family.user_id
        && live_user(state, user_id).await?.is_none()
    {
        return Ok(rejected("user deleted or inactive"));
    }
    Ok(Some(family))
}

async fn live_client(
    state: &crate::services::Ctx,
    client_id: &str,
) -> Result<Option<ClientRecord>, store::Error> {
    match state.store.get_client(client_id).await {
        Ok(client) if client_enabled(&client) => Ok(Some(client)),
        Ok(_) | Err(store::Error::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn live_user(
    state: &crate::services::Ctx,
    user_id: &str,
) -> Result<Option<UserRecord>, store::Error> {
    match state.store.get_user(user_id).await {
        Ok(user) if user.active => Ok(Some(user)),
        Ok(_) | Err(store::Error::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

fn rejected<T>(reason: &str) -> Option<T> {
    tracing::debug!(reason, "token not accepted");
    None
}
