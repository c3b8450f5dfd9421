//! DPoP proofs (RFC 9449 §4): any header value read as a proof, its checks
//! run against a fixed request, and the key's thumbprint taken. None may
//! panic; a proof that reads has a bounded jti and a public key.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(proof) = oauth::dpop::parse(text) else {
        return;
    };
    assert!(proof.jti.len() <= oauth::dpop::MAX_JTI);
    assert!(proof.jwk.get("d").is_none());
    let _ = oauth::dpop::thumbprint(&proof.jwk);
    let _ = proof.check(&oauth::dpop::Request {
        method: "POST",
        url: "https://auth.example/token",
        now: proof.iat,
        window: 60,
        access_token: Some("token"),
    });
    let _ = oauth::dpop::htu_matches(&proof.htu, "https://auth.example/token");
});
