//! `/login` and `/consent`: the pages of an authorization transaction.
//!
//! Login: unknown user, wrong password and disabled account get the same
//! message and status, and take the same time (a dummy Argon2 verification
//! runs for unknown users; docs/security.md 13). A success starts a new session.
//! Both forms carry a CSRF token and change state only by POST
//! (docs/security.md 15).

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use oauth::ErrorCode;
use oauth::authorize::{AuthorizationRequest, Params};
use store::{Attempt, ClientRecord, Consent};

use super::authorize::{Done, load, redirect_error, resume};
use crate::secret::Secret;
use crate::services::lockout;
use crate::state::AppState;
use crate::web::errors::{csrf_refused, error_page, too_large, unavailable};
use crate::web::pages::{self, Login};
use crate::web::{device, session, transaction};

const FAILED: &str = "Incorrect username or password.";

/// The form fields of both pages.
type Fields = Vec<(String, String)>;

fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    Params(fields).get(name).ok().flatten()
}

fn expired() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidRequest,
        "This sign-in request has expired or is not valid. Return to the application and start again.",
    )
}

fn open(state: &AppState, sealed: Option<&str>) -> Option<Vec<(String, String)>> {
    transaction::open(&state.master_key, sealed?, state.clock.now())
}

async fn login_page(
    state: &AppState,
    jar: CookieJar,
    sealed: &str,
    params: &[(String, String)],
    username: &str,
    error: Option<&str>,
) -> Response {
    let (client, _) = match load(state, params).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    let (jar, csrf) = session::csrf_token(state, jar);
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let page = Login {
        client_name: &client.name,
        authz: sealed,
        csrf: &csrf,
        username,
        error,
    };
    (jar, pages::render(status, &page, None)).into_response()
}

pub async fn login_form(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<Fields>,
) -> Response {
    let sealed = field(&query, "authz").unwrap_or_default().to_owned();
    let Some(params) = open(&state, Some(&sealed)) else {
        return expired();
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
    body: Result<Form<Fields>, FormRejection>,
) -> Response {
    let fields = match body {
        Ok(Form(fields)) => fields,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
        Err(_) => return expired(),
    };
    let sealed = field(&fields, "authz").unwrap_or_default().to_owned();
    let Some(params) = open(&state, Some(&sealed)) else {
        return expired();
    };
    if !session::csrf_ok(&state, &jar, field(&fields, "csrf_token")) {
        return csrf_refused();
    }
    let username = field(&fields, "username").unwrap_or_default().to_owned();
    let password = Secret::new(field(&fields, "password").unwrap_or_default().to_owned());
    // A name no account can have is refused before any store call or lock
    // key is made of it (docs/security.md 23): the same limit as SCIM userName.
    if !crate::services::users::is_valid_name(&username) {
        metrics::counter!("auth_login_attempts_total", "outcome" => "failure", "reason" => "invalid_credentials").increment(1);
        return login_page(&state, jar, &sealed, &params, "", Some(FAILED)).await;
    }

    let user = match state.store.get_user_by_name(&username).await {
        Ok(user) => Some(user),
        Err(store::Error::NotFound) => None,
        Err(e) => {
            return unavailable(e);
        }
    };
    let client_id = Params(&params)
        .get("client_id")
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_owned();
    let user_id = user.as_ref().map(|u| u.id.clone()).unwrap_or_default();
    // Counted before the check, so parallel guesses share one budget. A
    // browser this account signed in from before has a budget of its own.
    let account = lockout::account(&username);
    let lock_key =
        device::lockout_key(&state, &jar, &account).unwrap_or_else(|| lockout::key(&username));
    let attempt = match state
        .store
        .register_attempt(&lock_key, &state.config.lockout)
        .await
    {
        Ok(attempt) => attempt,
        Err(e) => return unavailable(e),
    };
    if let Attempt::Locked { until } = attempt {
        // docs/security.md 13: the same work and the same answer as a wrong password.
        let _ = state.passwords.verify(password, None).await;
        metrics::counter!("auth_login_attempts_total", "outcome" => "failure", "reason" => "locked").increment(1);
        tracing::warn!(
            category = "security",
            event = "account_locked",
            user_id = %user_id,
            client_id = %client_id,
            locked_until = %crate::services::rfc3339(until),
            outcome = "failure",
            "login refused: the account is locked after failed logins"
        );
        return login_page(&state, jar, &sealed, &params, &username, Some(FAILED)).await;
    }
    // The account's state is decided before and apart from the password: an
    // inactive account is checked against the dummy hash, so nothing (not
    // even the log) learns whether a guess for it was right (docs/security.md 22).
    let active = user.as_ref().filter(|u| u.active);
    let hash = active.and_then(|u| u.password_hash.clone());
    let matches = match state.passwords.verify(password, hash).await {
        Ok(matches) => matches,
        Err(e) => {
            return unavailable(e);
        }
    };
    let outcome = match (&user, active) {
        (None, _) => Err("unknown_user"),
        (Some(_), None) => Err("inactive"),
        (Some(_), Some(_)) if !matches => Err("bad_password"),
        (Some(_), Some(user)) => Ok(user.clone()),
    };
    match outcome {
        Err(reason) => {
            // One public reason for all three: the log (not public) keeps the detail.
            metrics::counter!("auth_login_attempts_total", "outcome" => "failure", "reason" => "invalid_credentials").increment(1);
            tracing::info!(
                category = "security",
                event = "authentication_failure",
                user_id = user.as_ref().map(|u| u.id.as_str()).unwrap_or_default(),
                client_id = %client_id,
                reason,
                outcome = "failure",
                "login failed"
            );
            if let Attempt::Allowed { failures } = attempt
                && state.config.lockout.delay(failures) > 0
            {
                metrics::counter!("auth_lockouts_total").increment(1);
                tracing::warn!(
                    category = "security",
                    event = "account_locked",
                    user_id = %user_id,
                    client_id = %client_id,
                    failures,
                    lock_seconds = state.config.lockout.delay(failures),
                    outcome = "failure",
                    "too many failed logins: the account waits before the next check"
                );
            }
            login_page(&state, jar, &sealed, &params, &username, Some(FAILED)).await
        }
        Ok(user) => {
            if let Err(e) = state.store.clear_attempts(&lock_key).await {
                return unavailable(e);
            }
            metrics::counter!("auth_login_attempts_total", "outcome" => "success", "reason" => "password").increment(1);
            tracing::info!(category = "security", event = "authentication_success", user_id = %user.id, client_id = %client_id, outcome = "success", "login succeeded");
            let jar = device::remember(&state, jar, &account);
            match session::start(&state, jar, user).await {
                Ok((jar, _)) => {
                    resume(
                        &state,
                        jar,
                        params,
                        Done {
                            logged_in: true,
                            consented: false,
                        },
                    )
                    .await
                }
                Err(e) => unavailable(e),
            }
        }
    }
}

/// What both consent handlers need: the client, the validated request, and
/// the signed-in user. Signed out meanwhile: start again from the request.
async fn consent_context(
    state: &AppState,
    jar: &CookieJar,
    params: &[(String, String)],
) -> Result<(ClientRecord, AuthorizationRequest, session::Current), Response> {
    let (client, request) = load(state, params).await?;
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
    let sealed = field(&query, "authz").unwrap_or_default().to_owned();
    let Some(params) = open(&state, Some(&sealed)) else {
        return expired();
    };
    let (client, request, current) = match consent_context(&state, &jar, &params).await {
        Ok(context) => context,
        Err(response) => return response,
    };
    let (jar, csrf) = session::csrf_token(&state, jar);
    let page = pages::Consent {
        client_name: &client.name,
        user_name: &current.user.user_name,
        scopes: request.scope.iter().collect(),
        authz: &sealed,
        csrf: &csrf,
    };
    (jar, pages::render(StatusCode::OK, &page, None)).into_response()
}

pub async fn consent(
    State(state): State<AppState>,
    jar: CookieJar,
    body: Result<Form<Fields>, FormRejection>,
) -> Response {
    let fields = match body {
        Ok(Form(fields)) => fields,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
        Err(_) => return expired(),
    };
    let Some(params) = open(&state, field(&fields, "authz")) else {
        return expired();
    };
    if !session::csrf_ok(&state, &jar, field(&fields, "csrf_token")) {
        return csrf_refused();
    }
    let (client, request, current) = match consent_context(&state, &jar, &params).await {
        Ok(context) => context,
        Err(response) => return response,
    };
    if field(&fields, "decision") != Some("allow") {
        tracing::info!(category = "security", event = "consent_denied", user_id = %current.user.id, client_id = %client.client_id, outcome = "failure", "consent denied");
        return redirect_error(
            &state,
            &request.redirect,
            ErrorCode::AccessDenied,
            "the user denied the request",
        );
    }
    let mut scopes: Vec<String> = match state
        .store
        .get_consent(&current.user.id, &client.client_id)
        .await
    {
        Ok(previous) => previous.scopes,
        Err(_) => Vec::new(),
    };
    scopes.extend(request.scope.iter().map(str::to_owned));
    scopes.sort();
    scopes.dedup();
    let consent = Consent {
        user_id: current.user.id.clone(),
        client_id: client.client_id.clone(),
        scopes,
        granted_at: state.clock.now(),
    };
    if let Err(e) = state.store.put_consent(&consent).await {
        return unavailable(e);
    }
    tracing::info!(category = "security", event = "consent_granted", user_id = %current.user.id, client_id = %client.client_id, outcome = "success", "consent granted");
    resume(
        &state,
        jar,
        params,
        Done {
            logged_in: false,
            consented: true,
        },
    )
    .await
}
