//! The token request (RFC 6749 §3.2): the grant type, then the parameters
//! of that grant, read once into a typed request. What the parameters
//! refer to (a stored code, a refresh-token family, the client's
//! registration) is judged by the server's grant services; this module
//! decides only what the request says.
//!
//! The grant type is read first, on its own, so that a client that may not
//! use a grant hears `unauthorized_client` before anything about the
//! grant's parameters (RFC 6749 §5.2).

use crate::resource::{self, ResourceIndicator};
use crate::{Error, ErrorCode, GrantType, Params, Scope};

/// A token request's grant-specific parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest<'a> {
    /// RFC 6749 §4.1.3, with the PKCE verifier of RFC 7636 §4.5.
    AuthorizationCode {
        code: &'a str,
        redirect_uri: Option<&'a str>,
        code_verifier: Option<&'a str>,
        /// RFC 8707 §2.2: some of the APIs the code was issued for.
        resources: Vec<ResourceIndicator>,
    },
    /// RFC 6749 §6.
    RefreshToken {
        refresh_token: &'a str,
        scope: Option<Scope>,
        /// RFC 8707 §2.2: some of the APIs the grant was for.
        resources: Vec<ResourceIndicator>,
    },
    /// RFC 6749 §4.4.2.
    ClientCredentials {
        scope: Option<Scope>,
        /// RFC 8707 §2: the APIs the token is for (`resource`, repeatable).
        resources: Vec<ResourceIndicator>,
    },
    /// RFC 8693 §2.1.
    TokenExchange(crate::token_exchange::ExchangeRequest<'a>),
    /// RFC 8628 §3.4: the device code from the device authorization
    /// response; scope and resources were fixed at §3.1.
    DeviceCode { device_code: &'a str },
}

/// The request's `grant_type`: required, at most once, one we implement.
pub fn grant_type(params: Params<'_>) -> Result<GrantType, Error> {
    GrantType::parse(params.require("grant_type")?)
}

impl<'a> TokenRequest<'a> {
    /// The parameters of `grant`, each at most once.
    pub fn parse(grant: GrantType, params: Params<'a>) -> Result<Self, Error> {
        Ok(match grant {
            GrantType::AuthorizationCode => Self::AuthorizationCode {
                code: params.require("code")?,
                redirect_uri: params.get("redirect_uri")?,
                code_verifier: params.get("code_verifier")?,
                resources: resource::from_params(params)?,
            },
            GrantType::RefreshToken => Self::RefreshToken {
                refresh_token: params.require("refresh_token")?,
                scope: scope(params)?,
                resources: resource::from_params(params)?,
            },
            GrantType::ClientCredentials => Self::ClientCredentials {
                scope: scope(params)?,
                resources: resource::from_params(params)?,
            },
            GrantType::TokenExchange => {
                Self::TokenExchange(crate::token_exchange::ExchangeRequest::parse(params)?)
            }
            GrantType::DeviceCode => Self::DeviceCode {
                device_code: params.require("device_code")?,
            },
        })
    }

    pub fn grant_type(&self) -> GrantType {
        match self {
            Self::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            Self::RefreshToken { .. } => GrantType::RefreshToken,
            Self::ClientCredentials { .. } => GrantType::ClientCredentials,
            Self::TokenExchange(_) => GrantType::TokenExchange,
            Self::DeviceCode { .. } => GrantType::DeviceCode,
        }
    }
}

/// An optional `scope` (RFC 6749 §3.3); a malformed one is `invalid_scope`.
fn scope(params: Params<'_>) -> Result<Option<Scope>, Error> {
    params
        .get("scope")?
        .map(|value| {
            Scope::parse(value).map_err(|e| Error::new(ErrorCode::InvalidScope, e.to_string()))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::pairs;

    fn parse(raw: &[(&str, &str)]) -> Result<TokenRequest<'static>, Error> {
        let owned: &'static [(String, String)] = Box::leak(pairs(raw).into_boxed_slice());
        let grant = grant_type(Params(owned))?;
        TokenRequest::parse(grant, Params(owned))
    }

    #[test]
    fn each_grant_reads_its_own_parameters() {
        assert_eq!(
            parse(&[
                ("grant_type", "authorization_code"),
                ("code", "c"),
                ("code_verifier", "v"),
            ])
            .unwrap(),
            TokenRequest::AuthorizationCode {
                code: "c",
                redirect_uri: None,
                code_verifier: Some("v"),
                resources: vec![],
            }
        );
        let refresh = parse(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "r"),
            ("scope", "b a"),
        ])
        .unwrap();
        assert_eq!(refresh.grant_type(), GrantType::RefreshToken);
        assert_eq!(
            refresh,
            TokenRequest::RefreshToken {
                refresh_token: "r",
                scope: Some(Scope::parse("a b").unwrap()),
                resources: vec![],
            }
        );
        assert_eq!(
            parse(&[("grant_type", "client_credentials"), ("scope", "")]).unwrap(),
            TokenRequest::ClientCredentials {
                scope: None,
                resources: vec![]
            }
        );
        assert_eq!(
            parse(&[
                ("grant_type", crate::device::GRANT_TYPE),
                ("device_code", "d"),
                ("scope", "ignored"),
            ])
            .unwrap(),
            TokenRequest::DeviceCode { device_code: "d" }
        );
        assert_eq!(
            parse(&[("grant_type", crate::device::GRANT_TYPE)])
                .unwrap_err()
                .code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn refusals_carry_the_rfc_6749_codes() {
        let code = |raw: &[(&str, &str)]| parse(raw).unwrap_err().code;
        assert_eq!(code(&[]), ErrorCode::InvalidRequest);
        assert_eq!(
            code(&[("grant_type", "password")]),
            ErrorCode::UnsupportedGrantType
        );
        assert_eq!(
            code(&[("grant_type", "authorization_code")]),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(&[
                ("grant_type", "authorization_code"),
                ("code", "a"),
                ("code", "b"),
            ]),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(&[("grant_type", "client_credentials"), ("scope", "a\"b")]),
            ErrorCode::InvalidScope
        );
        assert_eq!(
            code(&[
                ("grant_type", "refresh_token"),
                ("grant_type", "refresh_token"),
                ("refresh_token", "r"),
            ]),
            ErrorCode::InvalidRequest
        );
    }
}
