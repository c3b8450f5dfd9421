//! The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6; RFC 8693; RFC 8628 §3.4): each checks
//! what the request refers to, decides who gets what as a
//! [`Grant`](super::issue::Grant), and calls [`issue`](super::issue::issue).
//! [`exchange`] reads the request with `oauth::token_request` first; the HTTP side
//! writes the [`TokenSet`] as the RFC 6749 §5.1 response and a
//! [`GrantError`] in §5.2's vocabulary.

mod authorization_code;
mod client_credentials;
mod device_code;
mod refresh_token;
mod token_exchange;

use oauth::token_request::{self, TokenRequest};
use oauth::{GrantType, Params};
use store::ClientRecord;

use super::issue::{IssueFailure, Refresh, TokenSet};
use crate::services::Ctx;

/// Why a grant was refused. Each variant names one RFC 6749 §5.2 error.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// `invalid_grant`, with the reason.
    #[error("{}", .0.description())]
    Invalid(InvalidGrant),
    /// `unauthorized_client`: the client's registration does not allow it.
    #[error("this client may not use the {0} grant")]
    NotAllowed(GrantType),
    /// `unauthorized_client`: client_credentials needs a confidential
    /// client (RFC 6749 §4.4).
    #[error("public clients cannot use client_credentials")]
    PublicClient,
    /// A refusal the protocol crate decided (PKCE, scope), already in
    /// OAuth's words.
    #[error(transparent)]
    Protocol(#[from] oauth::Error),
    #[error(transparent)]
    Issue(#[from] IssueFailure),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// Why a code or refresh token is `invalid_grant`: invalid, expired,
/// revoked, or bound to another client or redirect URI (RFC 6749 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidGrant {
    UnknownCode,
    /// Presented a second time; what the first use issued is revoked.
    CodeReused,
    CodeOfAnotherClient,
    RedirectUriMismatch,
    UnknownRefreshToken,
    RefreshTokenOfAnotherClient,
    /// Rotated less than the grace period ago (a concurrent refresh).
    RefreshTokenJustUsed,
    /// Rotated earlier: reuse; the family is revoked (RFC 9700 §4.14.2).
    RefreshTokenReused,
    /// A device code whose tokens an earlier poll took (RFC 8628 §3.5).
    DeviceCodeUsed,
    UserInactive,
}

impl InvalidGrant {
    pub fn description(self) -> &'static str {
        match self {
            Self::UnknownCode => "the authorization code is invalid or expired",
            Self::CodeReused => "the authorization code was already used",
            Self::CodeOfAnotherClient => "the authorization code was issued to another client",
            Self::RedirectUriMismatch => "redirect_uri does not match the authorization request",
            Self::UnknownRefreshToken => "the refresh token is invalid, expired or revoked",
            Self::RefreshTokenOfAnotherClient => "the refresh token was issued to another client",
            Self::RefreshTokenJustUsed => {
                "this refresh token was just used; use the one issued with it"
            }
            Self::RefreshTokenReused => "the refresh token was already used",
            Self::DeviceCodeUsed => "the device code was already used",
            Self::UserInactive => "the user is no longer active",
        }
    }
}

impl From<InvalidGrant> for GrantError {
    fn from(reason: InvalidGrant) -> Self {
        Self::Invalid(reason)
    }
}

/// Whether the client's registration allows `grant` (RFC 6749 §5.2
/// `unauthorized_client`).
fn allowed(client: &ClientRecord, grant: GrantType) -> Result<(), GrantError> {
    if client.grant_types.iter().any(|g| g == grant.as_str()) {
        Ok(())
    } else {
        Err(GrantError::NotAllowed(grant))
    }
}

/// Reads the token request in `params` and runs its grant for an
/// authenticated `client`. The grant type is read and checked against the
/// registration first, so a client that may not use a grant hears
/// `unauthorized_client` before anything about the grant's parameters.
pub async fn exchange(
    ctx: &Ctx,
    client: &ClientRecord,
    params: Params<'_>,
    dpop_jkt: Option<&str>,
) -> Result<TokenSet, GrantError> {
    let grant = token_request::grant_type(params)?;
    if grant == GrantType::TokenExchange && !ctx.config.token_exchange {
        return Err(GrantError::Protocol(oauth::Error::new(
            oauth::ErrorCode::UnsupportedGrantType,
            "token exchange is off here (AUTH_TOKEN_EXCHANGE)",
        )));
    }
    allowed(client, grant)?;
    match TokenRequest::parse(grant, params)? {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
            resources,
        } => {
            let request = authorization_code::CodeRequest {
                code,
                redirect_uri,
                code_verifier,
                resources: &resources,
            };
            authorization_code::exchange(ctx, client, request, dpop_jkt).await
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
            resources,
        } => {
            let request = refresh_token::RefreshRequest {
                presented: refresh_token,
                scope: scope.as_ref(),
                resources: &resources,
            };
            refresh_token::refresh(ctx, client, request, dpop_jkt).await
        }
        TokenRequest::ClientCredentials { scope, resources } => {
            client_credentials::grant(ctx, client, scope.as_ref(), &resources, dpop_jkt).await
        }
        TokenRequest::TokenExchange(request) => {
            token_exchange::exchange(ctx, client, request, dpop_jkt).await
        }
        TokenRequest::DeviceCode { device_code } => {
            device_code::poll(ctx, client, device_code, dpop_jkt).await
        }
    }
}

/// The refresh token of a grant a user just approved (a code, a device
/// authorization): a new family `id` for `scope`, if the client may use
/// the refresh_token grant.
fn new_family(client: &ClientRecord, id: String, scope: oauth::Scope) -> Refresh {
    if client
        .grant_types
        .iter()
        .any(|g| g == GrantType::RefreshToken.as_str())
    {
        Refresh::NewFamily { id, scope }
    } else {
        Refresh::None
    }
}

/// The scope a client may be granted: its registered scopes.
pub(in crate::services) fn registered_scope(client: &ClientRecord) -> oauth::Scope {
    oauth::Scope::parse(&client.scopes.join(" ")).unwrap_or_default()
}
