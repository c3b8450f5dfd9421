//! The server CPU of a second-factor check, one core: a TOTP code checked
//! against a factor (opening its sealed seed, then HMAC-SHA-1 over the
//! steps of the skew window), and the keyed id of a typed recovery code.
//! The store round trips of a check (list the factors, then the
//! compare-and-set or the delete) are the store bench's.
//!
//!     cargo bench -p auth-service --bench mfa

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

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
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
