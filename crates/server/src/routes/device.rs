//! `/device` and `/device/confirm`: the verification page of the device
//! authorization grant (RFC 8628 §3.3), where the user enters the code the
//! device shows, signs in (the second factor and step-up apply as at
//! `/authorize`), sees which client asks for what, and approves or denies.
//!
//! Between these pages the authorization travels as a sealed transaction
//! naming the user code's hash (`web::transaction::device_params`), so the
//! code is checked once, at `POST /device`, where guessing is bounded per
//! IP (the `user_code` limit of `support::rate_limit`) and across all
//! addresses (`user_code_global`; §5.1; docs/security.md 32). A code that
//! matches nothing, or an authorization already decided, is refused
//! alike: a user code is single-use.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use oauth::ErrorCode;
use oauth::device::UserCode;

use super::login::{Asked, Fields, Posted, consent_page, field, form_fields, opened};
use super::support::authorization_response::to_page;
use super::support::rate_limit::{self, Verdict};
use crate::services::oauth::authorize::Done;
use crate::services::oauth::device::{self, Pending, Step};
use crate::state::AppState;
use crate::web::errors::{csrf_refused, error_page, unavailable};
use crate::web::pages::{self, DevicePage, Message};
use crate::web::{session, transaction};

const REFUSED: &str = "That code is not valid, has expired or has been used. Check the code your device shows, or start again on the device.";

/// GET /device: the code form, filled in from `verification_uri_complete`
/// (§3.3.1). The user still presses Continue, so a link alone decides
/// nothing.
pub async fn form(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<Fields>,
) -> Response {
    let typed = field(&query, "user_code").unwrap_or_default();
    // Shown back only in its canonical form: nothing else is echoed.
    let shown = UserCode::parse(typed).map(|c| c.display());
    code_page(
        &state,
        jar,
        StatusCode::OK,
        shown.as_deref().unwrap_or_default(),
        None,
    )
}

fn code_page(
    state: &AppState,
    jar: CookieJar,
    status: StatusCode,
    user_code: &str,
    error: Option<&str>,
) -> Response {
    let (jar, csrf) = session::csrf_token(state, jar);
    let page = DevicePage {
        csrf: &csrf,
        user_code,
        error,
    };
    (jar, pages::render(status, &page, None)).into_response()
}

fn malformed() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidRequest,
        "The form is not valid. Go back and try again.",
    )
}

/// POST /device: the code the user entered.
pub async fn enter(
    State(state): State<AppState>,
    jar: CookieJar,
    body: Result<Form<Fields>, FormRejection>,
) -> Response {
    let fields = match form_fields(body, malformed) {
        Ok(fields) => fields,
        Err(response) => return *response,
    };
    if !session::csrf_ok(&state, &jar, field(&fields, "csrf_token")) {
        return csrf_refused();
    }
    if let Some(rate) = state.config.rate_limits.user_code_global {
        match rate_limit::check(&state, "user_code_global", "all", rate).await {
            Verdict::Admit => {}
            verdict => return rate_limit::page_answer(verdict),
        }
    }
    let typed = field(&fields, "user_code").unwrap_or_default();
    let found = match UserCode::parse(typed) {
        Some(code) => {
            let hash = device::user_code_hash(&state, &code);
            match device::pending(&state, &hash).await {
                Ok(found) => found.map(|pending| (hash, pending)),
                Err(e) => return unavailable(e),
            }
        }
        None => None,
    };
    let Some((hash, pending)) = found else {
        tracing::info!(
            category = "security",
            event = "device_user_code_refused",
            outcome = "failure",
            "a user code matched no pending device authorization"
        );
        return code_page(&state, jar, StatusCode::BAD_REQUEST, "", Some(REFUSED));
    };
    go_on(&state, jar, &hash, pending, Done::default()).await
}

/// Takes the authorization named by `user_code_hash` as far as the
/// browser's session lets it go now: to the login or factor pages (which
/// come back here through `support::authorization_response::resume`), or
/// to the decision.
pub(in crate::routes) async fn resume(
    state: &AppState,
    jar: CookieJar,
    user_code_hash: &str,
    done: Done,
) -> Response {
    match device::pending(state, user_code_hash).await {
        Ok(Some(pending)) => go_on(state, jar, user_code_hash, pending, done).await,
        Ok(None) => gone(),
        Err(e) => unavailable(e),
    }
}

async fn go_on(
    state: &AppState,
    jar: CookieJar,
    user_code_hash: &str,
    pending: Pending,
    done: Done,
) -> Response {
    let current = match session::current(state, &jar).await {
        Ok(current) => current,
        Err(e) => return unavailable(e),
    };
    let params = transaction::device_params(user_code_hash, &pending.client.client_id);
    let page = match device::next(state, &pending, current.as_ref(), done).await {
        Ok(Step::SignIn) => "/login",
        Ok(Step::StepUp(_)) => "/login/factor",
        Ok(Step::OfferEnrolment) => "/login/enrol",
        Ok(Step::Decide) => "/device/confirm",
        Err(e) => return unavailable(e),
    };
    (jar, to_page(state, page, &params)).into_response()
}

/// The name of the client asking, for the login page's heading.
pub(in crate::routes) async fn client_name(
    state: &AppState,
    user_code_hash: &str,
) -> Result<String, Response> {
    match device::pending(state, user_code_hash).await {
        Ok(Some(pending)) => Ok(pending.client.name),
        Ok(None) => Err(gone()),
        Err(e) => Err(unavailable(e)),
    }
}

/// The authorization expired or was decided while the user was on our
/// pages.
fn gone() -> Response {
    error_page(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, REFUSED)
}

/// The pending authorization of a transaction, and the browser's session,
/// when the user may decide now; otherwise the response that takes them
/// on (or says it is over).
async fn deciding(
    state: &AppState,
    jar: &CookieJar,
    params: &[(String, String)],
) -> Result<(Pending, session::Current), Response> {
    let Some(hash) = transaction::device_of(params) else {
        return Err(super::login::expired());
    };
    let pending = match device::pending(state, hash).await {
        Ok(Some(pending)) => pending,
        Ok(None) => return Err(gone()),
        Err(e) => return Err(unavailable(e)),
    };
    let current = match session::current(state, jar).await {
        Ok(current) => current,
        Err(e) => return Err(unavailable(e)),
    };
    // Signed out, or too weak for this client since: back through the
    // pages that fix it.
    match (
        device::next(state, &pending, current.as_ref(), Done::default()).await,
        current,
    ) {
        (Ok(Step::Decide), Some(current)) => Ok((pending, current)),
        (Ok(_), _) => Err(go_on(state, jar.clone(), hash, pending, Done::default()).await),
        (Err(e), _) => Err(unavailable(e)),
    }
}

/// GET /device/confirm: which client asks for what, for whom (§5.4).
pub async fn confirm_form(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<Fields>,
) -> Response {
    let (sealed, params) = match opened(&state, &query) {
        Ok(opened) => opened,
        Err(response) => return *response,
    };
    let (pending, current) = match deciding(&state, &jar, &params).await {
        Ok(deciding) => deciding,
        Err(response) => return response,
    };
    let scope = pending.scope();
    let asked = Asked {
        scopes: scope.iter().collect(),
        apis: pending
            .device
            .resources
            .iter()
            .map(String::as_str)
            .collect(),
        device: true,
    };
    consent_page(&state, jar, (&pending.client, &current), asked, &sealed)
}

/// POST /device/confirm: the decision. The device hears it at its next
/// poll (`services::oauth::grants::device_code`).
pub async fn confirm(
    State(state): State<AppState>,
    jar: CookieJar,
    Posted { fields, params, .. }: Posted,
) -> Response {
    let (pending, current) = match deciding(&state, &jar, &params).await {
        Ok(deciding) => deciding,
        Err(response) => return response,
    };
    let approve = field(&fields, "decision") == Some("allow");
    let page = match device::decide(&state, &pending, &current, approve).await {
        Ok(true) if approve => Message {
            title: "Device connected",
            message: "You allowed the device. Return to it: it will go on by itself.",
        },
        Ok(true) => Message {
            title: "Access denied",
            message: "You denied the device. It will be told, and gets no access.",
        },
        Ok(false) => return gone(),
        Err(e) => return unavailable(e),
    };
    (jar, pages::render(StatusCode::OK, &page, None)).into_response()
}
