//! Pushed authorization requests (RFC 9126): the client sends the
//! authorization request's parameters to the server directly, over an
//! authenticated channel, and sends the browser to `/authorize` with only
//! `client_id` and the `request_uri` it got back. What the browser carries
//! can then neither be read nor changed on the way (§1).
//!
//! The server validates the pushed request as the authorization endpoint
//! would (§2.1), keeps it for [`LIFETIME_SECONDS`] under an unguessable
//! reference, and gives it to one authorization request only.

use serde::Serialize;

use crate::{Error, ErrorCode, Params};

/// The URN prefix of the `request_uri`s this server issues (§2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// How long a pushed request waits for its authorization request: §2.2
/// suggests between 5 and 600 seconds; it is one redirect away.
pub const LIFETIME_SECONDS: i64 = 60;

/// The pushed authorization response (§2.2), sent with 201.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushedAuthorizationResponse {
    pub request_uri: String,
    pub expires_in: i64,
}

impl PushedAuthorizationResponse {
    pub fn new(reference: &str) -> Self {
        Self {
            request_uri: format!("{REQUEST_URI_PREFIX}{reference}"),
            expires_in: LIFETIME_SECONDS,
        }
    }
}

/// The reference in a `request_uri` of ours, if it is one.
pub fn reference(request_uri: &str) -> Option<&str> {
    request_uri
        .strip_prefix(REQUEST_URI_PREFIX)
        .filter(|r| !r.is_empty() && r.len() <= 128)
}

/// The checks of §2.1 on pushed parameters that are PAR's own (the
/// request itself is judged as at `/authorize`): no `request_uri` in a
/// pushed request, and a `client_id`, if given, that is the authenticated
/// client's.
pub fn check_pushed(params: Params<'_>, authenticated: &str) -> Result<(), Error> {
    if params.get("request_uri")?.is_some() {
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            "request_uri must not be pushed (RFC 9126 section 2.1)",
        ));
    }
    match params.get("client_id")? {
        Some(id) if id != authenticated => Err(Error::new(
            ErrorCode::InvalidRequest,
            "client_id is not the authenticated client",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn request_uris_are_ours_or_not() {
        let response = PushedAuthorizationResponse::new("abc");
        assert_eq!(
            response.request_uri,
            "urn:ietf:params:oauth:request_uri:abc"
        );
        assert_eq!(reference(&response.request_uri), Some("abc"));
        assert_eq!(reference("urn:ietf:params:oauth:request_uri:"), None);
        assert_eq!(reference("https://client.example/request.jwt"), None);
        assert_eq!(
            reference(&format!("{REQUEST_URI_PREFIX}{}", "a".repeat(129))),
            None
        );
    }

    #[test]
    fn pushed_parameters() {
        let ok = pairs(&[("client_id", "c"), ("response_type", "code")]);
        assert!(check_pushed(Params(&ok), "c").is_ok());
        assert!(check_pushed(Params(&pairs(&[("response_type", "code")])), "c").is_ok());
        for bad in [
            pairs(&[("client_id", "other")]),
            pairs(&[("request_uri", "urn:ietf:params:oauth:request_uri:x")]),
            pairs(&[("client_id", "c"), ("client_id", "c")]),
        ] {
            let e = check_pushed(Params(&bad), "c").unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest, "{bad:?}");
        }
    }
}
