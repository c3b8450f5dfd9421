//! OpenID Connect Back-Channel Logout 1.0: the URI a client registers to
//! be told of logouts (§2.2), and the logout token sent there (§2.4).
//! Delivery, retries and the SSRF policy are the server's.

use serde::Serialize;
use serde::ser::SerializeMap;

/// The `typ` of a logout token: explicit typing (§2.4, RFC 8725 §3.11),
/// so that no other kind of JWT can pass for one.
pub const TYP: &str = "logout+jwt";

/// The event a logout token carries (§2.4).
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How long a logout token is valid: §2.4 recommends at most two minutes.
pub const LIFETIME_SECONDS: i64 = 120;

/// A logout token's claims (§2.4): never a `nonce` (§2.4 forbids it, so
/// that no logout token passes for an ID token), always `sub`, and `sid`
/// when the logout is of one session.
#[derive(Debug, Clone, Serialize)]
pub struct LogoutToken<'a> {
    pub iss: &'a str,
    pub aud: &'a str,
    pub iat: i64,
    pub exp: i64,
    pub jti: &'a str,
    pub sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<&'a str>,
    pub events: Events,
}

/// `{"http://schemas.openid.net/event/backchannel-logout": {}}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Events;

impl Serialize for Events {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(EVENT, &serde_json::Map::new())?;
        map.end()
    }
}

/// Why a `backchannel_logout_uri` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("must be an absolute https (or http) URL with a host")]
    NotAbsolute,
    #[error("must not contain a fragment (section 2.2)")]
    Fragment,
    #[error("contains whitespace or control characters")]
    Characters,
    #[error("http is for confidential clients only (section 2.2); use https")]
    HttpForPublicClient,
}

/// Checks a `backchannel_logout_uri` (§2.2): an absolute URL with a host,
/// a query allowed, no fragment; https, or http for a confidential client.
/// Where it may point (the SSRF policy) is judged at each delivery.
pub fn check_uri(uri: &str, public_client: bool) -> Result<(), UriError> {
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UriError::Characters);
    }
    if uri.contains('#') {
        return Err(UriError::Fragment);
    }
    let (scheme, rest) = uri.split_once("://").ok_or(UriError::NotAbsolute)?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.is_empty() || authority.starts_with(':') || authority.contains('@') {
        return Err(UriError::NotAbsolute);
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if public_client => Err(UriError::HttpForPublicClient),
        "http" => Ok(()),
        _ => Err(UriError::NotAbsolute),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logout_token_has_the_section_2_4_claims_and_no_nonce() {
        let token = LogoutToken {
            iss: "https://id.example",
            aud: "rp",
            iat: 1_800_000_000,
            exp: 1_800_000_120,
            jti: "n-1",
            sub: "u-1",
            sid: Some("sid-1"),
            events: Events,
        };
        let claims = serde_json::to_value(&token).unwrap();
        assert_eq!(
            claims,
            serde_json::json!({
                "iss": "https://id.example", "aud": "rp", "iat": 1_800_000_000_i64,
                "exp": 1_800_000_120_i64, "jti": "n-1", "sub": "u-1", "sid": "sid-1",
                "events": {EVENT: {}}
            })
        );
        let without_sid = LogoutToken { sid: None, ..token };
        let claims = serde_json::to_value(&without_sid).unwrap();
        assert!(claims.get("sid").is_none() && claims.get("nonce").is_none());
    }

    #[test]
    fn registered_uris() {
        for good in [
            "https://rp.example/backchannel",
            "https://rp.example:8443/logout?tenant=a",
            "HTTPS://rp.example",
        ] {
            assert_eq!(check_uri(good, true), Ok(()), "{good}");
        }
        assert_eq!(check_uri("http://10.0.0.5/logout", false), Ok(()));
        for (bad, error) in [
            ("http://rp.example/logout", UriError::HttpForPublicClient),
            ("https://rp.example/logout#x", UriError::Fragment),
            ("https://rp.example/log out", UriError::Characters),
            ("/logout", UriError::NotAbsolute),
            ("https:///logout", UriError::NotAbsolute),
            ("https://user@rp.example/", UriError::NotAbsolute),
            ("ftp://rp.example/", UriError::NotAbsolute),
            ("javascript://rp.example/", UriError::NotAbsolute),
        ] {
            assert_eq!(check_uri(bad, true), Err(error), "{bad}");
        }
    }
}
