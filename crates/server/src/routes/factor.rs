//! `/login/factor`, `/login/enrol` and `/login/continue`: the second factor
//! of a sign-in, and the step up of a signed-in session
//! (`services::oauth::authorize::Step::StepUp`).
//!
//! - After a right password, a user with a factor gets the factor page at
//!   once with a sealed pending sign-in (`web::pending`): no session exists
//!   until the code is right, so nothing can use the half.
//! - A signed-in session too weak for a request comes here by redirect: the
//!   page asks its user for a code; a user without a factor enrols a TOTP
//!   generator instead (`AUTH_MFA=required`, `--require-mfa`).
//! - Every success starts a new session (a new id, the combined RFC 8176
//!   methods, `oauth::acr::combine`) and goes on with the request.
//!
//! Codes count against the account's back-off (`services::mfa::challenge`),
//! and a wrong one gets one message whatever was wrong.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use store::{FactorKind, UserRecord};

use super::login::{
    Fields, Posted, client_id_of, declined_enrolment, expired, field, form_fields, open, opened,
    passkeys_on, signed_in,
};
use super::support::authorization_response::resume;
use crate::services::lockout;
use crate::services::mfa::{challenge, enrol};
use crate::services::oauth::authorize::{Done, enrolment_deadline, in_enrolment_grace};
use crate::services::rfc3339;
use crate::state::AppState;
use crate::web::errors::{csrf_refused, unavailable};
use crate::web::pages::{self, CodesPage, EnrolTotpPage, FactorPage};
use crate::web::{device, pending, session};

const WRONG_CODE: &str = "That code is not right, or was used already. Try the next code.";

/// Whoever is adding a factor: a pending sign-in or a signed-in session.
pub(super) struct Subject {
    pub user: UserRecord,
    /// RFC 8176 methods so far.
    pub amr: Vec<String>,
    /// The name the back-off key is made of (as typed at the login page).
    pub user_name: String,
    pub pending: Option<String>,
}

/// The pending sign-in the form carries, or else the browser's session.
pub(super) async fn subject(
    state: &AppState,
    jar: &CookieJar,
    sealed_pending: Option<&str>,
) -> Result<Option<Subject>, store::Error> {
    if let Some(sealed) = sealed_pending.filter(|p| !p.is_empty()) {
        let Some(pending) = pending::open(state, jar, sealed) else {
            return Ok(None);
        };
        return match state.store.get_user(&pending.user_id).await {
            Ok(user) if user.active => Ok(Some(Subject {
                user,
                amr: pending.amr,
                user_name: pending.user_name,
                pending: Some(sealed.to_owned()),
            })),
            Ok(_) | Err(store::Error::NotFound) => Ok(None),
            Err(e) => Err(e),
        };
    }
    Ok(session::current(state, jar).await?.map(|current| Subject {
        user_name: current.user.user_name.clone(),
        amr: current.session.data.amr,
        user: current.user,
        pending: None,
    }))
}

/// The pending sign-in or session a factor post is for, or the response
/// that starts the request again.
pub(super) async fn factor_subject(
    state: &AppState,
    jar: &CookieJar,
    fields: &Fields,
    params: &[(String, String)],
) -> Result<Subject, Response> {
    match subject(state, jar, field(fields, "pending")).await {
        Ok(Some(subject)) => Ok(subject),
        Ok(None) => Err(resume(state, jar.clone(), params.to_vec(), Done::default()).await),
        Err(e) => Err(unavailable(e)),
    }
}

/// The back-off key a second factor counts under: the account's as the
/// user name was typed, with this browser's device cookie (docs/security.md
/// 14 and 31), as the password step counted.
pub(super) fn lock_key(state: &AppState, jar: &CookieJar, user_name: &str) -> String {
    let account = lockout::account(user_name);
    device::lockout_key(state, jar, &account).unwrap_or_else(|| lockout::key(user_name))
}

pub(super) async fn factor_page(
    state: &AppState,
    jar: CookieJar,
    (authz, subject): (&str, &Subject),
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let factors = match state.store.list_factors(&subject.user.id).await {
        Ok(factors) => factors,
        Err(e) => return unavailable(e),
    };
    let passkey = passkeys_on(state) && factors.iter().any(|f| f.kind == FactorKind::Passkey);
    let nonce = if passkey {
        pages::script_nonce()
    } else {
        String::new()
    };
    let (jar, csrf) = session::csrf_token(state, jar);
    let page = FactorPage {
        user_name: &subject.user.user_name,
        authz,
        csrf: &csrf,
        pending: subject.pending.as_deref().unwrap_or_default(),
        error,
        passkey,
        totp: factors.iter().any(|f| f.kind == FactorKind::Totp),
        nonce: &nonce,
    };
    (jar, pages::render(status, &page, passkey.then_some(&nonce))).into_response()
}

/// The enrolment page for a new TOTP generator, posting to `action`.
pub(super) fn enrol_page(
    state: &AppState,
    jar: CookieJar,
    (action, authz): (&str, &str),
    user: &UserRecord,
    error: Option<&str>,
) -> Response {
    enrol_page_until(state, jar, (action, authz), user, error, None)
}

/// [`enrol_page`], offering "Not now" until `deadline` (RFC 3339).
fn enrol_page_until(
    state: &AppState,
    jar: CookieJar,
    (action, authz): (&str, &str),
    user: &UserRecord,
    error: Option<&str>,
    deadline: Option<&str>,
) -> Response {
    let offer = match enrol::offer_totp(state, user) {
        Ok(offer) => offer,
        Err(e) => return unavailable(e),
    };
    let Some(qr) = crate::web::qr::svg(offer.uri.expose()) else {
        return unavailable(std::io::Error::other(
            "the authenticator URI does not fit a QR code",
        ));
    };
    let (jar, csrf) = session::csrf_token(state, jar);
    let page = EnrolTotpPage {
        action,
        required: action == "/login/enrol",
        passkeys: action == "/login/enrol" && passkeys_on(state),
        deadline,
        qr_svg: &qr,
        base32: offer.base32.expose(),
        authz,
        csrf: &csrf,
        factor_id: &offer.factor_id,
        sealed_seed: &offer.sealed_seed,
        error,
    };
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    (jar, pages::render(status, &page, None)).into_response()
}

/// The page that shows new recovery codes (or how many are left) before
/// going on with `authz`.
pub(super) fn codes_page(
    state: &AppState,
    jar: CookieJar,
    authz: &str,
    (title, message): (&str, &str),
    codes: &[crate::secret::Secret<String>],
) -> Response {
    let (jar, csrf) = session::csrf_token(state, jar);
    let page = CodesPage {
        title,
        message,
        codes: codes.iter().map(|c| c.expose().as_str()).collect(),
        authz,
        csrf: &csrf,
    };
    (jar, pages::render(StatusCode::OK, &page, None)).into_response()
}

/// GET /login/factor: a signed-in session steps up.
pub async fn factor_form(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<Fields>,
) -> Response {
    let (sealed, params) = match opened(&state, &query) {
        Ok(opened) => opened,
        Err(response) => return *response,
    };
    let subject = match subject(&state, &jar, None).await {
        Ok(Some(subject)) => subject,
        Ok(None) => return resume(&state, jar, params, Done::default()).await,
        Err(e) => return unavailable(e),
    };
    let factors = match state.store.list_factors(&subject.user.id).await {
        Ok(factors) => factors,
        Err(e) => return unavailable(e),
    };
    let usable = |f: &&store::Factor| match f.kind {
        FactorKind::Totp => true,
        FactorKind::Passkey => passkeys_on(&state),
        FactorKind::RecoveryCodes => false,
    };
    if factors.iter().any(|f| usable(&f)) {
        factor_page(&state, jar, (&sealed, &subject), StatusCode::OK, None).await
    } else {
        enrol_page(&state, jar, ("/login/enrol", &sealed), &subject.user, None)
    }
}

/// POST /login/factor: the code of a pending sign-in or a step up.
pub async fn factor(
    State(state): State<AppState>,
    jar: CookieJar,
    Posted {
        fields,
        sealed,
        params,
    }: Posted,
) -> Response {
    let subject = match factor_subject(&state, &jar, &fields, &params).await {
        Ok(subject) => subject,
        Err(response) => return response,
    };
    let lock_key = lock_key(&state, &jar, &subject.user_name);
    let client_id = client_id_of(&params);
    let code = field(&fields, "code").unwrap_or_default();
    let (added, recovery_left) =
        match challenge::verify(&state, &subject.user, code, &lock_key, &client_id).await {
            Ok(challenge::Outcome::Passed { amr, recovery_left }) => (amr, recovery_left),
            Ok(challenge::Outcome::Refused) => {
                return factor_page(
                    &state,
                    jar,
                    (&sealed, &subject),
                    StatusCode::UNAUTHORIZED,
                    Some(WRONG_CODE),
                )
                .await;
            }
            Err(e) => return unavailable(e),
        };
    let jar = match passed(&state, jar, subject, added).await {
        Ok(jar) => jar,
        Err(response) => return *response,
    };
    match recovery_left {
        Some(left) => {
            let message = format!(
                "You signed in with a recovery code. {left} unused codes remain; make new ones on your account page if you are running out."
            );
            codes_page(&state, jar, &sealed, ("Recovery code used", &message), &[])
        }
        None => signed_in(&state, jar, params).await,
    }
}

/// A second factor passed: a new session with the combined methods (and,
/// after a password, the device remembered for the back-off).
pub(super) async fn passed(
    state: &AppState,
    jar: CookieJar,
    subject: Subject,
    added: &[&str],
) -> Result<CookieJar, Box<Response>> {
    let jar = if subject.pending.is_some() {
        device::remember(state, jar, &lockout::account(&subject.user_name))
    } else {
        jar
    };
    let amr = oauth::acr::combine(&subject.amr, added);
    match session::start(state, jar, subject.user, amr).await {
        Ok((jar, _)) => Ok(jar),
        Err(e) => Err(Box::new(unavailable(e))),
    }
}

/// GET /login/enrol: right after the password, a user whose account will
/// need a factor when its grace period ends (`AUTH_MFA_ENROLMENT_GRACE`)
/// may add one now, or go on ("Not now", `/login/continue`).
pub async fn enrol_form(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<Fields>,
) -> Response {
    let (sealed, params) = match opened(&state, &query) {
        Ok(opened) => opened,
        Err(response) => return *response,
    };
    let current = match session::current(&state, &jar).await {
        Ok(Some(current)) => current,
        Ok(None) => return resume(&state, jar, params, Done::default()).await,
        Err(e) => return unavailable(e),
    };
    let user = &current.user;
    let deadline = if in_enrolment_grace(&state, user, state.clock.now()) {
        Some(rfc3339(enrolment_deadline(&state, user)))
    } else {
        None
    };
    enrol_page_until(
        &state,
        jar,
        ("/login/enrol", &sealed),
        user,
        None,
        deadline.as_deref(),
    )
}

/// POST /login/enrol: a signed-in user without a factor adds a TOTP
/// generator because the request requires two factors.
pub async fn enrol(
    State(state): State<AppState>,
    jar: CookieJar,
    Posted {
        fields,
        sealed,
        params,
    }: Posted,
) -> Response {
    let current = match session::current(&state, &jar).await {
        Ok(Some(current)) => current,
        Ok(None) => return resume(&state, jar, params, Done::default()).await,
        Err(e) => return unavailable(e),
    };
    confirm(&state, jar, &fields, current, &sealed).await
}

/// Adds the offered generator for the session's user, then shows the first
/// recovery codes (or goes on) with a new session.
pub(super) async fn confirm(
    state: &AppState,
    jar: CookieJar,
    fields: &Fields,
    current: session::Current,
    authz: &str,
) -> Response {
    let offer = (
        field(fields, "factor_id").unwrap_or_default(),
        field(fields, "sealed_seed").unwrap_or_default(),
    );
    let name = field(fields, "name").unwrap_or_default();
    let code = field(fields, "code").unwrap_or_default();
    let action = if authz.is_empty() {
        "/account/totp"
    } else {
        "/login/enrol"
    };
    let enrolled = match enrol::confirm_totp(state, &current, offer, name, code).await {
        Ok(enrolled) => enrolled,
        Err(enrol::EnrolError::WrongCode | enrol::EnrolError::BadOffer) => {
            // The grace period's offer stays one ("Not now") if it was.
            let deadline = (field(fields, "offer") == Some("grace")
                && in_enrolment_grace(state, &current.user, state.clock.now()))
            .then(|| rfc3339(enrolment_deadline(state, &current.user)));
            return enrol_page_until(
                state,
                jar,
                (action, authz),
                &current.user,
                Some("That code does not match. Scan the new QR code and try again."),
                deadline.as_deref(),
            );
        }
        Err(e) => return unavailable(e),
    };
    let amr = oauth::acr::combine(&current.session.data.amr, &["otp"]);
    let jar = match session::start(state, jar, current.user, amr).await {
        Ok((jar, _)) => jar,
        Err(e) => return unavailable(e),
    };
    let codes = enrolled.recovery_codes.unwrap_or_default();
    codes_page(
        state,
        jar,
        authz,
        (
            "Authenticator added",
            "You will be asked for a code from it when you sign in.",
        ),
        &codes,
    )
}

/// POST /login/continue: on from a codes page.
pub async fn proceed(
    State(state): State<AppState>,
    jar: CookieJar,
    body: Result<Form<Fields>, FormRejection>,
) -> Response {
    let fields = match form_fields(body, expired) {
        Ok(fields) => fields,
        Err(response) => return *response,
    };
    if !session::csrf_ok(&state, &jar, field(&fields, "csrf_token")) {
        return csrf_refused();
    }
    let authz = field(&fields, "authz").unwrap_or_default();
    if authz.is_empty() {
        return super::account::to_account();
    }
    let Some(params) = open(&state, Some(authz)) else {
        return expired();
    };
    // "Just signed in" only if the session is minutes old: a codes page
    // left open does not satisfy prompt=login later.
    let fresh = match session::current(&state, &jar).await {
        Ok(current) => current.is_some_and(|c| state.clock.now() - c.session.auth_time < 300),
        Err(e) => return unavailable(e),
    };
    if fresh && field(&fields, "enrolment") == Some("later") {
        declined_enrolment(&state, jar, params).await
    } else if fresh {
        signed_in(&state, jar, params).await
    } else {
        resume(&state, jar, params, Done::default()).await
    }
}
