//! JWT parsing as the server does it: the header decoded (kid, alg, typ are
//! read from it before any key is chosen) and its `typ` judged by our
//! `oauth::access_token::typ_matches`, then a full decode against a fixed
//! P-256 key, which exercises base64, JSON and signature parsing. The
//! input read as a claims set goes through our
//! `oauth::access_token::AccessClaims::accept`, the check after the
//! signature.
#![no_main]

use std::sync::LazyLock;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use libfuzzer_sys::fuzz_target;

static KEY: LazyLock<DecodingKey> = LazyLock::new(|| {
    // The P-256 base point: a valid public key nobody can sign for.
    DecodingKey::from_ec_components(
        "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",
        "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU",
    )
    .expect("a valid point")
});

fuzz_target!(|data: &[u8]| {
    if let Ok(claims) = serde_json::from_slice::<serde_json::Value>(data) {
        let issuer = "https://auth.example";
        let any = oauth::access_token::AccessClaims::accept(claims.clone(), issuer, None, 0);
        if let Ok(accepted) =
            oauth::access_token::AccessClaims::accept(claims, issuer, Some(&[issuer]), 0)
        {
            assert!(accepted.exp > 0 && !accepted.jti.is_empty());
            assert!(accepted.aud.contains(issuer));
            let _ = accepted.scope();
            // A token for this issuer is one for some API too.
            assert!(any.is_ok());
        }
    }
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    // The Authorization header a resource reads the token from (RFC 6750).
    if let Some(bearer) = oauth::bearer::token(token) {
        assert!(!bearer.is_empty() && bearer.len() < token.len());
    }
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return;
    };
    let _ = oauth::access_token::typ_matches(header.typ.as_deref(), oauth::access_token::TYP);
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_aud = false;
    let _ = jsonwebtoken::decode::<serde_json::Value>(token, &KEY, &validation);
});
