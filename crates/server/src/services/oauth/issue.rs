//! One issuance for every grant: a grant decides who gets what
//! ([`Grant`]), and [`issue`] signs the access token (RFC 9068), the ID
//! token when `openid` was granted (OpenID Connect Core §3.1.3.3), and starts
//! a refresh-token family when the grant asks for one, into a typed
//! [`TokenSet`]. The HTTP surface writes it as the RFC 6749 §5.1 response.
//!
//! It does not decide anything: the grants (authorization_code,
//! refresh_token, client_credentials) have checked the request before.

use oauth::Scope;
use oauth::id_token::Authentication;
use store::{ClientRecord, RefreshFamily, UserRecord};

use super::sign::{
    IssueError, Target, UserAuthentication, client_access_ttl, issue_access_token, issue_id_token,
};
use crate::config::seconds;
use crate::opaque::{hash_token, random_token};
use crate::services::Ctx;

pub use store::GrantContext;

/// The refresh token a grant hands out.
#[derive(Debug)]
pub enum Refresh {
    None,
    /// Start a family with this id (derived from the code, so a replay can
    /// revoke it) and the grant's whole scope, which may be wider than an
    /// access token narrowed to some of its APIs (RFC 8707 §2.2).
    NewFamily {
        id: String,
        scope: Scope,
    },
    /// The token a rotation just stored.
    Rotated(String),
}

/// What a grant decided.
#[derive(Debug)]
pub struct Grant<'a> {
    /// `authorization_code`, `refresh_token` or `client_credentials`, for
    /// metrics and the log.
    pub grant_type: &'static str,
    pub client: &'a ClientRecord,
    /// The user, or `None` when the client acts for itself.
    pub user: Option<&'a UserRecord>,
    pub scope: Scope,
    /// The access token's id (chosen by the grant, so a replayed code can
    /// revoke what it issued).
    pub jti: String,
    pub context: GrantContext,
    pub refresh: Refresh,
    /// The APIs the access token is for (RFC 8707), none for this issuer's
    /// own, and a lifetime they ask for (capped as the client's is).
    pub audience: Vec<String>,
    pub ttl: Option<std::time::Duration>,
    pub alg: Option<crate::keys::Alg>,
    /// The DPoP key of the request's proof (RFC 9449): the access token is
    /// bound to it, and a public client's refresh tokens too (§5).
    pub dpop_jkt: Option<String>,
    /// A token exchange's subject and actors (RFC 8693).
    pub exchange: Option<Exchanged>,
}

/// What a token exchange (RFC 8693) puts in the new token beyond a grant.
#[derive(Debug)]
pub struct Exchanged {
    /// The subject token's `sub` (a user, or a client acting for itself).
    pub subject: String,
    /// RFC 8693 §4.1 `act`.
    pub act: serde_json::Value,
    /// The subject token's `exp`: the new token ends no later.
    pub not_after: i64,
}

/// The tokens of one response.
#[derive(Debug)]
pub struct TokenSet {
    pub access_token: String,
    /// `Bearer`, or `DPoP` for a bound token (RFC 9449 §5.1).
    pub token_type: &'static str,
    /// RFC 8693 §2.2.1, for an exchange.
    pub issued_token_type: Option<&'static str>,
    pub expires_in: u64,
    pub scope: Scope,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IssueFailure {
    #[error(transparent)]
    Sign(#[from] IssueError),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("the system random generator failed")]
    Randomness,
}

/// Signs and stores what `grant` decided.
pub async fn issue(ctx: &Ctx, grant: Grant<'_>) -> Result<TokenSet, IssueFailure> {
    let Grant {
        grant_type,
        client,
        user,
        scope,
        jti,
        context,
        refresh,
        audience,
        ttl,
        alg,
        dpop_jkt,
        exchange,
    } = grant;
    let mut context = context;
    // §5: "Refresh tokens issued to public clients MUST be bound"; those of
    // confidential clients are bound by the client's authentication.
    if client.public && context.dpop_jkt.is_none() {
        context.dpop_jkt.clone_from(&dpop_jkt);
    }
    let subject = match &exchange {
        Some(exchanged) => exchanged.subject.as_str(),
        None => user.map_or(client.client_id.as_str(), |u| u.id.as_str()),
    };
    let auth_time = context.auth_time.unwrap_or_else(|| ctx.clock.now());
    let access = issue_access_token(
        ctx,
        &client.client_id,
        subject,
        &scope,
        jti,
        Target {
            audience: &audience,
            // The shorter of the client's lifetime and its APIs'.
            ttl: match (client_access_ttl(client), ttl) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            alg,
            cnf_jkt: dpop_jkt.as_deref(),
            act: exchange.as_ref().map(|e| &e.act),
            not_after: exchange.as_ref().map(|e| e.not_after),
        },
        user.is_some().then_some(UserAuthentication {
            auth_time,
            amr: &context.amr,
        }),
    )?;
    metrics::counter!("auth_tokens_issued_total", "grant_type" => grant_type, "token_type" => "access_token").increment(1);
    let id_token = match user {
        // An exchange issues an access token only (RFC 8693 §2.2.1).
        Some(user) if scope.contains("openid") && exchange.is_none() => {
            let profile =
                super::claims::lookup(ctx, client, user, &scope.iter().collect::<Vec<_>>()).await?;
            let auth = Authentication {
                issuer: &ctx.config.issuer,
                user_id: &user.id,
                client_id: &client.client_id,
                auth_time,
                nonce: context.nonce.as_deref(),
                sid: context.sid.as_deref(),
                amr: &context.amr,
                profile: &profile,
            };
            Some(issue_id_token(ctx, client, &auth, &access.token)?)
        }
        _ => None,
    };
    let refresh_token = match (refresh, user) {
        (Refresh::NewFamily { id, scope }, Some(user)) => {
            Some(start_family(ctx, client, user, &scope, &context, id, grant_type).await?)
        }
        (Refresh::Rotated(token), _) => Some(token),
        (Refresh::None | Refresh::NewFamily { .. }, _) => None,
    };
    Ok(TokenSet {
        token_type: if dpop_jkt.is_some() { "DPoP" } else { "Bearer" },
        issued_token_type: exchange
            .is_some()
            .then_some(oauth::token_exchange::TokenType::AccessToken.as_str()),
        access_token: access.token,
        expires_in: access.expires_in,
        scope,
        id_token,
        refresh_token,
    })
}

async fn start_family(
    ctx: &Ctx,
    client: &ClientRecord,
    user: &UserRecord,
    scope: &Scope,
    context: &GrantContext,
    id: String,
    grant_type: &'static str,
) -> Result<String, IssueFailure> {
    let token = random_token().map_err(|_| IssueFailure::Randomness)?;
    let now = ctx.clock.now();
    let family = RefreshFamily {
        id,
        client_id: client.client_id.clone(),
        user_id: Some(user.id.clone()),
        scope: scope.to_string(),
        // No nonce: the ID tokens of a refresh carry none (OpenID Connect
        // Core §12.2).
        grant: GrantContext {
            nonce: None,
            ..context.clone()
        },
        created_at: now,
        expires_at: now + seconds(ctx.config.refresh_token_max_ttl),
        idle_expires_at: now + seconds(ctx.config.refresh_token_idle_ttl),
        rotated_at: now,
        revoked: false,
        session_id: context.sid.clone(),
    };
    ctx.store
        .create_family(&family, &hash_token(token.expose()))
        .await?;
    metrics::counter!("auth_tokens_issued_total", "grant_type" => grant_type, "token_type" => "refresh_token").increment(1);
    Ok(token.expose().clone())
}
