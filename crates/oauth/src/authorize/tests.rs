use super::*;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn client<'a>(
    uris: &'a [String],
    scopes: &'a [String],
    grants: &'a [String],
) -> RegisteredClient<'a> {
    RegisteredClient {
        client_id: "web",
        redirect_uris: uris,
        scopes,
        grant_types: grants,
    }
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn base() -> Vec<(String, String)> {
    [
        ("response_type", "code"),
        ("client_id", "web"),
        ("redirect_uri", "https://app.example/cb"),
        ("scope", "openid email"),
        ("state", "af0ifjsldkj"),
        ("nonce", "n-0S6_WzA2Mj"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn with(changes: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    let mut params = base();
    for (name, value) in changes {
        params.retain(|(k, _)| k != name);
        if let Some(value) = value {
            params.push(((*name).to_owned(), (*value).to_owned()));
        }
    }
    params
}

fn run(params: &[(String, String)]) -> Result<AuthorizationRequest, AuthorizeError> {
    let uris = strings(&["https://app.example/cb", "https://app.example/other"]);
    let scopes = strings(&["openid", "email", "profile"]);
    let grants = strings(&["authorization_code", "refresh_token"]);
    validate(Params(params), &client(&uris, &scopes, &grants))
}

/// The error code, and whether it is redirected.
fn outcome(params: &[(String, String)]) -> (ErrorCode, bool) {
    match run(params) {
        Err(AuthorizeError::Page(e)) => (e.code, false),
        Err(AuthorizeError::Redirect(redirect, e)) => {
            assert_eq!(
                redirect.state.as_deref(),
                Some("af0ifjsldkj"),
                "state travels with redirected errors"
            );
            (e.code, true)
        }
        Ok(request) => panic!("unexpectedly valid: {request:?}"),
    }
}

#[test]
fn a_valid_request() {
    let request = run(&base()).unwrap();
    assert_eq!(request.redirect.uri, "https://app.example/cb");
    assert_eq!(request.redirect.mode, ResponseMode::Query);
    assert_eq!(request.scope.to_string(), "email openid");
    assert_eq!(request.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
    let form_post = run(&with(&[
        ("response_mode", Some("form_post")),
        ("prompt", Some("login consent")),
        ("max_age", Some("0")),
    ]))
    .unwrap();
    assert_eq!(form_post.redirect.mode, ResponseMode::FormPost);
    assert!(form_post.prompt.login && form_post.prompt.consent);
    assert_eq!(form_post.max_age, Some(0));
}

#[test]
fn untrusted_targets_get_a_page_never_a_redirect() {
    for changes in [
        vec![("redirect_uri", Some("https://evil.example/cb"))],
        vec![("redirect_uri", Some("https://app.example/cb/extra"))],
        vec![("redirect_uri", None)],
    ] {
        assert_eq!(
            outcome(&with(&changes)),
            (ErrorCode::InvalidRequest, false),
            "{changes:?}"
        );
    }
    let mut twice = base();
    twice.push(("redirect_uri".into(), "https://app.example/other".into()));
    assert_eq!(outcome(&twice), (ErrorCode::InvalidRequest, false));
    assert!(matches!(
        client_id(Params(&with(&[("client_id", None)]))),
        Err(AuthorizeError::Page(_))
    ));
}

#[test]
fn other_errors_are_redirected_with_state() {
    for (changes, code) in [
        (
            vec![("response_type", Some("token"))],
            ErrorCode::UnsupportedResponseType,
        ),
        (
            vec![("response_type", Some("code id_token"))],
            ErrorCode::UnsupportedResponseType,
        ),
        (vec![("response_type", None)], ErrorCode::InvalidRequest),
        (
            vec![("scope", Some("openid admin"))],
            ErrorCode::InvalidScope,
        ),
        (vec![("code_challenge", None)], ErrorCode::InvalidRequest),
        (
            vec![("code_challenge_method", Some("plain"))],
            ErrorCode::InvalidRequest,
        ),
        (
            vec![("prompt", Some("none login"))],
            ErrorCode::InvalidRequest,
        ),
        (vec![("prompt", Some("bogus"))], ErrorCode::InvalidRequest),
        (vec![("max_age", Some("-1"))], ErrorCode::InvalidRequest),
        (
            vec![("response_mode", Some("fragment"))],
            ErrorCode::InvalidRequest,
        ),
        (
            vec![("request", Some("eyJ..."))],
            ErrorCode::RequestNotSupported,
        ),
        (
            vec![("request_uri", Some("https://x"))],
            ErrorCode::RequestUriNotSupported,
        ),
    ] {
        assert_eq!(outcome(&with(&changes)), (code, true), "{changes:?}");
    }
}

#[test]
fn the_only_registered_uri_may_be_omitted() {
    let uris = strings(&["https://app.example/cb"]);
    let scopes = strings(&["openid"]);
    let grants = strings(&["authorization_code"]);
    let params = with(&[("redirect_uri", None), ("scope", Some("openid"))]);
    let request = validate(Params(&params), &client(&uris, &scopes, &grants)).unwrap();
    assert_eq!(request.redirect.uri, "https://app.example/cb");
    let no_code_grant = strings(&["client_credentials"]);
    assert!(matches!(
        validate(Params(&params), &client(&uris, &scopes, &no_code_grant)),
        Err(AuthorizeError::Redirect(
            _,
            Error {
                code: ErrorCode::UnauthorizedClient,
                ..
            }
        ))
    ));
}

#[test]
fn responses_carry_state_and_iss_and_keep_the_registered_query() {
    let redirect = Redirect {
        uri: "https://app.example/cb?tenant=a".into(),
        mode: ResponseMode::Query,
        state: Some("af0 ifjsldkj".into()),
    };
    let params = redirect.response_params(
        &[("code", "SplxlOBeZQQYbYS6WxSbIA")],
        "https://auth.example",
    );
    assert_eq!(
        redirect.location(&params),
        "https://app.example/cb?tenant=a&code=SplxlOBeZQQYbYS6WxSbIA&state=af0+ifjsldkj&iss=https%3A%2F%2Fauth.example"
    );
    let stateless = Redirect {
        uri: "https://app.example/cb".into(),
        state: None,
        ..redirect
    };
    let params = stateless.response_params(&[("error", "access_denied")], "https://auth.example");
    assert_eq!(
        stateless.location(&params),
        "https://app.example/cb?error=access_denied&iss=https%3A%2F%2Fauth.example"
    );
}

#[test]
fn resources_are_read_and_bad_ones_are_redirected_as_invalid_target() {
    let mut params = base();
    params.push(("resource".into(), "https://api.example/orders".into()));
    params.push(("resource".into(), "urn:example:billing".into()));
    params.push(("resource".into(), "https://api.example/orders".into()));
    let request = run(&params).unwrap();
    let resources: Vec<&str> = request.resources.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        resources,
        ["https://api.example/orders", "urn:example:billing"]
    );
    assert!(run(&base()).unwrap().resources.is_empty());

    for bad in ["relative/path", "https://api.example/#frag"] {
        let mut params = base();
        params.push(("resource".into(), bad.into()));
        assert_eq!(outcome(&params), (ErrorCode::InvalidTarget, true), "{bad}");
    }
    let mut many = base();
    for i in 0..=crate::resource::MAX_PER_REQUEST {
        many.push(("resource".into(), format!("https://api.example/{i}")));
    }
    assert_eq!(outcome(&many), (ErrorCode::InvalidTarget, true));
}
