//! The client credentials grant (RFC 6749 §4.4): a confidential client
//! acting for itself. The subject is the client (RFC 9068 §2.2); no ID
//! token and no refresh token (§4.4.3).

use oauth::Scope;
use store::ClientRecord;

use super::{GrantError, registered_scope};
use crate::services::Ctx;
use crate::services::oauth::issue::{Grant, GrantContext, Refresh, TokenSet, issue};

pub async fn grant(
    ctx: &Ctx,
    client: &ClientRecord,
    requested: Option<&Scope>,
) -> Result<TokenSet, GrantError> {
    if client.public {
        return Err(GrantError::PublicClient);
    }
    let grant = Grant {
        grant_type: "client_credentials",
        client,
        user: None,
        // RFC 6749 §3.3: all of the client's scopes when none is requested.
        scope: registered_scope(client).narrow(requested)?,
        jti: uuid::Uuid::new_v4().to_string(),
        context: GrantContext::default(),
        refresh: Refresh::None,
    };
    let tokens = issue(ctx, grant).await?;
    tracing::debug!(event = "token_issued", client_id = %client.client_id, grant_type = "client_credentials", "access token issued");
    Ok(tokens)
}
