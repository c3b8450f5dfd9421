//! PKCE (RFC 7636), S256 only: `plain` gives no protection against a stolen
//! code and is refused (docs/security.md 1, RFC 9700 §2.1.1).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{Error, ErrorCode};

/// A validated `code_challenge` (S256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
fn unreserved(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl CodeChallenge {
    /// The one method accepted (`code_challenge_methods_supported`).
    pub const METHODS: [&'static str; 1] = ["S256"];
    /// Validates the challenge and its method from an authorization request.
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Self, Error> {
        let challenge = challenge.ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidRequest,
                "code_challenge is required (PKCE with S256)",
            )
        })?;
        match method {
            Some("S256") => {}
            None | Some("plain") => {
                return Err(Error::new(
                    ErrorCode::InvalidRequest,
                    "code_challenge_method must be S256",
                ));
            }
            Some(other) => {
                return Err(Error::new(
                    ErrorCode::InvalidRequest,
                    format!("unsupported code_challenge_method {other:?}"),
                ));
            }
        }
        // The S256 challenge is base64url(SHA-256), exactly 43 characters.
        if challenge.len() != 43 || URL_SAFE_NO_PAD.decode(challenge).map(|d| d.len()) != Ok(32) {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "code_challenge is not a base64url SHA-256 value",
            ));
        }
        Ok(Self(challenge.to_owned()))
    }

    /// Rebuilds a challenge stored with a code (already validated then).
    pub fn from_stored(challenge: String) -> Self {
        Self(challenge)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6: BASE64URL(SHA256(verifier)) == challenge, compared in
    /// constant time.
    pub fn verify(&self, verifier: Option<&str>) -> Result<(), Error> {
        let verifier = verifier
            .ok_or_else(|| Error::new(ErrorCode::InvalidGrant, "code_verifier is required"))?;
        if !unreserved(verifier) {
            return Err(Error::new(
                ErrorCode::InvalidGrant,
                "code_verifier is malformed (RFC 7636 §4.1)",
            ));
        }
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if computed.as_bytes().ct_eq(self.0.as_bytes()).into() {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::InvalidGrant,
                "code_verifier does not match the code_challenge",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc_7636_appendix_b() {
        let challenge = CodeChallenge::parse(Some(CHALLENGE), Some("S256")).unwrap();
        challenge.verify(Some(VERIFIER)).unwrap();
    }

    #[test]
    fn refusals() {
        let check = |challenge: Option<&str>, method: Option<&str>| {
            CodeChallenge::parse(challenge, method).map(drop)
        };
        assert_eq!(
            check(None, Some("S256")).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert!(check(Some(CHALLENGE), Some("plain")).is_err());
        assert!(
            check(Some(CHALLENGE), None).is_err(),
            "the default method is plain, which is refused"
        );
        assert!(check(Some("short"), Some("S256")).is_err());
        assert!(check(Some(&"A".repeat(43)), Some("S256")).is_ok());
        assert!(check(Some(&"+".repeat(43)), Some("S256")).is_err());

        let challenge = CodeChallenge::parse(Some(CHALLENGE), Some("S256")).unwrap();
        for verifier in [
            None,
            Some("too-short"),
            Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX"),
            Some(CHALLENGE),
        ] {
            assert_eq!(
                challenge.verify(verifier).unwrap_err().code,
                ErrorCode::InvalidGrant,
                "{verifier:?}"
            );
        }
    }
}
