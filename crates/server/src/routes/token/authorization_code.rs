//! The authorization code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.6).
//!
//! A code is taken atomically, once. A second presentation is a replay: the
//! tokens the first one issued are revoked (RFC 6749 §4.1.2). Their ids are
//! derived from the code's hash, so no extra record is needed to find them.

use oauth::{CodeChallenge, ErrorCode, Scope};
use serde_json::{Map, Value, json};
use store::{ClientRecord, CodeTake, RefreshFamily};

use super::{FormParams, invalid_grant, issue_failure, token_response};
use crate::config::seconds;
use crate::routes::oauth_support::{OAuthError, error};
use crate::services::tokens::{
    Authentication, client_access_ttl, issue_access_token, issue_id_token,
};
use crate::state::AppState;
use crate::tokens::{hash_token, random_token};

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

    let scope = Scope::parse(&code.scope).unwrap_or_default();
    let grant = &code.grant;
    let auth_time = grant["auth_time"]
        .as_i64()
        .unwrap_or_else(|| state.clock.now());
    let mut extra = Map::new();
    extra.insert("auth_time".into(), json!(auth_time));
    let access = issue_access_token(
        state,
        &client.client_id,
        &user.id,
        &scope,
        derived(&code_hash, "at"),
        client_access_ttl(client),
        extra,
    )
    .map_err(issue_failure)?;
    let mut body = json!({
        "access_token": access.token,
        "token_type": "Bearer",
        "expires_in": access.expires_in,
        "scope": scope.to_string(),
    });
    if scope.contains("openid") {
        let auth = Authentication {
            user_id: &user.id,
            auth_time,
            nonce: grant["nonce"].as_str(),
            sid: grant["sid"].as_str(),
            amr: &grant["amr"],
            profile: crate::services::claims::lookup(
                state,
                &user,
                &scope.iter().collect::<Vec<_>>(),
            )
            .await?,
        };
        body["id_token"] =
            json!(issue_id_token(state, client, &auth, &access.token).map_err(issue_failure)?);
    }
    if client.grant_types.iter().any(|g| g == "refresh_token") {
        body["refresh_token"] =
            json!(start_family(state, client, &user.id, &scope, grant, &code_hash).await?);
    }
    metrics::counter!("auth_tokens_issued_total", "grant_type" => "authorization_code", "token_type" => "access_token").increment(1);
    tracing::info!(event = "token_issued", client_id = %client.client_id, user_id = %user.id, grant_type = "authorization_code", "tokens issued");
    Ok(token_response(body))
}

async fn start_family(
    state: &AppState,
    client: &ClientRecord,
    user_id: &str,
    scope: &Scope,
    grant: &Value,
    code_hash: &str,
) -> Result<String, OAuthError> {
    let token = random_token().map_err(|_| error(ErrorCode::ServerError, "no randomness"))?;
    let now = state.clock.now();
    let family = RefreshFamily {
        id: derived(code_hash, "family"),
        client_id: client.client_id.clone(),
        user_id: Some(user_id.to_owned()),
        scope: scope.to_string(),
        grant: json!({"auth_time": grant["auth_time"], "sid": grant["sid"], "amr": grant["amr"]}),
        created_at: now,
        expires_at: now + seconds(state.config.refresh_token_max_ttl),
        idle_expires_at: now + seconds(state.config.refresh_token_idle_ttl),
        rotated_at: now,
        revoked: false,
        session_id: grant["sid"].as_str().map(str::to_owned),
    };
    state
        .store
        .create_family(&family, &hash_token(token.expose()))
        .await?;
    metrics::counter!("auth_tokens_issued_total", "grant_type" => "authorization_code", "token_type" => "refresh_token").increment(1);
    Ok(token.expose().clone())
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
