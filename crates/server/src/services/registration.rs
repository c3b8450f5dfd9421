//! Dynamic client registration (RFC 7591) and its management protocol
//! (RFC 7592), off unless `AUTH_REGISTRATION` says `initial-token` or
//! `open` (docs/api.md, "Dynamic client registration").
//!
//! A registration is read by `oauth::client_metadata`, validated by
//! `oauth::registration` exactly as `client create` is, and then held to
//! the operator's policy ([`crate::config::RegistrationPolicy`]): the grant
//! types, redirect URI schemes and scopes a client may register itself
//! with. What a client cannot give itself is never read from the request:
//! it is not first-party (its users always see the consent page), it has
//! no APIs beyond the built-in ones, and no longer token lifetimes.
//!
//! The registration access token (RFC 7592 §1) is a 256-bit random secret,
//! shown once; the client record keeps only its hash. An initial access
//! token (RFC 7591 §3) is minted by `auth-service token mint
//! --registration`: it carries its id, how many clients it may register and
//! when it expires, under the master key's MAC, and a store counter per id
//! counts the clients it registered, so every replica enforces one limit.
//! `token revoke --jti` revokes one before it is used up.
//!
//! Logs `client_registered`, `client_registration_updated`,
//! `client_registration_deleted` and `client_registration_refused`.

use std::time::Duration;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use oauth::Scope;
use oauth::client_metadata;
use oauth::registration::{Field, RegistrationError, RegistrationRequest};
use serde_json::{Value, json};
use store::{ClientRecord, DynamicRegistration};

use super::Ctx;
use super::clients::{self, ClientError};
use crate::config::RegistrationMode;
use crate::opaque::{hash_token, random_token};
use crate::secret::Secret;

/// The MAC purpose of initial access tokens.
const INITIAL_TOKEN_MAC: &str = "registration initial access token";
/// The store counter of an initial access token's registrations.
fn initial_counter(jti: &str) -> String {
    format!("registration:initial:{jti}")
}
/// The most clients one initial access token may register.
pub const MAX_CLIENTS_PER_INITIAL_TOKEN: u32 = 10_000;

/// Why a registration request was refused, in RFC 7591 §3.2.2 and RFC 6750
/// §3.1 terms.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationRefusal {
    /// `invalid_redirect_uri` or `invalid_client_metadata`.
    #[error(transparent)]
    Metadata(#[from] RegistrationError),
    /// No, or an unusable, initial or registration access token: 401
    /// `invalid_token`. Which of the two is not said.
    #[error("{0}")]
    Token(&'static str),
    #[error("the system random generator failed")]
    Randomness,
    #[error(transparent)]
    Store(#[from] store::Error),
}

impl From<ClientError> for RegistrationRefusal {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Invalid(e) => Self::Metadata(e),
            ClientError::Randomness => Self::Randomness,
            ClientError::Store(e) => Self::Store(e),
        }
    }
}

fn refuse(field: Field, problem: impl Into<String>) -> RegistrationRefusal {
    RegistrationRefusal::Metadata(RegistrationError {
        field,
        problem: problem.into(),
    })
}

/// An initial access token, as `token mint --registration` shows it.
#[derive(Debug)]
pub struct InitialToken {
    pub token: Secret<String>,
    pub jti: String,
    pub max_clients: u32,
    pub expires_at: i64,
}

/// Mints an initial access token for `max_clients` registrations within
/// `ttl`.
pub fn mint_initial_token(
    ctx: &Ctx,
    max_clients: u32,
    ttl: Duration,
) -> Result<InitialToken, RegistrationRefusal> {
    let jti = random_token()
        .map_err(|_| RegistrationRefusal::Randomness)?
        .expose()[..22]
        .to_owned();
    let expires_at = ctx.clock.now() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
    let body = format!("{jti}.{max_clients}.{expires_at}");
    let tag = ctx.master_key.mac(INITIAL_TOKEN_MAC, body.as_bytes());
    Ok(InitialToken {
        token: Secret::new(format!("{body}.{tag}")),
        jti,
        max_clients,
        expires_at,
    })
}

/// An initial access token that checked out: its id, its limit, its end.
#[derive(Debug)]
struct Presented {
    jti: String,
    max: i64,
    expires_at: i64,
}

const BAD_INITIAL_TOKEN: RegistrationRefusal =
    RegistrationRefusal::Token("the initial access token is invalid, expired or used up");

/// Checks an initial access token: its MAC, its expiry, its revocation.
async fn check_initial_token(ctx: &Ctx, token: &str) -> Result<Presented, RegistrationRefusal> {
    const BAD: RegistrationRefusal = BAD_INITIAL_TOKEN;
    let Some((body, tag)) = token.rsplit_once('.') else {
        return Err(BAD);
    };
    if !ctx
        .master_key
        .verify_mac(INITIAL_TOKEN_MAC, body.as_bytes(), tag)
    {
        return Err(BAD);
    }
    let mut parts = body.split('.');
    let (Some(jti), Some(Ok(max)), Some(Ok(expires_at)), None) = (
        parts.next(),
        parts.next().map(str::parse::<i64>),
        parts.next().map(str::parse::<i64>),
        parts.next(),
    ) else {
        return Err(BAD);
    };
    let now = ctx.clock.now();
    if now >= expires_at || ctx.store.is_token_id_revoked(jti).await? {
        return Err(BAD);
    }
    Ok(Presented {
        jti: jti.to_owned(),
        max,
        expires_at,
    })
}

/// Counts one registration against a checked initial access token: before
/// the client is stored, so a failure after this wastes a use rather than
/// granting one more than the token allows.
async fn count_initial_token(ctx: &Ctx, token: &Presented) -> Result<(), RegistrationRefusal> {
    let ttl = token.expires_at - ctx.clock.now() + 60;
    let used = ctx
        .store
        .increment(&initial_counter(&token.jti), 1, ttl)
        .await?;
    if used > token.max {
        return Err(BAD_INITIAL_TOKEN);
    }
    Ok(())
}

/// The registration endpoint's access rule: the token it needs, if any.
fn initial_token_needed(ctx: &Ctx) -> bool {
    ctx.config.registration.mode == RegistrationMode::InitialToken
}

/// What a registration returns (RFC 7591 §3.2.1, RFC 7592 §3): the client
/// information with its credentials, which exist only in this answer.
#[derive(Debug)]
pub struct Registered {
    pub record: ClientRecord,
    pub secret: Option<Secret<String>>,
    pub registration_access_token: Secret<String>,
}

/// Registers a client from an RFC 7591 §3.1 body, authorized by
/// `initial_token` (the request's Bearer token) when the mode asks for one.
pub async fn register(
    ctx: &Ctx,
    initial_token: Option<&str>,
    body: &Value,
) -> Result<Registered, RegistrationRefusal> {
    let presented = if initial_token_needed(ctx) {
        let token = initial_token.ok_or(RegistrationRefusal::Token(
            "registration needs an initial access token",
        ))?;
        Some(check_initial_token(ctx, token).await?)
    } else {
        None
    };
    let request = admit(ctx, client_metadata::parse(body)?)?;
    // The metadata is judged before the token is counted, so a rejected
    // request does not use up a registration.
    let validated = clients::validate(&request)?;
    if let Some(token) = &presented {
        count_initial_token(ctx, token).await?;
    }
    let initial_token_id = presented.map(|t| t.jti);
    let rat = random_token().map_err(|_| RegistrationRefusal::Randomness)?;
    let now = ctx.clock.now();
    let expires_at = (ctx.config.registration.mode == RegistrationMode::Open)
        .then(|| now + i64::try_from(ctx.config.registration.client_ttl.as_secs()).unwrap_or(0))
        .filter(|_| !ctx.config.registration.client_ttl.is_zero());
    let registration = DynamicRegistration {
        access_token_hash: hash_token(rat.expose()),
        initial_token: initial_token_id.clone(),
        expires_at,
    };
    let created = clients::create_registered(
        ctx.store.as_ref(),
        &ctx.master_key,
        now,
        validated,
        registration,
    )
    .await?;
    tracing::info!(
        category = "security",
        event = "client_registered",
        client_id = %created.record.client_id,
        public = created.record.public,
        initial_token = initial_token_id.as_deref().unwrap_or(""),
        outcome = "success",
        "client registered dynamically"
    );
    Ok(Registered {
        record: created.record,
        secret: created.secret,
        registration_access_token: rat,
    })
}

/// The policy's judgement of a request (docs/api.md): each grant type
/// allowed, each redirect URI https, loopback http or an allowed private
/// scheme, and the scope narrowed to the allowed scopes (RFC 7591 §3.2.1:
/// the server "MAY reject or replace any of the client's requested
/// metadata values"), or the allowed scopes when none is asked for.
pub(crate) fn admit(
    ctx: &Ctx,
    mut request: RegistrationRequest,
) -> Result<RegistrationRequest, RegistrationRefusal> {
    let policy = &ctx.config.registration;
    // §2: grant_types defaults to authorization_code; a refresh token
    // comes with it where the policy allows one.
    let asked_grants: Vec<String> = if request.grant_types.is_empty() {
        ["authorization_code", "refresh_token"]
            .into_iter()
            .filter(|g| *g == "authorization_code" || policy.grant_types.iter().any(|a| a == g))
            .map(str::to_owned)
            .collect()
    } else {
        request.grant_types.clone()
    };
    if let Some(other) = asked_grants
        .iter()
        .find(|g| !policy.grant_types.iter().any(|a| a == *g))
    {
        return Err(refuse(
            Field::GrantTypes,
            format!(
                "{other} is not allowed for dynamic registration (allowed: {})",
                policy.grant_types.join(", ")
            ),
        ));
    }
    request.grant_types = asked_grants;
    for uri in request
        .redirect_uris
        .iter()
        .chain(&request.post_logout_redirect_uris)
    {
        let scheme = uri.split_once(':').map_or("", |(s, _)| s);
        let web = scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http");
        if !web
            && !policy
                .redirect_schemes
                .iter()
                .any(|s| s.eq_ignore_ascii_case(scheme))
        {
            return Err(refuse(
                Field::RedirectUris,
                format!(
                    "{uri}: the scheme {scheme:?} is not allowed; use https or a loopback http URI (RFC 8252 section 7.3)"
                ),
            ));
        }
    }
    let allowed = &policy.scopes;
    request.scope = Some(match request.scope.as_deref().map(Scope::parse) {
        None => allowed.to_string(),
        Some(Err(e)) => return Err(refuse(Field::Scope, e.to_string())),
        Some(Ok(asked)) => {
            let kept = asked.only(|s| allowed.contains(s));
            if kept.is_empty() && !asked.is_empty() {
                return Err(refuse(
                    Field::Scope,
                    format!(
                        "none of the scopes is allowed for dynamic registration (allowed: {allowed})"
                    ),
                ));
            }
            kept.to_string()
        }
    });
    Ok(request)
}

/// The client of a configuration request (RFC 7592 §2): the client
/// `client_id` if `token` is its registration access token. Any other
/// case, an unknown client included, is 401 (§2: "the authorization server
/// MUST respond with HTTP 401 Unauthorized").
pub async fn authorize(
    ctx: &Ctx,
    client_id: &str,
    token: Option<&str>,
) -> Result<ClientRecord, RegistrationRefusal> {
    const BAD: RegistrationRefusal =
        RegistrationRefusal::Token("the registration access token is invalid");
    let token = token.ok_or(BAD)?;
    let client = match ctx.store.get_client(client_id).await {
        Ok(client) => client,
        Err(store::Error::NotFound) => return Err(BAD),
        Err(e) => return Err(e.into()),
    };
    let Some(registration) = &client.metadata.registration else {
        return Err(BAD);
    };
    let presented = hash_token(token);
    if verify_slices_are_equal(
        presented.as_bytes(),
        registration.access_token_hash.as_bytes(),
    )
    .is_err()
    {
        return Err(BAD);
    }
    Ok(client)
}

/// Replaces a registered client's metadata (RFC 7592 §2.2). The body names
/// the client (`client_id`, and `client_secret` if it sends one, which must
/// be the client's); what it omits takes its default, as in a registration.
/// The authentication method cannot change: a client that has a secret
/// keeps it, one that has none gets none.
pub async fn update(
    ctx: &Ctx,
    client: ClientRecord,
    body: &Value,
) -> Result<ClientRecord, RegistrationRefusal> {
    if body.get("client_id").and_then(Value::as_str) != Some(client.client_id.as_str()) {
        return Err(refuse(
            Field::Registration,
            "client_id must be the client's own (RFC 7592 section 2.2)",
        ));
    }
    if let Some(secret) = body.get("client_secret") {
        let matches = match (secret.as_str(), &client.secret_hash) {
            (Some(secret), Some(hash)) => ctx.master_key.verify_client_secret(secret, hash),
            _ => false,
        };
        if !matches {
            return Err(refuse(
                Field::Registration,
                "client_secret is not the client's (RFC 7592 section 2.2)",
            ));
        }
    }
    let mut request = admit(ctx, client_metadata::parse(body)?)?;
    let method = request
        .token_endpoint_auth_method
        .get_or_insert_with(|| client.token_endpoint_auth_method.clone());
    let same_kind = |m: &str| matches!(m, "client_secret_basic" | "client_secret_post");
    if *method != client.token_endpoint_auth_method
        && !(same_kind(method) && same_kind(&client.token_endpoint_auth_method))
    {
        return Err(refuse(
            Field::TokenEndpointAuthMethod,
            "the authentication method cannot change; register a new client",
        ));
    }
    request.public = client.public;
    let updated = clients::replace_registration(ctx.store.as_ref(), client, request).await?;
    tracing::info!(
        category = "security",
        event = "client_registration_updated",
        client_id = %updated.client_id,
        outcome = "success",
        "client registration updated"
    );
    Ok(updated)
}

/// Deletes a registered client (RFC 7592 §2.3), revoking its tokens as
/// `client delete` does.
pub async fn delete(ctx: &Ctx, client: &ClientRecord) -> Result<(), RegistrationRefusal> {
    clients::delete(ctx.store.as_ref(), &client.client_id).await?;
    tracing::info!(
        category = "security",
        event = "client_registration_deleted",
        client_id = %client.client_id,
        outcome = "success",
        "client deleted by its registration access token"
    );
    Ok(())
}

/// The registration endpoint's URL (RFC 8414 `registration_endpoint`).
pub fn endpoint(ctx: &Ctx) -> String {
    format!("{}/register", ctx.config.issuer)
}

/// The client information response (RFC 7591 §3.2.1, RFC 7592 §3). The
/// secret appears only when it was just issued; the store has only its
/// hash.
pub fn client_information(
    ctx: &Ctx,
    client: &ClientRecord,
    secret: Option<&str>,
    registration_access_token: &str,
) -> Value {
    let mut info = json!({
        "client_id": client.client_id,
        "client_id_issued_at": client.created_at,
        "client_name": client.name,
        "redirect_uris": client.redirect_uris,
        "grant_types": client.grant_types,
        "response_types": if client.grant_types.iter().any(|g| g == "authorization_code") {
            json!(["code"])
        } else {
            json!([])
        },
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "scope": client.scopes.join(" "),
        "registration_access_token": registration_access_token,
        "registration_client_uri": format!("{}/{}", endpoint(ctx), client.client_id),
    });
    if !client.metadata.post_logout_redirect_uris.is_empty() {
        info["post_logout_redirect_uris"] = json!(client.metadata.post_logout_redirect_uris);
    }
    if let Some(uri) = &client.metadata.backchannel_logout_uri {
        info["backchannel_logout_uri"] = json!(uri);
        info["backchannel_logout_session_required"] =
            json!(client.metadata.backchannel_logout_session_required);
    }
    if let Some(alg) = &client.metadata.id_token_signed_response_alg {
        info["id_token_signed_response_alg"] = json!(alg);
    }
    if let Some(jwks) = &client.metadata.jwks {
        info["jwks"] = jwks.clone();
    }
    if client.metadata.dpop_bound_access_tokens {
        info["dpop_bound_access_tokens"] = json!(true);
    }
    if client.metadata.require_pushed_authorization_requests {
        info["require_pushed_authorization_requests"] = json!(true);
    }
    if client.metadata.require_signed_request_object {
        info["require_signed_request_object"] = json!(true);
    }
    if let Some(secret) = secret {
        info["client_secret"] = json!(secret);
    }
    if client.secret_hash.is_some() {
        // REQUIRED with a secret; 0 is "does not expire".
        info["client_secret_expires_at"] = json!(
            client
                .metadata
                .registration
                .as_ref()
                .and_then(|r| r.expires_at)
                .unwrap_or(0)
        );
    }
    info
}
