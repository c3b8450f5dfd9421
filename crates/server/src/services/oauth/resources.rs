//! Which APIs a grant is for (RFC 8707): the `resource` parameters of an
//! authorization or token request, judged against the client's
//! registration and the registered APIs, into the [`Apis`] whose
//! identifiers become the access token's `aud`.
//!
//! Besides the APIs registered with `auth-service api create`, two are
//! built in:
//! - this issuer itself (its userinfo endpoint): any client may name it,
//!   and it offers every scope, as a token without `resource` does;
//! - the SCIM API at `{issuer}/scim/v2`, offering `scim:read` and
//!   `scim:write`: a client may name it when it is registered with one of
//!   those scopes (or lists it with `client create --resource`).
//!
//! A resource that is not registered, or that the client may not use, is
//! `invalid_target` (§2), without saying which of the two it is.

use oauth::resource::ResourceIndicator;
use oauth::{Error, ErrorCode, Scope};
use store::{ApiRecord, ClientRecord};

use super::grants::GrantError;
use crate::keys::Alg;
use crate::services::Ctx;

/// The scopes the SCIM API offers.
pub const SCIM_SCOPES: [&str; 2] = ["scim:read", "scim:write"];

/// The SCIM API's resource indicator: its base URL
/// ([`crate::services::scim::base_url`]).
pub fn scim_identifier(ctx: &Ctx) -> String {
    crate::services::scim::base_url(ctx)
}

/// The APIs a grant is for; empty for this issuer's own (no `resource`).
#[derive(Debug, Default)]
pub struct Apis {
    apis: Vec<ApiRecord>,
    /// The issuer itself is one of them: every scope is offered.
    issuer: bool,
}

impl Apis {
    /// `requested` for `client`, each one it may use, else `invalid_target`.
    pub async fn resolve(
        ctx: &Ctx,
        client: &ClientRecord,
        requested: &[ResourceIndicator],
    ) -> Result<Self, GrantError> {
        Self::resolve_within(ctx, client, requested, &client.metadata.resources).await
    }

    /// `requested` for a token exchange (RFC 8693): each must be one of the
    /// client's exchange resources (`client create --exchange-resource`),
    /// the built-in ones included, else `invalid_target`.
    pub async fn resolve_for_exchange(
        ctx: &Ctx,
        client: &ClientRecord,
        requested: &[ResourceIndicator],
    ) -> Result<Self, GrantError> {
        let allowed = &client.metadata.exchange_resources;
        if let Some(other) = requested
            .iter()
            .find(|r| !allowed.iter().any(|a| a == r.as_str()))
        {
            return Err(GrantError::Protocol(Error::new(
                ErrorCode::InvalidTarget,
                format!("this client may not exchange tokens for {other}"),
            )));
        }
        Self::resolve_within(ctx, client, requested, allowed).await
    }

    async fn resolve_within(
        ctx: &Ctx,
        client: &ClientRecord,
        requested: &[ResourceIndicator],
        listed_apis: &[String],
    ) -> Result<Self, GrantError> {
        let mut apis = Self {
            apis: Vec::with_capacity(requested.len()),
            issuer: false,
        };
        for resource in requested {
            let refused = || {
                GrantError::Protocol(Error::new(
                    ErrorCode::InvalidTarget,
                    format!("this client may not ask for tokens for {resource}"),
                ))
            };
            let id = resource.as_str();
            if id == ctx.config.issuer {
                apis.issuer = true;
                apis.apis.push(builtin(id, "this issuer", &[]));
                continue;
            }
            let listed = listed_apis.iter().any(|r| r == id);
            if id.strip_prefix(ctx.config.issuer.as_str()) == Some("/scim/v2") {
                let scim_client = client.scopes.iter().any(|s| SCIM_SCOPES.contains(&&**s));
                if !(listed || scim_client) {
                    return Err(refused());
                }
                apis.apis.push(builtin(id, "SCIM", &SCIM_SCOPES));
                continue;
            }
            if !listed {
                return Err(refused());
            }
            match ctx
                .apis
                .get(ctx.store.as_ref(), ctx.clock.as_ref(), id)
                .await
            {
                Ok(api) => apis.apis.push(api),
                Err(store::Error::NotFound) => return Err(refused()),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(apis)
    }

    /// `requested`, or the client's default API when it names none (§2
    /// leaves the default to the server; `client create
    /// --default-resource`).
    pub async fn resolve_or_default(
        ctx: &Ctx,
        client: &ClientRecord,
        requested: &[ResourceIndicator],
    ) -> Result<Self, GrantError> {
        match (requested, &client.metadata.default_resource) {
            ([], Some(uri)) => Self::resolve(ctx, client, &[ResourceIndicator::parse(uri)?]).await,
            _ => Self::resolve(ctx, client, requested).await,
        }
    }

    /// No resource: the token is for this issuer, as before RFC 8707.
    pub fn is_empty(&self) -> bool {
        self.apis.is_empty()
    }

    /// Whether one of the APIs offers `scope`.
    pub fn offers(&self, scope: &str) -> bool {
        self.issuer
            || self
                .apis
                .iter()
                .any(|api| api.scopes.iter().any(|s| s == scope))
    }

    /// `scope` as the APIs take it: the identity scopes (OpenID Connect's,
    /// `offline_access`), which govern the ID and refresh tokens, and the
    /// ones an API offers. Any other is `invalid_scope` when the client
    /// asked for it by name, and dropped when it came from the
    /// registration (RFC 6749 §3.3).
    pub fn scope(&self, scope: &Scope, asked: bool) -> Result<Scope, GrantError> {
        if self.is_empty() {
            return Ok(scope.clone());
        }
        let kept = scope.only(|s| oauth::claims::is_identity_scope(s) || self.offers(s));
        if asked && let Some(other) = scope.iter().find(|s| !kept.contains(s)) {
            return Err(GrantError::Protocol(Error::new(
                ErrorCode::InvalidScope,
                format!("no requested resource offers the scope {other}"),
            )));
        }
        Ok(kept)
    }

    /// The access token's audience: the APIs' identifiers.
    pub fn audience(&self) -> Vec<String> {
        self.apis.iter().map(|api| api.identifier.clone()).collect()
    }

    /// The shortest access-token lifetime the APIs ask for.
    pub fn ttl(&self) -> Option<std::time::Duration> {
        self.apis
            .iter()
            .filter_map(|api| api.access_token_ttl)
            .min()
            .map(std::time::Duration::from_secs)
    }

    /// One token for several APIs is signed one way: with the algorithm
    /// they agree on, else the service's.
    pub fn alg(&self) -> Option<Alg> {
        match self.apis.split_first() {
            Some((first, rest)) if rest.iter().all(|api| api.alg == first.alg) => {
                first.alg.as_deref().and_then(Alg::parse)
            }
            _ => None,
        }
    }
}

/// A built-in API, as a record.
fn builtin(identifier: &str, name: &str, scopes: &[&str]) -> ApiRecord {
    ApiRecord {
        identifier: identifier.to_owned(),
        name: name.to_owned(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        access_token_ttl: None,
        alg: None,
        created_at: 0,
    }
}

/// Narrows `granted` (a code's or refresh family's identifiers) to
/// `requested` (RFC 8707 §2.2): each must be one of them, else
/// `invalid_target`; none requested keeps them all.
pub fn narrow(
    granted: &[String],
    requested: &[ResourceIndicator],
) -> Result<Vec<ResourceIndicator>, GrantError> {
    if requested.is_empty() {
        return granted
            .iter()
            .map(|id| Ok(ResourceIndicator::parse(id)?))
            .collect();
    }
    match requested
        .iter()
        .find(|r| !granted.iter().any(|g| g == r.as_str()))
    {
        Some(other) => Err(GrantError::Protocol(Error::new(
            ErrorCode::InvalidTarget,
            format!("{other} was not granted; ask for it at the authorization endpoint"),
        ))),
        None => Ok(requested.to_vec()),
    }
}
