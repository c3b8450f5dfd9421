//! The client credentials grant (RFC 6749 §4.4): a confidential client
//! acting for itself. The subject is the client (RFC 9068 §2.2); no ID
//! token and no refresh token (§4.4.3).
//!
//! With `resource` (RFC 8707 §2) the token is for those APIs: each must be
//! registered and one the client may use (`client create --resource`),
//! else `invalid_target`; the scopes are theirs that the client has, and
//! one asked for that none of them offers is `invalid_scope`; the lifetime
//! and algorithm are theirs. Without, the token is for this issuer's own
//! APIs, as before, unless the client has a default API (`client create
//! --default-resource`).

use oauth::resource::ResourceIndicator;
use oauth::{Error, ErrorCode, Scope};
use store::{ApiRecord, ClientRecord};

use super::{GrantError, registered_scope};
use crate::services::Ctx;
use crate::services::oauth::issue::{Grant, GrantContext, Refresh, TokenSet, issue};

pub async fn grant(
    ctx: &Ctx,
    client: &ClientRecord,
    requested: Option<&Scope>,
    resources: &[ResourceIndicator],
) -> Result<TokenSet, GrantError> {
    if client.public {
        return Err(GrantError::PublicClient);
    }
    // A client registered with a default API gets tokens for it when it
    // names none (RFC 8707 §2 leaves the default to the server).
    let default;
    let resources = match (resources, &client.metadata.default_resource) {
        ([], Some(uri)) => {
            default = [ResourceIndicator::parse(uri)?];
            &default[..]
        }
        _ => resources,
    };
    // RFC 6749 §3.3: all of the client's scopes when none is requested.
    let (scope, audience, ttl, alg) = if resources.is_empty() {
        let scope = registered_scope(client).narrow(requested)?;
        (scope, Vec::new(), None, None)
    } else {
        let apis = apis_for(ctx, client, resources).await?;
        let offered: Vec<&str> = apis
            .iter()
            .flat_map(|api| api.scopes.iter().map(String::as_str))
            .collect();
        let usable = registered_scope(client).only(|s| offered.contains(&s));
        let ttl = apis
            .iter()
            .filter_map(|api| api.access_token_ttl)
            .min()
            .map(std::time::Duration::from_secs);
        // One token for several APIs is signed one way: with the algorithm
        // they agree on, else the service's.
        let alg = match apis.split_first() {
            Some((first, rest)) if rest.iter().all(|api| api.alg == first.alg) => {
                first.alg.as_deref().and_then(crate::keys::Alg::parse)
            }
            _ => None,
        };
        let audience = apis.into_iter().map(|api| api.identifier).collect();
        (usable.narrow(requested)?, audience, ttl, alg)
    };
    let grant = Grant {
        grant_type: "client_credentials",
        client,
        user: None,
        scope,
        jti: uuid::Uuid::new_v4().to_string(),
        context: GrantContext::default(),
        refresh: Refresh::None,
        audience,
        ttl,
        alg,
    };
    let tokens = issue(ctx, grant).await?;
    tracing::debug!(event = "token_issued", client_id = %client.client_id, grant_type = "client_credentials", "access token issued");
    Ok(tokens)
}

/// The registered APIs of `resources`, each one `client` may use; the
/// first that is not is `invalid_target` (RFC 8707 §2), without saying
/// whether it exists.
async fn apis_for(
    ctx: &Ctx,
    client: &ClientRecord,
    resources: &[ResourceIndicator],
) -> Result<Vec<ApiRecord>, GrantError> {
    let mut apis = Vec::with_capacity(resources.len());
    for resource in resources {
        let refused = || {
            GrantError::Protocol(Error::new(
                ErrorCode::InvalidTarget,
                format!("this client may not ask for tokens for {resource}"),
            ))
        };
        if !client
            .metadata
            .resources
            .iter()
            .any(|r| r == resource.as_str())
        {
            return Err(refused());
        }
        match ctx
            .apis
            .get(ctx.store.as_ref(), ctx.clock.as_ref(), resource.as_str())
            .await
        {
            Ok(api) => apis.push(api),
            Err(store::Error::NotFound) => return Err(refused()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(apis)
}
