//! Scopes (RFC 6749 §3.3): space-delimited, case-sensitive tokens of
//! `%x21 / %x23-5B / %x5D-7E`. Kept as an ordered set with no duplicates.

use std::collections::BTreeSet;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope(BTreeSet<String>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid scope token {token:?}: RFC 6749 §3.3 allows printable ASCII except space, '\"' and '\\\\'"
)]
pub struct ScopeError {
    pub token: String,
}

fn valid_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

impl Scope {
    /// Parses a space-delimited scope string; empty means no scope.
    pub fn parse(value: &str) -> Result<Self, ScopeError> {
        let mut set = BTreeSet::new();
        for token in value.split(' ').filter(|t| !t.is_empty()) {
            if !valid_token(token) {
                return Err(ScopeError {
                    token: token.to_owned(),
                });
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    pub fn is_subset(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The scope to grant when `self` is what may be granted: all of it
    /// when nothing is requested, the requested scope when it asks for no
    /// more, `invalid_scope` otherwise. RFC 6749 §3.3 for a client's
    /// registered scope, §6 for a refresh ("MUST NOT include any scope not
    /// originally granted"). The one subset rule every grant uses.
    pub fn narrow(&self, requested: Option<&Scope>) -> Result<Scope, crate::Error> {
        match requested {
            None => Ok(self.clone()),
            Some(requested) if requested.is_subset(self) => Ok(requested.clone()),
            Some(_) => Err(crate::Error::new(
                crate::ErrorCode::InvalidScope,
                "the requested scope exceeds what may be granted",
            )),
        }
    }

    /// The tokens of `self` that `keep` accepts (a client's registered
    /// scopes that an API offers, RFC 8707).
    pub fn only(&self, keep: impl Fn(&str) -> bool) -> Scope {
        Self(self.0.iter().filter(|t| keep(t)).cloned().collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let joined: Vec<&str> = self.iter().collect();
        f.write_str(&joined.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<&str, &str>) {
        match (Scope::parse(input), expected) {
            (Ok(scope), Ok(text)) => assert_eq!(scope.to_string(), text, "{input:?}"),
            (Err(err), Err(token)) => assert_eq!(err.token, token, "{input:?}"),
            (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn rfc_6749_scope_tokens() {
        check("openid profile email", Ok("email openid profile"));
        check("  read   write read ", Ok("read write"));
        check("", Ok(""));
        check(
            "scim:read https://api.example.com/x",
            Ok("https://api.example.com/x scim:read"),
        );
        check("a\"b", Err("a\"b"));
        check("a\\b", Err("a\\b"));
        check("caf\u{e9}", Err("caf\u{e9}"));
        check("tab\there", Err("tab\there"));
    }

    #[test]
    fn narrowing_never_widens() {
        let granted = Scope::parse("openid email").unwrap();
        assert_eq!(granted.narrow(None).unwrap(), granted);
        let email = Scope::parse("email").unwrap();
        assert_eq!(granted.narrow(Some(&email)).unwrap(), email);
        let wider = Scope::parse("email admin").unwrap();
        let refused = granted.narrow(Some(&wider)).unwrap_err();
        assert_eq!(refused.code, crate::ErrorCode::InvalidScope);
        assert!(Scope::default().narrow(Some(&email)).is_err());
        assert_eq!(
            granted.narrow(Some(&Scope::default())).unwrap(),
            Scope::default()
        );
    }

    #[test]
    fn subset() {
        let granted = Scope::parse("openid email").unwrap_or_default();
        assert!(
            Scope::parse("email")
                .unwrap_or_default()
                .is_subset(&granted)
        );
        assert!(
            !Scope::parse("email admin")
                .unwrap_or_default()
                .is_subset(&granted)
        );
    }
}
