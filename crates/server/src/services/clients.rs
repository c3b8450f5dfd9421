//! Registering OAuth clients. A confidential client gets a 256-bit secret,
//! shown once; the store keeps only its keyed hash (docs/security.md 9).

use oauth::RedirectUri;
use oauth::client_auth::AuthMethod;
use serde_json::{Value, json};
use store::{ClientMetadata, ClientRecord, DynamicRegistration, Store};

use crate::keys::MasterKey;
use crate::opaque::random_token;
use crate::secret::Secret;

pub use oauth::registration::{
    Field, Registration, RegistrationError, RegistrationRequest as NewClient,
};

/// The stored client, and its secret, which exists only here and now.
#[derive(Debug)]
pub struct CreatedClient {
    pub record: ClientRecord,
    pub secret: Option<Secret<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request itself is wrong (RFC 7591 §3.2.2
    /// `invalid_client_metadata`, or `invalid_redirect_uri`).
    #[error(transparent)]
    Invalid(#[from] RegistrationError),
    #[error("the system random generator failed")]
    Randomness,
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// Validates (`oauth::registration`) and stores a new client.
pub async fn create(
    store: &dyn Store,
    key: &MasterKey,
    now: i64,
    new: NewClient,
) -> Result<CreatedClient, ClientError> {
    create_with(store, key, now, validate(&new)?, None).await
}

/// [`create`] for a client that registered itself (RFC 7591,
/// `services::registration`), already validated.
pub async fn create_registered(
    store: &dyn Store,
    key: &MasterKey,
    now: i64,
    registration: Registration,
    dynamic: DynamicRegistration,
) -> Result<CreatedClient, ClientError> {
    create_with(store, key, now, registration, Some(dynamic)).await
}

/// A registration judged as every client is, whoever registers it: the
/// protocol's rules (`oauth::registration`, with this server's ID-token
/// algorithms) and keys the JWT library can use.
pub(crate) fn validate(new: &NewClient) -> Result<Registration, RegistrationError> {
    let algs: Vec<&str> = crate::keys::Alg::ALL.iter().map(|a| a.as_str()).collect();
    let registration = oauth::registration::validate(new, &algs)?;
    if let Some(jwks) = &registration.jwks {
        usable_jwks(jwks)?;
    }
    Ok(registration)
}

async fn create_with(
    store: &dyn Store,
    key: &MasterKey,
    now: i64,
    registration: Registration,
    dynamic: Option<DynamicRegistration>,
) -> Result<CreatedClient, ClientError> {
    let secret = match registration.auth_method {
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => {
            Some(random_token().map_err(|_| ClientError::Randomness)?)
        }
        AuthMethod::PrivateKeyJwt | AuthMethod::None => None,
    };
    let secret_hash = secret.as_ref().map(|s| key.hash_client_secret(s.expose()));
    let mut record = record_of(
        registration,
        uuid::Uuid::new_v4().to_string(),
        secret_hash,
        now,
    );
    record.metadata.registration = dynamic;
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

/// The record of a validated registration, with its id and secret hash;
/// the rest of its metadata at defaults.
pub(crate) fn record_of(
    registration: Registration,
    client_id: String,
    secret_hash: Option<String>,
    now: i64,
) -> ClientRecord {
    let strings = |uris: &[RedirectUri]| uris.iter().map(|u| u.as_str().to_owned()).collect();
    let identifiers = |apis: &[oauth::resource::ResourceIndicator]| {
        apis.iter().map(|r| r.as_str().to_owned()).collect()
    };
    ClientRecord {
        client_id,
        name: registration.client_name,
        secret_hash,
        public: registration.auth_method == AuthMethod::None,
        grant_types: registration
            .grant_types
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect(),
        redirect_uris: strings(&registration.redirect_uris),
        scopes: registration.scope.iter().map(str::to_owned).collect(),
        token_endpoint_auth_method: registration.auth_method.as_str().to_owned(),
        created_at: now,
        metadata: ClientMetadata {
            post_logout_redirect_uris: strings(&registration.post_logout_redirect_uris),
            backchannel_logout_uri: registration.backchannel_logout_uri,
            backchannel_logout_session_required: registration.backchannel_logout_session_required,
            id_token_signed_response_alg: registration.id_token_signed_response_alg,
            first_party: registration.first_party,
            require_mfa: registration.require_mfa,
            dpop_bound_access_tokens: registration.dpop_bound_access_tokens,
            require_pushed_authorization_requests: registration
                .require_pushed_authorization_requests,
            require_signed_request_object: registration.require_signed_request_object,
            access_token_ttl: registration.access_token_ttl,
            jwks: registration.jwks,
            resources: identifiers(&registration.resources),
            default_resource: registration
                .default_resource
                .as_ref()
                .map(|r| r.as_str().to_owned()),
            exchange_resources: identifiers(&registration.exchange_resources),
            claim_mappings: registration.claims.iter().map(|m| m.spec()).collect(),
            ..ClientMetadata::default()
        },
    }
}

/// Replaces what a self-registered client registered (RFC 7592 §2.2),
/// validated as at registration; its id, credentials, creation time and
/// what the operator set (APIs, first-party, MFA, lifetimes, minted
/// tokens, the registration itself) stay.
pub async fn replace_registration(
    store: &dyn Store,
    client: ClientRecord,
    new: NewClient,
) -> Result<ClientRecord, ClientError> {
    let fresh = record_of(
        validate(&new)?,
        client.client_id,
        client.secret_hash,
        client.created_at,
    );
    let updated = ClientRecord {
        metadata: ClientMetadata {
            post_logout_redirect_uris: fresh.metadata.post_logout_redirect_uris,
            backchannel_logout_uri: fresh.metadata.backchannel_logout_uri,
            backchannel_logout_session_required: fresh.metadata.backchannel_logout_session_required,
            id_token_signed_response_alg: fresh.metadata.id_token_signed_response_alg,
            jwks: fresh.metadata.jwks,
            dpop_bound_access_tokens: fresh.metadata.dpop_bound_access_tokens,
            require_pushed_authorization_requests: fresh
                .metadata
                .require_pushed_authorization_requests,
            require_signed_request_object: fresh.metadata.require_signed_request_object,
            ..client.metadata
        },
        ..fresh
    };
    store.update_client(&updated).await?;
    Ok(updated)
}

/// Each key of a registered JWKS is one the JWT library can verify with.
fn usable_jwks(jwks: &Value) -> Result<(), RegistrationError> {
    let keys = jwks["keys"].as_array().into_iter().flatten();
    for key in keys {
        serde_json::from_value::<jsonwebtoken::jwk::Jwk>(key.clone()).map_err(|e| {
            RegistrationError {
                field: Field::Jwks,
                problem: format!("a key is not a usable JWK: {e}"),
            }
        })?;
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
        "backchannel_logout_uri": client.metadata.backchannel_logout_uri,
        "backchannel_logout_session_required": client.metadata.backchannel_logout_session_required,
        "id_token_signed_response_alg": client.metadata.id_token_signed_response_alg.as_deref().unwrap_or("RS256"),
        "first_party": client.metadata.first_party,
        "require_mfa": client.metadata.require_mfa,
        "dpop_bound_access_tokens": client.metadata.dpop_bound_access_tokens,
        "require_pushed_authorization_requests": client.metadata.require_pushed_authorization_requests,
        "require_signed_request_object": client.metadata.require_signed_request_object,
        "resources": client.metadata.resources,
        "exchange_resources": client.metadata.exchange_resources,
        "claims": client.metadata.claim_mappings,
        "access_token_ttl": client.metadata.access_token_ttl,
        "minted_tokens": client.metadata.minted_tokens,
        "disabled": client.metadata.disabled,
        "registered_dynamically": client.metadata.registration.is_some(),
        "expires_at": client
            .metadata
            .registration
            .as_ref()
            .and_then(|r| r.expires_at)
            .map(super::rfc3339),
    })
}
