//! The token endpoint's form, decoded as the server decodes it and read by
//! the functions the endpoint calls: client authentication
//! (`oauth::client_auth::presented`, with a fuzzed `Authorization` value),
//! `oauth::token_request` (grant type, then the grant's parameters, each at
//! most once), scope narrowing against a registration, and the PKCE check
//! of a code exchange; plus the authorization and logout requests, which
//! read the same pairs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth::token_request::{self, TokenRequest};

fuzz_target!(|data: &[u8]| {
    let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(data) else {
        return;
    };
    let params = oauth::Params(&pairs);
    let _ = oauth::authorize::client_id(params);
    let _ = oauth::logout::LogoutRequest::parse(params);
    // Client authentication reads the same form, with or without Basic.
    if let Ok(presented) = oauth::client_auth::presented(None, params) {
        assert!(!presented.client_id().is_empty());
    }
    let basic = params
        .get("authorization")
        .ok()
        .flatten()
        .unwrap_or_default();
    let _ = oauth::client_auth::presented(Some(basic.as_bytes()), params);
    let Ok(grant) = token_request::grant_type(params) else {
        return;
    };
    let Ok(request) = TokenRequest::parse(grant, params) else {
        return;
    };
    assert_eq!(request.grant_type(), grant);
    let registered = oauth::Scope::parse("openid email offline_access").unwrap_or_default();
    match request {
        TokenRequest::AuthorizationCode { code_verifier, .. } => {
            let stored = oauth::CodeChallenge::from_stored(
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
            );
            let _ = stored.verify(code_verifier);
        }
        TokenRequest::RefreshToken { scope, .. } => narrows(&registered, scope.as_ref()),
        TokenRequest::ClientCredentials { scope, resources } => {
            narrows(&registered, scope.as_ref());
            // Every resource indicator parsed is one, and named once.
            for (i, resource) in resources.iter().enumerate() {
                assert!(oauth::resource::ResourceIndicator::parse(resource.as_str()).is_ok());
                assert!(!resource.as_str().contains('#'));
                assert!(!resources[..i].contains(resource));
            }
        }
        TokenRequest::TokenExchange(exchange) => {
            narrows(&registered, exchange.scope.as_ref());
            // resource and audience together: each once, at most the cap.
            let resources = &exchange.resources;
            assert!(resources.len() <= oauth::resource::MAX_PER_REQUEST);
            for (i, resource) in resources.iter().enumerate() {
                assert!(!resources[..i].contains(resource));
            }
            assert!(!exchange.subject_token.is_empty());
        }
        TokenRequest::DeviceCode { device_code } => assert!(!device_code.is_empty()),
    }
});

/// Narrowing never widens.
fn narrows(registered: &oauth::Scope, requested: Option<&oauth::Scope>) {
    if let Ok(granted) = registered.narrow(requested) {
        assert!(granted.is_subset(registered));
    }
}
