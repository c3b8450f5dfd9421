//! Bearer tokens in the `Authorization` header (RFC 6750 §2.1) and the
//! challenge a resource answers with (§3).

/// The token of an `Authorization` header value with the Bearer scheme
/// (case-insensitive); none for another scheme or an empty token.
pub fn token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
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
