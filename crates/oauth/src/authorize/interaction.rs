//! What the user must still do before an authorization request can be
//! answered with a code (OpenID Connect Core §3.1.2.3 and §3.1.2.4):
//! sign in, add a factor (step up), consent, or nothing. With `prompt=none`
//! a needed interaction is an error sent to the client instead (§3.1.2.6).
//!
//! Two steps, asked in order, so that the consent record is read only
//! when the session is good enough: [`sign_in_step`], then
//! [`consent_step`].

use super::AuthorizationRequest;
use crate::acr::Level;
use crate::{Error, ErrorCode, Scope};

/// The next step of an authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Nothing more is needed from the user at this step.
    Proceed,
    /// Show the login page.
    SignIn,
    /// The session is too weak for the request: ask the signed-in user for
    /// another factor (or to enrol one), keeping the session.
    StepUp(Level),
    /// Show the consent page.
    Consent,
    /// The user must interact but the client said `prompt=none`: send this
    /// error (`login_required`, `interaction_required`, `consent_required`)
    /// to its redirect URI.
    Refuse(Error),
}

/// What the browser's session says of its authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authenticated {
    pub auth_time: i64,
    pub level: Level,
}

/// Whether the browser's session is good enough for `request`.
/// `session` is `None` when nobody is signed in; `required` is the level
/// the client and the server's policy demand, on top of the request's own
/// `acr_values`; `just_signed_in` is true right after our login page, which
/// satisfies `prompt=login` and `max_age` by definition. A session too weak
/// for the level is stepped up, not ended: the user keeps it and adds a
/// factor.
pub fn sign_in_step(
    request: &AuthorizationRequest,
    session: Option<Authenticated>,
    required: Option<Level>,
    just_signed_in: bool,
    now: i64,
) -> Next {
    // max_age=0 asks for a new authentication even within the second the
    // session began (§3.1.2.1, as prompt=login).
    let too_old = |auth_time: i64| {
        request
            .max_age
            .is_some_and(|max| max == 0 || now - auth_time > max)
    };
    let fresh =
        session.filter(|s| just_signed_in || (!request.prompt.login && !too_old(s.auth_time)));
    let Some(session) = fresh else {
        return if request.prompt.none {
            Next::Refuse(Error::new(
                ErrorCode::LoginRequired,
                "the user is not signed in",
            ))
        } else {
            Next::SignIn
        };
    };
    match required.max(request.acr) {
        Some(level) if session.level < level && request.prompt.none => Next::Refuse(Error::new(
            ErrorCode::InteractionRequired,
            "the session does not reach the requested authentication level",
        )),
        Some(level) if session.level < level => Next::StepUp(level),
        _ => Next::Proceed,
    }
}

/// Whether the user's consent covers `request`. `granted` is the scope the
/// user consented to for this client before, if any; `just_consented` is
/// true right after our consent page.
pub fn consent_step(
    request: &AuthorizationRequest,
    granted: Option<&Scope>,
    just_consented: bool,
) -> Next {
    if just_consented {
        return Next::Proceed;
    }
    let covered = granted.is_some_and(|g| request.scope.is_subset(g));
    if covered && !request.prompt.consent {
        return Next::Proceed;
    }
    if request.prompt.none {
        return Next::Refuse(Error::new(
            ErrorCode::ConsentRequired,
            "the user has not consented",
        ));
    }
    Next::Consent
}

#[cfg(test)]
mod tests {
    use super::super::{Prompt, Redirect, ResponseMode};
    use super::*;
    use crate::CodeChallenge;

    fn request(prompt: Prompt, max_age: Option<i64>) -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: "web".into(),
            redirect: Redirect {
                uri: "https://app.example/cb".into(),
                mode: ResponseMode::Query,
                state: None,
            },
            scope: Scope::parse("openid email").unwrap(),
            nonce: None,
            code_challenge: CodeChallenge::from_stored(
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            ),
            prompt,
            max_age,
            acr: None,
            login_hint: None,
            resources: Vec::new(),
        }
    }

    fn signed_in(auth_time: i64) -> Option<Authenticated> {
        Some(Authenticated {
            auth_time,
            level: Level::Password,
        })
    }

    fn code(next: Next) -> Option<ErrorCode> {
        match next {
            Next::Refuse(e) => Some(e.code),
            _ => None,
        }
    }

    #[test]
    fn a_session_is_enough_unless_the_client_asks_for_more() {
        let plain = request(Prompt::default(), None);
        assert_eq!(
            sign_in_step(&plain, signed_in(100), None, false, 200),
            Next::Proceed
        );
        assert_eq!(sign_in_step(&plain, None, None, false, 200), Next::SignIn);
        // prompt=login and max_age force a new sign-in (§3.1.2.1), which
        // our own login page has just done.
        let login = Prompt {
            login: true,
            ..Prompt::default()
        };
        assert_eq!(
            sign_in_step(&request(login, None), signed_in(100), None, false, 200),
            Next::SignIn
        );
        assert_eq!(
            sign_in_step(&request(login, None), signed_in(200), None, true, 200),
            Next::Proceed
        );
        let max_age = request(Prompt::default(), Some(60));
        assert_eq!(
            sign_in_step(&max_age, signed_in(140), None, false, 200),
            Next::Proceed
        );
        assert_eq!(
            sign_in_step(&max_age, signed_in(139), None, false, 200),
            Next::SignIn
        );
        let none = Prompt {
            none: true,
            ..Prompt::default()
        };
        assert_eq!(
            code(sign_in_step(&request(none, None), None, None, false, 200)),
            Some(ErrorCode::LoginRequired)
        );
        assert_eq!(
            sign_in_step(&request(none, None), signed_in(100), None, false, 200),
            Next::Proceed
        );
    }

    #[test]
    fn a_weaker_session_is_stepped_up_not_refused() {
        let plain = request(Prompt::default(), None);
        assert_eq!(
            sign_in_step(&plain, signed_in(100), Some(Level::Mfa), false, 200),
            Next::StepUp(Level::Mfa)
        );
        let mfa = Some(Authenticated {
            auth_time: 100,
            level: Level::Mfa,
        });
        assert_eq!(
            sign_in_step(&plain, mfa, Some(Level::Mfa), false, 200),
            Next::Proceed
        );
        // The request's acr_values raise the level; they never lower it.
        let phr = AuthorizationRequest {
            acr: Some(Level::PhishingResistant),
            ..request(Prompt::default(), None)
        };
        assert_eq!(
            sign_in_step(&phr, mfa, None, false, 200),
            Next::StepUp(Level::PhishingResistant)
        );
        let low = AuthorizationRequest {
            acr: Some(Level::Password),
            ..request(Prompt::default(), None)
        };
        assert_eq!(
            sign_in_step(&low, signed_in(100), Some(Level::Mfa), false, 200),
            Next::StepUp(Level::Mfa)
        );
        // Just signed in with a password is still too weak.
        assert_eq!(
            sign_in_step(&plain, signed_in(200), Some(Level::Mfa), true, 200),
            Next::StepUp(Level::Mfa)
        );
        // prompt=none cannot step up (OpenID Connect Core §3.1.2.6).
        let none = Prompt {
            none: true,
            ..Prompt::default()
        };
        assert_eq!(
            code(sign_in_step(
                &request(none, None),
                signed_in(100),
                Some(Level::Mfa),
                false,
                200
            )),
            Some(ErrorCode::InteractionRequired)
        );
        // max_age=0 wants a fresh sign-in, whatever the level.
        let now = request(Prompt::default(), Some(0));
        assert_eq!(sign_in_step(&now, mfa, None, false, 200), Next::SignIn);
        assert_eq!(
            sign_in_step(&now, signed_in(200), None, false, 200),
            Next::SignIn
        );
        assert_eq!(
            sign_in_step(&now, signed_in(200), None, true, 200),
            Next::Proceed
        );
    }

    #[test]
    fn consent_must_cover_every_requested_scope() {
        let plain = request(Prompt::default(), None);
        let all = Scope::parse("openid email profile").unwrap();
        let some = Scope::parse("openid").unwrap();
        assert_eq!(consent_step(&plain, Some(&all), false), Next::Proceed);
        assert_eq!(consent_step(&plain, Some(&some), false), Next::Consent);
        assert_eq!(consent_step(&plain, None, false), Next::Consent);
        assert_eq!(consent_step(&plain, None, true), Next::Proceed);
        let again = Prompt {
            consent: true,
            ..Prompt::default()
        };
        assert_eq!(
            consent_step(&request(again, None), Some(&all), false),
            Next::Consent
        );
        let none = Prompt {
            none: true,
            ..Prompt::default()
        };
        assert_eq!(
            code(consent_step(&request(none, None), Some(&some), false)),
            Some(ErrorCode::ConsentRequired)
        );
        assert_eq!(
            consent_step(&request(none, None), Some(&all), false),
            Next::Proceed
        );
    }
}
