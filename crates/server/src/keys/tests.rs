//! The key lifecycle with a test clock, and what verification refuses.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use store::sqlite::SqliteStore;
use store::{KeyState, Store, TestClock};

use super::*;
use crate::jwt::{self, ACCESS_TOKEN_TYP, RejectedToken};

const T0: i64 = 1_800_000_000;
const ISSUER: &str = "https://auth.example.com";

const SETTINGS: KeySettings = KeySettings {
    rotation_interval: 1_000,
    publish_lead: 100,
    retain_after_retirement: 50,
    refresh_interval: Duration::from_secs(5),
};

struct Fixture {
    store: Arc<dyn Store>,
    clock: TestClock,
    master: MasterKey,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(T0);
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("auth.db"), Arc::new(clock.clone())).unwrap());
    Fixture {
        store,
        clock,
        master: MasterKey::from_bytes(&[9; 32]).unwrap(),
        _dir: dir,
    }
}

impl Fixture {
    fn replica(&self) -> Keys {
        Keys::new(
            Arc::clone(&self.store),
            self.master.clone(),
            Arc::new(self.clock.clone()),
            SETTINGS,
        )
    }
}

fn kids(keys: &Keys) -> Vec<String> {
    keys.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn token(keys: &Keys, alg: Alg, exp: i64) -> String {
    let claims = json!({"iss": ISSUER, "aud": ISSUER, "sub": "client-1", "exp": exp, "iat": T0, "jti": "j1"});
    jwt::sign(&keys.signer(alg).unwrap(), ACCESS_TOKEN_TYP, &claims).unwrap()
}

#[tokio::test]
async fn first_start_creates_one_active_key_per_algorithm_with_a_public_only_jwks() {
    let f = fixture();
    let keys = f.replica();
    keys.refresh().await.unwrap();
    let records = f.store.list_keys().await.unwrap();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|k| k.state == KeyState::Active));
    for jwk in keys.jwks()["keys"].as_array().unwrap() {
        let fields: Vec<&str> = jwk
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(!fields.contains(&private), "{private} published: {jwk}");
        }
        assert_eq!(jwk["use"], "sig");
    }
    let rsa = keys.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kty"] == "RSA")
        .unwrap()
        .clone();
    let modulus = URL_SAFE_NO_PAD.decode(rsa["n"].as_str().unwrap()).unwrap();
    assert_eq!(
        modulus.len() * 8,
        3072,
        "RSA keys are 3072 bits (docs/security.md 11)"
    );
    for alg in Alg::ALL {
        let claims =
            jwt::verify(&keys, &token(&keys, alg, T0 + 60), ACCESS_TOKEN_TYP, ISSUER).unwrap();
        assert_eq!(claims["sub"], "client-1");
    }
}

#[tokio::test]
async fn rotation_publishes_before_signing_and_retires_after_tokens_expire() {
    let f = fixture();
    let keys = f.replica();
    keys.refresh().await.unwrap();
    let first = keys.signer(Alg::Es256).unwrap().kid.clone();
    let old_token = token(&keys, Alg::Es256, T0 + 1_040);

    // Within the publish lead of the rotation time: a new key appears in
    // the JWKS, but the old one still signs.
    f.clock.advance(900);
    keys.refresh().await.unwrap();
    assert_eq!(kids(&keys).len(), 4);
    assert_eq!(keys.signer(Alg::Es256).unwrap().kid, first);
    let pending = f
        .store
        .list_keys()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.state == KeyState::Pending && k.alg == "ES256")
        .unwrap();
    assert_eq!(pending.activates_at, T0 + 1_000);
    assert!(kids(&keys).contains(&pending.kid));

    // At the rotation time the new key signs; the old one is retired but
    // still verifies what it signed.
    f.clock.advance(100);
    keys.refresh().await.unwrap();
    assert_eq!(keys.signer(Alg::Es256).unwrap().kid, pending.kid);
    let old = f.store.get_key(&first).await.unwrap();
    assert_eq!(old.state, KeyState::Retired);
    assert_eq!(old.remove_at, Some(T0 + 1_000 + 50));
    jwt::verify(&keys, &old_token, ACCESS_TOKEN_TYP, ISSUER).unwrap();
    assert!(kids(&keys).contains(&first));

    // Once every token it signed has expired, it leaves the JWKS.
    f.clock.advance(50);
    keys.refresh().await.unwrap();
    assert!(!kids(&keys).contains(&first));
    assert_eq!(kids(&keys).len(), 2);
    assert!(matches!(
        jwt::verify(&keys, &old_token, ACCESS_TOKEN_TYP, ISSUER),
        Err(RejectedToken::UnknownKey(_))
    ));
}

#[tokio::test]
async fn replicas_create_exactly_one_key_per_rotation() {
    let f = fixture();
    let replicas: Vec<Keys> = (0..3).map(|_| f.replica()).collect();
    let refreshes: Vec<_> = replicas
        .iter()
        .cloned()
        .map(|k| tokio::spawn(async move { k.refresh().await }))
        .collect();
    for r in refreshes {
        r.await.unwrap().unwrap();
    }
    assert_eq!(f.store.list_keys().await.unwrap().len(), 2);
    f.clock.advance(950);
    for keys in &replicas {
        keys.refresh().await.unwrap();
    }
    assert_eq!(
        f.store.list_keys().await.unwrap().len(),
        4,
        "one new key per algorithm, not one per replica"
    );
    // Every replica signs with the same key.
    let signing: Vec<String> = replicas
        .iter()
        .map(|k| k.signer(Alg::Es256).unwrap().kid.clone())
        .collect();
    assert!(signing.windows(2).all(|w| w[0] == w[1]));
    // Tokens from one replica verify at another.
    let t = token(&replicas[0], Alg::Rs256, T0 + 1_000);
    jwt::verify(&replicas[2], &t, ACCESS_TOKEN_TYP, ISSUER).unwrap();
}

#[tokio::test]
async fn on_demand_rotation_is_pending_for_the_publish_lead() {
    let f = fixture();
    let keys = f.replica();
    keys.refresh().await.unwrap();
    let before = keys.signer(Alg::Rs256).unwrap().kid.clone();
    let created = keys.rotate_now().await.unwrap();
    assert_eq!(created.len(), 2);
    assert!(
        created
            .iter()
            .all(|k| k.state == KeyState::Pending && k.activates_at == T0 + 100)
    );
    assert_eq!(keys.signer(Alg::Rs256).unwrap().kid, before);
    f.clock.advance(100);
    keys.refresh().await.unwrap();
    assert_ne!(keys.signer(Alg::Rs256).unwrap().kid, before);
}

fn forge(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

#[tokio::test]
async fn verification_refuses_forgeries_and_expired_tokens() {
    let f = fixture();
    let keys = f.replica();
    keys.refresh().await.unwrap();
    let signer = keys.signer(Alg::Es256).unwrap();
    let claims =
        json!({"iss": ISSUER, "aud": ISSUER, "sub": "admin", "exp": T0 + 3_600 * 1_000_000});

    // alg "none" with our kid.
    let none = forge(
        &json!({"alg": "none", "typ": "at+jwt", "kid": signer.kid}),
        &claims,
        b"",
    );
    assert!(matches!(
        jwt::verify(&keys, &none, ACCESS_TOKEN_TYP, ISSUER),
        Err(RejectedToken::Malformed(_) | RejectedToken::WrongAlgorithm(_))
    ));

    // HS256 keyed with the public key (the classic RS/HS confusion).
    let rsa = keys.signer(Alg::Rs256).unwrap();
    let public = keys.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == rsa.kid.as_str())
        .unwrap()
        .to_string();
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some(rsa.kid.clone()),
            typ: Some("at+jwt".into()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()).unwrap(),
    )
    .unwrap();
    assert!(matches!(
        jwt::verify(&keys, &hs, ACCESS_TOKEN_TYP, ISSUER),
        Err(RejectedToken::WrongAlgorithm(_))
    ));

    // An ES256 token relabelled as RS256 with the RSA kid.
    let good = jwt::sign(&signer, ACCESS_TOKEN_TYP, &claims).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let relabelled = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD
            .encode(json!({"alg": "ES256", "typ": "at+jwt", "kid": rsa.kid}).to_string()),
        parts[1],
        parts[2]
    );
    assert!(matches!(
        jwt::verify(&keys, &relabelled, ACCESS_TOKEN_TYP, ISSUER),
        Err(RejectedToken::WrongAlgorithm(_))
    ));

    // A tampered payload.
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(json!({"iss": ISSUER, "sub": "root", "exp": T0 * 2}).to_string()),
        parts[2]
    );
    assert!(matches!(
        jwt::verify(&keys, &tampered, ACCESS_TOKEN_TYP, ISSUER),
        Err(RejectedToken::Invalid(_))
    ));

    // jku/jwk headers pointing elsewhere change nothing: the kid decides.
    let unknown = forge(
        &json!({"alg": "ES256", "typ": "at+jwt", "kid": "attacker", "jku": "https://evil.example/jwks"}),
        &claims,
        b"x",
    );
    assert!(matches!(
        jwt::verify(&keys, &unknown, ACCESS_TOKEN_TYP, ISSUER),
        Err(RejectedToken::UnknownKey(_))
    ));

    // Wrong type, wrong issuer, expired.
    let id_token = jwt::sign(&signer, "JWT", &claims).unwrap();
    assert!(matches!(
        jwt::verify(&keys, &id_token, ACCESS_TOKEN_TYP, ISSUER),
        Err(RejectedToken::WrongType(..))
    ));
    assert!(matches!(
        jwt::verify(&keys, &good, ACCESS_TOKEN_TYP, "https://other.example"),
        Err(RejectedToken::Invalid(reason)) if reason.contains("Issuer") || reason.contains("issuer")
    ));
    let other_audience = jwt::sign(
        &signer,
        ACCESS_TOKEN_TYP,
        &json!({"iss": ISSUER, "aud": "https://api.other.example", "exp": T0 * 2}),
    )
    .unwrap();
    assert!(matches!(
        jwt::verify(&keys, &other_audience, ACCESS_TOKEN_TYP, ISSUER),
        Err(RejectedToken::Invalid(_))
    ));
    let expired = jwt::sign(
        &signer,
        ACCESS_TOKEN_TYP,
        &json!({"iss": ISSUER, "exp": 1_000}),
    )
    .unwrap();
    assert!(matches!(
        jwt::verify(&keys, &expired, ACCESS_TOKEN_TYP, ISSUER),
        Err(RejectedToken::Invalid(_))
    ));
    let no_exp = jwt::sign(&signer, ACCESS_TOKEN_TYP, &json!({"iss": ISSUER})).unwrap();
    assert!(matches!(
        jwt::verify(&keys, &no_exp, ACCESS_TOKEN_TYP, ISSUER),
        Err(RejectedToken::Invalid(reason)) if reason.contains("exp")
    ));
    // And "application/at+jwt" is the same type.
    let long_typ = jwt::sign(&signer, "application/at+jwt", &claims).unwrap();
    jwt::verify(&keys, &long_typ, ACCESS_TOKEN_TYP, ISSUER).unwrap();
}

#[tokio::test]
async fn private_keys_are_sealed_in_the_store() {
    let f = fixture();
    let keys = f.replica();
    keys.refresh().await.unwrap();
    let record = f.store.list_keys().await.unwrap().remove(0);
    let other_master = MasterKey::from_bytes(&[1; 32]).unwrap();
    assert!(
        material::open(&other_master, &record).is_err(),
        "opening needs the master key"
    );
    assert!(material::open(&f.master, &record).is_ok());
}

#[tokio::test]
async fn a_key_that_signed_a_long_lived_token_stays_published_until_it_expires() {
    let f = fixture();
    let keys = f.replica();
    keys.refresh().await.unwrap();
    let first = keys.signer(Alg::Es256).unwrap().kid.clone();
    let minted = token(&keys, Alg::Es256, T0 + 5_000);
    keys.keep_until(&first, T0 + 5_000).await.unwrap();

    // Rotated and retired; past its normal retention it is still published.
    f.clock.advance(900);
    keys.refresh().await.unwrap();
    f.clock.advance(200);
    keys.refresh().await.unwrap();
    assert_ne!(keys.signer(Alg::Es256).unwrap().kid, first);
    f.clock.advance(1_000);
    keys.refresh().await.unwrap();
    assert!(kids(&keys).contains(&first));
    jwt::verify(&keys, &minted, ACCESS_TOKEN_TYP, ISSUER).unwrap();

    // Once the minted token has expired, the key goes.
    f.clock.advance(2_900);
    keys.refresh().await.unwrap();
    assert!(!kids(&keys).contains(&first));
}

/// The finding: two replicas started at once on an empty store; for up to
/// a refresh interval one signed with a key the other did not know, and
/// introspection there said inactive. A token with an unknown kid now
/// reloads the ring once (rate-limited), and a replica is ready only with a
/// key for every algorithm.
#[tokio::test]
async fn an_unknown_kid_reloads_the_ring_once_and_readiness_needs_every_algorithm() {
    let f = fixture();
    let late = f.replica();
    assert!(!late.complete(), "nothing loaded yet");
    let first = f.replica();
    first.refresh().await.unwrap();
    assert!(first.complete());
    let signed = token(&first, Alg::Es256, T0 + 60);
    let kid = first.signer(Alg::Es256).unwrap().kid.clone();
    assert!(matches!(
        jwt::verify(&late, &signed, ACCESS_TOKEN_TYP, ISSUER),
        Err(RejectedToken::UnknownKey(_))
    ));
    assert!(late.reload_for_unknown_kid(&kid).await);
    assert!(late.complete());
    assert!(jwt::verify(&late, &signed, ACCESS_TOKEN_TYP, ISSUER).is_ok());
    // A stream of forged kids costs at most one reload per second.
    assert!(!late.reload_for_unknown_kid("forged-1").await);
    assert!(!late.reload_for_unknown_kid("forged-2").await);
}

/// `keys retire` removes a key at once and, for the signing key, signs with
/// a new one from now on.
#[tokio::test]
async fn retiring_the_signing_key_replaces_it_at_once() {
    let f = fixture();
    let keys = f.replica();
    keys.refresh().await.unwrap();
    let old = keys.signer(Alg::Es256).unwrap().kid.clone();
    let signed = token(&keys, Alg::Es256, T0 + 60);
    let removed = keys.retire_now(&old).await.unwrap();
    assert_eq!(removed.kid, old);
    assert!(!kids(&keys).contains(&old));
    let new = keys.signer(Alg::Es256).unwrap().kid.clone();
    assert_ne!(new, old);
    assert!(keys.complete());
    assert!(jwt::verify(&keys, &signed, ACCESS_TOKEN_TYP, ISSUER).is_err());
    assert!(matches!(
        keys.retire_now(&old).await,
        Err(RingError::Store(store::Error::NotFound))
    ));
}
