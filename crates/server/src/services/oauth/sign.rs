//! Issuing access tokens: RFC 9068 JWTs (`typ: at+jwt`) signed with the
//! active key of the configured algorithm.

use oauth::Scope;
use oauth::access_token::AccessClaims;
use serde_json::{Map, Value, json};

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

/// Signs an access token for `subject` (the client itself for
/// client_credentials, RFC 9068 §2.2) with `scope` and id `jti` (chosen by
/// the caller, so that a replayed code can revoke what it issued).
pub fn issue_access_token(
    state: &crate::services::Ctx,
    client_id: &str,
    subject: &str,
    scope: &Scope,
    jti: String,
    ttl: Option<std::time::Duration>,
    auth_time: Option<i64>,
) -> Result<AccessToken, IssueError> {
    let config = &state.config;
    let alg = config.access_token_alg;
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
    let mut claims = access_token_claims(&config.issuer, client_id, subject, scope, &jti, now, exp);
    claims.auth_time = auth_time;
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
        aud: issuer.to_owned(),
        client_id: client_id.to_owned(),
        iat,
        exp,
        jti: jti.to_owned(),
        scope: scope.to_string(),
        auth_time: None,
    }
}

/// What an ID token says about the authentication (OpenID Connect Core §2).
#[derive(Debug)]
pub struct Authentication<'a> {
    pub user_id: &'a str,
    pub auth_time: i64,
    pub nonce: Option<&'a str>,
    pub sid: Option<&'a str>,
    pub amr: &'a [String],
    /// The user's claims for the granted scopes ([`super::claims::lookup`]).
    pub profile: Map<String, Value>,
}

/// `at_hash`: base64url of the left half of SHA-256 of the access token
/// (OpenID Connect Core §3.1.3.6; ES256 and RS256 both use SHA-256).
pub fn at_hash(access_token: &str) -> String {
    use base64::Engine;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

/// Signs an ID token for `client_id`, with the client's registered
/// algorithm (RS256 unless it asked for ES256).
pub fn issue_id_token(
    state: &crate::services::Ctx,
    client: &store::ClientRecord,
    auth: &Authentication<'_>,
    access_token: &str,
) -> Result<String, IssueError> {
    let alg = id_token_alg(client)?;
    let signer = state
        .keys
        .signer(alg)
        .ok_or(IssueError::NoSigningKey(alg))?;
    let now = state.clock.now();
    let ttl = i64::try_from(state.config.access_token_ttl.as_secs()).unwrap_or(3_600);
    let mut claims = json!({
        "iss": state.config.issuer,
        "sub": auth.user_id,
        "aud": client.client_id,
        "azp": client.client_id,
        "iat": now,
        "exp": now + ttl,
        "auth_time": auth.auth_time,
        "at_hash": at_hash(access_token),
        "amr": auth.amr,
        // ISO/IEC 29115 level 1: one factor (a password). Raised when a
        // second factor exists.
        "acr": "1",
    });
    if let Some(object) = claims.as_object_mut() {
        let profile = auth.profile.iter().filter(|(name, _)| *name != "sub");
        object.extend(profile.map(|(name, value)| (name.clone(), value.clone())));
    }
    if let Some(nonce) = auth.nonce {
        claims["nonce"] = json!(nonce);
    }
    if let Some(sid) = auth.sid {
        claims["sid"] = json!(sid);
    }
    Ok(jwt::sign(&signer, "JWT", &claims)?)
}

/// The algorithm of the client's ID tokens (OpenID Connect Dynamic Client
/// Registration §2: RS256 unless registered otherwise). A stored value this
/// version cannot sign with is refused, not replaced.
fn id_token_alg(client: &store::ClientRecord) -> Result<crate::keys::Alg, IssueError> {
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
