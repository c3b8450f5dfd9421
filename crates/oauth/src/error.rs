//! OAuth errors in the RFCs' vocabulary (RFC 6749 §4.1.2.1 and §5.2,
//! RFC 6750 §3.1, RFC 7009 §2.2.1). An [`Error`] carries a client-safe
//! description, which is sent, and an internal detail, which only the log sees.

use std::fmt;

/// The registered `error` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    UnsupportedResponseType,
    ServerError,
    TemporarilyUnavailable,
    /// RFC 6750 §3.1.
    InvalidToken,
    /// RFC 6750 §3.1.
    InsufficientScope,
    /// RFC 7009 §2.2.1.
    UnsupportedTokenType,
    /// OpenID Connect Core §3.1.2.6.
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    /// OpenID Connect Core §3.1.2.6: request objects are not supported.
    RequestNotSupported,
    RequestUriNotSupported,
    /// OpenID Connect Core §3.1.2.6, RFC 9126 §4: a `request_uri` that is
    /// unknown, used, expired or another client's.
    InvalidRequestUri,
    /// RFC 9101 §7, OpenID Connect Core §3.1.2.6: the request object is
    /// not signed by the client, or says something it may not.
    InvalidRequestObject,
    /// RFC 8707 §2: a resource the client may not use, or not a resource.
    InvalidTarget,
    /// RFC 9449 §5.0: a DPoP proof is missing where required, or invalid.
    InvalidDpopProof,
    /// RFC 9449 §8: the proof must carry the server's nonce.
    UseDpopNonce,
    /// RFC 8628 §3.5: the user has not decided yet; poll again.
    AuthorizationPending,
    /// RFC 8628 §3.5: polled too often; the interval grows by 5 s.
    SlowDown,
    /// RFC 8628 §3.5: the device code expired.
    ExpiredToken,
}

impl ErrorCode {
    /// The HTTP status of an error response with this code (RFC 6749 §5.2:
    /// 400, and 401 for `invalid_client`; RFC 6750 §3.1 for the token
    /// errors; 500 and 503 for the server's own failures).
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::InvalidRequestObject => "invalid_request_object",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error: the code, what the client may be told, and what only the
/// operator may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    /// Sent as `error_description`: never names secrets or internals.
    pub description: String,
    /// Logged, never sent.
    pub detail: Option<String>,
}

impl Error {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for Error {}
