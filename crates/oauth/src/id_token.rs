//! ID tokens (OpenID Connect Core §2): the claims of one, from the
//! authentication they describe, the user's claims for the granted scopes
//! (`crate::claims`) and the access token issued with them (`at_hash`,
//! §3.1.3.6). Signing is the server's.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// What an ID token says about the authentication.
#[derive(Debug)]
pub struct Authentication<'a> {
    pub issuer: &'a str,
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub auth_time: i64,
    pub nonce: Option<&'a str>,
    pub sid: Option<&'a str>,
    /// RFC 8176 method names; omitted from the token when empty.
    pub amr: &'a [String],
    /// The user's claims for the granted scopes.
    pub profile: &'a Map<String, Value>,
}

/// `at_hash`: base64url of the left half of SHA-256 of the access token
/// (§3.1.3.6; RS256 and ES256 both hash with SHA-256).
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// The claims of an ID token issued at `iat`, valid until `exp`, beside
/// `access_token`.
pub fn claims(auth: &Authentication<'_>, iat: i64, exp: i64, access_token: &str) -> Value {
    let mut claims = Map::new();
    // The user's claims first, so that none of them can replace one of
    // the token's own (`sub` among them, which is the same value).
    for (name, value) in auth.profile {
        claims.insert(name.clone(), value.clone());
    }
    let own = json!({
        "iss": auth.issuer,
        "sub": auth.user_id,
        "aud": auth.client_id,
        "azp": auth.client_id,
        "iat": iat,
        "exp": exp,
        "auth_time": auth.auth_time,
        "at_hash": at_hash(access_token),
        // The level the methods reached (`crate::acr`).
        "acr": crate::acr::Level::of(auth.amr).as_str(),
    });
    if let Value::Object(own) = own {
        claims.extend(own);
    }
    if !auth.amr.is_empty() {
        claims.insert("amr".into(), json!(auth.amr));
    }
    if let Some(nonce) = auth.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    if let Some(sid) = auth.sid {
        claims.insert("sid".into(), json!(sid));
    }
    Value::Object(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_openid_connect_core_example() {
        // OpenID Connect Core 1.0, Appendix A.4 (code id_token token).
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    #[test]
    fn the_profile_cannot_replace_the_tokens_own_claims() {
        let mut profile = Map::new();
        profile.insert("sub".into(), json!("u1"));
        profile.insert("email".into(), json!("u1@example.com"));
        profile.insert("iss".into(), json!("https://evil.example"));
        let amr = vec!["pwd".to_owned()];
        let auth = Authentication {
            issuer: "https://auth.example",
            user_id: "u1",
            client_id: "web",
            auth_time: 90,
            nonce: Some("n-0S6_WzA2Mj"),
            sid: None,
            amr: &amr,
            profile: &profile,
        };
        let claims = claims(&auth, 100, 400, "token");
        assert_eq!(claims["iss"], "https://auth.example");
        assert_eq!(claims["aud"], "web");
        assert_eq!(claims["email"], "u1@example.com");
        assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
        assert_eq!(claims["amr"], json!(["pwd"]));
        assert_eq!(claims["acr"], "urn:auth-service:acr:pwd");
        assert!(claims.get("sid").is_none());
        let mfa = vec!["pwd".to_owned(), "otp".to_owned(), "mfa".to_owned()];
        let stepped_up = Authentication { amr: &mfa, ..auth };
        assert_eq!(
            super::claims(&stepped_up, 100, 400, "token")["acr"],
            "urn:auth-service:acr:mfa"
        );
        let no_amr = Authentication {
            amr: &[],
            ..stepped_up
        };
        assert!(
            super::claims(&no_amr, 100, 400, "token")
                .get("amr")
                .is_none()
        );
    }
}
