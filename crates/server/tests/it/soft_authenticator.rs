//! A software WebAuthn authenticator and client for tests and benches
//! (`it/passkey.rs`, `benches/mfa.rs`): it answers a relying party's
//! options as a CTAP2 authenticator and a browser together would, and can
//! be told to answer wrongly — another origin, another RP id, no user
//! verification, a counter that goes back — which a conforming
//! authenticator library will not do, so it is written here: ES256 keys
//! from aws-lc-rs and the few CBOR items a "none" attestation needs (W3C
//! WebAuthn Level 3 §6.1, §6.5; RFC 9052 §7 for the COSE key).

#![allow(dead_code)]

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// The origin answers name by default: the tests' issuer.
pub const ORIGIN: &str = "https://auth.example.test";

/// Authenticator data flags (§6.1).
pub const UP: u8 = 0x01;
pub const UV: u8 = 0x04;
pub const BE: u8 = 0x08;
pub const BS: u8 = 0x10;
pub const AT: u8 = 0x40;

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A CBOR head (RFC 8949 §3): major type and length or value.
fn head(major: u8, n: usize, out: &mut Vec<u8>) {
    let major = major << 5;
    match n {
        0..=23 => out.push(major | n as u8),
        24..=255 => out.extend([major | 24, n as u8]),
        _ => {
            out.push(major | 25);
            out.extend((n as u16).to_be_bytes());
        }
    }
}

fn cbor_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    head(2, bytes.len(), out);
    out.extend_from_slice(bytes);
}

fn cbor_text(text: &str, out: &mut Vec<u8>) {
    head(3, text.len(), out);
    out.extend_from_slice(text.as_bytes());
}

/// What the authenticator and its "browser" put in one answer.
#[derive(Clone)]
pub struct Answer {
    pub origin: String,
    pub rp_id: Option<String>,
    pub flags: u8,
    /// The signature counter to send; `None` for the next one.
    pub counter: Option<u32>,
}

impl Default for Answer {
    fn default() -> Self {
        Self {
            origin: ORIGIN.to_owned(),
            rp_id: None,
            flags: UP | UV,
            counter: None,
        }
    }
}

/// One discoverable ES256 credential.
pub struct Authenticator {
    key: EcdsaKeyPair,
    pub credential_id: Vec<u8>,
    user_handle: Vec<u8>,
    counter: u32,
}

impl Authenticator {
    pub fn new() -> Self {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let credential_id = digest(&SHA256, key.public_key().as_ref()).as_ref()[..16].to_vec();
        Self {
            key,
            credential_id,
            user_handle: Vec::new(),
            counter: 0,
        }
    }

    /// The credential public key as a COSE_Key (RFC 9053 §7.1.1: EC2,
    /// ES256, P-256), map keys in CTAP2 canonical order.
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.public_key().as_ref();
        let (x, y) = (&point[1..33], &point[33..65]);
        let mut out = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        cbor_bytes(x, &mut out);
        out.push(0x22);
        cbor_bytes(y, &mut out);
        out
    }

    fn auth_data(&mut self, rp_id: &str, answer: &Answer, attested: bool) -> Vec<u8> {
        let counter = answer.counter.unwrap_or(self.counter + 1);
        self.counter = self.counter.max(counter);
        let mut data = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
        data.push(answer.flags | if attested { AT } else { 0 });
        data.extend(counter.to_be_bytes());
        if attested {
            data.extend([0u8; 16]);
            data.extend((self.credential_id.len() as u16).to_be_bytes());
            data.extend(&self.credential_id);
            data.extend(self.cose_key());
        }
        data
    }

    fn client_data(kind: &str, options: &Value, answer: &Answer) -> String {
        json!({
            "type": kind,
            "challenge": options["challenge"],
            "origin": answer.origin,
            "crossOrigin": false,
        })
        .to_string()
    }

    /// `navigator.credentials.create()` for `options` (publicKey).
    pub fn register(&mut self, options: &Value, answer: &Answer) -> Value {
        self.user_handle = URL_SAFE_NO_PAD
            .decode(options["user"]["id"].as_str().unwrap())
            .unwrap();
        let rp_id = answer
            .rp_id
            .clone()
            .unwrap_or_else(|| options["rp"]["id"].as_str().unwrap().to_owned());
        let client_data = Self::client_data("webauthn.create", options, answer);
        let auth_data = self.auth_data(&rp_id, answer, true);
        let mut attestation = vec![0xa3];
        cbor_text("fmt", &mut attestation);
        cbor_text("none", &mut attestation);
        cbor_text("attStmt", &mut attestation);
        attestation.push(0xa0);
        cbor_text("authData", &mut attestation);
        cbor_bytes(&auth_data, &mut attestation);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data.as_bytes()),
                "attestationObject": b64(&attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
    }

    /// `navigator.credentials.get()` for `options` (publicKey), with the
    /// RP id the options name or, for a discoverable request, the issuer's.
    pub fn assert(&mut self, options: &Value, answer: &Answer) -> Value {
        let rp_id = answer.rp_id.clone().unwrap_or_else(|| {
            options["rpId"]
                .as_str()
                .unwrap_or("auth.example.test")
                .to_owned()
        });
        let client_data = Self::client_data("webauthn.get", options, answer);
        let auth_data = self.auth_data(&rp_id, answer, false);
        let mut signed = auth_data.clone();
        signed.extend(digest(&SHA256, client_data.as_bytes()).as_ref());
        let signature = self.key.sign(&SystemRandom::new(), &signed).unwrap();
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data.as_bytes()),
                "authenticatorData": b64(&auth_data),
                "signature": b64(signature.as_ref()),
                "userHandle": b64(&self.user_handle),
            },
            "clientExtensionResults": {},
        })
    }
}
