//! Signing what a grant issues: access tokens (RFC 9068 JWTs, `typ:
//! at+jwt`, with the active key of the configured algorithm) and ID tokens
//! (with the client's algorithm). What the tokens say is decided in
//! `oauth::access_token` and `oauth::id_token`.

use oauth::Scope;
use oauth::access_token::{AccessClaims, Audience};
use oauth::acr::Level;
use oauth::id_token::Authentication;

use crate::jwt::{self, ACCESS_TOKEN_TYP};
use crate::keys::KeyError;

/// An access token and what the response reports about it.
#[derive(Debug)]
pub struct AccessToken {
    pub token: String,
    pub jti: String,
    pub expires_in: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// No active key is loaded (the store has been unreachable since start).
    #[error("no active {0} signing key is loaded")]
    NoSigningKey(crate::keys::Alg),
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A stored record says something this version cannot act on.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

/// Whom a token is for, and how long: its APIs (RFC 8707; none for this
/// issuer's own) and a lifetime shorter than the service's, if any.
#[derive(Debug, Clone, Copy, Default)]
pub struct Target<'a> {
    pub audience: &'a [String],
    pub ttl: Option<std::time::Duration>,
    /// The algorithm its API asks for (`api create --alg`); the service's
    /// (`AUTH_ACCESS_TOKEN_ALG`) otherwise.
    pub alg: Option<crate::keys::Alg>,
    /// The DPoP key it is bound to (RFC 9449 §6: `cnf.jkt`).
    pub cnf_jkt: Option<&'a str>,
    /// Who acts for the subject (RFC 8693 §4.1), for an exchanged token.
    pub act: Option<&'a serde_json::Value>,
    /// The latest `exp` it may have (an exchanged token does not outlive
    /// the token it was exchanged for).
    pub not_after: Option<i64>,
}

/// When and how the user of a token authenticated (RFC 9068 §2.2.1).
#[derive(Debug, Clone, Copy)]
pub struct UserAuthentication<'a> {
    pub auth_time: i64,
    /// RFC 8176 methods; the `acr` is the level they reach.
    pub amr: &'a [String],
}

/// Signs an access token for `subject` (the client itself for
/// client_credentials, RFC 9068 §2.2) with `scope` and id `jti` (chosen by
/// the caller, so that a replayed code can revoke what it issued).
pub fn issue_access_token(
    state: &crate::services::Ctx,
    client_id: &str,
    subject: &str,
    scope: &Scope,
    jti: String,
    target: Target<'_>,
    user_auth: Option<UserAuthentication<'_>>,
) -> Result<AccessToken, IssueError> {
    let Target {
        audience,
        ttl,
        alg,
        cnf_jkt,
        act,
        not_after,
    } = target;
    let config = &state.config;
    let alg = alg.unwrap_or(config.access_token_alg);
    let signer = state
        .keys
        .signer(alg)
        .ok_or(IssueError::NoSigningKey(alg))?;
    let now = state.clock.now();
    // A client may have shorter-lived tokens, never longer ones: retired keys
    // stay published for the service's lifetime, no longer.
    let ttl = ttl
        .map_or(config.access_token_ttl, |t| t.min(config.access_token_ttl))
        .as_secs();
    let exp = now + i64::try_from(ttl).unwrap_or(i64::MAX / 2);
    let (exp, ttl) = match not_after {
        Some(end) if end < exp => (end, u64::try_from(end - now).unwrap_or(0)),
        _ => (exp, ttl),
    };
    let mut claims = access_token_claims(&config.issuer, client_id, subject, scope, &jti, now, exp);
    if !audience.is_empty() {
        claims.aud = Audience::of(audience, &config.issuer);
    }
    claims.act = act.cloned();
    claims.cnf = cnf_jkt.map(|jkt| oauth::access_token::Confirmation {
        jkt: jkt.to_owned(),
    });
    if let Some(auth) = user_auth {
        claims.auth_time = Some(auth.auth_time);
        claims.acr = Some(Level::of(auth.amr).as_str().to_owned());
        claims.amr = (!auth.amr.is_empty()).then(|| auth.amr.to_vec());
    }
    let token = jwt::sign(&signer, ACCESS_TOKEN_TYP, &claims)?;
    Ok(AccessToken {
        token,
        jti,
        expires_in: ttl,
    })
}

/// The claims of an RFC 9068 access token (§2.2).
pub fn access_token_claims(
    issuer: &str,
    client_id: &str,
    subject: &str,
    scope: &Scope,
    jti: &str,
    iat: i64,
    exp: i64,
) -> AccessClaims {
    AccessClaims {
        iss: issuer.to_owned(),
        sub: subject.to_owned(),
        aud: Audience::One(issuer.to_owned()),
        client_id: client_id.to_owned(),
        iat,
        exp,
        jti: jti.to_owned(),
        scope: scope.to_string(),
        auth_time: None,
        acr: None,
        amr: None,
        cnf: None,
        act: None,
    }
}

/// Signs an ID token for `client` (`oauth::id_token::claims`) with the
/// client's registered algorithm (RS256 unless it asked for ES256).
pub fn issue_id_token(
    ctx: &crate::services::Ctx,
    client: &store::ClientRecord,
    auth: &Authentication<'_>,
    access_token: &str,
) -> Result<String, IssueError> {
    let alg = id_token_alg(client)?;
    let signer = ctx.keys.signer(alg).ok_or(IssueError::NoSigningKey(alg))?;
    let now = ctx.clock.now();
    let ttl = i64::try_from(ctx.config.access_token_ttl.as_secs()).unwrap_or(3_600);
    let claims = oauth::id_token::claims(auth, now, now + ttl, access_token);
    Ok(jwt::sign(&signer, "JWT", &claims)?)
}

/// The algorithm of the client's ID tokens (OpenID Connect Dynamic Client
/// Registration §2: RS256 unless registered otherwise). A stored value this
/// version cannot sign with is refused, not replaced.
pub(crate) fn id_token_alg(client: &store::ClientRecord) -> Result<crate::keys::Alg, IssueError> {
    match client.metadata.id_token_signed_response_alg.as_deref() {
        None => Ok(crate::keys::Alg::Rs256),
        Some(name) => crate::keys::Alg::parse(name).ok_or_else(|| {
            IssueError::Corrupt(format!(
                "client {}: id_token_signed_response_alg {name:?} is not one this service signs with",
                client.client_id
            ))
        }),
    }
}

/// The access-token lifetime a client registered, if any (capped at the
/// service's when used).
pub fn client_access_ttl(client: &store::ClientRecord) -> Option<std::time::Duration> {
    client
        .metadata
        .access_token_ttl
        .map(std::time::Duration::from_secs)
}
