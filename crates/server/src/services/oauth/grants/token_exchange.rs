//! Token exchange (RFC 8693): a confidential client registered for the
//! grant trades a token this server issued (the subject token: an access
//! token, or an ID token issued to this client) for an access token with
//! a narrower scope (no `resource`: within the subject token's) or for
//! another of its exchange APIs (`client create --exchange-resource`:
//! within the client's scopes there). The new token keeps the subject's `sub`, is the
//! exchanging client's (`client_id`), never outlives the subject token,
//! and says who acts in `act` (§4.1): the actor token's subject when one is
//! sent, otherwise the exchanging client; earlier actors nest inside.
//!
//! §2.2.2: an invalid or unacceptable subject or actor token is
//! `invalid_request`; an audience the client may not exchange for is
//! `invalid_target`. Every exchange logs `token_exchanged`.

use oauth::Scope;
use oauth::token_exchange::{ExchangeRequest, TokenType};
use serde_json::{Value, json};
use store::{ClientRecord, UserRecord};

use super::{GrantError, registered_scope};
use crate::services::Ctx;
use crate::services::oauth::issue::{Exchanged, Grant, GrantContext, Refresh, TokenSet, issue};
use crate::services::oauth::resources::Apis;
use crate::services::oauth::verify;

fn unacceptable(what: &str) -> GrantError {
    GrantError::Protocol(oauth::Error::new(
        oauth::ErrorCode::InvalidRequest,
        format!("the {what} is invalid, expired or not acceptable"),
    ))
}

/// What a subject or actor token says about whom it is for.
struct Presented {
    sub: String,
    user: Option<UserRecord>,
    /// The scope it carries; an ID token's is the exchanging client's.
    scope: Scope,
    exp: i64,
    auth_time: Option<i64>,
    amr: Vec<String>,
    act: Option<Value>,
}

async fn presented(
    ctx: &Ctx,
    client: &ClientRecord,
    token: &str,
    kind: TokenType,
    what: &str,
) -> Result<Presented, GrantError> {
    // Our access tokens are JWTs; `jwt` names either kind, tried in turn.
    if matches!(kind, TokenType::AccessToken | TokenType::Jwt)
        && let Ok(verified) = verify::check(ctx, token, verify::Taking::AnyApi).await?
    {
        let claims = verified.claims;
        return Ok(Presented {
            scope: Scope::parse(&claims.scope).unwrap_or_default(),
            sub: claims.sub,
            user: verified.user,
            exp: claims.exp,
            auth_time: claims.auth_time,
            amr: claims.amr.unwrap_or_default(),
            act: claims.act,
        });
    }
    if matches!(kind, TokenType::IdToken | TokenType::Jwt)
        && let Ok(claims) = crate::jwt::verify_id_token(&ctx.keys, token, &ctx.config.issuer)
    {
        // An ID token is the client's own proof of a sign-in: only the
        // client it was issued to may exchange it, for its own scopes.
        let aud_is_client = match &claims["aud"] {
            Value::String(aud) => *aud == client.client_id,
            Value::Array(auds) => auds.iter().any(|a| *a == client.client_id.as_str()),
            _ => false,
        };
        let sub = claims["sub"].as_str().unwrap_or_default();
        if aud_is_client && let Some(user) = verify::live_user(ctx, sub).await? {
            return Ok(Presented {
                sub: sub.to_owned(),
                user: Some(user),
                scope: registered_scope(client),
                exp: claims["exp"].as_i64().unwrap_or_default(),
                auth_time: claims["auth_time"].as_i64(),
                amr: serde_json::from_value(claims["amr"].clone()).unwrap_or_default(),
                act: None,
            });
        }
    }
    Err(unacceptable(what))
}

pub async fn exchange(
    ctx: &Ctx,
    client: &ClientRecord,
    request: ExchangeRequest<'_>,
    dpop_jkt: Option<&str>,
) -> Result<TokenSet, GrantError> {
    if client.public {
        return Err(GrantError::PublicClient);
    }
    let subject = presented(
        ctx,
        client,
        request.subject_token,
        request.subject_token_type,
        "subject_token",
    )
    .await?;
    // A client's own token (client_credentials) is exchanged by that client
    // only: its subject is the client, which the new token's must be.
    if subject.user.is_none() && subject.sub != client.client_id {
        return Err(unacceptable("subject_token"));
    }
    let actor = match request.actor_token {
        Some((token, kind)) => Some(presented(ctx, client, token, kind, "actor_token").await?),
        None => None,
    };
    let apis = Apis::resolve_for_exchange(ctx, client, &request.resources).await?;
    // Within what the client is registered for; for the same audience
    // (no resource asked) also within the subject token's scope, so the
    // exchange only narrows (RFC 8693 §1). For another API the client acts
    // for the subject with the scopes the operator gave it there.
    let client_scope = registered_scope(client);
    let usable = if request.resources.is_empty() {
        subject.scope.only(|s| client_scope.contains(s))
    } else {
        client_scope
    };
    let scope = usable.narrow(request.scope.as_ref())?;
    let scope = apis.scope(&scope, request.scope.is_some())?;
    // §4.1: the acting party, with the subject token's actors nested.
    let acting = actor
        .as_ref()
        .map_or_else(|| client.client_id.clone(), |a| a.sub.clone());
    let mut act = json!({"sub": acting});
    if let Some(earlier) = subject.act.clone() {
        act["act"] = earlier;
    }
    tracing::info!(
        category = "security",
        event = "token_exchanged",
        client_id = %client.client_id,
        subject = %subject.sub,
        actor = %acting,
        audience = %apis.audience().join(" "),
        scope = %scope,
        outcome = "success",
        "token exchanged"
    );
    let grant = Grant {
        grant_type: "token_exchange",
        client,
        user: subject.user.as_ref(),
        scope,
        jti: uuid::Uuid::new_v4().to_string(),
        context: GrantContext {
            auth_time: subject.auth_time,
            amr: subject.amr.clone(),
            ..GrantContext::default()
        },
        refresh: Refresh::None,
        audience: apis.audience(),
        ttl: apis.ttl(),
        alg: apis.alg(),
        dpop_jkt: dpop_jkt.map(str::to_owned),
        exchange: Some(Exchanged {
            subject: subject.sub,
            act,
            not_after: subject.exp,
        }),
    };
    Ok(issue(ctx, grant).await?)
}
