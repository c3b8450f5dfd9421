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

use oauth::access_token::{AccessClaims, ClaimsRejection};
use store::{ClientRecord, RefreshFamily, UserRecord};

use crate::jwt::{self, ACCESS_TOKEN_TYP, RejectedToken};

/// An access token that passed every check, with what it was checked against.
#[derive(Debug)]
pub struct VerifiedToken {
    /// The token's claims as signed.
    pub claims: AccessClaims,
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
        &self.claims.sub
    }

    pub fn jti(&self) -> &str {
        &self.claims.jti
    }

    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.claims.scope.split(' ').filter(|s| !s.is_empty())
    }
}

/// Why a presented access token is not accepted. Every caller answers
/// `invalid_token` (or SCIM's 401) whatever the reason; the reason is for
/// the log and for tests that must show *why* a forgery failed.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// The JWS layer: malformed, unknown key, algorithm, `typ`, signature.
    #[error(transparent)]
    Token(#[from] RejectedToken),
    /// The claims (`oauth::access_token`): issuer, audience, expiry, jti.
    #[error(transparent)]
    Claims(#[from] ClaimsRejection),
    #[error("revoked")]
    Revoked,
    #[error("client deleted or disabled")]
    ClientGone,
    #[error("user deleted or inactive")]
    UserGone,
}

/// Whether a client record may still authenticate and hold tokens at
/// `now`: not disabled (`auth-service client disable`), and not an open
/// registration past its end (`AUTH_REGISTRATION_CLIENT_TTL`).
pub fn client_enabled(client: &ClientRecord, now: i64) -> bool {
    let expired = client
        .metadata
        .registration
        .as_ref()
        .and_then(|r| r.expires_at)
        .is_some_and(|end| now >= end);
    !client.metadata.disabled && !expired
}

/// Whose tokens a caller takes (RFC 8707): this issuer's own APIs take
/// only tokens whose `aud` names them; introspection and revocation answer
/// for a token of any API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taking {
    /// Userinfo: tokens for the issuer (no `resource`, or the issuer's).
    Issuer,
    /// SCIM: tokens for the issuer, as before resource indicators, or for
    /// the SCIM API itself (`resource={issuer}/scim/v2`).
    Scim,
    AnyApi,
}

/// Verifies `token` as one of our access tokens. `Ok(None)` for any token
/// that is not acceptable (the reason is logged at debug level); `Err` only
/// when the store cannot answer.
pub async fn access_token(
    ctx: &crate::services::Ctx,
    token: &str,
    taking: Taking,
) -> Result<Option<VerifiedToken>, store::Error> {
    Ok(check(ctx, token, taking).await?.map_or_else(
        |reason| {
            tracing::debug!(reason = %reason, "token not accepted");
            None
        },
        Some,
    ))
}

/// [`access_token`], saying why a token is refused.
pub async fn check(
    ctx: &crate::services::Ctx,
    token: &str,
    taking: Taking,
) -> Result<Result<VerifiedToken, Rejection>, store::Error> {
    let issuer = ctx.config.issuer.as_str();
    let scim;
    let audience: Option<&[&str]> = match taking {
        Taking::Issuer => Some(&[issuer]),
        Taking::Scim => {
            scim = super::resources::scim_identifier(ctx);
            Some(&[issuer, scim.as_str()])
        }
        Taking::AnyApi => None,
    };
    let verify = || jwt::verify_for(&ctx.keys, token, ACCESS_TOKEN_TYP, (issuer, audience));
    let mut verified = verify();
    if let Err(RejectedToken::UnknownKey(Some(kid))) = &verified
        && ctx.keys.reload_for_unknown_kid(kid).await
    {
        verified = verify();
    }
    let claims = match verified {
        // Judged by our clock (the injected one, which the JWT library
        // does not know): valid only before exp.
        Ok(claims) => match AccessClaims::accept(claims, issuer, audience, ctx.clock.now()) {
            Ok(claims) => claims,
            Err(reason) => return Ok(Err(reason.into())),
        },
        Err(reason) => return Ok(Err(reason.into())),
    };
    if ctx.store.is_token_id_revoked(&claims.jti).await? {
        return Ok(Err(Rejection::Revoked));
    }
    let Some(client) = live_client(ctx, &claims.client_id).await? else {
        return Ok(Err(Rejection::ClientGone));
    };
    let user = if claims.for_client_itself() {
        None
    } else {
        match live_user(ctx, &claims.sub).await? {
            Some(user) => Some(user),
            None => return Ok(Err(Rejection::UserGone)),
        }
    };
    Ok(Ok(VerifiedToken {
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
        Ok(client) if client_enabled(&client, state.clock.now()) => Ok(Some(client)),
        Ok(_) | Err(store::Error::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) async fn live_user(
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use store::sqlite::SqliteStore;
    use store::{ClientMetadata, Clock, Store, TestClock};

    use super::*;
    use crate::services::Ctx;
    use crate::services::oauth::sign::issue_access_token;

    /// The JWT library also checks `exp`, against the system clock, so the
    /// test clock starts at the real time.
    fn now() -> i64 {
        store::Clock::now(&store::SystemClock)
    }

    async fn ctx(dir: &std::path::Path, clock: &TestClock) -> Ctx {
        let config = crate::config::Config::load_from(None, &|name| {
            (name == "AUTH_ISSUER").then(|| "https://auth.example".to_owned())
        })
        .unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.join("auth.db"), Arc::new(clock.clone())).unwrap());
        let mut ctx = Ctx::new(
            config,
            store,
            crate::keys::MasterKey::from_bytes(&[7; 32]).unwrap(),
        )
        .unwrap();
        ctx.clock = Arc::new(clock.clone());
        ctx.keys = crate::keys::Keys::new(
            Arc::clone(&ctx.store),
            ctx.master_key.clone(),
            Arc::clone(&ctx.clock),
            crate::state::key_settings(&ctx.config),
        );
        ctx.keys.refresh().await.unwrap();
        ctx.store
            .create_client(&ClientRecord {
                client_id: "svc".into(),
                name: "svc".into(),
                secret_hash: None,
                public: false,
                grant_types: vec!["client_credentials".into()],
                redirect_uris: vec![],
                scopes: vec!["read".into()],
                token_endpoint_auth_method: "client_secret_basic".into(),
                created_at: now(),
                metadata: ClientMetadata::default(),
            })
            .await
            .unwrap();
        ctx
    }

    fn mint(ctx: &Ctx, subject: &str, jti: &str) -> String {
        let scope = oauth::Scope::parse("read").unwrap();
        issue_access_token(
            ctx,
            "svc",
            subject,
            &scope,
            jti.into(),
            Default::default(),
            None,
        )
        .unwrap()
        .token
    }

    /// Each refusal names its reason, and only the reason expected: a
    /// forgery that failed for some other reason would not pass.
    #[tokio::test]
    async fn every_refusal_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let clock = TestClock::new(now());
        let ctx = ctx(dir.path(), &clock).await;
        let reason = |r: Result<VerifiedToken, Rejection>| r.err().map(|e| e.to_string());

        let good = mint(&ctx, "svc", "j-good");
        let verified = check(&ctx, &good, Taking::Issuer).await.unwrap().unwrap();
        assert_eq!(verified.jti(), "j-good");
        assert!(verified.user.is_none());

        let (body, _) = good.rsplit_once('.').unwrap();
        let forged = format!("{body}.AAAA");
        assert!(matches!(
            check(&ctx, &forged, Taking::Issuer).await.unwrap(),
            Err(Rejection::Token(RejectedToken::Invalid(_)))
        ));

        let for_nobody = mint(&ctx, "no-such-user", "j-user");
        assert!(matches!(
            check(&ctx, &for_nobody, Taking::Issuer).await.unwrap(),
            Err(Rejection::UserGone)
        ));

        let revoked = mint(&ctx, "svc", "j-revoked");
        ctx.store
            .revoke_token_id("j-revoked", now() + 3_600)
            .await
            .unwrap();
        assert!(matches!(
            check(&ctx, &revoked, Taking::Issuer).await.unwrap(),
            Err(Rejection::Revoked)
        ));

        crate::services::clients::set_disabled(ctx.store.as_ref(), "svc", true)
            .await
            .unwrap();
        assert!(matches!(
            check(&ctx, &good, Taking::Issuer).await.unwrap(),
            Err(Rejection::ClientGone)
        ));
        crate::services::clients::set_disabled(ctx.store.as_ref(), "svc", false)
            .await
            .unwrap();
        assert!(check(&ctx, &good, Taking::Issuer).await.unwrap().is_ok());

        // At exp, not a second later (RFC 7519 §4.1.4; no leeway).
        clock.advance(verified.claims.exp - clock.now());
        assert_eq!(
            reason(check(&ctx, &good, Taking::Issuer).await.unwrap()).as_deref(),
            Some("expired")
        );
        assert!(
            access_token(&ctx, &good, Taking::Issuer)
                .await
                .unwrap()
                .is_none()
        );
    }
}
