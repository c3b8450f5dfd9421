//! The server CPU of a second-factor check, one core: a TOTP code checked
//! against a factor (opening its sealed seed, then HMAC-SHA-1 over the
//! steps of the skew window), the keyed id of a typed recovery code, and
//! a passkey sign-in as webauthn-rs does it (the options with a new
//! challenge, then the verification of the assertion: client data, RP id
//! hash, flags, counter and the ES256 signature), the assertion made by
//! `tests/it/soft_authenticator.rs` outside the timing. The store round
//! trips of a check (list the factors, then the compare-and-set or the
//! delete; a passkey's challenge insert and take) are the store bench's.
//!
//!     cargo bench -p auth-service --bench mfa

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid};
use webauthn_rs::{Webauthn, WebauthnBuilder};

#[path = "../tests/it/soft_authenticator.rs"]
mod soft_authenticator;

use soft_authenticator::{Answer, Authenticator};

use auth_service::keys::MasterKey;
use auth_service::services::mfa::totp;

fn bench(c: &mut Criterion) {
    let master = MasterKey::from_bytes(&[5; 32]).unwrap();
    let enrolment = totp::enrol(
        &master,
        "user-1",
        "totp-1",
        "phone",
        ("auth.example.com", "bjensen"),
        0,
    )
    .unwrap();
    let now = 1_800_000_000;
    let mut group = c.benchmark_group("mfa");
    group.throughput(Throughput::Elements(1));
    group.bench_function("totp/check_wrong_code", |b| {
        b.iter(|| totp::matching_step(&master, &enrolment.factor, "000000", now).unwrap())
    });
    group.bench_function("recovery/keyed_id", |b| {
        b.iter(|| master.mac("recovery-code", b"user-1\nabcdefghjk"))
    });
    passkey(&mut group);
    group.finish();
}

fn passkey(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let origin = Url::parse(soft_authenticator::ORIGIN).unwrap();
    let webauthn: Webauthn = WebauthnBuilder::new("auth.example.test", &origin)
        .unwrap()
        .build()
        .unwrap();
    let mut authenticator = Authenticator::new();
    let (options, state) = webauthn
        .start_passkey_registration(Uuid::new_v4(), "bjensen", "Barbara", None)
        .unwrap();
    let options = serde_json::to_value(options).unwrap();
    let made = authenticator.register(&options["publicKey"], &Answer::default());
    let made: RegisterPublicKeyCredential = serde_json::from_value(made).unwrap();
    let passkey = webauthn.finish_passkey_registration(&made, &state).unwrap();
    let keys = [passkey];
    group.bench_function("passkey/options", |b| {
        b.iter(|| webauthn.start_passkey_authentication(&keys).unwrap())
    });
    group.bench_function("passkey/verify_assertion", |b| {
        b.iter_batched(
            || {
                let (options, state) = webauthn.start_passkey_authentication(&keys).unwrap();
                let options = serde_json::to_value(options).unwrap();
                let response = authenticator
                    .assert(&options["publicKey"], &Answer::default())
                    .to_string();
                (response, state)
            },
            |(response, state)| {
                let credential: PublicKeyCredential = serde_json::from_str(&response).unwrap();
                webauthn
                    .finish_passkey_authentication(&credential, &state)
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
