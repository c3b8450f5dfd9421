//! Redirect URIs as registered by a client (RFC 6749 §3.1.2, RFC 8252 for
//! native apps, SECURITY.md 2): absolute, no fragment; `https`, or `http`
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
}
