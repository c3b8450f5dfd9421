//! Client registration (RFC 7591 §2): the metadata a client is registered
//! with, validated once into a typed [`Registration`], and the error
//! vocabulary of §3.2.2. The CLI registers clients through this today;
//! dynamic registration will parse its JSON into the same
//! [`RegistrationRequest`] request.

use serde_json::Value;

use crate::claim_mapping::ClaimMapping;
use crate::client_auth::AuthMethod;
use crate::resource::ResourceIndicator;
use crate::{GrantType, RedirectUri, Scope};

/// What a registration asks for, in RFC 7591 terms.
#[derive(Debug, Clone, Default)]
pub struct RegistrationRequest {
    pub client_name: String,
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub scope: Option<String>,
    /// A public client (RFC 6749 §2.1): no credentials, PKCE only.
    pub public: bool,
    /// RFC 7591 §2 `token_endpoint_auth_method`; derived from `public` and
    /// `jwks` when absent.
    pub token_endpoint_auth_method: Option<String>,
    /// OpenID Connect RP-Initiated Logout 1.0 §3.1 (exact match).
    pub post_logout_redirect_uris: Vec<String>,
    /// OpenID Connect Back-Channel Logout 1.0 §2.2.
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    pub id_token_signed_response_alg: Option<String>,
    /// Trusted by configuration: no consent page.
    pub first_party: bool,
    /// Users must sign in with two factors for this client (`crate::acr`).
    pub require_mfa: bool,
    /// RFC 9449 §5.2: its token requests must carry a DPoP proof.
    pub dpop_bound_access_tokens: bool,
    /// RFC 9126 §6: its authorization requests must be pushed.
    pub require_pushed_authorization_requests: bool,
    /// RFC 9101 §10.5: its authorization requests must be signed.
    pub require_signed_request_object: bool,
    /// A shorter access-token lifetime than the service's, in seconds.
    pub access_token_ttl: Option<u64>,
    /// Public keys for `private_key_jwt` (RFC 7523); no secret is issued.
    pub jwks: Option<Value>,
    /// The APIs (RFC 8707 resource indicators) it may ask tokens for.
    pub resources: Vec<String>,
    /// The one of them its tokens are for when it names none.
    pub default_resource: Option<String>,
    /// The APIs it may exchange tokens for (RFC 8693).
    pub exchange_resources: Vec<String>,
    /// Its own claims (`crate::claim_mapping` specs).
    pub claims: Vec<String>,
}

/// The registration field a problem is about, by its RFC 7591 §2 name;
/// each surface names it its own way (the CLI as a flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    ClientName,
    RedirectUris,
    GrantTypes,
    Scope,
    PostLogoutRedirectUris,
    BackchannelLogoutUri,
    IdTokenSignedResponseAlg,
    AccessTokenTtl,
    Jwks,
    TokenEndpointAuthMethod,
    /// Not RFC 7591's: the APIs a client may ask tokens for (RFC 8707).
    Resources,
    /// Not RFC 7591's: the API its tokens are for by default.
    DefaultResource,
    /// Not RFC 7591's: the client's own claims (`crate::claim_mapping`).
    Claims,
    /// The combination of fields (e.g. a public client with
    /// client_credentials).
    Registration,
}

impl Field {
    /// The RFC 7591 metadata name.
    pub fn metadata_name(self) -> &'static str {
        match self {
            Self::ClientName => "client_name",
            Self::RedirectUris => "redirect_uris",
            Self::GrantTypes => "grant_types",
            Self::Scope => "scope",
            Self::PostLogoutRedirectUris => "post_logout_redirect_uris",
            Self::BackchannelLogoutUri => "backchannel_logout_uri",
            Self::IdTokenSignedResponseAlg => "id_token_signed_response_alg",
            Self::AccessTokenTtl => "access_token_ttl",
            Self::Jwks => "jwks",
            Self::TokenEndpointAuthMethod => "token_endpoint_auth_method",
            Self::Resources => "resources",
            Self::DefaultResource => "default_resource",
            Self::Claims => "claims",
            Self::Registration => "client metadata",
        }
    }
}

/// A refused registration: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {problem}", name = .field.metadata_name())]
pub struct RegistrationError {
    pub field: Field,
    pub problem: String,
}

impl RegistrationError {
    fn new(field: Field, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }

    /// The RFC 7591 §3.2.2 error code.
    pub fn code(&self) -> &'static str {
        match self.field {
            Field::RedirectUris | Field::PostLogoutRedirectUris => "invalid_redirect_uri",
            _ => "invalid_client_metadata",
        }
    }
}

/// A validated registration.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub client_name: String,
    /// Sorted, without duplicates.
    pub grant_types: Vec<GrantType>,
    pub redirect_uris: Vec<RedirectUri>,
    pub scope: Scope,
    pub auth_method: AuthMethod,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// Checked by [`crate::backchannel_logout::check_uri`].
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    pub id_token_signed_response_alg: Option<String>,
    pub first_party: bool,
    pub require_mfa: bool,
    pub dpop_bound_access_tokens: bool,
    pub require_pushed_authorization_requests: bool,
    pub require_signed_request_object: bool,
    pub access_token_ttl: Option<u64>,
    /// Each key public and with its members named; the server checks that
    /// its JWT library can use it.
    pub jwks: Option<Value>,
    /// Without duplicates, in the order given.
    pub resources: Vec<ResourceIndicator>,
    /// One of `resources`.
    pub default_resource: Option<ResourceIndicator>,
    /// Without duplicates.
    pub exchange_resources: Vec<ResourceIndicator>,
    /// In the order given; one per claim name.
    pub claims: Vec<ClaimMapping>,
}

/// Validates `request`; `id_token_algs` are the algorithms the server
/// signs ID tokens with.
pub fn validate(
    request: &RegistrationRequest,
    id_token_algs: &[&str],
) -> Result<Registration, RegistrationError> {
    use RegistrationError as E;
    let client_name = request.client_name.trim();
    if client_name.is_empty() || client_name.chars().count() > 200 {
        return Err(E::new(Field::ClientName, "must be 1 to 200 characters"));
    }
    let uris = |field: Field, uris: &[String]| {
        uris.iter()
            .map(|uri| RedirectUri::parse(uri).map_err(|e| E::new(field, format!("{uri}: {e}"))))
            .collect::<Result<Vec<_>, _>>()
    };
    let redirect_uris = uris(Field::RedirectUris, &request.redirect_uris)?;
    let mut grant_types = request
        .grant_types
        .iter()
        .map(|g| GrantType::parse(g).map_err(|e| E::new(Field::GrantTypes, e.description)))
        .collect::<Result<Vec<_>, _>>()?;
    // RFC 7591 §2 defaults grant_types to authorization_code; a client
    // with no redirect URI can only be a service, so it gets
    // client_credentials instead.
    if grant_types.is_empty() {
        grant_types = if redirect_uris.is_empty() {
            vec![GrantType::ClientCredentials]
        } else {
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        };
    }
    grant_types.sort();
    grant_types.dedup();
    if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
        return Err(E::new(
            Field::RedirectUris,
            "the authorization_code grant needs at least one redirect URI",
        ));
    }
    if request.public && grant_types.contains(&GrantType::ClientCredentials) {
        return Err(E::new(
            Field::Registration,
            "a public client cannot use client_credentials: it has no secret to authenticate with",
        ));
    }
    if request.public && grant_types.contains(&GrantType::TokenExchange) {
        return Err(E::new(
            Field::Registration,
            "a public client cannot exchange tokens (RFC 8693 section 2.1): it cannot authenticate",
        ));
    }
    let scope = Scope::parse(request.scope.as_deref().unwrap_or_default())
        .map_err(|e| E::new(Field::Scope, e.to_string()))?;
    let post_logout_redirect_uris = uris(
        Field::PostLogoutRedirectUris,
        &request.post_logout_redirect_uris,
    )?;
    if let Some(uri) = &request.backchannel_logout_uri {
        crate::backchannel_logout::check_uri(uri, request.public)
            .map_err(|e| E::new(Field::BackchannelLogoutUri, format!("{uri}: {e}")))?;
    }
    if request.backchannel_logout_session_required && request.backchannel_logout_uri.is_none() {
        return Err(E::new(
            Field::BackchannelLogoutUri,
            "backchannel_logout_session_required needs a backchannel_logout_uri",
        ));
    }
    if let Some(alg) = &request.id_token_signed_response_alg
        && !id_token_algs.contains(&alg.as_str())
    {
        return Err(E::new(
            Field::IdTokenSignedResponseAlg,
            format!("{alg:?}: use one of {}", id_token_algs.join(", ")),
        ));
    }
    if request.access_token_ttl == Some(0) {
        return Err(E::new(Field::AccessTokenTtl, "must be at least one second"));
    }
    if request.require_signed_request_object && request.jwks.is_none() {
        return Err(E::new(
            Field::Jwks,
            "require_signed_request_object needs the keys (jwks) the requests are signed with",
        ));
    }
    if let Some(jwks) = &request.jwks {
        if request.public {
            return Err(E::new(
                Field::Registration,
                "a public client has no credentials to register keys for",
            ));
        }
        check_jwks(jwks)?;
    }
    let mut resources: Vec<ResourceIndicator> = Vec::new();
    for value in &request.resources {
        let resource = ResourceIndicator::parse(value)
            .map_err(|e| E::new(Field::Resources, format!("{value}: {}", e.description)))?;
        if !resources.contains(&resource) {
            resources.push(resource);
        }
    }
    let mut exchange_resources: Vec<ResourceIndicator> = Vec::new();
    for value in &request.exchange_resources {
        let resource = ResourceIndicator::parse(value)
            .map_err(|e| E::new(Field::Resources, format!("{value}: {}", e.description)))?;
        if !exchange_resources.contains(&resource) {
            exchange_resources.push(resource);
        }
    }
    if !exchange_resources.is_empty() && !grant_types.contains(&GrantType::TokenExchange) {
        return Err(E::new(
            Field::GrantTypes,
            "exchange resources need the urn:ietf:params:oauth:grant-type:token-exchange grant",
        ));
    }
    let default_resource = match &request.default_resource {
        None => None,
        Some(value) => {
            let resource = ResourceIndicator::parse(value).map_err(|e| {
                E::new(
                    Field::DefaultResource,
                    format!("{value}: {}", e.description),
                )
            })?;
            if !resources.contains(&resource) {
                return Err(E::new(
                    Field::DefaultResource,
                    format!("{value} is not one of the client's resources"),
                ));
            }
            Some(resource)
        }
    };
    let mut claims: Vec<ClaimMapping> = Vec::new();
    for spec in &request.claims {
        let mapping = ClaimMapping::parse(spec).map_err(|e| E::new(Field::Claims, e))?;
        if claims.iter().any(|m| m.claim == mapping.claim) {
            return Err(E::new(
                Field::Claims,
                format!("{} is mapped twice", mapping.claim),
            ));
        }
        claims.push(mapping);
    }
    let auth_method = auth_method(request)?;
    Ok(Registration {
        client_name: client_name.to_owned(),
        grant_types,
        redirect_uris,
        scope,
        auth_method,
        post_logout_redirect_uris,
        backchannel_logout_uri: request.backchannel_logout_uri.clone(),
        backchannel_logout_session_required: request.backchannel_logout_session_required,
        id_token_signed_response_alg: request.id_token_signed_response_alg.clone(),
        first_party: request.first_party,
        require_mfa: request.require_mfa,
        dpop_bound_access_tokens: request.dpop_bound_access_tokens,
        require_pushed_authorization_requests: request.require_pushed_authorization_requests,
        require_signed_request_object: request.require_signed_request_object,
        access_token_ttl: request.access_token_ttl,
        jwks: request.jwks.clone(),
        resources,
        default_resource,
        exchange_resources,
        claims,
    })
}

/// The token endpoint authentication method: the one asked for, which must
/// agree with `public` and `jwks`, else none for a public client,
/// `private_key_jwt` with keys and `client_secret_basic` otherwise (RFC
/// 7591 §2's default).
fn auth_method(request: &RegistrationRequest) -> Result<AuthMethod, RegistrationError> {
    let derived = if request.public {
        AuthMethod::None
    } else if request.jwks.is_some() {
        AuthMethod::PrivateKeyJwt
    } else {
        AuthMethod::ClientSecretBasic
    };
    let Some(name) = &request.token_endpoint_auth_method else {
        return Ok(derived);
    };
    let refuse = |problem: String| {
        Err(RegistrationError::new(
            Field::TokenEndpointAuthMethod,
            problem,
        ))
    };
    let Some(asked) = AuthMethod::parse(name) else {
        let known: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
        return refuse(format!("{name:?}: use one of {}", known.join(", ")));
    };
    match (asked, derived) {
        (
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost,
            AuthMethod::ClientSecretBasic,
        )
        | (AuthMethod::PrivateKeyJwt, AuthMethod::PrivateKeyJwt)
        | (AuthMethod::None, AuthMethod::None) => Ok(asked),
        (AuthMethod::PrivateKeyJwt, _) => refuse("private_key_jwt needs the client's jwks".into()),
        _ => refuse(format!(
            "{name} does not fit the rest of the registration ({} expected)",
            derived.as_str()
        )),
    }
}

/// A registrable JWKS (RFC 7517 §5): keys, and public ones only.
fn check_jwks(jwks: &Value) -> Result<(), RegistrationError> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| RegistrationError::new(Field::Jwks, "expected a JWKS, {\"keys\": [...]}"))?;
    if keys.is_empty() {
        return Err(RegistrationError::new(Field::Jwks, "the JWKS has no keys"));
    }
    // RFC 7518 §6.2.2, §6.3.2 and §6.4: the private and symmetric members.
    if keys.iter().any(|key| {
        ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]
            .iter()
            .any(|private| key.get(private).is_some())
    }) {
        return Err(RegistrationError::new(
            Field::Jwks,
            "contains private or symmetric key material; register public keys only",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ALGS: &[&str] = &["RS256", "ES256"];

    fn web() -> RegistrationRequest {
        RegistrationRequest {
            client_name: " Example ".into(),
            redirect_uris: vec!["https://app.example/cb".into()],
            scope: Some("openid email".into()),
            ..RegistrationRequest::default()
        }
    }

    fn refused(request: &RegistrationRequest) -> (Field, &'static str) {
        let e = validate(request, ALGS).unwrap_err();
        (e.field, e.code())
    }

    #[test]
    fn defaults_follow_the_redirect_uris() {
        let app = validate(&web(), ALGS).unwrap();
        assert_eq!(app.client_name, "Example");
        assert_eq!(
            app.grant_types,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(app.auth_method, AuthMethod::ClientSecretBasic);
        let service = validate(
            &RegistrationRequest {
                client_name: "svc".into(),
                ..RegistrationRequest::default()
            },
            ALGS,
        )
        .unwrap();
        assert_eq!(service.grant_types, vec![GrantType::ClientCredentials]);
        let spa = validate(
            &RegistrationRequest {
                public: true,
                ..web()
            },
            ALGS,
        )
        .unwrap();
        assert_eq!(spa.auth_method, AuthMethod::None);
    }

    #[test]
    fn each_refusal_names_its_field_and_rfc_7591_code() {
        let bad_uri = RegistrationRequest {
            redirect_uris: vec!["http://app.example/cb".into()],
            ..web()
        };
        assert_eq!(
            refused(&bad_uri),
            (Field::RedirectUris, "invalid_redirect_uri")
        );
        let code_without_uri = RegistrationRequest {
            redirect_uris: vec![],
            grant_types: vec!["authorization_code".into()],
            ..web()
        };
        assert_eq!(refused(&code_without_uri).0, Field::RedirectUris);
        let public_service = RegistrationRequest {
            public: true,
            grant_types: vec!["client_credentials".into()],
            ..web()
        };
        assert_eq!(
            refused(&public_service),
            (Field::Registration, "invalid_client_metadata")
        );
        let implicit = RegistrationRequest {
            grant_types: vec!["implicit".into()],
            ..web()
        };
        assert_eq!(refused(&implicit).0, Field::GrantTypes);
        let hs256 = RegistrationRequest {
            id_token_signed_response_alg: Some("HS256".into()),
            ..web()
        };
        assert_eq!(refused(&hs256).0, Field::IdTokenSignedResponseAlg);
        let zero = RegistrationRequest {
            access_token_ttl: Some(0),
            ..web()
        };
        assert_eq!(refused(&zero).0, Field::AccessTokenTtl);
        let method = |name: &str, public: bool| RegistrationRequest {
            token_endpoint_auth_method: Some(name.into()),
            public,
            ..web()
        };
        assert_eq!(
            refused(&method("tls_client_auth", false)).0,
            Field::TokenEndpointAuthMethod
        );
        assert_eq!(
            refused(&method("private_key_jwt", false)).0,
            Field::TokenEndpointAuthMethod
        );
        assert_eq!(
            refused(&method("client_secret_basic", true)).0,
            Field::TokenEndpointAuthMethod
        );
        assert_eq!(
            validate(&method("client_secret_post", false), ALGS)
                .unwrap()
                .auth_method,
            AuthMethod::ClientSecretPost
        );
        let blank = RegistrationRequest {
            client_name: "  ".into(),
            ..web()
        };
        assert_eq!(refused(&blank).0, Field::ClientName);
    }

    #[test]
    fn only_public_keys_register() {
        let with = |jwks: Value| RegistrationRequest {
            jwks: Some(jwks),
            ..web()
        };
        let public = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}]});
        assert_eq!(
            validate(&with(public), ALGS).unwrap().auth_method,
            AuthMethod::PrivateKeyJwt
        );
        for bad in [
            json!({"keys": []}),
            json!([]),
            json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
            json!({"keys": [{"kty": "RSA", "n": "x", "e": "AQAB", "d": "y"}]}),
        ] {
            assert_eq!(refused(&with(bad.clone())).0, Field::Jwks, "{bad}");
        }
    }
}
