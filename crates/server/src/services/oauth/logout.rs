//! RP-Initiated Logout 1.0: check a logout request (the hint's signature,
//! the client, the `post_logout_redirect_uri`), decide whether the user
//! must confirm (`oauth::logout::ends_without_asking`), and end the
//! session with the refresh tokens issued in it.

use oauth::logout::{Hint, LogoutRequest, SignedIn};
use serde_json::Value;
use store::ClientRecord;

use super::session::Current;
use crate::jwt::{self, RejectedToken};
use crate::services::Ctx;

/// A logout request whose hint, client and redirect URI are acceptable.
#[derive(Debug)]
pub struct Checked {
    /// The client the request names (or its hint's audience).
    pub client: Option<ClientRecord>,
    /// Where to send the browser afterwards: a registered URI, exactly.
    pub redirect: Option<String>,
    hint: Option<Value>,
}

/// Why a logout request is refused; each is shown on a page, never
/// redirected (docs/security.md 3).
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error("the id_token_hint is not one of our ID tokens: {0}")]
    InvalidHint(RejectedToken),
    #[error("client_id does not match the id_token_hint")]
    ClientMismatch,
    #[error("unknown client")]
    UnknownClient,
    #[error("post_logout_redirect_uri is not registered for this client")]
    UnregisteredRedirect,
    #[error(transparent)]
    Store(#[from] store::Error),
}

pub async fn check(ctx: &Ctx, request: LogoutRequest<'_>) -> Result<Checked, LogoutError> {
    let hint = request
        .id_token_hint
        .map(|token| jwt::verify_id_token_hint(&ctx.keys, token, &ctx.config.issuer))
        .transpose()
        .map_err(LogoutError::InvalidHint)?;
    let hinted = hint.as_ref().and_then(|c| c["aud"].as_str());
    let client_id = request
        .client(hinted)
        .map_err(|_| LogoutError::ClientMismatch)?;
    let client = match client_id {
        None => None,
        Some(id) => match ctx.store.get_client(id).await {
            Ok(client) => Some(client),
            Err(store::Error::NotFound) => return Err(LogoutError::UnknownClient),
            Err(e) => return Err(e.into()),
        },
    };
    let redirect = match request.post_logout_redirect_uri {
        None => None,
        Some(uri) => match &client {
            Some(client)
                if client
                    .metadata
                    .post_logout_redirect_uris
                    .iter()
                    .any(|r| r == uri) =>
            {
                Some(uri.to_owned())
            }
            _ => return Err(LogoutError::UnregisteredRedirect),
        },
    };
    Ok(Checked {
        client,
        redirect,
        hint,
    })
}

impl Checked {
    /// Whether the session may end without asking the user.
    pub fn ends_without_asking(&self, current: Option<&Current>, now: i64) -> bool {
        let hint = self.hint.as_ref().map(|claims| Hint {
            sub: claims["sub"].as_str(),
            sid: claims["sid"].as_str(),
            exp: claims["exp"].as_i64(),
        });
        let current = current.map(|c| SignedIn {
            sub: &c.user.id,
            sid: &c.session.data.sid,
        });
        oauth::logout::ends_without_asking(hint, current, now)
    }

    pub fn client_id(&self) -> Option<&str> {
        self.client.as_ref().map(|c| c.client_id.as_str())
    }
}

/// Ends the browser's session (`id_hash`, from its cookie) and revokes the
/// refresh tokens issued in it; the clients that got tokens in it are told
/// by back-channel (`super::backchannel`). The notices and tokens go first,
/// then the session: if the store fails in between, the session is still
/// there and a retry ends it all. A store error is an error, never
/// "nothing to end".
pub async fn end(
    ctx: &Ctx,
    current: Option<&Current>,
    id_hash: Option<&str>,
    client_id: Option<&str>,
) -> Result<(), store::Error> {
    let revoked = match current {
        Some(current) => {
            super::backchannel::sessions_ended(
                ctx.store.as_ref(),
                ctx.clock.now(),
                &current.session.user_id,
                super::backchannel::Ended::Session(&current.session.data.sid),
            )
            .await?;
            ctx.logouts.notify_one();
            ctx.store
                .revoke_families_for_user(
                    &current.session.user_id,
                    Some(current.session.data.sid.as_str()),
                )
                .await?
        }
        None => 0,
    };
    let ended = match id_hash {
        Some(id_hash) => super::session::end(ctx, id_hash).await?,
        None => None,
    };
    if let Some(session) = ended {
        tracing::info!(
            category = "security",
            event = "logout",
            user_id = %session.user_id,
            client_id = client_id.unwrap_or_default(),
            refresh_families_revoked = revoked,
            outcome = "success",
            "signed out"
        );
    }
    Ok(())
}
