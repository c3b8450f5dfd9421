//! `/login` and `/consent`: the pages of an authorization transaction.
//!
//! Login: unknown user, wrong password and disabled account get the same
//! message and status, and take the same time (a dummy Argon2 verification
//! runs for unknown users; docs/security.md 13). A success starts a new session.
//! Both forms carry a CSRF token and change state only by POST
//! (docs/security.md 15). A user with a second factor goes on to
//! `super::factor` before any session exists.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use oauth::ErrorCode;
use oauth::Params;
use oauth::authorize::AuthorizationRequest;
use store::ClientRecord;

use super::support::authorization_response::{failure, redirect_error, resume};
use crate::secret::Secret;
use crate::services::lockout;
use crate::services::oauth::authorize::{self, Done};
use crate::services::oauth::{consent as consents, login};
use crate::state::AppState;
use crate::web::errors::{csrf_refused, error_page, too_large, unavailable};
use crate::web::pages::{self, LoginPage};
use crate::web::{device, pending, session, transaction};

const FAILED: &str = "Incorrect username or password.";

/// The form fields of both pages.
pub(super) type Fields = Vec<(String, String)>;

pub(super) fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    Params(fields).get(name).ok().flatten()
}

pub(super) fn expired() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidRequest,
        "This sign-in request has expired or is not valid. Return to the application and start again.",
    )
}

pub(super) fn open(state: &AppState, sealed: Option<&str>) -> Option<Vec<(String, String)>> {
    transaction::open(&state.master_key, sealed?, state.clock.now())
}

/// The sealed transaction of a page's query (`?authz=`) and its
/// parameters, or the expired-request page.
pub(super) fn opened(state: &AppState, query: &Fields) -> Result<(String, Fields), Box<Response>> {
    let sealed = field(query, "authz").unwrap_or_default().to_owned();
    match open(state, Some(&sealed)) {
        Some(params) => Ok((sealed, params)),
        None => Err(Box::new(expired())),
    }
}

/// The fields of a posted form, or the page for a form over the body limit
/// and, for any other unreadable form, `malformed`'s.
pub(super) fn form_fields(
    body: Result<Form<Fields>, FormRejection>,
    malformed: fn() -> Response,
) -> Result<Fields, Box<Response>> {
    match body {
        Ok(Form(fields)) => Ok(fields),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(Box::new(too_large())),
        Err(_) => Err(Box::new(malformed())),
    }
}

/// A form posted by one of the pages of an authorization transaction.
pub(super) struct Posted {
    pub fields: Fields,
    /// The sealed transaction, as posted (for the next page).
    pub sealed: String,
    /// Its parameters, opened.
    pub params: Vec<(String, String)>,
}

/// The form and the browser's cookies of a request, for the extractors of
/// posted pages ([`Posted`], `super::account::Checked`).
pub(super) async fn form_and_cookies(
    request: Request,
    state: &AppState,
) -> (Result<Form<Fields>, FormRejection>, CookieJar) {
    let (mut parts, body) = request.into_parts();
    let jar = match CookieJar::from_request_parts(&mut parts, state).await {
        Ok(jar) => jar,
        Err(never) => match never {},
    };
    let form = Form::<Fields>::from_request(Request::from_parts(parts, body), state).await;
    (form, jar)
}

/// Reads a posted form: its transaction must open and its CSRF token
/// match the browser's (docs/security.md 15); otherwise the page that says
/// which.
impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (body, jar) = form_and_cookies(request, state).await;
        let fields = form_fields(body, expired).map_err(|response| *response)?;
        let sealed = field(&fields, "authz").unwrap_or_default().to_owned();
        let params = open(state, Some(&sealed)).ok_or_else(expired)?;
        if !session::csrf_ok(state, &jar, field(&fields, "csrf_token")) {
            return Err(csrf_refused());
        }
        Ok(Posted {
            fields,
            sealed,
            params,
        })
    }
}

/// The `client_id` of a transaction's request, for the log ("" for none).
pub(super) fn client_id_of(params: &[(String, String)]) -> String {
    Params(params)
        .get("client_id")
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_owned()
}

pub(super) async fn login_page(
    state: &AppState,
    jar: CookieJar,
    sealed: &str,
    params: &[(String, String)],
    username: &str,
    error: Option<&str>,
) -> Response {
    let client_name = if transaction::is_account(params) {
        "your account".to_owned()
    } else if let Some(url) = transaction::forward_of(params) {
        crate::services::forward_auth::authority(url)
            .unwrap_or(url)
            .to_owned()
    } else if let Some(user_code_hash) = transaction::device_of(params) {
        match super::device::client_name(state, user_code_hash).await {
            Ok(name) => name,
            Err(response) => return response,
        }
    } else {
        match authorize::load(state, Params(params)).await {
            Ok((client, _)) => client.name,
            Err(e) => return failure(state, e),
        }
    };
    let (jar, csrf) = session::csrf_token(state, jar);
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let passkeys = passkeys_on(state);
    let nonce = if passkeys {
        pages::script_nonce()
    } else {
        String::new()
    };
    let page = LoginPage {
        client_name: &client_name,
        authz: sealed,
        csrf: &csrf,
        username,
        error,
        passkeys,
        nonce: &nonce,
    };
    (
        jar,
        pages::render(status, &page, passkeys.then_some(&nonce)),
    )
        .into_response()
}

pub async fn login_form(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<Fields>,
) -> Response {
    let (sealed, params) = match opened(&state, &query) {
        Ok(opened) => opened,
        Err(response) => return *response,
    };
    let hint = Params(&params)
        .get("login_hint")
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_owned();
    login_page(&state, jar, &sealed, &params, &hint, None).await
}

pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    Posted {
        fields,
        sealed,
        params,
    }: Posted,
) -> Response {
    let username = field(&fields, "username").unwrap_or_default().to_owned();
    let password = Secret::new(field(&fields, "password").unwrap_or_default().to_owned());
    let client_id = client_id_of(&params);
    let account = lockout::account(&username);
    let credentials = login::Credentials {
        user_name: &username,
        password,
        client_id: &client_id,
        device_key: device::lockout_key(&state, &jar, &account),
    };
    let user = match login::attempt(&state, credentials).await {
        Ok(login::Outcome::SignedIn(user)) => user,
        Ok(login::Outcome::SecondFactor(user)) => {
            let (jar, csrf) = session::csrf_token(&state, jar);
            let pending = pending::seal(&state, &csrf, &user.id, &username, vec!["pwd".to_owned()]);
            let subject = super::factor::Subject {
                user: *user,
                amr: vec!["pwd".to_owned()],
                user_name: username,
                pending: Some(pending),
            };
            return super::factor::factor_page(
                &state,
                jar,
                (&sealed, &subject),
                StatusCode::OK,
                None,
            )
            .await;
        }
        Ok(login::Outcome::Refused) => {
            // A name no account can have is not echoed back into the page.
            let valid = crate::services::users::is_valid_name(&username);
            let shown = if valid { username.as_str() } else { "" };
            return login_page(&state, jar, &sealed, &params, shown, Some(FAILED)).await;
        }
        Err(e) => return unavailable(e),
    };
    let jar = device::remember(&state, jar, &account);
    match session::start(&state, jar, *user, vec!["pwd".to_owned()]).await {
        Ok((jar, _)) => signed_in(&state, jar, params).await,
        Err(e) => unavailable(e),
    }
}

/// Whether this build and configuration offer passkeys
/// (`services::mfa::passkey`; off when the issuer's host is an IP address).
pub(super) fn passkeys_on(state: &AppState) -> bool {
    #[cfg(feature = "passkeys")]
    return state.passkeys.is_some();
    #[cfg(not(feature = "passkeys"))]
    {
        let _ = state;
        false
    }
}

/// Where a browser goes once its user has (just) signed in: on with the
/// authorization request, or to the account page.
pub(super) async fn signed_in(
    state: &AppState,
    jar: CookieJar,
    params: Vec<(String, String)>,
) -> Response {
    go_on(state, jar, params, false).await
}

/// As [`signed_in`], the user having declined to enrol a factor during the
/// grace period (`Step::OfferEnrolment`).
pub(super) async fn declined_enrolment(
    state: &AppState,
    jar: CookieJar,
    params: Vec<(String, String)>,
) -> Response {
    go_on(state, jar, params, true).await
}

async fn go_on(
    state: &AppState,
    jar: CookieJar,
    params: Vec<(String, String)>,
    enrolment_declined: bool,
) -> Response {
    if transaction::is_account(&params) {
        return (jar, super::account::to_account()).into_response();
    }
    let done = Done {
        signed_in: true,
        consented: false,
        enrolment_declined,
    };
    resume(state, jar, params, done).await
}

/// What both consent handlers need: the client, the validated request, and
/// the signed-in user. Signed out meanwhile: start again from the request.
async fn consent_context(
    state: &AppState,
    jar: &CookieJar,
    params: &[(String, String)],
) -> Result<(ClientRecord, AuthorizationRequest, session::Current), Response> {
    let (client, request) = authorize::load(state, Params(params))
        .await
        .map_err(|e| failure(state, e))?;
    match session::current(state, jar).await {
        Ok(Some(current)) => Ok((client, request, current)),
        Ok(None) => Err(resume(state, jar.clone(), params.to_vec(), Done::default()).await),
        Err(e) => Err(unavailable(e)),
    }
}

pub async fn consent_form(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<Fields>,
) -> Response {
    let (sealed, params) = match opened(&state, &query) {
        Ok(opened) => opened,
        Err(response) => return *response,
    };
    let (client, request, current) = match consent_context(&state, &jar, &params).await {
        Ok(context) => context,
        Err(response) => return response,
    };
    let asked = Asked {
        scopes: request.scope.iter().collect(),
        apis: request.resources.iter().map(|r| r.as_str()).collect(),
        device: false,
    };
    consent_page(&state, jar, (&client, &current), asked, &sealed)
}

/// What a consent page asks the user to allow.
pub(super) struct Asked<'a> {
    pub scopes: Vec<&'a str>,
    pub apis: Vec<&'a str>,
    /// A device authorization's (`super::device`), not a redirect's.
    pub device: bool,
}

/// The consent page of `client` for the signed-in `current` user; also
/// the device flow's decision page.
pub(super) fn consent_page(
    state: &AppState,
    jar: CookieJar,
    (client, current): (&ClientRecord, &session::Current),
    asked: Asked<'_>,
    sealed: &str,
) -> Response {
    let (jar, csrf) = session::csrf_token(state, jar);
    let page = pages::ConsentPage {
        client_name: &client.name,
        user_name: &current.user.user_name,
        scopes: asked.scopes,
        apis: asked.apis,
        self_registered: client.metadata.registration.is_some()
            || client.metadata.metadata_document.is_some(),
        authz: sealed,
        csrf: &csrf,
        device: asked.device,
    };
    (jar, pages::render(StatusCode::OK, &page, None)).into_response()
}

pub async fn consent(
    State(state): State<AppState>,
    jar: CookieJar,
    Posted { fields, params, .. }: Posted,
) -> Response {
    let (client, request, current) = match consent_context(&state, &jar, &params).await {
        Ok(context) => context,
        Err(response) => return response,
    };
    if field(&fields, "decision") != Some("allow") {
        consents::denied(&current.user.id, &client.client_id);
        return redirect_error(
            &state,
            &request.redirect,
            ErrorCode::AccessDenied,
            "the user denied the request",
        );
    }
    if let Err(e) =
        consents::grant(&state, &current.user.id, &client.client_id, &request.scope).await
    {
        return unavailable(e);
    }
    resume(
        &state,
        jar,
        params,
        Done {
            consented: true,
            ..Done::default()
        },
    )
    .await
}
