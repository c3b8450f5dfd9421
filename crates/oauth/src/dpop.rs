//! DPoP proofs (RFC 9449 §4): reading one, and the checks of §4.3 that
//! need no key and no store. The signature (with the proof's own `jwk`)
//! and the `jti` replay cache are the server's; what a proof binds a token
//! to is the key's RFC 7638 thumbprint, [`thumbprint`], carried as
//! `cnf.jkt` (§6).
//!
//! A proof is refused as `invalid_dpop_proof` (§5.0, §7.1) with the reason;
//! a missing or stale server nonce as `use_dpop_nonce` (§8, §9).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The proof's media type (§4.2).
pub const TYP: &str = "dpop+jwt";
/// The algorithms taken: asymmetric only (§4.2: "MUST NOT be none or an
/// identifier for a symmetric algorithm").
pub const ALGS: [&str; 3] = ["ES256", "EdDSA", "RS256"];
/// The longest proof read: an RSA-4096 key in the header is under 1 KiB.
pub const MAX_LEN: usize = 8 * 1024;
/// The longest `jti` taken; §11.1 asks for enough randomness, not more.
pub const MAX_JTI: usize = 256;

/// A proof read from the `DPoP` header, not yet verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Proof {
    pub alg: String,
    /// The public key (§4.2 `jwk`), without private members.
    pub jwk: Value,
    pub jti: String,
    pub htm: String,
    pub htu: String,
    pub iat: i64,
    /// The access token's hash (§4.2), at a resource.
    pub ath: Option<String>,
    pub nonce: Option<String>,
    /// `header.payload`, what the signature covers.
    pub signing_input: String,
    pub signature: Vec<u8>,
}

/// Why a proof is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the DPoP proof is not a JWT: {0}")]
    Malformed(&'static str),
    #[error("the DPoP proof's typ must be dpop+jwt")]
    Type,
    #[error("the DPoP proof's alg must be one of ES256, EdDSA, RS256")]
    Algorithm,
    #[error("the DPoP proof's jwk must be a public key")]
    Key,
    #[error("the DPoP proof lacks the claim {0}")]
    Claim(&'static str),
    #[error("the DPoP proof is for another method (htm)")]
    Method,
    #[error("the DPoP proof is for another URL (htu)")]
    Url,
    #[error("the DPoP proof was not made just now (iat)")]
    Stale,
    #[error("the DPoP proof is not for this access token (ath)")]
    AccessTokenHash,
    #[error("the DPoP proof's signature does not verify")]
    Signature,
    #[error("the DPoP proof was already used (jti)")]
    Replayed,
    #[error("the DPoP proof's key is not the one the token is bound to")]
    WrongKey,
    /// §8: the server wants its nonce in the proof.
    #[error("the DPoP proof needs the server's current nonce")]
    Nonce,
}

impl ProofError {
    /// The error code of §5.0 and §7.1, or §8's `use_dpop_nonce`.
    pub fn error_code(&self) -> crate::ErrorCode {
        match self {
            Self::Nonce => crate::ErrorCode::UseDpopNonce,
            _ => crate::ErrorCode::InvalidDpopProof,
        }
    }

    /// [`Self::error_code`], as the protocol writes it.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }
}

fn segment(part: &str, what: &'static str) -> Result<Vec<u8>, ProofError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| ProofError::Malformed(what))
}

fn json_object(bytes: &[u8], what: &'static str) -> Result<Map<String, Value>, ProofError> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(ProofError::Malformed(what)),
    }
}

/// Reads `value`, the one `DPoP` header of a request (§4.3 checks 1 to 6:
/// a JWT, `typ`, an asymmetric `alg`, a public `jwk`, the claims).
pub fn parse(value: &str) -> Result<Proof, ProofError> {
    if value.len() > MAX_LEN {
        return Err(ProofError::Malformed("too long"));
    }
    let mut parts = value.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofError::Malformed("not three segments"));
    };
    let header = json_object(&segment(header_b64, "header")?, "header")?;
    let claims = json_object(&segment(claims_b64, "claims")?, "claims")?;
    let signature = segment(signature_b64, "signature")?;
    if header.get("typ").and_then(Value::as_str) != Some(TYP) {
        return Err(ProofError::Type);
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .filter(|alg| ALGS.contains(alg))
        .ok_or(ProofError::Algorithm)?;
    let jwk = header
        .get("jwk")
        .filter(|k| k.is_object())
        .ok_or(ProofError::Key)?;
    // RFC 7518 §6.2.2, §6.3.2, §6.4 and RFC 8037 §2: private and symmetric
    // members.
    if ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]
        .iter()
        .any(|m| jwk.get(m).is_some())
    {
        return Err(ProofError::Key);
    }
    let text = |name: &'static str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or(ProofError::Claim(name))
    };
    let jti = text("jti")?;
    if jti.len() > MAX_JTI {
        return Err(ProofError::Claim("jti"));
    }
    let optional = |name: &'static str| match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ProofError::Claim(name)),
    };
    Ok(Proof {
        alg: alg.to_owned(),
        jwk: jwk.clone(),
        jti,
        htm: text("htm")?,
        htu: text("htu")?,
        iat: claims
            .get("iat")
            .and_then(Value::as_i64)
            .ok_or(ProofError::Claim("iat"))?,
        ath: optional("ath")?,
        nonce: optional("nonce")?,
        signing_input: format!("{header_b64}.{claims_b64}"),
        signature,
    })
}

/// What the request a proof comes with is.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The URL the client sent the request to, without query.
    pub url: &'a str,
    pub now: i64,
    /// How far `iat` may be from `now`, either way (§11.1).
    pub window: i64,
    /// The access token presented with the proof, at a resource (§7.1).
    pub access_token: Option<&'a str>,
}

impl Proof {
    /// §4.3 checks 7 to 11 (and 12 at a resource): `htm`, `htu`, `iat`,
    /// `ath`. The nonce, signature and `jti` are checked by the caller.
    pub fn check(&self, request: &Request<'_>) -> Result<(), ProofError> {
        if self.htm != request.method {
            return Err(ProofError::Method);
        }
        if !htu_matches(&self.htu, request.url) {
            return Err(ProofError::Url);
        }
        if (self.iat - request.now).abs() > request.window {
            return Err(ProofError::Stale);
        }
        match (request.access_token, &self.ath) {
            (None, _) => Ok(()),
            (Some(token), Some(ath)) if *ath == access_token_hash(token) => Ok(()),
            (Some(_), _) => Err(ProofError::AccessTokenHash),
        }
    }
}

/// §4.3 check 9: the `htu` names the request's URL, "ignoring any query
/// and fragment parts", after RFC 3986 §6.2.2 and §6.2.3 normalisation:
/// scheme and host are case-insensitive, and a default port is the same
/// as none.
pub fn htu_matches(htu: &str, url: &str) -> bool {
    match (normalised(htu), normalised(url)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn normalised(url: &str) -> Option<String> {
    let url = url.split(['?', '#']).next()?;
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let split = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let authority = authority.to_ascii_lowercase();
    let authority = match (scheme.as_str(), authority.rsplit_once(':')) {
        ("https", Some((host, "443"))) | ("http", Some((host, "80"))) => host.to_owned(),
        _ => authority,
    };
    let path = if path.is_empty() { "/" } else { path };
    Some(format!("{scheme}://{authority}{path}"))
}

/// §4.2 `ath`: base64url of the SHA-256 of the access token's ASCII.
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// The JWK thumbprint (RFC 7638 §3) of a public key: SHA-256 of its
/// required members in lexicographic order, no whitespace. `None` for a
/// key type this server does not take.
pub fn thumbprint(jwk: &Value) -> Option<String> {
    let member = |name: &str| jwk.get(name).and_then(Value::as_str);
    // serde_json writes strings with RFC 8259 escaping and keys in the
    // order given, which is what RFC 7638 §3.3 asks for.
    let canonical = match member("kty")? {
        "EC" => format!(
            r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
            Value::from(member("crv")?),
            Value::from(member("x")?),
            Value::from(member("y")?)
        ),
        "RSA" => format!(
            r#"{{"e":{},"kty":"RSA","n":{}}}"#,
            Value::from(member("e")?),
            Value::from(member("n")?)
        ),
        "OKP" => format!(
            r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
            Value::from(member("crv")?),
            Value::from(member("x")?)
        ),
        _ => return None,
    };
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn encode(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    fn proof(header: Value, claims: Value) -> String {
        format!("{}.{}.c2ln", encode(&header), encode(&claims))
    }

    fn header() -> Value {
        json!({"typ": "dpop+jwt", "alg": "ES256",
            "jwk": {"kty": "EC", "crv": "P-256", "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs", "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}})
    }

    fn claims() -> Value {
        json!({"jti": "-BwC3ESc6acc2lTc", "htm": "POST", "htu": "https://server.example.com/token", "iat": 1_562_262_616})
    }

    #[test]
    fn section_4_2_example_reads() {
        let read = parse(&proof(header(), claims())).unwrap();
        assert_eq!(read.htm, "POST");
        assert_eq!(read.iat, 1_562_262_616);
        assert_eq!(read.signature, b"sig");
        let request = Request {
            method: "POST",
            url: "https://server.example.com/token",
            now: 1_562_262_620,
            window: 60,
            access_token: None,
        };
        assert_eq!(read.check(&request), Ok(()));
        let late = Request {
            now: 1_562_262_616 + 61,
            ..request
        };
        assert_eq!(read.check(&late), Err(ProofError::Stale));
        let get = Request {
            method: "GET",
            ..request
        };
        assert_eq!(read.check(&get), Err(ProofError::Method));
        let other = Request {
            url: "https://server.example.com/userinfo",
            ..request
        };
        assert_eq!(read.check(&other), Err(ProofError::Url));
        let at_resource = Request {
            access_token: Some("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            ..request
        };
        assert_eq!(read.check(&at_resource), Err(ProofError::AccessTokenHash));
    }

    #[test]
    fn what_section_4_3_refuses_before_any_key_is_used() {
        let with = |name: &str, value: Value| {
            let mut h = header();
            h[name] = value;
            parse(&proof(h, claims()))
        };
        assert_eq!(with("typ", json!("JWT")), Err(ProofError::Type));
        assert_eq!(with("alg", json!("none")), Err(ProofError::Algorithm));
        assert_eq!(with("alg", json!("HS256")), Err(ProofError::Algorithm));
        let mut private = header()["jwk"].clone();
        private["d"] = json!("secret");
        assert_eq!(with("jwk", private), Err(ProofError::Key));
        assert_eq!(with("jwk", json!("key")), Err(ProofError::Key));
        for claim in ["jti", "htm", "htu", "iat"] {
            let mut c = claims();
            c.as_object_mut().unwrap().remove(claim);
            assert!(
                matches!(parse(&proof(header(), c)), Err(ProofError::Claim(_))),
                "{claim}"
            );
        }
        assert!(matches!(parse("a.b"), Err(ProofError::Malformed(_))));
        assert!(matches!(parse("e30.e30.!"), Err(ProofError::Malformed(_))));
        assert!(matches!(
            parse(&"a".repeat(MAX_LEN + 1)),
            Err(ProofError::Malformed(_))
        ));
        assert_eq!(ProofError::Nonce.code(), "use_dpop_nonce");
        assert_eq!(ProofError::Replayed.code(), "invalid_dpop_proof");
    }

    #[test]
    fn htu_ignores_query_fragment_case_and_default_ports() {
        let url = "https://server.example.com/token";
        for htu in [
            "https://server.example.com/token",
            "HTTPS://Server.Example.com/token",
            "https://server.example.com:443/token?x=1",
            "https://server.example.com/token#f",
        ] {
            assert!(htu_matches(htu, url), "{htu}");
        }
        for htu in [
            "https://server.example.com/Token",
            "http://server.example.com/token",
            "https://server.example.com:8443/token",
            "https://server.example.com/token/",
            "server.example.com/token",
        ] {
            assert!(!htu_matches(htu, url), "{htu}");
        }
    }

    #[test]
    fn rfc_7638_and_9449_hashes() {
        // RFC 7638 §3.1's example key and thumbprint.
        let rsa = json!({"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"});
        assert_eq!(
            thumbprint(&rsa).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
        assert!(thumbprint(&json!({"kty": "oct", "k": "x"})).is_none());
        // RFC 9449 §7.1's example token and its ath.
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }
}
