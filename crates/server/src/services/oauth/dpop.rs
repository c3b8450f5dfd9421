//! DPoP at this server (RFC 9449): a proof read and checked by
//! `oauth::dpop`, its signature verified with the key in its own header,
//! its `jti` used once through the store, and, with `AUTH_DPOP_NONCE=on`,
//! the server's nonce in it (§8). What a verified proof yields is the key's
//! thumbprint, which the token endpoint binds tokens to (`cnf.jkt`, §6)
//! and a resource compares with the token's (§7.1).
//!
//! Nonces need no store: a nonce is a time window's number under a MAC of
//! the master key, so every replica issues and accepts the same ones; the
//! current and the previous window are accepted.

use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use oauth::dpop::{self, ProofError};

use super::verify::VerifiedToken;
use crate::opaque::hash_token;
use crate::services::Ctx;

/// How far a proof's `iat` may be from our clock, either way (§11.1).
pub const WINDOW_SECONDS: i64 = 60;
/// How long one server nonce is current.
pub const NONCE_SECONDS: i64 = 300;
const NONCE_MAC: &str = "dpop nonce";

/// Why a request's DPoP was refused.
#[derive(Debug, thiserror::Error)]
pub enum DpopError {
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// A proof that passed every check: the thumbprint of its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub jkt: String,
}

/// The request a proof must be for.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub method: &'a str,
    /// The public URL of the request, without query.
    pub url: &'a str,
    /// At a resource, the access token the proof goes with.
    pub access_token: Option<&'a str>,
}

/// Verifies `proof` (the `DPoP` header's value) for `target` (§4.3).
pub async fn verify(ctx: &Ctx, proof: &str, target: Target<'_>) -> Result<Verified, DpopError> {
    let (proof, jkt) = verify_signed(proof, target, ctx.clock.now())?;
    if ctx.config.dpop_nonce && !proof.nonce.as_deref().is_some_and(|n| nonce_valid(ctx, n)) {
        return Err(ProofError::Nonce.into());
    }
    // §11.1: a jti once within the window. Per key, hashed, so the key
    // has a bounded size and one client cannot burn another's ids.
    let seen = ctx
        .store
        .increment(
            &format!("dpop:{}", hash_token(&format!("{jkt}.{}", proof.jti))),
            1,
            2 * WINDOW_SECONDS + 1,
        )
        .await?;
    if seen > 1 {
        return Err(ProofError::Replayed.into());
    }
    Ok(Verified { jkt })
}

/// The part of [`verify`] that needs neither store nor configuration: the
/// proof read and checked for `target` at `now`, and its signature
/// verified with its own key; the proof and the key's thumbprint.
pub fn verify_signed(
    proof: &str,
    target: Target<'_>,
    now: i64,
) -> Result<(dpop::Proof, String), ProofError> {
    let proof = dpop::parse(proof)?;
    proof.check(&dpop::Request {
        method: target.method,
        url: target.url,
        now,
        window: WINDOW_SECONDS,
        access_token: target.access_token,
    })?;
    let jkt = dpop::thumbprint(&proof.jwk).ok_or(ProofError::Key)?;
    let key = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(proof.jwk.clone())
        .ok()
        .and_then(|jwk| DecodingKey::from_jwk(&jwk).ok())
        .ok_or(ProofError::Key)?;
    let alg = Algorithm::from_str(&proof.alg).map_err(|_| ProofError::Algorithm)?;
    let signature = URL_SAFE_NO_PAD.encode(&proof.signature);
    // A key of another type than `alg` fails here too (no RS/ES confusion).
    if !jsonwebtoken::crypto::verify(&signature, proof.signing_input.as_bytes(), &key, alg)
        .unwrap_or(false)
    {
        return Err(ProofError::Signature);
    }
    Ok((proof, jkt))
}

/// The one `DPoP` header of a request, if any; several are refused
/// (§4.3 check 1).
pub fn header(headers: &axum::http::HeaderMap) -> Result<Option<&str>, ProofError> {
    header_value(headers)?.map(proof_text).transpose()
}

/// [`header`] before it is read as text, for a caller that keeps it past
/// the request (a `HeaderValue` clone shares the received bytes).
pub fn header_value(
    headers: &axum::http::HeaderMap,
) -> Result<Option<&axum::http::HeaderValue>, ProofError> {
    let mut values = headers.get_all("dpop").iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(ProofError::Malformed("more than one DPoP header"));
    }
    Ok(first)
}

/// A `DPoP` header's value as the proof's text.
pub fn proof_text(value: &axum::http::HeaderValue) -> Result<&str, ProofError> {
    value
        .to_str()
        .map_err(|_| ProofError::Malformed("not ASCII"))
}

/// The server's current nonce (§8.1), for the `DPoP-Nonce` header.
pub fn nonce(ctx: &Ctx) -> String {
    nonce_for(ctx, ctx.clock.now().div_euclid(NONCE_SECONDS))
}

fn nonce_for(ctx: &Ctx, window: i64) -> String {
    let window = window.to_string();
    let tag = ctx.master_key.mac(NONCE_MAC, window.as_bytes());
    format!("{window}.{tag}")
}

fn nonce_valid(ctx: &Ctx, nonce: &str) -> bool {
    let Some((window, tag)) = nonce.split_once('.') else {
        return false;
    };
    let current = ctx.clock.now().div_euclid(NONCE_SECONDS);
    let fresh = window
        .parse::<i64>()
        .is_ok_and(|w| w == current || w == current - 1);
    fresh && ctx.master_key.verify_mac(NONCE_MAC, window.as_bytes(), tag)
}

/// How an access token came to a resource (RFC 9449 §7): the scheme of
/// its `Authorization` header and the DPoP proof with it.
#[derive(Debug, Clone, Copy)]
pub struct Presentation<'a> {
    pub dpop_scheme: bool,
    pub proof: Option<&'a str>,
    pub method: &'a str,
    pub url: &'a str,
    pub token: &'a str,
}

/// Why a resource refuses a token for its binding.
#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    /// §7.2: a bound token sent as a Bearer token; or an unbound one sent
    /// with the DPoP scheme.
    #[error("{0}")]
    Scheme(&'static str),
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error(transparent)]
    Store(store::Error),
}

impl From<DpopError> for BindingError {
    fn from(e: DpopError) -> Self {
        match e {
            DpopError::Proof(e) => Self::Proof(e),
            DpopError::Store(e) => Self::Store(e),
        }
    }
}

/// A resource's check of `token`'s binding (§7.1): a bound token needs the
/// DPoP scheme and a proof of its key for this request; an unbound one
/// the Bearer scheme.
pub async fn check_binding(
    ctx: &Ctx,
    token: &VerifiedToken,
    presented: Presentation<'_>,
) -> Result<(), BindingError> {
    let bound = token.claims.cnf.as_ref().map(|cnf| cnf.jkt.as_str());
    match (bound, presented.dpop_scheme) {
        (None, false) => Ok(()),
        (None, true) => Err(BindingError::Scheme(
            "the access token is not DPoP-bound; send it as a Bearer token",
        )),
        (Some(_), false) => Err(BindingError::Scheme(
            "the access token is DPoP-bound; send it with the DPoP scheme and a proof",
        )),
        (Some(jkt), true) => {
            let proof = presented
                .proof
                .ok_or(ProofError::Malformed("no DPoP proof"))?;
            let verified = verify(
                ctx,
                proof,
                Target {
                    method: presented.method,
                    url: presented.url,
                    access_token: Some(presented.token),
                },
            )
            .await?;
            if verified.jkt == jkt {
                Ok(())
            } else {
                Err(ProofError::WrongKey.into())
            }
        }
    }
}

/// The `WWW-Authenticate` DPoP challenge of a resource (§7.1), with an
/// error once a token or proof was presented.
pub fn challenge(error: Option<(&str, &str)>) -> String {
    let algs = dpop::ALGS.join(" ");
    match error {
        Some((code, description)) => format!(
            "DPoP algs=\"{algs}\", error=\"{code}\", error_description=\"{}\"",
            description.replace(['"', '\\'], "")
        ),
        None => format!("DPoP algs=\"{algs}\""),
    }
}
