//! Issuing access tokens: RFC 9068 JWTs (`typ: at+jwt`) signed with the
//! active key of the configured algorithm.

use oauth::Scope;
use serde_json::{Map, Value, json};

use crate::jwt::{self, ACCESS_TOKEN_TYP};
use crate::keys::KeyError;
use crate::state::AppState;

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
}

/// Signs an access token for `subject` (the client itself for
/// client_credentials, RFC 9068 §2.2) with `scope`.
pub fn issue_access_token(
    state: &AppState,
    client_id: &str,
    subject: &str,
    scope: &Scope,
    extra: Map<String, Value>,
) -> Result<AccessToken, IssueError> {
    let config = &state.config;
    let alg = config.access_token_alg;
    let signer = state
        .keys
        .signer(alg)
        .ok_or(IssueError::NoSigningKey(alg))?;
    let now = state.clock.now();
    let ttl = config.access_token_ttl.as_secs();
    let jti = uuid::Uuid::new_v4().to_string();
    let mut claims = json!({
        "iss": config.issuer,
        "sub": subject,
        // Without resource indicators (RFC 8707) the audience is this issuer,
        // whose own APIs (SCIM, userinfo) accept these tokens.
        "aud": config.issuer,
        "client_id": client_id,
        "iat": now,
        "exp": now + i64::try_from(ttl).unwrap_or(i64::MAX / 2),
        "jti": jti,
        "scope": scope.to_string(),
    });
    if let Some(object) = claims.as_object_mut() {
        object.extend(extra);
    }
    let token = jwt::sign(&signer, ACCESS_TOKEN_TYP, &claims)?;
    Ok(AccessToken {
        token,
        jti,
        expires_in: ttl,
    })
}
