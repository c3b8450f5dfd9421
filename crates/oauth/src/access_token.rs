//! RFC 9068 access tokens as this server issues them: the claims (§2.2),
//! and what is checked of them once the signature has verified (§4).
//!
//! The signature, `alg` and `kid` are the JWS layer's (the server's
//! `jwt` module). This module decides the rest: the `typ` header, that
//! every required claim is present with its type, that `iss` and `aud`
//! are this issuer, and that `exp` is after now with no leeway (RFC 7519
//! §4.1.4: "on or after" `exp` it "MUST NOT be accepted"; the issuer is
//! the clock for its own tokens).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Scope;

/// The `typ` header of an access token (RFC 9068 §2.1).
pub const TYP: &str = "at+jwt";

/// Whether a JOSE `typ` header names `expected`: compared without case,
/// and with the `application/` prefix RFC 7515 §4.1.9 allows omitting.
pub fn typ_matches(header_typ: Option<&str>, expected: &str) -> bool {
    header_typ.is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        t == expected || t.strip_prefix("application/") == Some(expected)
    })
}

/// The claims of one of our access tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    /// The user, or the client itself when it acts for itself (§2.2).
    pub sub: String,
    /// The APIs the token is for (RFC 8707 resource indicators); without
    /// them this issuer, whose own APIs (SCIM, userinfo) accept only such
    /// tokens.
    pub aud: Audience,
    pub client_id: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// Space-delimited, as issued.
    pub scope: String,
    /// When the user authenticated; absent for a client's own tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The level the user's authentication reached (`crate::acr`; RFC 9068
    /// §2.2.1); absent for a client's own tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Its RFC 8176 methods (RFC 9068 §2.2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// The key the token is bound to (RFC 9449 §6.1: `cnf.jkt`); such a
    /// token is used only with a DPoP proof of that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// Who acts for the subject (RFC 8693 §4.1): `{"sub": …}`, nesting the
    /// earlier actors of a chain of exchanges under `act`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<serde_json::Value>,
}

/// RFC 7800 §3.1 confirmation, with RFC 9449's member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The RFC 7638 thumbprint of the DPoP key.
    pub jkt: String,
}

/// A token's `aud` (RFC 7519 §4.1.3): one value as a string, several as an
/// array, as RFC 9068 §2.2 allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// The audience of `resources`, or `default` when there are none.
    pub fn of(resources: &[String], default: &str) -> Self {
        match resources {
            [] => Self::One(default.to_owned()),
            [one] => Self::One(one.clone()),
            many => Self::Many(many.to_vec()),
        }
    }

    pub fn contains(&self, value: &str) -> bool {
        match self {
            Self::One(one) => one == value,
            Self::Many(many) => many.iter().any(|v| v == value),
        }
    }

    /// Every value, in order.
    pub fn values(&self) -> &[String] {
        match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(many) => many,
        }
    }
}

/// Why verified claims are not an acceptable access token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsRejection {
    #[error("the claims are not those of an access token: {0}")]
    Malformed(String),
    #[error("iss is not this issuer")]
    WrongIssuer,
    #[error("aud does not name this issuer")]
    WrongAudience,
    #[error("expired")]
    Expired,
    #[error("no jti")]
    NoJti,
}

impl AccessClaims {
    /// Reads the claims of a token whose signature verified, for `issuer`
    /// at `now`, whose audience must name one of `audience` (this issuer's
    /// own APIs); `None` takes a token for any API (introspection and
    /// revocation answer for all of them).
    pub fn accept(
        claims: Value,
        issuer: &str,
        audience: Option<&[&str]>,
        now: i64,
    ) -> Result<Self, ClaimsRejection> {
        let claims: Self = serde_json::from_value(claims)
            .map_err(|e| ClaimsRejection::Malformed(e.to_string()))?;
        if claims.iss != issuer {
            return Err(ClaimsRejection::WrongIssuer);
        }
        // A token for another API is not one for this issuer's own: an
        // audience of several APIs is accepted only if the wanted is one.
        if audience.is_some_and(|wanted| !wanted.iter().any(|w| claims.aud.contains(w))) {
            return Err(ClaimsRejection::WrongAudience);
        }
        if claims.exp <= now {
            return Err(ClaimsRejection::Expired);
        }
        if claims.jti.is_empty() {
            return Err(ClaimsRejection::NoJti);
        }
        Ok(claims)
    }

    /// Whether the subject is the client itself (client_credentials, a
    /// minted token) rather than a user.
    pub fn for_client_itself(&self) -> bool {
        self.sub == self.client_id
    }

    /// The granted scope; a token whose scope does not parse grants none.
    pub fn scope(&self) -> Scope {
        Scope::parse(&self.scope).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ISSUER: &str = "https://auth.example";

    fn claims() -> Value {
        json!({
            "iss": ISSUER, "sub": "u1", "aud": ISSUER, "client_id": "web",
            "iat": 100, "exp": 200, "jti": "j1", "scope": "openid email",
        })
    }

    #[test]
    fn typ_is_compared_as_rfc_7515_says() {
        assert!(typ_matches(Some("at+jwt"), TYP));
        assert!(typ_matches(Some("application/AT+JWT"), TYP));
        assert!(!typ_matches(Some("JWT"), TYP));
        assert!(!typ_matches(Some("text/at+jwt"), TYP));
        assert!(!typ_matches(None, TYP));
    }

    #[test]
    fn claims_are_accepted_until_exp_and_not_at_it() {
        let accepted = AccessClaims::accept(claims(), ISSUER, Some(&[ISSUER]), 199).unwrap();
        assert_eq!(accepted.scope().to_string(), "email openid");
        assert!(!accepted.for_client_itself());
        assert_eq!(
            AccessClaims::accept(claims(), ISSUER, Some(&[ISSUER]), 200),
            Err(ClaimsRejection::Expired)
        );
    }

    #[test]
    fn one_audience_is_a_string_and_several_an_array() {
        let one = Audience::of(&[], ISSUER);
        assert_eq!(serde_json::to_value(&one).unwrap(), json!(ISSUER));
        let two = Audience::of(&["https://a".into(), "https://b".into()], ISSUER);
        assert_eq!(
            serde_json::to_value(&two).unwrap(),
            json!(["https://a", "https://b"])
        );
        assert!(two.contains("https://b") && !two.contains(ISSUER));
        let mut c = claims();
        c["aud"] = json!(["https://api.one", ISSUER]);
        assert!(AccessClaims::accept(c.clone(), ISSUER, Some(&[ISSUER]), 150).is_ok());
        c["aud"] = json!("https://api.one");
        assert!(AccessClaims::accept(c.clone(), ISSUER, None, 150).is_ok());
        assert_eq!(
            AccessClaims::accept(c, ISSUER, Some(&[ISSUER]), 150),
            Err(ClaimsRejection::WrongAudience)
        );
    }

    #[test]
    fn each_rejection_says_why() {
        let with = |name: &str, value: Value| {
            let mut c = claims();
            c[name] = value;
            AccessClaims::accept(c, ISSUER, Some(&[ISSUER]), 150).unwrap_err()
        };
        assert_eq!(
            with("iss", json!("https://evil")),
            ClaimsRejection::WrongIssuer
        );
        assert_eq!(
            with("aud", json!("https://api.other")),
            ClaimsRejection::WrongAudience
        );
        assert_eq!(with("jti", json!("")), ClaimsRejection::NoJti);
        // Tokens for other APIs (RFC 8707), one or several.
        assert_eq!(
            with("aud", json!(["https://api.one", "https://api.two"])),
            ClaimsRejection::WrongAudience
        );
        assert!(matches!(
            with("aud", json!(7)),
            ClaimsRejection::Malformed(_)
        ));
        assert!(matches!(
            with("exp", json!("200")),
            ClaimsRejection::Malformed(_)
        ));
        let mut missing = claims();
        missing.as_object_mut().unwrap().remove("client_id");
        assert!(matches!(
            AccessClaims::accept(missing, ISSUER, Some(&[ISSUER]), 150),
            Err(ClaimsRejection::Malformed(_))
        ));
    }
}
