//! Bearer tokens in the `Authorization` header (RFC 6750 §2.1), DPoP-bound
//! ones (RFC 9449 §7.1, the `DPoP` scheme), and the challenge a resource
//! answers with (RFC 6750 §3).

/// The token of an `Authorization` header value with the Bearer scheme
/// (case-insensitive); none for another scheme or an empty token.
pub fn token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// An access token in an `Authorization` header value: its scheme
/// (`Bearer`, or `DPoP` for a DPoP-bound token; case-insensitive) and the
/// token; none for another scheme or an empty token.
pub fn access_token(authorization: &str) -> Option<(bool, &str)> {
    let (scheme, token) = authorization.split_once(' ')?;
    let token = token.trim();
    if token.is_empty() {
        return None;
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        Some((false, token))
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Some((true, token))
    } else {
        None
    }
}

/// The `WWW-Authenticate` value of a refusal: the realm alone when no
/// token was presented (§3.1: no error code then), otherwise with the
/// error code and its description; and where the resource's metadata is
/// (RFC 9728 §5.1), which is how a client finds the authorization server.
pub fn challenge(error: Option<(&str, &str)>, resource_metadata: Option<&str>) -> String {
    let mut value = "Bearer realm=\"auth-service\"".to_owned();
    if let Some((code, description)) = error {
        value.push_str(&format!(
            ", error=\"{code}\", error_description=\"{}\"",
            description.replace(['"', '\\'], "")
        ));
    }
    if let Some(url) = resource_metadata {
        value.push_str(&format!(
            ", resource_metadata=\"{}\"",
            url.replace(['"', '\\'], "")
        ));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6750_tokens_and_challenges() {
        assert_eq!(token("Bearer mF_9.B5f-4.1JqM"), Some("mF_9.B5f-4.1JqM"));
        assert_eq!(token("bearer  abc "), Some("abc"));
        assert_eq!(token("Bearer "), None);
        assert_eq!(token("Basic abc"), None);
        assert_eq!(token("Bearerabc"), None);
        assert_eq!(token("DPoP abc"), None);
        assert_eq!(access_token("DPoP abc"), Some((true, "abc")));
        assert_eq!(access_token("dpop abc"), Some((true, "abc")));
        assert_eq!(access_token("Bearer abc"), Some((false, "abc")));
        assert_eq!(access_token("DPoP "), None);
        assert_eq!(access_token("Basic abc"), None);
        assert_eq!(challenge(None, None), "Bearer realm=\"auth-service\"");
        assert_eq!(
            challenge(Some(("invalid_token", "the token \"x\" expired")), None),
            "Bearer realm=\"auth-service\", error=\"invalid_token\", error_description=\"the token x expired\""
        );
        // RFC 9728 §5.1's example, with our realm.
        assert_eq!(
            challenge(
                None,
                Some("https://resource.example.com/.well-known/oauth-protected-resource")
            ),
            "Bearer realm=\"auth-service\", resource_metadata=\"https://resource.example.com/.well-known/oauth-protected-resource\""
        );
    }
}
