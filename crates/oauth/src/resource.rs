//! RFC 8707 resource indicators: the identifiers of the APIs that access
//! tokens are issued for, and the `aud` those tokens carry.
//!
//! §2: "The value of the resource parameter MUST be an absolute URI, as
//! specified by Section 4.3 of [RFC3986], which MAY include a query
//! component, but MUST NOT include a fragment component." Identifiers are
//! compared exactly, as `aud` values are (RFC 7519 §4.1.3): no case folding
//! or normalisation, so an API is registered with the identifier its
//! clients send.

use std::fmt;

use crate::{Error, ErrorCode, Params};

/// The longest identifier taken: far beyond any real one, and a bound on
/// what a token's `aud` may cost.
pub const MAX_LEN: usize = 2048;

/// A valid resource indicator.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceIndicator(String);

impl ResourceIndicator {
    /// Parses `value`, or says why it is not a resource indicator (RFC 8707
    /// §2: `invalid_target`).
    pub fn parse(value: &str) -> Result<Self, Error> {
        let refuse = |why: &str| Err(Error::new(ErrorCode::InvalidTarget, why.to_owned()));
        if value.is_empty() || value.len() > MAX_LEN {
            return refuse("a resource is an absolute URI of at most 2048 characters");
        }
        // RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
        let Some((scheme, rest)) = value.split_once(':') else {
            return refuse("a resource is an absolute URI (it has no scheme)");
        };
        let mut chars = scheme.chars();
        let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !scheme_ok || rest.is_empty() {
            return refuse("a resource is an absolute URI (it has no scheme)");
        }
        if value.contains('#') {
            return refuse("a resource must not have a fragment (RFC 8707 section 2)");
        }
        // RFC 3986 §2: no spaces, controls or non-ASCII outside percent
        // encoding; braces, `<`, `>`, `"`, `\`, `^`, `` ` ``, `|` are not URI
        // characters either.
        if value.chars().any(|c| {
            !c.is_ascii_graphic()
                || matches!(c, '{' | '}' | '<' | '>' | '"' | '\\' | '^' | '`' | '|')
        }) {
            return refuse("a resource has only URI characters (RFC 3986 section 2)");
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceIndicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The most `resource` parameters one request may carry: every one is a
/// store read and an `aud` entry.
pub const MAX_PER_REQUEST: usize = 16;

/// The `resource` parameters (RFC 8707 §2), each a valid indicator, each
/// once, at most [`MAX_PER_REQUEST`]; an invalid one is `invalid_target`.
pub fn from_params(params: Params<'_>) -> Result<Vec<ResourceIndicator>, Error> {
    let values = params.all("resource");
    if values.len() > MAX_PER_REQUEST {
        return Err(Error::new(
            ErrorCode::InvalidTarget,
            format!("at most {MAX_PER_REQUEST} resource parameters"),
        ));
    }
    let mut out: Vec<ResourceIndicator> = Vec::with_capacity(values.len());
    for value in values {
        let resource = ResourceIndicator::parse(value)?;
        if !out.contains(&resource) {
            out.push(resource);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_uris_without_fragments_are_resources() {
        for ok in [
            "https://api.example.com",
            "https://api.example.com/orders?v=2",
            "urn:example:billing",
            "https://API.example.com/Orders",
            "https://api.example.com/a%20b",
        ] {
            assert_eq!(ResourceIndicator::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn anything_else_is_an_invalid_target() {
        for bad in [
            "",
            "api.example.com/orders",
            "/orders",
            "1http://x",
            "https:",
            "https://api.example.com/#top",
            "https://api.example.com/a b",
            "https://api.example.com/{tenant}",
            "https://api.example.com/\u{e9}",
            &format!("https://x/{}", "a".repeat(MAX_LEN)),
        ] {
            let e = ResourceIndicator::parse(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidTarget, "{bad:?}");
        }
    }
}
