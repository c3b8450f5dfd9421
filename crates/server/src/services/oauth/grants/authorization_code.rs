//! The authorization code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.6).
//!
//! A code is taken atomically, once. A second presentation is a replay: the
//! tokens the first one issued are revoked (RFC 6749 §4.1.2). Their ids are
//! derived from the code's hash, so no extra record is needed to find them.
//!
//! The code remembers the APIs it was issued for (`resource` at
//! `/authorize`); the token request may name some of them (RFC 8707 §2.2).

use oauth::resource::ResourceIndicator;
use oauth::{CodeChallenge, Scope};
use store::{ClientRecord, CodeTake};

use super::{GrantError, InvalidGrant};
use crate::config::seconds;
use crate::opaque::hash_token;
use crate::services::Ctx;
use crate::services::oauth::backchannel;
use crate::services::oauth::issue::{Grant, TokenSet, issue};
use crate::services::oauth::resources::{self, Apis};

/// The id of something the code with `code_hash` issued.
fn derived(code_hash: &str, what: &str) -> String {
    format!("{what}-{}", code_hash.get(..32).unwrap_or(code_hash))
}

/// What a code exchange presents.
#[derive(Debug, Clone, Copy)]
pub struct CodeRequest<'a> {
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    pub resources: &'a [ResourceIndicator],
}

pub async fn exchange(
    ctx: &Ctx,
    client: &ClientRecord,
    request: CodeRequest<'_>,
    dpop_jkt: Option<&str>,
) -> Result<TokenSet, GrantError> {
    let CodeRequest {
        code,
        redirect_uri,
        code_verifier,
        resources,
    } = request;
    let code_hash = hash_token(code);
    let code = match ctx.store.take_code(&code_hash).await {
        Ok(CodeTake::Fresh(code)) => code,
        Ok(CodeTake::AlreadyUsed(code)) => {
            revoke_issued(ctx, &code_hash).await?;
            metrics::counter!("auth_authorization_code_reuse_total").increment(1);
            tracing::warn!(
                category = "security",
                event = "authorization_code_reuse",
                client_id = %code.client_id,
                user_id = %code.user_id,
                outcome = "failure",
                "an authorization code was presented twice; the tokens it issued are revoked"
            );
            return Err(InvalidGrant::CodeReused.into());
        }
        Err(store::Error::NotFound) => return Err(InvalidGrant::UnknownCode.into()),
        Err(e) => return Err(e.into()),
    };
    // RFC 6749 §4.1.3: bound to the client and the redirect URI.
    if code.client_id != client.client_id {
        return Err(InvalidGrant::CodeOfAnotherClient.into());
    }
    if redirect_uri.is_some_and(|uri| uri != code.redirect_uri) {
        return Err(InvalidGrant::RedirectUriMismatch.into());
    }
    CodeChallenge::from_stored(code.code_challenge.clone()).verify(code_verifier)?;
    let user = match ctx.store.get_user(&code.user_id).await {
        Ok(user) if user.active => user,
        Ok(_) | Err(store::Error::NotFound) => return Err(InvalidGrant::UserInactive.into()),
        Err(e) => return Err(e.into()),
    };

    // Validated when the code was issued; a stored scope that no longer
    // parses grants nothing rather than something.
    let granted = Scope::parse(&code.scope).unwrap_or_default();
    // RFC 8707 §2.2: the token may be for some of the code's APIs; they
    // are judged again, so an API or permission removed since is refused.
    let narrowed = resources::narrow(&code.grant.resources, resources)?;
    let apis = Apis::resolve(ctx, client, &narrowed).await?;
    let scope = apis.scope(&granted, false)?;
    let refresh = super::new_family(client, derived(&code_hash, "family"), granted);
    // Before the tokens: a client that got them is told when the session ends.
    backchannel::record(ctx, client, &user.id, code.grant.sid.as_deref()).await?;
    let grant = Grant {
        grant_type: "authorization_code",
        client,
        user: Some(&user),
        scope,
        jti: derived(&code_hash, "at"),
        context: code.grant,
        refresh,
        audience: apis.audience(),
        ttl: apis.ttl(),
        alg: apis.alg(),
        dpop_jkt: dpop_jkt.map(str::to_owned),
        exchange: None,
    };
    let tokens = issue(ctx, grant).await?;
    tracing::info!(event = "token_issued", client_id = %client.client_id, user_id = %user.id, grant_type = "authorization_code", "tokens issued");
    Ok(tokens)
}

/// Revokes the access token and refresh-token family a code issued.
async fn revoke_issued(ctx: &Ctx, code_hash: &str) -> Result<(), store::Error> {
    let until = ctx.clock.now() + seconds(ctx.config.access_token_ttl) + 60;
    ctx.store
        .revoke_token_id(&derived(code_hash, "at"), until)
        .await?;
    match ctx.store.revoke_family(&derived(code_hash, "family")).await {
        Ok(()) | Err(store::Error::NotFound) => Ok(()),
        Err(e) => Err(e),
    }
}
