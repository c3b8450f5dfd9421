//! The server CPU of a DPoP proof at the token endpoint, one core: the
//! proof read and checked (`oauth::dpop`), the key's RFC 7638 thumbprint,
//! the JWK turned into a verifying key, and the ES256 signature verified
//! (`services::oauth::dpop::verify_signed`). The proof is made outside the
//! timing with aws-lc-rs. The store round trip of the `jti` (one counter
//! increment) is the store bench's; the end-to-end figure comes from
//! `scripts/bench/token.sh`.
//!
//!     cargo bench -p auth-service --bench dpop

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;

use auth_service::services::oauth::dpop::{Target, verify_signed};

const URL: &str = "https://auth.example.com/token";

fn proof(key: &EcdsaKeyPair, now: i64) -> String {
    let point = key.public_key().as_ref();
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {
        "kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    }});
    let claims = json!({"jti": "e1j3V_bKic8-LAEB", "htm": "POST", "htu": URL, "iat": now});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

fn bench(c: &mut Criterion) {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .unwrap();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let now = 1_800_000_000;
    let proof = proof(&key, now);
    let target = Target {
        method: "POST",
        url: URL,
        access_token: None,
    };
    assert!(verify_signed(&proof, target, now).is_ok());
    let mut group = c.benchmark_group("dpop");
    group.throughput(Throughput::Elements(1));
    group.bench_function("es256_proof_verify", |b| {
        b.iter(|| verify_signed(&proof, target, now).unwrap());
    });
    group.bench_function("parse_and_check_only", |b| {
        b.iter(|| {
            let read = oauth::dpop::parse(&proof).unwrap();
            oauth::dpop::thumbprint(&read.jwk).unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
