//! Dynamic registration's body (RFC 7591 §2): any JSON read as client
//! metadata and, when it reads, validated as `client create` validates.
//! Neither may panic; a validated registration keeps only valid redirect
//! URIs and a scope that parses.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(request) = oauth::client_metadata::parse(&body) else {
        return;
    };
    assert!(!request.first_party && request.resources.is_empty());
    if let Ok(registration) = oauth::registration::validate(&request, &["RS256", "ES256"]) {
        for uri in &registration.redirect_uris {
            assert!(oauth::RedirectUri::parse(uri.as_str()).is_ok());
        }
        assert!(oauth::Scope::parse(&registration.scope.to_string()).is_ok());
    }
});
