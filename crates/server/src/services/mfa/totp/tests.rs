use std::process::Command;
use std::sync::Arc;

use store::sqlite::SqliteStore;
use store::{Factor, FactorStore, Store, TestClock};

use super::{Check, check, enrol, matching_step};
use crate::keys::MasterKey;

fn master() -> MasterKey {
    MasterKey::from_bytes(&[11; 32]).unwrap()
}

/// A factor whose seed is `seed`, sealed as enrol() seals it.
fn factor_with_seed(master: &MasterKey, seed: &[u8]) -> Factor {
    use base64::Engine;
    let mut factor = enrol(master, "u-1", "f-1", "phone", ("id.example", "alice"), 0)
        .unwrap()
        .factor;
    let sealed = master.seal("totp:u-1:f-1", seed).unwrap();
    factor.sealed_secret = Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed));
    factor
}

/// RFC 6238 Appendix B, SHA-1 (seed "12345678901234567890"): the test
/// vectors' last six digits.
#[test]
fn codes_match_the_rfc_6238_test_vectors() {
    let master = master();
    let factor = factor_with_seed(&master, b"12345678901234567890");
    for (time, code) in [
        (59, "287082"),
        (1_111_111_109, "081804"),
        (1_111_111_111, "050471"),
        (1_234_567_890, "005924"),
        (2_000_000_000, "279037"),
    ] {
        let step = matching_step(&master, &factor, code, time).unwrap();
        assert_eq!(step, Some(time as u64 / 30), "at {time}");
    }
    assert_eq!(matching_step(&master, &factor, "287083", 59).unwrap(), None);
}

/// One step either side is accepted (RFC 6238 §5.2), two are not.
#[test]
fn one_step_of_skew_either_side() {
    let master = master();
    let factor = factor_with_seed(&master, b"12345678901234567890");
    // 1111111109 is in step 37037036; its code is accepted 30 s either side.
    for at in [1_111_111_109 - 30, 1_111_111_109 + 30] {
        assert!(
            matching_step(&master, &factor, "081804", at)
                .unwrap()
                .is_some(),
            "{at}"
        );
    }
    for at in [1_111_111_109 - 61, 1_111_111_109 + 61] {
        assert_eq!(
            matching_step(&master, &factor, "081804", at).unwrap(),
            None,
            "{at}"
        );
    }
}

/// A sealed seed opens only for its own user and factor.
#[test]
fn a_seed_moved_to_another_factor_does_not_open() {
    let master = master();
    let mut factor = factor_with_seed(&master, b"12345678901234567890");
    factor.user_id = "u-2".into();
    assert!(matching_step(&master, &factor, "287082", 59).is_err());
    let other = MasterKey::from_bytes(&[12; 32]).unwrap();
    let factor = factor_with_seed(&master, b"12345678901234567890");
    assert!(matching_step(&other, &factor, "287082", 59).is_err());
}

/// The enrolment's secret never prints.
#[test]
fn an_enrolment_prints_no_secret() {
    let enrolment = enrol(&master(), "u-1", "f-1", "phone", ("id.example", "alice"), 0).unwrap();
    let printed = format!("{enrolment:?}");
    assert!(
        !printed.contains(enrolment.base32.expose().as_str()),
        "{printed}"
    );
    assert!(enrolment.uri.expose().starts_with("otpauth://totp/"));
    assert!(enrolment.uri.expose().contains("issuer=id.example"));
    assert_eq!(enrolment.base32.expose().len(), 32, "160 bits in base32");
}

/// Codes computed by an independent implementation (OATH Toolkit's
/// `oathtool`, which scripts/test installs) from the base32 seed an app
/// would be given: accepted once, then refused as replayed; a code of an
/// earlier step than one used is refused too.
#[tokio::test]
async fn oathtool_codes_are_accepted_once() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        SqliteStore::open(&dir.path().join("auth.db"), Arc::new(TestClock::new(0))).unwrap();
    let master = master();
    let enrolment = enrol(&master, "u-1", "f-1", "phone", ("id.example", "alice"), 0).unwrap();
    store.insert_factor(&enrolment.factor).await.unwrap();
    let code_at = |time: i64| {
        let output = Command::new("oathtool")
            .args(["--totp", "--base32", "--now"])
            .arg(format!("@{time}"))
            .arg(enrolment.base32.expose())
            .output()
            .expect("oathtool is missing: run ./scripts/test, which installs it");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    let now = 1_800_000_000;
    let store: &dyn Store = &store;
    let factor = &enrolment.factor;
    assert_eq!(
        check(store, &master, factor, &code_at(now), now)
            .await
            .unwrap(),
        Check::Accepted
    );
    assert_eq!(
        check(store, &master, factor, &code_at(now), now + 5)
            .await
            .unwrap(),
        Check::Replayed
    );
    // The previous step's code is within the skew but older than the step used.
    assert_eq!(
        check(store, &master, factor, &code_at(now - 30), now)
            .await
            .unwrap(),
        Check::Replayed
    );
    assert_eq!(
        check(store, &master, factor, &code_at(now + 30), now + 30)
            .await
            .unwrap(),
        Check::Accepted
    );
    assert_eq!(
        check(store, &master, factor, "000000", now + 60)
            .await
            .unwrap(),
        Check::Wrong
    );
    assert_eq!(
        check(store, &master, factor, &code_at(now - 300), now + 60)
            .await
            .unwrap(),
        Check::Wrong
    );
}
