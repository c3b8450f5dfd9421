//! Request parameters as the endpoints receive them (a query string or an
//! `application/x-www-form-urlencoded` body), with the two rules every
//! OAuth endpoint shares: a parameter sent without a value is treated as
//! omitted, and a parameter must not be included more than once
//! (RFC 6749 §3.1 for the authorization endpoint, §3.2 for the token
//! endpoint). This is the one place those rules are written.

use crate::{Error, ErrorCode};

/// Decoded name/value pairs, in the order received.
#[derive(Debug, Clone, Copy)]
pub struct Params<'a>(pub &'a [(String, String)]);

impl<'a> Params<'a> {
    /// The value of `name`, empty meaning absent; `invalid_request` if it
    /// is repeated.
    pub fn get(&self, name: &str) -> Result<Option<&'a str>, Error> {
        let mut values = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                format!("the {name} parameter appears more than once"),
            ));
        }
        Ok(first.filter(|v| !v.is_empty()))
    }

    /// Every non-empty value of a parameter that may repeat (RFC 8707 §2:
    /// `resource`), in the order received.
    pub fn all(&self, name: &str) -> Vec<&'a str> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of a required parameter; `invalid_request` if it is
    /// missing, empty or repeated.
    pub fn require(&self, name: &str) -> Result<&'a str, Error> {
        self.get(name)?.ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidRequest,
                format!("the {name} parameter is missing"),
            )
        })
    }
}

/// Owned pairs from literals, for tests.
#[cfg(test)]
pub(crate) fn pairs(raw: &[(&str, &str)]) -> Vec<(String, String)> {
    raw.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_absent_and_repeats_are_refused() {
        let raw = pairs(&[("a", "1"), ("b", ""), ("c", "x"), ("c", "y")]);
        let params = Params(&raw);
        assert_eq!(params.get("a").unwrap(), Some("1"));
        assert_eq!(params.get("b").unwrap(), None);
        assert_eq!(params.get("missing").unwrap(), None);
        assert_eq!(params.require("a").unwrap(), "1");
        let repeated = params.get("c").unwrap_err();
        assert_eq!(repeated.code, ErrorCode::InvalidRequest);
        assert!(repeated.description.contains("more than once"));
        assert_eq!(
            params.require("b").unwrap_err().description,
            "the b parameter is missing"
        );
        // A repeat is refused even when one of the values is empty.
        let raw = pairs(&[("d", ""), ("d", "1")]);
        assert!(Params(&raw).get("d").is_err());
    }
}
