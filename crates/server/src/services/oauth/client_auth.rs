//! Client authentication (RFC 6749 §2.3; docs/security.md 8) once the
//! request's credentials are read (`oauth::client_auth::presented`):
//!
//! - `client_secret_basic` and `client_secret_post`: the shared secret,
//!   checked against its keyed hash in constant time. Either is accepted
//!   for a client with a secret;
//! - `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): a JWT
//!   signed with a key from the JWKS the client registered, for this
//!   issuer (`oauth::client_auth::check_assertion`), used once (its `jti`
//!   is remembered until it expires);
//! - `none` for public clients, which then rely on PKCE.
//!
//! A disabled client cannot authenticate.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oauth::client_auth::{AuthMethod, Presented, check_assertion};
use serde_json::Value;
use store::ClientRecord;

use crate::services::Ctx;

/// Asymmetric algorithms only: an assertion "signed" with `none` or HMAC
/// proves nothing about a registered public key (RFC 8725 §3.1). What
/// discovery advertises as `token_endpoint_auth_signing_alg_values_supported`.
pub const ASSERTION_ALGS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Why a client did not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    /// The credentials were wrong: the client id presented and the reason
    /// (the `reason` of the `authentication_failure` event).
    #[error("client {client_id} did not authenticate: {reason}")]
    Failed {
        client_id: String,
        reason: &'static str,
    },
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// The client `presented` names, if its credential is right.
pub async fn authenticate(
    ctx: &Ctx,
    presented: &Presented,
) -> Result<ClientRecord, ClientAuthError> {
    let failed = |client_id: &str, reason| ClientAuthError::Failed {
        client_id: client_id.to_owned(),
        reason,
    };
    let id = presented.client_id();
    let client = match crate::services::client_documents::get_client(ctx, id).await {
        Ok(client) if super::verify::client_enabled(&client, ctx.clock.now()) => client,
        Ok(_) => return Err(failed(id, "client_disabled")),
        Err(store::Error::NotFound) => return Err(failed(id, "unknown_client")),
        Err(e) => return Err(e.into()),
    };
    let method = AuthMethod::parse(&client.token_endpoint_auth_method);
    let outcome = match presented {
        _ if !method.is_some_and(|m| m.admits(presented)) => Err("wrong_method"),
        Presented::Secret { secret, .. } => client
            .secret_hash
            .as_ref()
            .is_some_and(|hash| ctx.master_key.verify_client_secret(secret, hash))
            .then_some(())
            .ok_or("bad_credentials"),
        Presented::Assertion { assertion, .. } => verify_assertion(ctx, &client, assertion).await?,
        Presented::None { .. } if client.public => Ok(()),
        Presented::None { .. } => Err("wrong_method"),
    };
    match outcome {
        Ok(()) => Ok(client),
        Err(reason) => Err(failed(&client.client_id, reason)),
    }
}

/// Why a JWT the client signed names no key to verify it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// Not one of [`ASSERTION_ALGS`], or not the `alg` the key names.
    Algorithm,
    /// The client registered no (usable) JWKS.
    NoKeys,
    /// No registered key has the `kid` (or there are several and no `kid`).
    UnknownKey,
}

/// The client's registered key that verifies a JWT with `header`: the
/// algorithm pinned to the asymmetric ones, and to the key's own `alg`
/// when the key names one (RFC 7517 §4.4), so that no header can choose
/// another use of the key. For assertions (RFC 7523) and request objects
/// (RFC 9101).
pub fn registered_key(
    client: &ClientRecord,
    header: &jsonwebtoken::Header,
) -> Result<DecodingKey, KeyRefusal> {
    if !ASSERTION_ALGS.contains(&header.alg) {
        return Err(KeyRefusal::Algorithm);
    }
    let jwks = client
        .metadata
        .jwks
        .as_ref()
        .and_then(|j| serde_json::from_value::<jsonwebtoken::jwk::JwkSet>(j.clone()).ok())
        .ok_or(KeyRefusal::NoKeys)?;
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
    .ok_or(KeyRefusal::UnknownKey)?;
    if let Some(alg) = jwk.common.key_algorithm
        && alg.to_string() != format!("{:?}", header.alg)
    {
        return Err(KeyRefusal::Algorithm);
    }
    DecodingKey::from_jwk(jwk).map_err(|_| KeyRefusal::UnknownKey)
}

/// RFC 7523 §3: signature by a registered key, `iss` and `sub` the
/// client, then the claims ([`check_assertion`]), then single use.
async fn verify_assertion(
    ctx: &Ctx,
    client: &ClientRecord,
    assertion: &str,
) -> Result<Result<(), &'static str>, store::Error> {
    let Ok(header) = jsonwebtoken::decode_header(assertion) else {
        return Ok(Err("malformed_assertion"));
    };
    let key = match registered_key(client, &header) {
        Ok(key) => key,
        Err(KeyRefusal::Algorithm) => return Ok(Err("assertion_algorithm")),
        Err(KeyRefusal::NoKeys) => return Ok(Err("no_registered_keys")),
        Err(KeyRefusal::UnknownKey) => return Ok(Err("unknown_assertion_key")),
    };
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[client.client_id.as_str()]);
    validation.sub = Some(client.client_id.clone());
    // The audience is checked by check_assertion, where "one string" can
    // be told from "an array that contains it".
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.leeway = 30;
    let Ok(data) = jsonwebtoken::decode::<Value>(assertion, &key, &validation) else {
        return Ok(Err("invalid_assertion"));
    };
    let issuer = &ctx.config.issuer;
    let token_endpoint = ctx
        .config
        .assertion_audience_token_endpoint
        .then(|| format!("{issuer}/token"));
    let now = ctx.clock.now();
    let accepted = match check_assertion(&data.claims, issuer, token_endpoint.as_deref(), now) {
        Ok(accepted) => accepted,
        Err(refusal) => return Ok(Err(refusal.as_str())),
    };
    // Single use: the first increment sees 1; any replay before expiry sees
    // more. The jti is hashed: a key made of input has a bounded size.
    let key = format!(
        "assertion:{}:{}",
        client.client_id,
        crate::opaque::hash_token(accepted.jti)
    );
    let uses = ctx
        .store
        .increment(&key, 1, (accepted.exp - now).max(0) + 60)
        .await?;
    Ok(if uses == 1 {
        Ok(())
    } else {
        Err("assertion_replayed")
    })
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, Header};
    use serde_json::json;

    use super::*;

    fn client(jwks: Option<Value>) -> ClientRecord {
        ClientRecord {
            client_id: "c".into(),
            name: "c".into(),
            secret_hash: None,
            public: false,
            grant_types: vec![],
            redirect_uris: vec![],
            scopes: vec![],
            token_endpoint_auth_method: "private_key_jwt".into(),
            created_at: 0,
            metadata: store::ClientMetadata {
                jwks,
                ..Default::default()
            },
        }
    }

    fn header(alg: Algorithm, kid: Option<&str>) -> Header {
        Header {
            kid: kid.map(str::to_owned),
            ..Header::new(alg)
        }
    }

    /// A registered key verifies only with its own algorithm, an
    /// asymmetric one, named by its kid (RFC 7517 §4.4, RFC 8725 §3.1).
    #[test]
    fn the_header_cannot_choose_another_use_of_a_registered_key() {
        // RFC 7517 Appendix A.1's P-256 public key.
        let ec = json!({"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256",
            "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"});
        let keyed = client(Some(json!({"keys": [ec]})));
        assert!(registered_key(&keyed, &header(Algorithm::ES256, Some("k1"))).is_ok());
        assert!(registered_key(&keyed, &header(Algorithm::ES256, None)).is_ok());
        for (alg, kid, refusal) in [
            (Algorithm::ES384, Some("k1"), KeyRefusal::Algorithm),
            (Algorithm::RS256, Some("k1"), KeyRefusal::Algorithm),
            (Algorithm::HS256, Some("k1"), KeyRefusal::Algorithm),
            (Algorithm::ES256, Some("k2"), KeyRefusal::UnknownKey),
        ] {
            assert_eq!(
                registered_key(&keyed, &header(alg, kid)).err(),
                Some(refusal),
                "{alg:?} {kid:?}"
            );
        }
        assert_eq!(
            registered_key(&client(None), &header(Algorithm::ES256, None)).err(),
            Some(KeyRefusal::NoKeys)
        );
    }
}
