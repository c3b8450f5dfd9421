//! Grant types this server supports. The implicit and resource-owner
//! password grants are refused by name (RFC 9700 §2.1.2 and §2.4), so an
//! operator asking for one learns why.

use std::fmt;

use crate::{Error, ErrorCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    /// RFC 8693.
    TokenExchange,
    /// RFC 8628.
    DeviceCode,
}

impl GrantType {
    /// Every grant this crate parses, which is what discovery advertises
    /// (`grant_types_supported`).
    pub const ALL: [GrantType; 5] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::TokenExchange,
        GrantType::DeviceCode,
    ];

    pub fn parse(value: &str) -> Result<Self, Error> {
        match value {
            "authorization_code" => Ok(Self::AuthorizationCode),
            "refresh_token" => Ok(Self::RefreshToken),
            "client_credentials" => Ok(Self::ClientCredentials),
            crate::token_exchange::GRANT_TYPE => Ok(Self::TokenExchange),
            crate::device::GRANT_TYPE => Ok(Self::DeviceCode),
            "implicit" | "password" => Err(Error::new(
                ErrorCode::UnsupportedGrantType,
                format!(
                    "the {value} grant is not supported (RFC 9700 forbids it); use authorization_code with PKCE"
                ),
            )),
            other => Err(Error::new(
                ErrorCode::UnsupportedGrantType,
                format!("unknown grant type {other:?}"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::TokenExchange => crate::token_exchange::GRANT_TYPE,
            Self::DeviceCode => crate::device::GRANT_TYPE,
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_supported_and_names_forbidden() {
        for grant in GrantType::ALL {
            assert_eq!(GrantType::parse(grant.as_str()), Ok(grant));
        }
        for forbidden in ["implicit", "password"] {
            let err = GrantType::parse(forbidden).unwrap_err();
            assert_eq!(err.code, ErrorCode::UnsupportedGrantType);
            assert!(err.description.contains("RFC 9700"));
        }
        assert_eq!(
            GrantType::parse("urn:ietf:params:oauth:grant-type:device_code"),
            Ok(GrantType::DeviceCode)
        );
        assert!(GrantType::parse("urn:ietf:params:oauth:grant-type:saml2-bearer").is_err());
    }
}
