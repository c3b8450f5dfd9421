//! The token endpoint's form: decoded as the server decodes it, then every
//! parameter parser the grants use (grant type, scope, PKCE).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(data) else {
        return;
    };
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(grant) = get("grant_type") {
        let _ = oauth::GrantType::parse(grant);
    }
    if let Some(scope) = get("scope") {
        if let Ok(scope) = oauth::Scope::parse(scope) {
            let _ = scope.is_subset(&scope);
        }
    }
    if let Ok(challenge) =
        oauth::CodeChallenge::parse(get("code_challenge"), get("code_challenge_method"))
    {
        let _ = challenge.verify(get("code_verifier"));
    }
    let params = oauth::authorize::Params(&pairs);
    let _ = oauth::authorize::client_id(params);
});
