//! Minted tokens: long-lived access tokens for systems that only take a
//! static bearer token (SCIM provisioning from some identity providers).
//!
//! A minted token is an ordinary RFC 9068 access token with a long `exp`,
//! at most `AUTH_MINTED_TOKEN_MAX_TTL`. It is recorded on its client
//! (`client get` lists it), refused once its client is deleted or disabled
//! ([`super::oauth::verify`]), revocable by `jti` whether or not the client still
//! exists, and its signing key stays published until it expires, even after
//! rotation retires the key.

use std::time::Duration;

use oauth::Scope;

use super::Ctx;
use super::oauth::sign::access_token_claims;
use crate::jwt::{self, ACCESS_TOKEN_TYP};
// The key outlives a minted token by the verifiers' clock skew.
use crate::state::SKEW_SECONDS;

/// The shortest lifetime worth minting.
const MIN_TTL: Duration = Duration::from_secs(60);

/// A minted token, shown once.
#[derive(Debug)]
pub struct Minted {
    pub token: String,
    pub jti: String,
    pub scope: Scope,
    pub expires_in: i64,
    pub expires_at: i64,
}

/// Why a token was not minted or revoked, in the domain's words.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("client {0} not found")]
    UnknownClient(String),
    #[error("a public client cannot hold a bearer token of its own")]
    PublicClient,
    #[error("the scope must be within the client's scopes ({allowed})")]
    ScopeNotAllowed { allowed: Scope },
    #[error("invalid scope: {0}")]
    InvalidScope(String),
    #[error("the lifetime must be at least one minute")]
    TooShort,
    /// Longer than `AUTH_MINTED_TOKEN_MAX_TTL`.
    #[error("the lifetime is longer than the cap")]
    OverCap { cap: Duration },
    #[error("client {client_id} has no minted token {jti}")]
    NotMinted { client_id: String, jti: String },
    #[error("no active {0} signing key")]
    NoSigningKey(crate::keys::Alg),
    #[error(transparent)]
    Keys(#[from] crate::keys::RingError),
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// Mints a token for a confidential client, within its scopes, for `ttl`
/// (the cap when `None`), and records it on the client.
pub async fn mint(
    ctx: &Ctx,
    client_id: &str,
    scope: &str,
    ttl: Option<Duration>,
) -> Result<Minted, MintError> {
    let cap = ctx.config.minted_token_max_ttl;
    let ttl = ttl.unwrap_or(cap);
    if ttl > cap {
        return Err(MintError::OverCap { cap });
    }
    if ttl < MIN_TTL {
        return Err(MintError::TooShort);
    }
    let mut client = match ctx.store.get_client(client_id).await {
        Ok(client) => client,
        Err(store::Error::NotFound) => return Err(MintError::UnknownClient(client_id.into())),
        Err(e) => return Err(e.into()),
    };
    if client.public {
        return Err(MintError::PublicClient);
    }
    let scope = Scope::parse(scope).map_err(|e| MintError::InvalidScope(e.to_string()))?;
    let allowed = Scope::parse(&client.scopes.join(" ")).unwrap_or_default();
    if scope.is_empty() || !scope.is_subset(&allowed) {
        return Err(MintError::ScopeNotAllowed { allowed });
    }
    let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 4);

    ctx.keys.refresh().await?;
    let alg = ctx.config.access_token_alg;
    let signer = ctx.keys.signer(alg).ok_or(MintError::NoSigningKey(alg))?;
    let now = ctx.clock.now();
    let exp = now + ttl;
    let jti = uuid::Uuid::new_v4().to_string();
    let claims = access_token_claims(
        &ctx.config.issuer,
        &client.client_id,
        &client.client_id,
        &scope,
        &jti,
        now,
        exp,
    );
    let token = jwt::sign(&signer, ACCESS_TOKEN_TYP, &claims)?;
    // The key must outlive the token.
    ctx.keys.keep_until(&signer.kid, exp + SKEW_SECONDS).await?;

    client.metadata.minted_tokens.push(store::MintedToken {
        jti: jti.clone(),
        scope: scope.to_string(),
        created_at: now,
        expires_at: exp,
        kid: signer.kid.clone(),
    });
    ctx.store.update_client(&client).await?;
    tracing::info!(
        category = "security",
        event = "token_minted",
        client_id = %client.client_id,
        jti = %jti,
        expires_at = exp,
        outcome = "success",
        "long-lived access token minted"
    );
    Ok(Minted {
        token,
        jti,
        scope,
        expires_in: ttl,
        expires_at: exp,
    })
}

/// Revokes a minted token by `jti`. With a client that still exists the
/// token must be one of its minted tokens; without one (deleted, or not
/// named) the revocation is kept as long as any minted token can live.
pub async fn revoke(ctx: &Ctx, client_id: Option<&str>, jti: &str) -> Result<(), MintError> {
    let client = match client_id {
        None => None,
        Some(id) => match ctx.store.get_client(id).await {
            Ok(client) => Some(client),
            // The client is gone: its tokens are refused anyway, and the jti
            // is revoked below all the same.
            Err(store::Error::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
    };
    let recorded = client.as_ref().and_then(|client| {
        super::clients::minted_tokens(client)
            .into_iter()
            .find(|(minted, _)| minted == jti)
    });
    if let (Some(client), None) = (&client, &recorded) {
        return Err(MintError::NotMinted {
            client_id: client.client_id.clone(),
            jti: jti.into(),
        });
    }
    let cap = i64::try_from(ctx.config.minted_token_max_ttl.as_secs()).unwrap_or(i64::MAX / 4);
    let exp = recorded.map_or_else(|| ctx.clock.now() + cap + SKEW_SECONDS, |(_, exp)| exp);
    ctx.store.revoke_token_id(jti, exp).await?;
    tracing::info!(category = "security", event = "token_revoked", client_id = client_id.unwrap_or_default(), jti = %jti, outcome = "success", "minted token revoked");
    Ok(())
}
