//! Token introspection answers (RFC 7662 §2.2): what an active access or
//! refresh token says about itself, and the one answer for every other
//! token (§2.2: "active": false and nothing else, so that a caller learns
//! nothing about why).

use serde_json::{Value, json};

use crate::access_token::AccessClaims;

/// The answer for a token that is not active, whatever the reason.
pub fn inactive() -> Value {
    json!({"active": false})
}

/// An active access token: its own claims, with the level and methods of
/// the user's authentication when it has one (RFC 9068 §2.2.1 `acr` and
/// `amr`, which a resource server may require), and the key it is bound
/// to (RFC 9449 §6.2: `cnf`, `token_type` DPoP).
pub fn access_token(claims: &AccessClaims) -> Value {
    let mut answer = json!({
        "active": true,
        "token_type": if claims.cnf.is_some() { "DPoP" } else { "Bearer" },
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "jti": claims.jti,
    });
    if let Some(acr) = &claims.acr {
        answer["acr"] = json!(acr);
    }
    if let Some(amr) = &claims.amr {
        answer["amr"] = json!(amr);
    }
    if let Some(cnf) = &claims.cnf {
        answer["cnf"] = json!(cnf);
    }
    // RFC 8693 §4.1: "act" may appear in introspection responses too.
    if let Some(act) = &claims.act {
        answer["act"] = act.clone();
    }
    answer
}

/// What an active refresh token is known by.
#[derive(Debug, Clone, Copy)]
pub struct RefreshToken<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The user; `None` for a client's own family.
    pub user_id: Option<&'a str>,
    pub scope: &'a str,
    /// When the current token was issued (the family's last rotation).
    pub issued_at: i64,
    /// The earlier of the family's idle and absolute ends.
    pub expires_at: i64,
}

/// An active refresh token.
pub fn refresh_token(token: &RefreshToken<'_>) -> Value {
    let mut answer = json!({
        "active": true,
        "token_type": "refresh_token",
        "client_id": token.client_id,
        "scope": token.scope,
        "iss": token.issuer,
        "iat": token.issued_at,
        "exp": token.expires_at,
    });
    if let Some(user) = token.user_id {
        answer["sub"] = json!(user);
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_carry_rfc_7662_members_only() {
        assert_eq!(inactive(), json!({"active": false}));
        let claims = AccessClaims {
            iss: "https://auth.example".into(),
            sub: "u1".into(),
            aud: crate::access_token::Audience::One("https://auth.example".into()),
            client_id: "web".into(),
            iat: 1,
            exp: 2,
            jti: "j".into(),
            scope: "openid".into(),
            auth_time: Some(1),
            acr: None,
            amr: None,
            cnf: None,
            act: None,
        };
        let answer = access_token(&claims);
        assert_eq!(answer["token_type"], "Bearer");
        assert!(answer.get("auth_time").is_none());
        assert!(answer.get("acr").is_none() && answer.get("amr").is_none());
        let stepped_up = AccessClaims {
            acr: Some("urn:auth-service:acr:mfa".into()),
            amr: Some(vec!["pwd".into(), "otp".into(), "mfa".into()]),
            ..claims
        };
        let answer = access_token(&stepped_up);
        assert_eq!(answer["acr"], "urn:auth-service:acr:mfa");
        assert_eq!(answer["amr"], json!(["pwd", "otp", "mfa"]));
        let bound = AccessClaims {
            cnf: Some(crate::access_token::Confirmation {
                jkt: "thumb".into(),
            }),
            ..stepped_up
        };
        let answer = access_token(&bound);
        assert_eq!(answer["token_type"], "DPoP");
        assert_eq!(answer["cnf"], json!({"jkt": "thumb"}));
        let service = refresh_token(&RefreshToken {
            issuer: "https://auth.example",
            client_id: "svc",
            user_id: None,
            scope: "read",
            issued_at: 1,
            expires_at: 9,
        });
        assert!(service.get("sub").is_none());
        assert_eq!(service["token_type"], "refresh_token");
    }
}
