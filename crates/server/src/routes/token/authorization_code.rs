//! The authorization code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.6).
//!
//! A code is taken atomically, once. A second presentation is a replay: the
//! tokens the first one issued are revoked (RFC 6749 §4.1.2). Their ids are
//! derived from the code's hash, so no extra record is needed to find them.

use oauth::{CodeChallenge, Scope};
use store::{ClientRecord, CodeTake};

use super::{FormParams, invalid_grant, issue_failure, token_response};
use crate::config::seconds;
use crate::routes::oauth_support::OAuthError;
use crate::services::issue::{Grant, GrantContext, Refresh, issue};
use crate::state::AppState;
use crate::tokens::hash_token;

/// The id of something the code with `code_hash` issued.
fn derived(code_hash: &str, what: &str) -> String {
    format!("{what}-{}", code_hash.get(..32).unwrap_or(code_hash))
}

pub async fn exchange(
    state: &AppState,
    client: &ClientRecord,
    params: &FormParams,
) -> Result<axum::response::Response, OAuthError> {
    let code_hash = hash_token(params.require("code")?);
    let code = match state.store.take_code(&code_hash).await {
        Ok(CodeTake::Fresh(code)) => code,
        Ok(CodeTake::AlreadyUsed(code)) => {
            revoke_issued(state, &code_hash).await?;
            metrics::counter!("auth_authorization_code_reuse_total").increment(1);
            tracing::warn!(
                category = "security",
                event = "authorization_code_reuse",
                client_id = %code.client_id,
                user_id = %code.user_id,
                outcome = "failure",
                "an authorization code was presented twice; the tokens it issued are revoked"
            );
            return Err(invalid_grant("the authorization code was already used"));
        }
        Err(store::Error::NotFound) => {
            return Err(invalid_grant(
                "the authorization code is invalid or expired",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    // RFC 6749 §4.1.3: bound to the client and the redirect URI.
    if code.client_id != client.client_id {
        return Err(invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if params
        .get("redirect_uri")?
        .is_some_and(|uri| uri != code.redirect_uri)
    {
        return Err(invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    CodeChallenge::from_stored(code.code_challenge.clone()).verify(params.get("code_verifier")?)?;
    let user = match state.store.get_user(&code.user_id).await {
        Ok(user) if user.active => user,
        Ok(_) | Err(store::Error::NotFound) => {
            return Err(invalid_grant("the user is no longer active"));
        }
        Err(e) => return Err(e.into()),
    };

    let refresh = if client.grant_types.iter().any(|g| g == "refresh_token") {
        Refresh::NewFamily {
            id: derived(&code_hash, "family"),
        }
    } else {
        Refresh::None
    };
    let grant = Grant {
        grant_type: "authorization_code",
        client,
        user: Some(&user),
        scope: Scope::parse(&code.scope).unwrap_or_default(),
        jti: derived(&code_hash, "at"),
        context: GrantContext::from_stored(&code.grant),
        refresh,
    };
    let tokens = issue(state, grant).await.map_err(issue_failure)?;
    tracing::info!(event = "token_issued", client_id = %client.client_id, user_id = %user.id, grant_type = "authorization_code", "tokens issued");
    Ok(token_response(tokens))
}

/// Revokes the access token and refresh-token family a code issued.
async fn revoke_issued(state: &AppState, code_hash: &str) -> Result<(), OAuthError> {
    let until = state.clock.now() + seconds(state.config.access_token_ttl) + 60;
    state
        .store
        .revoke_token_id(&derived(code_hash, "at"), until)
        .await?;
    match state
        .store
        .revoke_family(&derived(code_hash, "family"))
        .await
    {
        Ok(()) | Err(store::Error::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
