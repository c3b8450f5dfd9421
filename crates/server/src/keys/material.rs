//! Signing key material: generating ES256 (P-256) and RS256 (RSA 3072, per
//! docs/security.md 11) key pairs, sealing their PKCS#8 bytes with the master key
//! into a store record, and opening a record back into a [`Signer`].
//!
//! Signing uses aws-lc-rs key pairs parsed once and kept: jsonwebtoken
//! re-parses the private key on every `encode`, which is most of the RS256
//! cost (1.5k vs 4.1k signatures a second on one core, measured when the
//! stack was chosen). Verification goes through jsonwebtoken (see `jwt`).

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use store::{KeyState, SigningKey};

use super::MasterKey;
use crate::secret::Secret;

/// The JWS algorithms this service signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alg {
    Es256,
    Rs256,
}

impl Alg {
    pub const ALL: [Alg; 2] = [Alg::Es256, Alg::Rs256];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Rs256 => "RS256",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "ES256" => Some(Alg::Es256),
            "RS256" => Some(Alg::Rs256),
            _ => None,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Key material could not be made or opened.
#[derive(Debug, thiserror::Error)]
#[error("signing key {kid}: {problem}")]
pub struct KeyError {
    pub kid: String,
    pub problem: String,
}

fn fail(kid: &str, problem: impl Into<String>) -> KeyError {
    KeyError {
        kid: kid.to_owned(),
        problem: problem.into(),
    }
}

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// A private key ready to sign JWS payloads.
pub struct Signer {
    pub kid: String,
    pub alg: Alg,
    pair: Pair,
    rng: SystemRandom,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// The JWS signature of `message` (RFC 7518 §3.3 for RS256; §3.4, the
    /// fixed-length `R || S` form, for ES256).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.pair {
            Pair::Ec(pair) => pair
                .sign(&self.rng, message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| fail(&self.kid, "ECDSA signing failed")),
            Pair::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut signature)
                    .map_err(|_| fail(&self.kid, "RSA signing failed"))?;
                Ok(signature)
            }
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sealing_context(kid: &str) -> String {
    format!("signing-key:{kid}")
}

/// Generates a key pair, and returns the store record (private part sealed,
/// public part as a JWK) in `state`, with its times.
pub fn generate(
    master: &MasterKey,
    alg: Alg,
    kid: String,
    now: i64,
    activates_at: i64,
    state: KeyState,
) -> Result<SigningKey, KeyError> {
    let (pkcs8, public_jwk) = match alg {
        Alg::Es256 => {
            let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|_| fail(&kid, "P-256 key generation failed"))?;
            let pkcs8 = pair
                .to_pkcs8v1()
                .map_err(|_| fail(&kid, "cannot encode the P-256 key"))?;
            // An uncompressed SEC1 point: 0x04 || X || Y, 32 bytes each.
            let point = pair.public_key().as_ref();
            let (x, y) = point
                .get(1..33)
                .zip(point.get(33..65))
                .ok_or_else(|| fail(&kid, "unexpected P-256 point"))?;
            let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)});
            (Secret::new(pkcs8.as_ref().to_vec()), jwk)
        }
        Alg::Rs256 => {
            let pair = RsaKeyPair::generate(KeySize::Rsa3072)
                .map_err(|_| fail(&kid, "RSA key generation failed"))?;
            let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'static>>::as_der(&pair)
                .map_err(|_| fail(&kid, "cannot encode the RSA key"))?;
            let public = pair.public_key();
            let jwk = json!({
                "kty": "RSA",
                "n": b64(public.modulus().big_endian_without_leading_zero()),
                "e": b64(public.exponent().big_endian_without_leading_zero()),
            });
            (Secret::new(pkcs8.as_ref().to_vec()), jwk)
        }
    };
    let mut public_jwk = public_jwk;
    public_jwk["kid"] = json!(kid);
    public_jwk["use"] = json!("sig");
    public_jwk["alg"] = json!(alg.as_str());
    let sealed = master
        .seal(&sealing_context(&kid), pkcs8.expose())
        .map_err(|e| fail(&kid, e.to_string()))?;
    Ok(SigningKey {
        kid,
        alg: alg.as_str().to_owned(),
        state,
        private_sealed: STANDARD.encode(sealed),
        public_jwk,
        created_at: now,
        activates_at,
        retired_at: None,
        remove_at: None,
        keep_until: None,
        version: 1,
    })
}

/// Opens a stored key into a signer.
pub fn open(master: &MasterKey, record: &SigningKey) -> Result<Signer, KeyError> {
    let kid = &record.kid;
    let alg = Alg::parse(&record.alg)
        .ok_or_else(|| fail(kid, format!("unsupported alg {}", record.alg)))?;
    let sealed = STANDARD
        .decode(&record.private_sealed)
        .map_err(|_| fail(kid, "sealed key is not base64"))?;
    let pkcs8 = master
        .open(&sealing_context(kid), &sealed)
        .map_err(|e| fail(kid, e.to_string()))?;
    let pair = match alg {
        Alg::Es256 => Pair::Ec(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.expose())
                .map_err(|e| fail(kid, format!("bad P-256 key: {e}")))?,
        ),
        Alg::Rs256 => Pair::Rsa(
            RsaKeyPair::from_pkcs8(pkcs8.expose())
                .map_err(|e| fail(kid, format!("bad RSA key: {e}")))?,
        ),
    };
    Ok(Signer {
        kid: kid.clone(),
        alg,
        pair,
        rng: SystemRandom::new(),
    })
}

/// The public JWK of a record, with only public parameters (docs/security.md 12).
pub fn public_jwk(record: &SigningKey) -> Value {
    const PUBLIC: &[&str] = &["kty", "crv", "x", "y", "n", "e", "kid", "use", "alg"];
    let mut jwk = serde_json::Map::new();
    if let Some(fields) = record.public_jwk.as_object() {
        for (name, value) in fields {
            if PUBLIC.contains(&name.as_str()) {
                jwk.insert(name.clone(), value.clone());
            }
        }
    }
    Value::Object(jwk)
}
