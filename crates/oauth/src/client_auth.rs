//! Client authentication as the request presents it (RFC 6749 §2.3):
//! which method, which client, which credential, before anything is
//! looked up; and, for `private_key_jwt`, what is checked of an
//! assertion's claims once its signature verified (RFC 7523 §3).
//!
//! The server looks the client up, compares the secret with its keyed
//! hash, verifies the assertion's signature with a registered key and
//! remembers its `jti` (`services::oauth::client_auth`).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

use crate::{Error, ErrorCode, Params};

/// `client_assertion_type` for a JWT (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest assertion lifetime accepted (`exp` minus now); bounds how
/// long a `jti` must be remembered.
pub const MAX_ASSERTION_LIFETIME: i64 = 3_600;

/// The client authentication methods (RFC 7591 §2
/// `token_endpoint_auth_method`), each of which the server implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    /// A public client (RFC 6749 §2.1), which relies on PKCE.
    None,
}

impl AuthMethod {
    /// What discovery advertises for the token endpoint.
    pub const ALL: [AuthMethod; 4] = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::PrivateKeyJwt,
        AuthMethod::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Whether a client registered with `self` may authenticate as
    /// `presented`: a secret client by either secret method.
    pub fn admits(self, presented: &Presented) -> bool {
        matches!(
            (self, presented),
            (
                Self::ClientSecretBasic | Self::ClientSecretPost,
                Presented::Secret { .. }
            ) | (Self::PrivateKeyJwt, Presented::Assertion { .. })
                | (Self::None, Presented::None { .. })
        )
    }
}

/// How the client presented itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// `client_secret_basic` or `client_secret_post`.
    Secret { id: String, secret: String },
    /// `private_key_jwt`: the client is the assertion's (unverified) `sub`.
    Assertion { id: String, assertion: String },
    /// A public client naming itself (`none`).
    None { id: String },
}

impl Presented {
    /// The client id presented.
    pub fn client_id(&self) -> &str {
        match self {
            Self::Secret { id, .. } | Self::Assertion { id, .. } | Self::None { id } => id,
        }
    }
}

fn invalid_client() -> Error {
    Error::new(ErrorCode::InvalidClient, "client authentication failed")
}

/// Reads the client's credentials from the `Authorization` header value
/// (if any) and the form. One method per request (RFC 6749 §2.3); a
/// `client_id` in the body must agree with the credentials.
pub fn presented(authorization: Option<&[u8]>, params: Params<'_>) -> Result<Presented, Error> {
    let body_id = params.get("client_id")?;
    let body_secret = params.get("client_secret")?;
    let assertion_type = params.get("client_assertion_type")?;
    let assertion = params.get("client_assertion")?;
    let basic = authorization.map(basic_credentials).transpose()?;
    let methods = usize::from(basic.is_some())
        + usize::from(body_secret.is_some())
        + usize::from(assertion.is_some());
    if methods > 1 {
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            "use one client authentication method, not two",
        ));
    }
    let check_id = |id: &str| {
        if body_id.is_some_and(|b| b != id) {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "client_id does not match the client's credentials",
            ));
        }
        Ok(())
    };
    if let Some(assertion) = assertion {
        if assertion_type != Some(ASSERTION_TYPE) {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                format!("client_assertion_type must be {ASSERTION_TYPE}"),
            ));
        }
        let id = unverified_subject(assertion).ok_or_else(invalid_client)?;
        check_id(&id)?;
        return Ok(Presented::Assertion {
            id,
            assertion: assertion.to_owned(),
        });
    }
    Ok(match (basic, body_id, body_secret) {
        (Some((id, secret)), _, None) => {
            check_id(&id)?;
            Presented::Secret { id, secret }
        }
        (None, Some(id), Some(secret)) => Presented::Secret {
            id: id.to_owned(),
            secret: secret.to_owned(),
        },
        (None, Some(id), None) => Presented::None { id: id.to_owned() },
        _ => return Err(invalid_client()),
    })
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined by ':'
/// and base64-encoded. Any other scheme is a failed authentication.
fn basic_credentials(header: &[u8]) -> Result<(String, String), Error> {
    let text = std::str::from_utf8(header).map_err(|_| invalid_client())?;
    let (scheme, encoded) = text.split_once(' ').ok_or_else(invalid_client)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid_client());
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| invalid_client())?;
    let decoded = String::from_utf8(decoded).map_err(|_| invalid_client())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(invalid_client)?;
    Ok((
        form_decode(id).ok_or_else(invalid_client)?,
        form_decode(secret).ok_or_else(invalid_client)?,
    ))
}

/// Undoes `application/x-www-form-urlencoded` encoding of one component.
fn form_decode(input: &str) -> Option<String> {
    let spaced = input.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The `sub` of an assertion, read before verification only to find the
/// client whose keys will verify it.
fn unverified_subject(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims["sub"].as_str().map(str::to_owned)
}

/// Why an assertion whose signature verified is still refused; the names
/// are the `reason` of the `authentication_failure` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionRefusal {
    Audience,
    Lifetime,
    NoJti,
}

impl AssertionRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Audience => "assertion_audience",
            Self::Lifetime => "assertion_lifetime",
            Self::NoJti => "assertion_without_jti",
        }
    }
}

/// An assertion's claims that passed [`check_assertion`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptedAssertion<'a> {
    pub jti: &'a str,
    pub exp: i64,
}

/// RFC 7523 §3 after the signature, `iss`, `sub` and `exp` verified: the
/// audience is one JSON string, the issuer identifier, as the RFC 7523
/// revision (draft-ietf-oauth-rfc7523bis) requires after the 2025
/// audience-injection disclosure, so an assertion a client made for
/// another server (whose token endpoint or array audience happens to name
/// us) does not authenticate it here. `token_endpoint` is also accepted
/// when given (older clients, by configuration). The assertion must not
/// live longer than [`MAX_ASSERTION_LIFETIME`] and must carry a `jti`.
pub fn check_assertion<'a>(
    claims: &'a Value,
    issuer: &str,
    token_endpoint: Option<&str>,
    now: i64,
) -> Result<AcceptedAssertion<'a>, AssertionRefusal> {
    let audience_ok = claims["aud"]
        .as_str()
        .is_some_and(|aud| aud == issuer || Some(aud) == token_endpoint);
    if !audience_ok {
        return Err(AssertionRefusal::Audience);
    }
    let exp = claims["exp"].as_i64().unwrap_or(0);
    if exp - now > MAX_ASSERTION_LIFETIME {
        return Err(AssertionRefusal::Lifetime);
    }
    let jti = claims["jti"].as_str().ok_or(AssertionRefusal::NoJti)?;
    Ok(AcceptedAssertion { jti, exp })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::params::pairs;

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    fn assertion(sub: &str) -> String {
        let body = URL_SAFE_NO_PAD.encode(json!({"sub": sub}).to_string());
        format!("eyJhbGciOiJFUzI1NiJ9.{body}.sig")
    }

    #[test]
    fn rfc_6749_2_3_1_basic_credentials_are_form_encoded() {
        let header = basic("my%20app", "s%3Ae+cret");
        let raw = pairs(&[]);
        assert_eq!(
            presented(Some(header.as_bytes()), Params(&raw)).unwrap(),
            Presented::Secret {
                id: "my app".into(),
                secret: "s:e cret".into(),
            }
        );
        let code = |header: &str| {
            presented(Some(header.as_bytes()), Params(&raw))
                .unwrap_err()
                .code
        };
        assert_eq!(code("Bearer abc"), ErrorCode::InvalidClient);
        assert_eq!(code("Basic !!!"), ErrorCode::InvalidClient);
        assert_eq!(
            code(&format!("Basic {}", STANDARD.encode("no-colon"))),
            ErrorCode::InvalidClient
        );
    }

    #[test]
    fn one_method_per_request_and_the_body_id_must_agree() {
        let header = basic("a", "s");
        let both = pairs(&[("client_id", "a"), ("client_secret", "s")]);
        assert_eq!(
            presented(Some(header.as_bytes()), Params(&both))
                .unwrap_err()
                .code,
            ErrorCode::InvalidRequest
        );
        let other = pairs(&[("client_id", "b")]);
        assert_eq!(
            presented(Some(header.as_bytes()), Params(&other))
                .unwrap_err()
                .code,
            ErrorCode::InvalidRequest
        );
        let public = pairs(&[("client_id", "spa")]);
        assert_eq!(
            presented(None, Params(&public)).unwrap(),
            Presented::None { id: "spa".into() }
        );
        let post = pairs(&[("client_id", "a"), ("client_secret", "s")]);
        assert_eq!(presented(None, Params(&post)).unwrap().client_id(), "a");
        assert_eq!(
            presented(None, Params(&pairs(&[]))).unwrap_err().code,
            ErrorCode::InvalidClient
        );
    }

    #[test]
    fn an_assertion_names_its_client_with_the_rfc_7523_type() {
        let jwt = assertion("svc");
        let good = pairs(&[
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &jwt),
        ]);
        assert_eq!(presented(None, Params(&good)).unwrap().client_id(), "svc");
        let untyped = pairs(&[("client_assertion", &jwt)]);
        assert_eq!(
            presented(None, Params(&untyped)).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        let mismatch = pairs(&[
            ("client_id", "other"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &jwt),
        ]);
        assert!(presented(None, Params(&mismatch)).is_err());
        let garbage = pairs(&[
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", "not-a-jwt"),
        ]);
        assert_eq!(
            presented(None, Params(&garbage)).unwrap_err().code,
            ErrorCode::InvalidClient
        );
    }

    #[test]
    fn the_audience_is_the_issuer_as_one_string() {
        const ISSUER: &str = "https://auth.example";
        let claims = |aud: Value| json!({"aud": aud, "exp": 1_100, "jti": "j"});
        let check = |aud: Value, endpoint: Option<&str>| {
            check_assertion(&claims(aud), ISSUER, endpoint, 1_000).map(|a| a.jti.to_owned())
        };
        assert_eq!(check(json!(ISSUER), None).unwrap(), "j");
        // An array that contains the issuer is the injection the revision closes.
        assert_eq!(
            check(json!([ISSUER]), None),
            Err(AssertionRefusal::Audience)
        );
        let endpoint = format!("{ISSUER}/token");
        assert_eq!(
            check(json!(endpoint), None),
            Err(AssertionRefusal::Audience)
        );
        assert!(check(json!(endpoint), Some(&endpoint)).is_ok());
        let long = json!({"aud": ISSUER, "exp": 1_000 + MAX_ASSERTION_LIFETIME + 1, "jti": "j"});
        assert_eq!(
            check_assertion(&long, ISSUER, None, 1_000),
            Err(AssertionRefusal::Lifetime)
        );
        let no_jti = json!({"aud": ISSUER, "exp": 1_100});
        assert_eq!(
            check_assertion(&no_jti, ISSUER, None, 1_000),
            Err(AssertionRefusal::NoJti)
        );
    }
}
