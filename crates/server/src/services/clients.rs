//! Registering OAuth clients. A confidential client gets a 256-bit secret,
//! shown once; the store keeps only its keyed hash (docs/security.md 9).

use oauth::client_auth::AuthMethod;
use oauth::{GrantType, RedirectUri, Scope};
use serde_json::{Value, json};
use store::{ClientMetadata, ClientRecord, Store};

use crate::keys::MasterKey;
use crate::opaque::random_token;
use crate::secret::Secret;

/// What an operator asks for.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub name: String,
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub scope: Option<String>,
    pub public: bool,
    /// Where RP-initiated logout may send the browser (exact match).
    pub post_logout_redirect_uris: Vec<String>,
    /// `RS256` (default) or `ES256`.
    pub id_token_alg: Option<String>,
    /// A first-party client skips the consent page.
    pub first_party: bool,
    /// A shorter access-token lifetime for this client than the service's.
    pub access_token_ttl: Option<std::time::Duration>,
    /// Public keys for `private_key_jwt` (RFC 7523); no secret is issued.
    pub jwks: Option<serde_json::Value>,
}

/// The stored client, and its secret, which exists only here and now.
#[derive(Debug)]
pub struct CreatedClient {
    pub record: ClientRecord,
    pub secret: Option<Secret<String>>,
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
    IdTokenSignedResponseAlg,
    AccessTokenTtl,
    Jwks,
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
            Self::IdTokenSignedResponseAlg => "id_token_signed_response_alg",
            Self::AccessTokenTtl => "access_token_ttl",
            Self::Jwks => "jwks",
            Self::Registration => "client metadata",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request itself is wrong (RFC 7591 §3.2.2
    /// `invalid_client_metadata`, or `invalid_redirect_uri`).
    #[error("{name}: {1}", name = .0.metadata_name())]
    Invalid(Field, String),
    #[error(transparent)]
    Store(#[from] store::Error),
}

fn invalid(field: Field, message: impl Into<String>) -> ClientError {
    ClientError::Invalid(field, message.into())
}

/// Validates and stores a new client.
pub async fn create(
    store: &dyn Store,
    key: &MasterKey,
    now: i64,
    new: NewClient,
) -> Result<CreatedClient, ClientError> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(invalid(Field::ClientName, "must be 1 to 200 characters"));
    }
    let redirect_uris = new
        .redirect_uris
        .iter()
        .map(|uri| {
            RedirectUri::parse(uri).map_err(|e| invalid(Field::RedirectUris, format!("{uri}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut grant_types = new
        .grant_types
        .iter()
        .map(|g| GrantType::parse(g).map_err(|e| invalid(Field::GrantTypes, e.description)))
        .collect::<Result<Vec<_>, _>>()?;
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
        return Err(invalid(
            Field::RedirectUris,
            "the authorization_code grant needs at least one redirect URI",
        ));
    }
    if new.public && grant_types.contains(&GrantType::ClientCredentials) {
        return Err(invalid(
            Field::Registration,
            "a public client cannot use client_credentials: it has no secret to authenticate with",
        ));
    }
    let scope = Scope::parse(new.scope.as_deref().unwrap_or_default())
        .map_err(|e| invalid(Field::Scope, e.to_string()))?;

    let post_logout = new
        .post_logout_redirect_uris
        .iter()
        .map(|uri| {
            RedirectUri::parse(uri)
                .map_err(|e| invalid(Field::PostLogoutRedirectUris, format!("{uri}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut metadata = ClientMetadata {
        post_logout_redirect_uris: post_logout.iter().map(|u| u.as_str().to_owned()).collect(),
        first_party: new.first_party,
        ..ClientMetadata::default()
    };
    if let Some(alg) = &new.id_token_alg {
        if crate::keys::Alg::parse(alg).is_none() {
            return Err(invalid(
                Field::IdTokenSignedResponseAlg,
                format!("{alg:?}: use RS256 or ES256"),
            ));
        }
        metadata.id_token_signed_response_alg = Some(alg.clone());
    }
    if let Some(ttl) = new.access_token_ttl {
        if ttl.as_secs() == 0 {
            return Err(invalid(
                Field::AccessTokenTtl,
                "must be at least one second",
            ));
        }
        metadata.access_token_ttl = Some(ttl.as_secs());
    }

    let uses_keys = new.jwks.is_some();
    if let Some(jwks) = &new.jwks {
        if new.public {
            return Err(invalid(
                Field::Registration,
                "a public client has no credentials to register keys for",
            ));
        }
        check_jwks(jwks)?;
        metadata.jwks = Some(jwks.clone());
    }

    let secret = if new.public || uses_keys {
        None
    } else {
        Some(
            random_token()
                .map_err(|_| invalid(Field::Registration, "the system random generator failed"))?,
        )
    };
    let record = ClientRecord {
        client_id: uuid::Uuid::new_v4().to_string(),
        name: name.to_owned(),
        secret_hash: secret.as_ref().map(|s| key.hash_client_secret(s.expose())),
        public: new.public,
        grant_types: grant_types.iter().map(|g| g.as_str().to_owned()).collect(),
        redirect_uris: redirect_uris
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect(),
        scopes: scope.iter().map(str::to_owned).collect(),
        token_endpoint_auth_method: if new.public {
            AuthMethod::None
        } else if uses_keys {
            AuthMethod::PrivateKeyJwt
        } else {
            AuthMethod::ClientSecretBasic
        }
        .as_str()
        .to_owned(),
        created_at: now,
        metadata,
    };
    store.create_client(&record).await?;
    tracing::info!(
        category = "security",
        event = "client_created",
        client_id = %record.client_id,
        public = record.public,
        outcome = "success",
        "client created"
    );
    Ok(CreatedClient { record, secret })
}

/// A registrable JWKS: public keys only, each one usable.
fn check_jwks(jwks: &serde_json::Value) -> Result<(), ClientError> {
    let keys = jwks
        .get("keys")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| invalid(Field::Jwks, "expected a JWKS, {\"keys\": [...]}"))?;
    if keys.is_empty() {
        return Err(invalid(Field::Jwks, "the JWKS has no keys"));
    }
    for key in keys {
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|private| key.get(private).is_some())
        {
            return Err(invalid(
                Field::Jwks,
                "contains private or symmetric key material; register public keys only",
            ));
        }
        serde_json::from_value::<jsonwebtoken::jwk::Jwk>(key.clone())
            .map_err(|e| invalid(Field::Jwks, format!("a key is not a usable JWK: {e}")))?;
    }
    Ok(())
}

/// Deletes a client and revokes every token minted for it (docs/security.md
/// 21): the revocations are recorded by `jti` before the record goes, so
/// they outlive it. Tokens the client obtained at `/token` are refused from
/// then on because every token check looks the client up
/// ([`super::oauth::verify`]). `NotFound` if absent.
pub async fn delete(store: &dyn Store, client_id: &str) -> Result<u64, store::Error> {
    let client = store.get_client(client_id).await?;
    let minted = minted_tokens(&client);
    for (jti, expires_at) in &minted {
        store.revoke_token_id(jti, *expires_at).await?;
    }
    store.delete_client(client_id).await?;
    tracing::info!(category = "security", event = "client_deleted", client_id = %client_id, minted_tokens_revoked = minted.len(), outcome = "success", "client deleted");
    Ok(minted.len() as u64)
}

/// Disables or re-enables a client: a disabled client cannot authenticate,
/// and every token it holds is refused while it stays disabled.
pub async fn set_disabled(
    store: &dyn Store,
    client_id: &str,
    disabled: bool,
) -> Result<ClientRecord, store::Error> {
    let mut client = store.get_client(client_id).await?;
    client.metadata.disabled = disabled;
    store.update_client(&client).await?;
    let event = if disabled {
        "client_disabled"
    } else {
        "client_enabled"
    };
    tracing::info!(category = "security", event, client_id = %client_id, outcome = "success", "client {event}");
    Ok(client)
}

/// The (jti, expires_at) of every token minted for a client.
pub fn minted_tokens(client: &ClientRecord) -> Vec<(String, i64)> {
    client
        .metadata
        .minted_tokens
        .iter()
        .map(|t| (t.jti.clone(), t.expires_at))
        .collect()
}

/// The client as shown to operators, in RFC 7591 metadata names. Never the
/// secret or its hash.
pub fn view(client: &ClientRecord) -> Value {
    json!({
        "client_id": client.client_id,
        "client_name": client.name,
        "public": client.public,
        "grant_types": client.grant_types,
        "redirect_uris": client.redirect_uris,
        "scope": client.scopes.join(" "),
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "created_at": super::rfc3339(client.created_at),
        "post_logout_redirect_uris": client.metadata.post_logout_redirect_uris,
        "id_token_signed_response_alg": client.metadata.id_token_signed_response_alg.as_deref().unwrap_or("RS256"),
        "first_party": client.metadata.first_party,
        "access_token_ttl": client.metadata.access_token_ttl,
        "minted_tokens": client.metadata.minted_tokens,
        "disabled": !super::oauth::verify::client_enabled(client),
    })
}
