//! JWTs this service issues and accepts back (RFC 7519, JWS compact form).
//!
//! Issuing: the header names `alg`, `typ` and `kid`; the signature comes
//! from a cached [`Signer`]. Verifying our own tokens (introspection,
//! userinfo): the `kid` must name one of our keys, the header `alg` must be
//! that key's algorithm (so `none`, HS256 with a public key, or RS/ES
//! confusion cannot pass), `typ` must be the expected one, and `iss`, `aud`
//! (this issuer, for access tokens) and `exp` are checked (RFC 8725 §3.1, §3.11; docs/security.md 11). Headers such as
//! `jku`, `x5u` and `jwk` are never consulted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

use crate::keys::{Alg, KeyError, Keys, Signer};

/// The media type of RFC 9068 access tokens.
pub const ACCESS_TOKEN_TYP: &str = oauth::access_token::TYP;

/// Signs `claims` as a compact JWS.
pub fn sign(
    signer: &Signer,
    typ: &str,
    claims: &impl serde::Serialize,
) -> Result<String, KeyError> {
    let header = serde_json::json!({"alg": signer.alg.as_str(), "typ": typ, "kid": signer.kid});
    let mut token = URL_SAFE_NO_PAD.encode(header.to_string());
    token.push('.');
    let claims = serde_json::to_vec(claims).map_err(|e| KeyError {
        kid: signer.kid.clone(),
        problem: format!("the claims do not serialize: {e}"),
    })?;
    token.push_str(&URL_SAFE_NO_PAD.encode(claims));
    let signature = signer.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    Ok(token)
}

/// Why a token was not accepted. Callers answer `invalid_token` whatever the
/// reason; the reason is for the log.
#[derive(Debug, thiserror::Error)]
pub enum RejectedToken {
    #[error("malformed JWT: {0}")]
    Malformed(String),
    #[error("unknown signing key {0:?}")]
    UnknownKey(Option<String>),
    #[error("algorithm {0:?} is not the key's algorithm")]
    WrongAlgorithm(String),
    #[error("typ {0:?} is not {1:?}")]
    WrongType(Option<String>, &'static str),
    #[error("invalid token: {0}")]
    Invalid(String),
}

fn algorithm(alg: Alg) -> Algorithm {
    match alg {
        Alg::Es256 => Algorithm::ES256,
        Alg::Rs256 => Algorithm::RS256,
    }
}

/// Verifies a token we issued for this issuer's own APIs and returns its
/// claims.
pub fn verify(
    keys: &Keys,
    token: &str,
    typ: &'static str,
    issuer: &str,
) -> Result<Value, RejectedToken> {
    verify_with(keys, token, typ, issuer, Some(&[issuer]), false)
}

/// [`verify`], for one of the audiences `audience`, or any (`None`: a
/// token for any API, RFC 8707, as introspection answers for).
pub fn verify_for(
    keys: &Keys,
    token: &str,
    typ: &'static str,
    (issuer, audience): (&str, Option<&[&str]>),
) -> Result<Value, RejectedToken> {
    verify_with(keys, token, typ, issuer, audience, false)
}

/// Verifies an ID token we issued that comes back as `id_token_hint`: an
/// expired one is still a valid hint (RP-Initiated Logout 1.0 §2).
pub fn verify_id_token_hint(
    keys: &Keys,
    token: &str,
    issuer: &str,
) -> Result<Value, RejectedToken> {
    verify_with(keys, token, "jwt", issuer, None, true)
}

/// Verifies an unexpired ID token we issued, for any client (the subject
/// token of a token exchange, RFC 8693).
pub fn verify_id_token(keys: &Keys, token: &str, issuer: &str) -> Result<Value, RejectedToken> {
    verify_with(keys, token, "jwt", issuer, None, false)
}

fn verify_with(
    keys: &Keys,
    token: &str,
    typ: &'static str,
    issuer: &str,
    audience: Option<&[&str]>,
    allow_expired: bool,
) -> Result<Value, RejectedToken> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| RejectedToken::Malformed(e.to_string()))?;
    let kid = header.kid.clone();
    let (alg, key) = kid
        .as_deref()
        .and_then(|kid| keys.verifier(kid))
        .ok_or(RejectedToken::UnknownKey(kid))?;
    if header.alg != algorithm(alg) {
        return Err(RejectedToken::WrongAlgorithm(format!("{:?}", header.alg)));
    }
    // RFC 9068 §4: "at+jwt", and "application/at+jwt" is the same type.
    if !oauth::access_token::typ_matches(header.typ.as_deref(), typ) {
        return Err(RejectedToken::WrongType(header.typ, typ));
    }
    let mut validation = Validation::new(algorithm(alg));
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iss"]);
    match audience {
        Some(audience) => validation.set_audience(audience),
        None => validation.validate_aud = false,
    }
    // No leeway: these are our own tokens and this server is their clock
    // (docs/security.md 21). Leeway belongs to relying parties, whose clocks differ.
    validation.leeway = 0;
    validation.validate_exp = !allow_expired;
    if allow_expired {
        validation.set_required_spec_claims(&["iss"]);
    }
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| RejectedToken::Invalid(e.to_string()))
}
