//! Redirect URIs as registered by a client (RFC 6749 §3.1.2, RFC 8252 for
//! native apps, docs/security.md 2): absolute, no fragment; `https`, or `http`
//! only on a loopback IP literal or `localhost`, or a private-use scheme with
//! a dot (reverse domain name, RFC 8252 §7.1).
//!
//! Matching an authorization request against the registered URIs comes with
//! the authorization endpoint; the loopback any-port rule lives there.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedirectUri(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("redirect URI must be absolute (scheme://…)")]
    NotAbsolute,
    #[error("redirect URI must not contain a fragment (RFC 6749 §3.1.2)")]
    Fragment,
    #[error(
        "http redirect URIs are allowed only on loopback (127.0.0.1, [::1], localhost); use https"
    )]
    InsecureHttp,
    #[error("redirect URI has no host")]
    NoHost,
    #[error(
        "scheme {0:?} is not allowed; use https, loopback http, or a reverse-domain private-use scheme"
    )]
    Scheme(String),
    #[error("redirect URI contains whitespace or control characters")]
    Characters,
}

impl RedirectUri {
    pub fn parse(value: &str) -> Result<Self, RedirectUriError> {
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(RedirectUriError::Characters);
        }
        if value.contains('#') {
            return Err(RedirectUriError::Fragment);
        }
        let (scheme, rest) = value.split_once(':').ok_or(RedirectUriError::NotAbsolute)?;
        let scheme_ok = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !scheme_ok {
            return Err(RedirectUriError::NotAbsolute);
        }
        match scheme.to_ascii_lowercase().as_str() {
            "https" => {
                host_of(rest)?;
            }
            "http" => {
                let authority = host_of(rest)?;
                // Strip the port; an IPv6 literal keeps its brackets.
                let host = match authority.find(']') {
                    Some(end) => &authority[..=end],
                    None => authority.split(':').next().unwrap_or(authority),
                };
                if !matches!(host, "127.0.0.1" | "[::1]" | "localhost") {
                    return Err(RedirectUriError::InsecureHttp);
                }
            }
            other if other.contains('.') => {}
            other => return Err(RedirectUriError::Scheme(other.to_owned())),
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a redirect URI from an authorization request matches this
    /// registered one: character for character (RFC 9700 §2.1, no prefix or
    /// wildcard matching), except that for a loopback IP redirect the port
    /// may differ (RFC 8252 §7.3: native apps get an ephemeral port).
    pub fn matches(&self, requested: &str) -> bool {
        if self.0 == requested {
            return true;
        }
        match (
            loopback_without_port(&self.0),
            loopback_without_port(requested),
        ) {
            (Some(registered), Some(requested)) => registered == requested,
            _ => false,
        }
    }
}

/// `http://127.0.0.1:PORT/path` → `http://127.0.0.1/path` (also `[::1]`),
/// for loopback IP literals only; anything else is `None`.
fn loopback_without_port(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("http://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host = match authority.find(']') {
        Some(close) => {
            let (host, port) = authority.split_at(close + 1);
            if !(port.is_empty()
                || port
                    .strip_prefix(':')
                    .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
            {
                return None;
            }
            host
        }
        None => match authority.split_once(':') {
            Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                host
            }
            Some(_) => return None,
            None => authority,
        },
    };
    matches!(host, "127.0.0.1" | "[::1]").then(|| format!("http://{host}{path}"))
}

/// The authority (host and port) of `//authority/path…`.
fn host_of(rest: &str) -> Result<&str, RedirectUriError> {
    let authority = rest
        .strip_prefix("//")
        .ok_or(RedirectUriError::NotAbsolute)?;
    let end = authority.find(['/', '?']).unwrap_or(authority.len());
    let host = &authority[..end];
    if host.is_empty() || host.contains('@') {
        return Err(RedirectUriError::NoHost);
    }
    Ok(host)
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<(), RedirectUriError>) {
        assert_eq!(RedirectUri::parse(input).map(drop), expected, "{input:?}");
    }

    #[test]
    fn registration_rules() {
        check("https://client.example.com/cb", Ok(()));
        check("https://client.example.com:8443/cb?x=1", Ok(()));
        check("http://127.0.0.1:51004/callback", Ok(()));
        check("http://[::1]/cb", Ok(()));
        check("http://localhost:3000/cb", Ok(()));
        check("com.example.app:/oauth2redirect", Ok(()));
        check(
            "http://client.example.com/cb",
            Err(RedirectUriError::InsecureHttp),
        );
        check(
            "http://127.0.0.1.evil.com/cb",
            Err(RedirectUriError::InsecureHttp),
        );
        check(
            "https://client.example.com/cb#frag",
            Err(RedirectUriError::Fragment),
        );
        check("/relative/cb", Err(RedirectUriError::NotAbsolute));
        check(
            "javascript:alert(1)",
            Err(RedirectUriError::Scheme("javascript".into())),
        );
        check("https:///nohost", Err(RedirectUriError::NoHost));
        check(
            "https://user@evil.example/cb",
            Err(RedirectUriError::NoHost),
        );
        check(
            "https://client.example.com/c b",
            Err(RedirectUriError::Characters),
        );
    }

    #[test]
    fn matching_is_exact_but_for_loopback_ports() {
        let registered = |uri: &str| RedirectUri::parse(uri).unwrap();
        let https = registered("https://client.example.com/cb");
        assert!(https.matches("https://client.example.com/cb"));
        for other in [
            "https://client.example.com/cb/",
            "https://client.example.com/cb?x=1",
            "https://client.example.com/cbx",
            "https://client.example.com:443/cb",
            "https://CLIENT.example.com/cb",
            "https://client.example.com.evil.com/cb",
            "http://client.example.com/cb",
        ] {
            assert!(!https.matches(other), "{other}");
        }
        let native = registered("http://127.0.0.1/callback");
        assert!(native.matches("http://127.0.0.1:51004/callback"));
        assert!(native.matches("http://127.0.0.1/callback"));
        assert!(!native.matches("http://127.0.0.1:51004/other"));
        assert!(!native.matches("http://127.0.0.1:51004/callback?x"));
        assert!(!native.matches("http://127.0.0.1:/callback"));
        assert!(!native.matches("http://127.0.0.2:51004/callback"));
        assert!(registered("http://[::1]:8080/cb").matches("http://[::1]:9999/cb"));
        // "localhost" is not an IP literal; only its exact registration matches.
        let localhost = registered("http://localhost:3000/cb");
        assert!(localhost.matches("http://localhost:3000/cb"));
        assert!(!localhost.matches("http://localhost:3001/cb"));
    }
}
