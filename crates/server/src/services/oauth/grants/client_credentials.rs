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

use oauth::Scope;
use oauth::resource::ResourceIndicator;
use store::ClientRecord;

use super::{GrantError, registered_scope};
use crate::services::Ctx;
use crate::services::oauth::issue::{Grant, GrantContext, Refresh, TokenSet, issue};
use crate::services::oauth::resources::Apis;

pub async fn grant(
    ctx: &Ctx,
    client: &ClientRecord,
    requested: Option<&Scope>,
    resources: &[ResourceIndicator],
    dpop_jkt: Option<&str>,
) -> Result<TokenSet, GrantError> {
    if client.public {
        return Err(GrantError::PublicClient);
    }
    let apis = Apis::resolve_or_default(ctx, client, resources).await?;
    // RFC 6749 §3.3: all of the client's scopes (that the APIs offer) when
    // none is requested.
    let usable = registered_scope(client);
    let usable = if apis.is_empty() {
        usable
    } else {
        usable.only(|s| apis.offers(s))
    };
    let scope = usable.narrow(requested)?;
    let grant = Grant {
        grant_type: "client_credentials",
        client,
        user: None,
        scope,
        jti: uuid::Uuid::new_v4().to_string(),
        context: GrantContext::default(),
        refresh: Refresh::None,
        audience: apis.audience(),
        ttl: apis.ttl(),
        alg: apis.alg(),
        dpop_jkt: dpop_jkt.map(str::to_owned),
        exchange: None,
    };
    let tokens = issue(ctx, grant).await?;
    tracing::debug!(event = "token_issued", client_id = %client.client_id, grant_type = "client_credentials", "access token issued");
    Ok(tokens)
}
