//! The `openidconnect` crate as a real relying party: discovery, the code
//! flow with PKCE through the login form, ID token validation (signature,
//! nonce, at_hash), userinfo, refresh, and client credentials.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

use crate::helpers::{TestApp, cli, stdout_json};
use crate::oidc::{Browser, PASSWORD, location, query};

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
