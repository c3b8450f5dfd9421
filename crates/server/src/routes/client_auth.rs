//! Client authentication at the token, introspection and revocation
//! endpoints (RFC 6749 §2.3; docs/security.md 8):
//!
//! - `client_secret_basic` and `client_secret_post`: the shared secret,
//!   checked against its keyed hash in constant time. Either is accepted for
//!   a client with a secret;
//! - `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): a JWT signed
//!   with a key from the JWKS the client registered, for this issuer, used
//!   once (its `jti` is remembered until it expires);
//! - `none` for public clients, which then rely on PKCE.

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oauth::ErrorCode;
use serde_json::Value;
use store::ClientRecord;

use super::rate_limit::Verdict;
use super::support::{FormParams, OAuthError, error};
use crate::ops::client_ip::ClientIp;
use crate::state::AppState;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Asymmetric algorithms only: an assertion "signed" with `none` or HMAC
/// proves nothing about a registered public key (RFC 8725 §3.1).
pub const ASSERTION_ALGS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The longest assertion lifetime accepted; bounds the replay memory.
const MAX_ASSERTION_LIFETIME: i64 = 3_600;

/// How the client presented itself.
enum Presented {
    Secret {
        id: String,
        secret: String,
    },
    Assertion {
        id: String,
        assertion: String,
    },
    /// A public client naming itself.
    None {
        id: String,
    },
}

fn invalid_client() -> OAuthError {
    error(ErrorCode::InvalidClient, "client authentication failed")
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined by ':'
/// and base64-encoded.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| invalid_client())?;
    let Some((scheme, encoded)) = text.split_once(' ') else {
        return Err(invalid_client());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid_client());
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| invalid_client())?;
    let decoded = String::from_utf8(decoded).map_err(|_| invalid_client())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(invalid_client)?;
    Ok(Some((
        form_decode(id).ok_or_else(invalid_client)?,
        form_decode(secret).ok_or_else(invalid_client)?,
    )))
}

/// Undoes `application/x-www-form-urlencoded` encoding of one component.
fn form_decode(input: &str) -> Option<String> {
    let spaced = input.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The `sub` of an assertion, read before verification only to find the client.
fn unverified_subject(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims["sub"].as_str().map(str::to_owned)
}

fn presented(headers: &HeaderMap, params: &FormParams) -> Result<Presented, OAuthError> {
    let body_id = params.get("client_id")?.map(str::to_owned);
    let body_secret = params.get("client_secret")?.map(str::to_owned);
    let assertion_type = params.get("client_assertion_type")?;
    let assertion = params.get("client_assertion")?.map(str::to_owned);
    let basic = basic_credentials(headers)?;
    let methods = usize::from(basic.is_some())
        + usize::from(body_secret.is_some())
        + usize::from(assertion.is_some());
    if methods > 1 {
        // RFC 6749 §2.3: one method per request.
        return Err(error(
            ErrorCode::InvalidRequest,
            "use one client authentication method, not two",
        ));
    }
    let check_id = |id: &str| {
        if body_id.as_deref().is_some_and(|b| b != id) {
            return Err(error(
                ErrorCode::InvalidRequest,
                "client_id does not match the client's credentials",
            ));
        }
        Ok(())
    };
    if let Some(assertion) = assertion {
        if assertion_type != Some(ASSERTION_TYPE) {
            return Err(error(
                ErrorCode::InvalidRequest,
                format!("client_assertion_type must be {ASSERTION_TYPE}"),
            ));
        }
        let id = unverified_subject(&assertion).ok_or_else(invalid_client)?;
        check_id(&id)?;
        return Ok(Presented::Assertion { id, assertion });
    }
    Ok(match (basic, body_id.clone(), body_secret) {
        (Some((id, secret)), _, None) => {
            check_id(&id)?;
            Presented::Secret { id, secret }
        }
        (None, Some(id), Some(secret)) => Presented::Secret { id, secret },
        (None, Some(id), None) => Presented::None { id },
        _ => return Err(invalid_client()),
    })
}

/// Authenticates the client of a token, introspection or revocation request.
///
/// Every failure is counted against a budget per client id and per client
/// IP (`AUTH_RATE_LIMIT_CLIENT_AUTH_FAILURES`); once either is spent, a
/// failure answers 429 with `Retry-After` instead of 401 (docs/security.md 23).
/// Only failures are counted, and only after they happen, so a correct
/// credential never waits for the store and a stranger who spends a
/// client's budget does not lock the real client out.
pub async fn authenticate_client(
    state: &AppState,
    headers: &HeaderMap,
    params: &FormParams,
    ip: Option<ClientIp>,
) -> Result<ClientRecord, OAuthError> {
    match authenticate(state, headers, params).await {
        Err(Refused::Failed(id, reason)) => {
            failure(&id, reason);
            Err(spend_failure_budget(state, &id, ip).await)
        }
        Err(Refused::Error(e)) => Err(e),
        Ok(client) => Ok(client),
    }
}

/// Counts one failed authentication; the answer to give for it.
async fn spend_failure_budget(state: &AppState, id: &str, ip: Option<ClientIp>) -> OAuthError {
    let Some(rate) = state.config.client_auth_failures else {
        return invalid_client();
    };
    let ip = ip.map(|ClientIp(ip)| {
        format!(
            "ip:{}",
            crate::ops::client_ip::limit_subject(ip, state.config.ipv6_prefix)
        )
    });
    // The id is what the caller sent, so it is hashed to a bounded key.
    let client = format!("client:{}", crate::opaque::hash_token(id));
    for subject in ip.iter().chain(std::iter::once(&client)) {
        match super::rate_limit::check(state, "client_auth", subject, rate).await {
            Verdict::Admit => {}
            Verdict::Refuse(retry_after) => return OAuthError::too_many(retry_after),
            Verdict::Unavailable => {
                return error(
                    ErrorCode::TemporarilyUnavailable,
                    "the service is temporarily unavailable",
                );
            }
        }
    }
    invalid_client()
}

/// Why [`authenticate`] refused.
enum Refused {
    /// The credentials were wrong: the client id presented and the reason
    /// for the log.
    Failed(String, &'static str),
    /// The request is malformed or the store failed.
    Error(OAuthError),
}

impl From<OAuthError> for Refused {
    fn from(e: OAuthError) -> Self {
        Self::Error(e)
    }
}

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &FormParams,
) -> Result<ClientRecord, Refused> {
    let presented = presented(headers, params)?;
    let id = match &presented {
        Presented::Secret { id, .. } | Presented::Assertion { id, .. } | Presented::None { id } => {
            id.clone()
        }
    };
    let client = match state.store.get_client(&id).await {
        Ok(client) if crate::services::oauth::verify::client_enabled(&client) => client,
        Ok(_) => return Err(Refused::Failed(id, "client_disabled")),
        Err(store::Error::NotFound) => return Err(Refused::Failed(id, "unknown_client")),
        Err(e) => return Err(OAuthError::from(e).into()),
    };
    let outcome = match (&presented, client.token_endpoint_auth_method.as_str()) {
        (Presented::Secret { secret, .. }, "client_secret_basic" | "client_secret_post") => client
            .secret_hash
            .as_ref()
            .is_some_and(|hash| state.master_key.verify_client_secret(secret, hash))
            .then_some(())
            .ok_or("bad_credentials"),
        (Presented::Assertion { assertion, .. }, "private_key_jwt") => {
            verify_assertion(state, &client, assertion).await?
        }
        (Presented::None { .. }, "none") if client.public => Ok(()),
        _ => Err("wrong_method"),
    };
    if let Err(reason) = outcome {
        return Err(Refused::Failed(client.client_id, reason));
    }
    Ok(client)
}

fn failure(client_id: &str, reason: &'static str) {
    tracing::info!(
        category = "security",
        event = "authentication_failure",
        client_id = %client_id,
        reason,
        outcome = "failure",
        "client authentication failed"
    );
}

/// RFC 7523 §3: signature by a registered key, `iss` and `sub` the client,
/// `aud` this issuer, `exp` soon, `jti` used once.
///
/// The audience is one JSON string, the issuer identifier, as the RFC 7523
/// revision (draft-ietf-oauth-rfc7523bis, updating RFC 7523 §3) requires after the 2025
/// audience-injection disclosure: an assertion a client made for another
/// server (whose token endpoint or array audience happens to name us) must
/// not authenticate it here. The token endpoint URL is accepted only when
/// `AUTH_ASSERTION_AUDIENCE_TOKEN_ENDPOINT=true`, for older clients.
async fn verify_assertion(
    state: &AppState,
    client: &ClientRecord,
    assertion: &str,
) -> Result<Result<(), &'static str>, OAuthError> {
    let Ok(header) = jsonwebtoken::decode_header(assertion) else {
        return Ok(Err("malformed_assertion"));
    };
    if !ASSERTION_ALGS.contains(&header.alg) {
        return Ok(Err("assertion_algorithm"));
    }
    let Some(jwks) = client
        .metadata
        .jwks
        .as_ref()
        .and_then(|j| serde_json::from_value::<jsonwebtoken::jwk::JwkSet>(j.clone()).ok())
    else {
        return Ok(Err("no_registered_keys"));
    };
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    };
    let Some(key) = jwk.and_then(|jwk| DecodingKey::from_jwk(jwk).ok()) else {
        return Ok(Err("unknown_assertion_key"));
    };
    let issuer = &state.config.issuer;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[client.client_id.as_str()]);
    validation.sub = Some(client.client_id.clone());
    // The audience is checked below, where "one string" can be told from
    // "an array that contains it".
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.leeway = 30;
    let Ok(data) = jsonwebtoken::decode::<Value>(assertion, &key, &validation) else {
        return Ok(Err("invalid_assertion"));
    };
    let audience_ok = match data.claims["aud"].as_str() {
        Some(aud) if aud == issuer.as_str() => true,
        Some(aud) => {
            state.config.assertion_audience_token_endpoint && aud == format!("{issuer}/token")
        }
        None => false,
    };
    if !audience_ok {
        return Ok(Err("assertion_audience"));
    }
    let now = state.clock.now();
    let exp = data.claims["exp"].as_i64().unwrap_or(0);
    if exp - now > MAX_ASSERTION_LIFETIME {
        return Ok(Err("assertion_lifetime"));
    }
    let Some(jti) = data.claims["jti"].as_str() else {
        return Ok(Err("assertion_without_jti"));
    };
    // Single use: the first increment sees 1; any replay before expiry sees
    // more. The jti is hashed: a key made of input has a bounded size.
    let key = format!(
        "assertion:{}:{}",
        client.client_id,
        crate::opaque::hash_token(jti)
    );
    let uses = state
        .store
        .increment(&key, 1, (exp - now).max(0) + 60)
        .await?;
    Ok(if uses == 1 {
        Ok(())
    } else {
        Err("assertion_replayed")
    })
}
