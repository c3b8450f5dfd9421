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
/// error code and its description.
pub fn challenge(error: Option<(&str, &str)>) -> String {
    match error {
        Some((code, description)) => format!(
            "Bearer realm=\"auth-service\", error=\"{code}\", error_description=\"{}\"",
            description.replace(['"', '\\'], "")
        ),
        None => "Bearer realm=\"auth-service\"".to_owned(),
    }
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
        assert_eq!(challenge(None), "Bearer realm=\"auth-service\"");
        assert_eq!(
            challenge(Some(("invalid_token", "the token \"x\" expired"))),
            "Bearer realm=\"auth-service\", error=\"invalid_token\", error_description=\"the token x expired\""
        );
    }
}
