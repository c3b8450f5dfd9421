//! The `openidconnect` crate as a real relying party: discovery, the code
//! flow with PKCE through the login form, ID token validation (signature,
//! nonce, at_hash), userinfo, refresh, and client credentials; and a
//! request for the MFA level (`acr_values`) and a fresh sign-in
//! (`max_age=0`), with `acr`, `amr` and `auth_time` checked by the crate.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret,
    CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope,
    TokenResponse,
};

use crate::helpers::{TestApp, cli, stdout_json};
use crate::mfa::{oathtool, submit_enrolment};
use crate::oidc::{Browser, PASSWORD, Provider, hidden, location, query};

const REDIRECT: &str = "http://127.0.0.1:8765/callback";

/// openidconnect's HTTP client: a plain reqwest call, no redirects followed.
async fn http(
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut builder = client
        .request(request.method().clone(), request.uri().to_string())
        .body(request.body().clone());
    for (name, value) in request.headers() {
        builder = builder.header(name, value);
    }
    let response = builder.send().await?;
    let mut out = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        out = out.header(name, value);
    }
    let body = response.bytes().await?.to_vec();
    Ok(out.body(body).expect("a response built from a valid one"))
}

#[tokio::test]
async fn an_openidconnect_relying_party_completes_every_flow() {
    let app = TestApp::start(&[("AUTH_ISSUER", "self")]).await;
    let server = &app.server;
    let vars = app.cli_env();
    let created = stdout_json(&cli(
        &vars,
        &[
            "client",
            "create",
            "--name",
            "RP",
            "--redirect-uri",
            "http://127.0.0.1/callback",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--grant-type",
            "client_credentials",
            "--scope",
            "openid profile email api:read",
        ],
        None,
    ));
    stdout_json(&cli(
        &vars,
        &[
            "user",
            "create",
            "--username",
            "rp-user",
            "--password-stdin",
            "--email",
            "rp@example.com",
            "--given-name",
            "Rae",
        ],
        Some(&format!("{PASSWORD}\n")),
    ));

    // Discovery.
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(server.base.clone()).unwrap(), &http)
            .await
            .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(created["client_id"].as_str().unwrap().into()),
        Some(ClientSecret::new(
            created["client_secret"].as_str().unwrap().into(),
        )),
    )
    // A native-app style loopback redirect: any port matches (RFC 8252 §7.3).
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());

    // The code flow with PKCE, through the real login and consent forms.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let mut browser = Browser::new();
    let to_login = location(&browser.get(url.as_str()).await);
    let login = [("username", "rp-user"), ("password", PASSWORD)];
    let to_consent = location(
        &browser
            .fill(&server.base, &to_login, "/login", &login)
            .await,
    );
    let allow = [("decision", "allow")];
    let callback = query(&location(
        &browser
            .fill(&server.base, &to_consent, "/consent", &allow)
            .await,
    ));
    assert_eq!(&callback["state"], csrf.secret());

    let tokens = client
        .exchange_code(AuthorizationCode::new(callback["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("the ID token verifies");
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("rp-user"),
        "the ID token carries the profile claims of the granted scopes"
    );

    // Userinfo.
    let userinfo: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(userinfo.subject(), claims.subject());
    assert_eq!(userinfo.email().map(|e| e.as_str()), Some("rp@example.com"));
    assert_eq!(
        userinfo.preferred_username().map(|u| u.as_str()),
        Some("rp-user")
    );

    // Refresh.
    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        tokens.refresh_token().unwrap().secret()
    );

    // Client credentials.
    let service = client
        .exchange_client_credentials()
        .unwrap()
        .add_scope(Scope::new("api:read".into()))
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(service.scopes().unwrap()[0].as_str(), "api:read");
}

const MFA: &str = "urn:auth-service:acr:mfa";

/// A code flow of `client` with `acr_values` = MFA (and `max_age`, if
/// given) up to the redirect to our first page; the PKCE verifier and
/// nonce for the exchange.
fn mfa_request(
    client: &openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    max_age: Option<std::time::Duration>,
) -> (String, openidconnect::PkceCodeVerifier, Nonce) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_auth_context_value(AuthenticationContextClass::new(MFA.into()))
        .set_pkce_challenge(challenge);
    if let Some(age) = max_age {
        request = request.set_max_age(age);
    }
    let (url, _, nonce) = request.url();
    (url.to_string(), verifier, nonce)
}

#[tokio::test]
async fn an_openidconnect_relying_party_gets_the_mfa_level_it_asks_for() {
    let p = Provider::start_with(&[("AUTH_ISSUER", "self")]).await;
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(p.base.clone()).unwrap(), &http)
            .await
            .unwrap();
    assert!(
        metadata
            .acr_values_supported()
            .unwrap()
            .iter()
            .any(|acr| acr.as_str() == MFA)
    );
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(p.client_id.clone()),
        Some(ClientSecret::new(p.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(crate::oidc::REDIRECT.into()).unwrap());
    let token_endpoint_client = client.clone();
    let exchange = |code: String, verifier, nonce: Nonce| {
        let client = token_endpoint_client.clone();
        async move {
            let tokens = client
                .exchange_code(AuthorizationCode::new(code))
                .unwrap()
                .set_pkce_verifier(verifier)
                .request_async(&http)
                .await
                .unwrap();
            let verifier =
                client
                    .id_token_verifier()
                    .set_auth_context_verifier_fn(|acr| match acr {
                        Some(acr) if acr.as_str() == MFA => Ok(()),
                        other => Err(format!("acr {other:?}")),
                    });
            tokens
                .id_token()
                .unwrap()
                .claims(&verifier, &nonce)
                .unwrap()
                .clone()
        }
    };

    // No factor yet: the password, then enrolment, then the code.
    let (url, verifier, nonce) = mfa_request(&client, None);
    let mut browser = Browser::new();
    let to_login = location(&browser.get(&url).await);
    let login = [("username", "bjensen"), ("password", PASSWORD)];
    let to_factor = location(&browser.fill(&p.base, &to_login, "/login", &login).await);
    assert!(to_factor.starts_with("/login/factor"), "{to_factor}");
    let html = browser
        .get(&format!("{}{to_factor}", p.base))
        .await
        .text()
        .await
        .unwrap();
    let (key, _, (status, html)) =
        submit_enrolment(&p, &mut browser, &html, ("/login/enrol", "")).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{html}");
    let next = [
        ("authz", hidden(&html, "authz")),
        ("csrf_token", hidden(&html, "csrf_token")),
    ];
    let next: Vec<(&str, &str)> = next.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let to_consent = location(
        &browser
            .post(&format!("{}/login/continue", p.base), &next)
            .await,
    );
    let callback = query(&location(
        &browser
            .fill(&p.base, &to_consent, "/consent", &[("decision", "allow")])
            .await,
    ));
    let claims = exchange(callback["code"].clone(), verifier, nonce).await;
    let methods: Vec<&str> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|m| m.as_str())
        .collect();
    assert_eq!(methods, ["pwd", "otp", "mfa"]);
    let first = claims.auth_time().unwrap();

    // max_age=0: the session is not enough; the password and a new code.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (url, verifier, nonce) = mfa_request(&client, Some(std::time::Duration::ZERO));
    let to_login = location(&browser.get(&url).await);
    assert!(to_login.starts_with("/login?"), "{to_login}");
    let page = browser
        .fill(&p.base, &to_login, "/login", &login)
        .await
        .text()
        .await
        .unwrap();
    let code = [
        ("authz", hidden(&page, "authz")),
        ("csrf_token", hidden(&page, "csrf_token")),
        ("pending", hidden(&page, "pending")),
        ("code", oathtool(&key, 30)),
    ];
    let code: Vec<(&str, &str)> = code.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let callback = query(&location(
        &browser
            .post(&format!("{}/login/factor", p.base), &code)
            .await,
    ));
    let claims = exchange(callback["code"].clone(), verifier, nonce).await;
    assert!(
        claims.auth_time().unwrap() > first,
        "a fresh authentication"
    );
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), MFA);
}
