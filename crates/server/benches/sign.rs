//! The cost of the signature itself, one core: ES256 and RS256 (3072-bit)
//! JWS signing with the same cached key pairs the token endpoint uses. The
//! token endpoint's throughput is measured against this (see the issue note).
//!
//!     cargo bench -p auth-service --bench sign

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;

use auth_service::jwt::{self, ACCESS_TOKEN_TYP};
use auth_service::keys::{Alg, MasterKey, material};

fn bench(c: &mut Criterion) {
    let master = MasterKey::from_bytes(&[5; 32]).unwrap();
    let claims = json!({
        "iss": "https://auth.example.com", "sub": "4f6c1c4e-1f0b-4d6e-9d55-6f0e0e7f3a10",
        "aud": "https://auth.example.com", "client_id": "4f6c1c4e-1f0b-4d6e-9d55-6f0e0e7f3a10",
        "iat": 1_800_000_000, "exp": 1_800_000_900, "jti": "0b8f2f7a-3c1e-4d1e-8a51-1d7f0c9e6b22", "scope": "read write",
    });
    let mut group = c.benchmark_group("jws");
    group.throughput(Throughput::Elements(1));
    for alg in [Alg::Es256, Alg::Rs256] {
        let record = material::generate(
            &master,
            alg,
            format!("{alg}-bench"),
            0,
            0,
            store::KeyState::Active,
        )
        .unwrap();
        let signer = material::open(&master, &record).unwrap();
        group.bench_function(format!("{alg}/sign_access_token"), |b| {
            b.iter(|| jwt::sign(&signer, ACCESS_TOKEN_TYP, &claims).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
