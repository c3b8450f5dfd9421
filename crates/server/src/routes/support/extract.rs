//! Extractors of the OAuth endpoints: [`OAuthForm`] reads an
//! `application/x-www-form-urlencoded` body into [`FormParams`], answering
//! an unreadable one in OAuth's words (413 for one over the limit, RFC
//! 9110 §15.5.14); [`Bearer`] reads an `Authorization: Bearer` token
//! (RFC 6750 §2.1).

use axum::Form;
use axum::extract::{FromRequest, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use oauth::{ErrorCode, Params};

use super::error::{OAuthError, error};

/// A form body's parameters. Each may appear at most once and empty means
/// absent, by the rule `oauth::Params` states once for every endpoint.
#[derive(Debug)]
pub struct FormParams(Vec<(String, String)>);

impl FormParams {
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.0
    }

    /// The parameters, for the protocol crate's parsers.
    pub fn params(&self) -> Params<'_> {
        Params(&self.0)
    }

    pub fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        Ok(self.params().get(name)?)
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        Ok(self.params().require(name)?)
    }
}

/// The body of a request to an OAuth endpoint, or the OAuth error that
/// says why it cannot be read.
#[derive(Debug)]
pub struct OAuthForm(pub FormParams);

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Form::<Vec<(String, String)>>::from_request(req, state).await {
            Ok(Form(pairs)) => Ok(Self(FormParams::new(pairs))),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(OAuthError::too_large()),
            Err(e) => Err(error(
                ErrorCode::InvalidRequest,
                format!("the body must be application/x-www-form-urlencoded ({e})"),
            )),
        }
    }
}

/// The token of an `Authorization: Bearer` header (the scheme is
/// case-insensitive). Absent, empty or of another scheme: no token; what
/// that means is the endpoint's to say (RFC 6750 §3, SCIM's 401).
#[derive(Debug)]
pub struct Bearer(pub String);

impl Bearer {
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let value = headers
            .get(axum::http::header::AUTHORIZATION)?
            .to_str()
            .ok()?;
        oauth::bearer::token(value).map(|token| Self(token.to_owned()))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Bearer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(Self::from_headers(&parts.headers))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn only_a_non_empty_bearer_credential_is_a_token() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                axum::http::header::AUTHORIZATION,
                HeaderValue::from_str(value).unwrap(),
            );
            Bearer::from_headers(&headers).map(|b| b.0)
        };
        assert_eq!(with("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(with("bearer  abc ").as_deref(), Some("abc"));
        assert_eq!(with("Bearer "), None);
        assert_eq!(with("Basic abc"), None);
        assert_eq!(with("Bearerabc"), None);
        assert_eq!(Bearer::from_headers(&HeaderMap::new()).map(|b| b.0), None);
    }
}
