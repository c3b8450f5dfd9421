//! OAuth 2.0 Token Exchange (RFC 8693): the token types (§3) and what a
//! token-exchange request asks for (§2.1). The server decides whether the
//! subject and actor tokens are its own and valid, which audiences the
//! client may exchange for, and what `act` the new token carries (§4.1).

use crate::resource::{self, ResourceIndicator};
use crate::{Error, ErrorCode, Params, Scope};

/// The grant type URI (§2.1).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// The token types this server takes and issues (§3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    AccessToken,
    IdToken,
    /// A JWT of unspecified kind: ours are access tokens or ID tokens.
    Jwt,
}

impl TokenType {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "urn:ietf:params:oauth:token-type:access_token" => Some(Self::AccessToken),
            "urn:ietf:params:oauth:token-type:id_token" => Some(Self::IdToken),
            "urn:ietf:params:oauth:token-type:jwt" => Some(Self::Jwt),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessToken => "urn:ietf:params:oauth:token-type:access_token",
            Self::IdToken => "urn:ietf:params:oauth:token-type:id_token",
            Self::Jwt => "urn:ietf:params:oauth:token-type:jwt",
        }
    }
}

/// A token-exchange request (§2.1), each parameter at most once but
/// `resource` and `audience`, which may repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeRequest<'a> {
    pub subject_token: &'a str,
    pub subject_token_type: TokenType,
    pub actor_token: Option<(&'a str, TokenType)>,
    pub scope: Option<Scope>,
    /// `resource` and `audience` together: both name the APIs the new
    /// token is for, as registered identifiers.
    pub resources: Vec<ResourceIndicator>,
}

fn invalid(description: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidRequest, description)
}

fn token_type(params: Params<'_>, name: &str) -> Result<Option<TokenType>, Error> {
    params
        .get(name)?
        .map(|value| {
            TokenType::parse(value).ok_or_else(|| {
                invalid(format!(
                    "{name} {value:?} is not supported; use urn:ietf:params:oauth:token-type:access_token, id_token or jwt"
                ))
            })
        })
        .transpose()
}

impl<'a> ExchangeRequest<'a> {
    pub fn parse(params: Params<'a>) -> Result<Self, Error> {
        let subject_token = params.require("subject_token")?;
        let subject_token_type = token_type(params, "subject_token_type")?
            .ok_or_else(|| invalid("subject_token_type is required (RFC 8693 section 2.1)"))?;
        // §2.1: actor_token_type "is REQUIRED when the actor_token parameter
        // is present in the request but MUST NOT be included otherwise".
        let actor_token = match (
            params.get("actor_token")?,
            token_type(params, "actor_token_type")?,
        ) {
            (Some(token), Some(kind)) => Some((token, kind)),
            (None, None) => None,
            (Some(_), None) => return Err(invalid("actor_token needs actor_token_type")),
            (None, Some(_)) => return Err(invalid("actor_token_type without actor_token")),
        };
        // The new token is an access token (a JWT): another kind is not
        // issued here.
        if let Some(kind) = token_type(params, "requested_token_type")?
            && kind == TokenType::IdToken
        {
            return Err(invalid(
                "only access tokens are issued by exchange (requested_token_type)",
            ));
        }
        let scope = params
            .get("scope")?
            .map(|v| {
                Scope::parse(v).map_err(|e| Error::new(ErrorCode::InvalidScope, e.to_string()))
            })
            .transpose()?;
        let mut resources = resource::from_params(params)?;
        for audience in params.all("audience") {
            let audience = ResourceIndicator::parse(audience)?;
            if !resources.contains(&audience) {
                resources.push(audience);
            }
        }
        if resources.len() > resource::MAX_PER_REQUEST {
            return Err(Error::new(
                ErrorCode::InvalidTarget,
                "too many resource and audience parameters",
            ));
        }
        Ok(Self {
            subject_token,
            subject_token_type,
            actor_token,
            scope,
            resources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::pairs;

    fn parse(raw: &[(&str, &str)]) -> Result<ExchangeRequest<'static>, Error> {
        let owned: &'static [(String, String)] = Box::leak(pairs(raw).into_boxed_slice());
        ExchangeRequest::parse(Params(owned))
    }

    const AT: &str = "urn:ietf:params:oauth:token-type:access_token";

    #[test]
    fn section_2_1_parameters() {
        let request = parse(&[
            ("subject_token", "s"),
            ("subject_token_type", AT),
            ("actor_token", "a"),
            ("actor_token_type", AT),
            ("scope", "read"),
            ("resource", "https://api.example/a"),
            ("audience", "https://api.example/b"),
            ("audience", "https://api.example/a"),
        ])
        .unwrap();
        assert_eq!(request.actor_token, Some(("a", TokenType::AccessToken)));
        assert_eq!(request.resources.len(), 2);
        for bad in [
            vec![("subject_token_type", AT)],
            vec![("subject_token", "s")],
            vec![("subject_token", "s"), ("subject_token_type", "urn:x")],
            vec![
                ("subject_token", "s"),
                ("subject_token_type", AT),
                ("actor_token", "a"),
            ],
            vec![
                ("subject_token", "s"),
                ("subject_token_type", AT),
                ("actor_token_type", AT),
            ],
            vec![
                ("subject_token", "s"),
                ("subject_token_type", AT),
                (
                    "requested_token_type",
                    "urn:ietf:params:oauth:token-type:id_token",
                ),
            ],
        ] {
            assert_eq!(
                parse(&bad).unwrap_err().code,
                ErrorCode::InvalidRequest,
                "{bad:?}"
            );
        }
        let not_a_uri = parse(&[
            ("subject_token", "s"),
            ("subject_token_type", AT),
            ("audience", "billing"),
        ]);
        assert_eq!(not_a_uri.unwrap_err().code, ErrorCode::InvalidTarget);
    }
}
