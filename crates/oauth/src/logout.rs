//! RP-Initiated Logout 1.0 (§2, §3): the logout request, and whether an
//! `id_token_hint` is enough to end the session without asking the user.
//!
//! What a relying party may ask is decided here; the server checks the
//! hint's signature, the client's registration and the session around it.

use crate::{Error, ErrorCode, Params};

/// A logout request's parameters (§2), each at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogoutRequest<'a> {
    pub id_token_hint: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub post_logout_redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
}

impl<'a> LogoutRequest<'a> {
    pub fn parse(params: Params<'a>) -> Result<Self, Error> {
        Ok(Self {
            id_token_hint: params.get("id_token_hint")?,
            client_id: params.get("client_id")?,
            post_logout_redirect_uri: params.get("post_logout_redirect_uri")?,
            state: params.get("state")?,
        })
    }

    /// The client the request is for: `client_id`, or the hint's
    /// audience; both given, they must agree (§2).
    pub fn client<'h>(&self, hinted: Option<&'h str>) -> Result<Option<&'h str>, Error>
    where
        'a: 'h,
    {
        match (self.client_id, hinted) {
            (Some(given), Some(hinted)) if given != hinted => Err(Error::new(
                ErrorCode::InvalidRequest,
                "client_id does not match the id_token_hint",
            )),
            (Some(given), _) => Ok(Some(given)),
            (None, hinted) => Ok(hinted),
        }
    }
}

/// Where the browser goes after a logout: the registered
/// `post_logout_redirect_uri`, with the request's `state` (§3).
pub fn redirect_location(post_logout_redirect_uri: &str, state: Option<&str>) -> String {
    match state {
        Some(state) => crate::authorize::with_query(post_logout_redirect_uri, &[("state", state)]),
        None => post_logout_redirect_uri.to_owned(),
    }
}

/// What an ID token used as a hint says about the session it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint<'a> {
    pub sub: Option<&'a str>,
    pub sid: Option<&'a str>,
    pub exp: Option<i64>,
}

/// The session the browser presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedIn<'a> {
    pub sub: &'a str,
    pub sid: &'a str,
}

/// Whether the logout may proceed without asking the user: only an
/// unexpired hint issued in this very session (its `sub` and `sid`). An
/// expired hint, or one from another session (a token an attacker holds,
/// replayed in a link), asks: §2 leaves the choice to the OP and §6 warns
/// of logout as a nuisance attack. With nobody signed in there is nothing
/// to ask about.
pub fn ends_without_asking(
    hint: Option<Hint<'_>>,
    current: Option<SignedIn<'_>>,
    now: i64,
) -> bool {
    let Some(current) = current else {
        return true;
    };
    hint.is_some_and(|hint| {
        hint.exp.is_some_and(|exp| exp > now)
            && hint.sub == Some(current.sub)
            && hint.sid == Some(current.sid)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::pairs;

    #[test]
    fn parameters_appear_at_most_once_and_the_client_must_agree() {
        let raw = pairs(&[("client_id", "web"), ("state", "s")]);
        let request = LogoutRequest::parse(Params(&raw)).unwrap();
        assert_eq!(request.client(None).unwrap(), Some("web"));
        assert_eq!(request.client(Some("web")).unwrap(), Some("web"));
        assert_eq!(
            request.client(Some("other")).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        let hinted_only = LogoutRequest::default();
        assert_eq!(hinted_only.client(Some("app")).unwrap(), Some("app"));
        let raw = pairs(&[
            ("post_logout_redirect_uri", "a"),
            ("post_logout_redirect_uri", "b"),
        ]);
        assert!(LogoutRequest::parse(Params(&raw)).is_err());
    }

    #[test]
    fn the_state_goes_back_with_the_browser() {
        assert_eq!(
            redirect_location("https://app.example/bye", Some("x y")),
            "https://app.example/bye?state=x+y"
        );
        assert_eq!(
            redirect_location("https://app.example/bye?a=1", None),
            "https://app.example/bye?a=1"
        );
    }

    #[test]
    fn only_a_fresh_hint_from_this_session_skips_the_question() {
        let me = SignedIn {
            sub: "u1",
            sid: "s1",
        };
        let hint = |sub, sid, exp| {
            Some(Hint {
                sub: Some(sub),
                sid: Some(sid),
                exp: Some(exp),
            })
        };
        assert!(ends_without_asking(hint("u1", "s1", 200), Some(me), 100));
        assert!(!ends_without_asking(hint("u1", "s1", 100), Some(me), 100));
        assert!(!ends_without_asking(hint("u1", "s2", 200), Some(me), 100));
        assert!(!ends_without_asking(hint("u2", "s1", 200), Some(me), 100));
        assert!(!ends_without_asking(None, Some(me), 100));
        assert!(ends_without_asking(None, None, 100));
        assert!(ends_without_asking(hint("u1", "s1", 200), None, 100));
        assert!(ends_without_asking(hint("u1", "s1", 50), None, 100));
        let no_sid = Some(Hint {
            sub: Some("u1"),
            sid: None,
            exp: Some(200),
        });
        assert!(!ends_without_asking(no_sid, Some(me), 100));
    }
}
