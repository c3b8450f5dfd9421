//! The device authorization grant (RFC 8628): the device authorization
//! request (§3.1) and response (§3.2), and the user code the user types.
//!
//! User codes are 8 characters of the 20 consonants RFC 8628 §6.1 suggests
//! (no vowels, so no words; no look-alike digits): 20^8 ≈ 2^34.6 codes,
//! shown as `XXXX-XXXX`. What the user types is normalised first (§6.1:
//! case and the dash ignored), so typing it is forgiving; guessing is
//! bounded by the server's rate limits (§5.1), not by the alphabet.
//! Device codes are the server's own 256-bit random strings.

use serde::Serialize;

use crate::resource::{self, ResourceIndicator};
use crate::{Error, ErrorCode, Params, Scope};

/// The grant type of the token request (§3.4).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The characters of a user code.
pub const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// How many characters a user code has.
pub const USER_CODE_LENGTH: usize = 8;
/// How many seconds a `slow_down` adds to the interval (§3.5).
pub const SLOW_DOWN_STEP: i64 = 5;

/// A user code in its canonical form: [`USER_CODE_LENGTH`] characters of
/// [`ALPHABET`], no dash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCode(String);

impl UserCode {
    /// A user code drawn from `random` bytes, unbiased: bytes at or above
    /// the largest multiple of 20 are skipped. `None` if `random` runs out
    /// first (32 bytes practically never do).
    pub fn from_random(random: &[u8]) -> Option<Self> {
        const LIMIT: u8 = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
        let code: String = random
            .iter()
            .filter(|&&b| b < LIMIT)
            .take(USER_CODE_LENGTH)
            .map(|&b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()]))
            .collect();
        (code.len() == USER_CODE_LENGTH).then_some(Self(code))
    }

    /// What a user typed, normalised: letters in either case, with or
    /// without the dash and spaces. `None` if it cannot be a user code.
    pub fn parse(typed: &str) -> Option<Self> {
        let code: String = typed
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '\t'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        (code.len() == USER_CODE_LENGTH && code.bytes().all(|b| ALPHABET.contains(&b)))
            .then_some(Self(code))
    }

    /// The canonical form, which the store keys (hashed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form shown to the user: `XXXX-XXXX`.
    pub fn display(&self) -> String {
        let (head, tail) = self.0.split_at(USER_CODE_LENGTH / 2);
        format!("{head}-{tail}")
    }
}

/// A device authorization request (§3.1), beyond the client's
/// authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuthorizationRequest {
    pub scope: Option<Scope>,
    /// RFC 8707 §2: the APIs the tokens will be for.
    pub resources: Vec<ResourceIndicator>,
}

impl DeviceAuthorizationRequest {
    pub fn parse(params: Params<'_>) -> Result<Self, Error> {
        let scope = params
            .get("scope")?
            .map(|value| {
                Scope::parse(value).map_err(|e| Error::new(ErrorCode::InvalidScope, e.to_string()))
            })
            .transpose()?;
        Ok(Self {
            scope,
            resources: resource::from_params(params)?,
        })
    }
}

/// The device authorization response (§3.2). Its `Debug` leaves the
/// device code out: it is a credential (docs/security.md 18).
#[derive(Clone, Serialize)]
pub struct DeviceAuthorizationResponse {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

impl std::fmt::Debug for DeviceAuthorizationResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorizationResponse")
            .field("device_code", &"[redacted]")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl DeviceAuthorizationResponse {
    /// The response for a user code at the verification page `page`.
    pub fn new(
        device_code: String,
        user_code: &UserCode,
        page: &str,
        expires_in: i64,
        interval: i64,
    ) -> Self {
        let shown = user_code.display();
        let complete = format!(
            "{page}?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("user_code", &shown)
                .finish()
        );
        Self {
            device_code,
            user_code: shown,
            verification_uri: page.to_owned(),
            verification_uri_complete: complete,
            expires_in,
            interval,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::pairs;

    #[test]
    fn user_codes_come_from_the_alphabet_unbiased() {
        let code = UserCode::from_random(&[0, 19, 20, 239, 240, 255, 1, 2, 3, 4]).unwrap();
        // 240 and 255 are skipped: they would favour the first characters.
        assert_eq!(code.as_str(), "BZBZCDFG");
        assert_eq!(code.display(), "BZBZ-CDFG");
        assert_eq!(UserCode::from_random(&[250; 32]), None);
        for c in ALPHABET {
            assert!(!b"AEIOU01".contains(c), "{}", char::from(*c));
        }
    }

    #[test]
    fn typed_codes_are_normalised() {
        let code = UserCode::parse("bzbz-cdfg").unwrap();
        assert_eq!(code.as_str(), "BZBZCDFG");
        assert_eq!(UserCode::parse(" BZBZ CDFG "), Some(code.clone()));
        assert_eq!(UserCode::parse("BZBZCDFG"), Some(code));
        for bad in [
            "",
            "BZBZ-CDF",
            "BZBZ-CDFGH",
            "BZBZ-CDFA",
            "BZBZ-CDF0",
            "ＢZBZCDFG",
        ] {
            assert_eq!(UserCode::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn requests_and_responses() {
        let raw = pairs(&[
            ("client_id", "tv"),
            ("scope", "openid profile"),
            ("resource", "https://api.example/orders"),
        ]);
        let request = DeviceAuthorizationRequest::parse(Params(&raw)).unwrap();
        assert_eq!(request.scope.unwrap().to_string(), "openid profile");
        assert_eq!(request.resources.len(), 1);
        let twice = pairs(&[("scope", "a"), ("scope", "b")]);
        assert_eq!(
            DeviceAuthorizationRequest::parse(Params(&twice))
                .unwrap_err()
                .code,
            ErrorCode::InvalidRequest
        );
        let code = UserCode::parse("WDJB-MJHT").unwrap();
        let response = DeviceAuthorizationResponse::new(
            "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS".into(),
            &code,
            "https://auth.example/device",
            600,
            5,
        );
        assert!(
            !format!("{response:?}").contains("GmRhmh"),
            "no credential in Debug"
        );
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(json["user_code"], "WDJB-MJHT");
        assert_eq!(json["verification_uri"], "https://auth.example/device");
        assert_eq!(
            json["verification_uri_complete"],
            "https://auth.example/device?user_code=WDJB-MJHT"
        );
        assert_eq!(json["expires_in"], 600);
        assert_eq!(json["interval"], 5);
    }
}
