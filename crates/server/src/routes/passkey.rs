//! The passkey endpoints of the sign-in and account pages
//! (`services::mfa::passkey`). Each ceremony is two posts of the page's
//! `#passkey-form` (`templates/passkey.js`): its fields to `…/options`,
//! which answers the WebAuthn options as JSON, then the credential the
//! browser made, as a form post like any other.
//!
//! - `/login/passkey`: passwordless sign-in (the login page's button and
//!   the username field's autofill).
//! - `/login/factor/passkey`: the second factor of a pending sign-in, or
//!   the step up of a signed-in session (as `super::factor`'s codes).
//! - `/account/passkey`: adding one; a fresh authentication, as for every
//!   factor change (`super::account::FRESH_SECONDS`).
//!
//! Every post carries the CSRF token (docs/security.md 15); the finishing
//! posts share the login rate limit and the account's back-off (31).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde_json::json;

use super::account::{Checked, freshly_signed_in, render};
use super::factor::{codes_page, factor_page, factor_subject, lock_key, passed, subject};
use super::login::{Fields, Posted, client_id_of, expired, field, login_page, open, signed_in};
use crate::services::lockout;
use crate::services::mfa::passkey::{self, Offer, Outcome, PasskeyError, RelyingParty};
use crate::state::AppState;
use crate::web::errors::unavailable;
use crate::web::pages::{self, EnrolPasskeyPage};
use crate::web::{device, session};

const REFUSED: &str = "That passkey could not sign you in.";

/// A JSON answer to the page's script: never cached.
fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

fn options(offer: Result<Offer, PasskeyError>) -> Response {
    match offer {
        Ok(offer) => answer(StatusCode::OK, json!(offer)),
        Err(PasskeyError::Unsupported) => answer(
            StatusCode::BAD_REQUEST,
            json!({"error": "unsupported", "error_description": "this account cannot hold passkeys"}),
        ),
        Err(e) => {
            tracing::warn!(event = "passkey_options_failed", error = %e, "could not start a passkey ceremony");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "temporarily_unavailable"}),
            )
        }
    }
}

fn party(state: &AppState) -> Option<Arc<RelyingParty>> {
    state.passkeys.clone()
}

fn not_offered() -> Response {
    answer(
        StatusCode::NOT_FOUND,
        json!({"error": "passkeys_unavailable"}),
    )
}

/// The credential fields of a finishing post.
fn credential(fields: &Fields) -> (&str, &str) {
    (
        field(fields, "challenge_id").unwrap_or_default(),
        field(fields, "credential").unwrap_or_default(),
    )
}

/// POST /login/passkey/options: a passwordless ceremony.
pub async fn login_options(State(state): State<AppState>, _: Posted) -> Response {
    let Some(rp) = party(&state) else {
        return not_offered();
    };
    options(passkey::offer_passwordless(&state, &rp).await)
}

/// POST /login/passkey: the passwordless credential.
pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    Posted {
        fields,
        sealed,
        params,
    }: Posted,
) -> Response {
    let Some(rp) = party(&state) else {
        return login_page(&state, jar, &sealed, &params, "", Some(REFUSED)).await;
    };
    let client_id = client_id_of(&params);
    let key = |user_name: &str| lock_key(&state, &jar, user_name);
    let verified = match passkey::verify_passwordless(
        &state,
        &rp,
        credential(&fields),
        &key,
        &client_id,
    )
    .await
    {
        Ok(Outcome::Passed(verified)) => verified,
        Ok(Outcome::Refused) => {
            return login_page(&state, jar, &sealed, &params, "", Some(REFUSED)).await;
        }
        Err(e) => return unavailable(e),
    };
    tracing::info!(category = "security", event = "authentication_success", user_id = %verified.user.id, client_id = %client_id, method = "passkey", outcome = "success", "passwordless sign-in with a passkey");
    metrics::counter!("auth_login_attempts_total", "outcome" => "success", "reason" => "passkey")
        .increment(1);
    let account = lockout::account(&verified.user.user_name);
    let jar = device::remember(&state, jar, &account);
    let amr = oauth::acr::combine(&[], &verified.amr);
    match session::start(&state, jar, verified.user, amr).await {
        Ok((jar, _)) => signed_in(&state, jar, params).await,
        Err(e) => unavailable(e),
    }
}

/// POST /login/factor/passkey/options: the user's passkeys as the second
/// factor.
pub async fn factor_options(
    State(state): State<AppState>,
    jar: CookieJar,
    Posted { fields, .. }: Posted,
) -> Response {
    let Some(rp) = party(&state) else {
        return not_offered();
    };
    let subject = match subject(&state, &jar, field(&fields, "pending")).await {
        Ok(Some(subject)) => subject,
        Ok(None) => return answer(StatusCode::UNAUTHORIZED, json!({"error": "login_required"})),
        Err(e) => return options(Err(e.into())),
    };
    match passkey::offer_second_factor(&state, &rp, &subject.user).await {
        Ok(Some(offer)) => options(Ok(offer)),
        Ok(None) => not_offered(),
        Err(e) => options(Err(e)),
    }
}

/// POST /login/factor/passkey: the passkey of a pending sign-in or a step
/// up.
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
    let refused = |state, jar, subject| async move {
        factor_page(
            state,
            jar,
            (&sealed, &subject),
            StatusCode::UNAUTHORIZED,
            Some(REFUSED),
        )
        .await
    };
    let Some(rp) = party(&state) else {
        return refused(&state, jar, subject).await;
    };
    let client_id = client_id_of(&params);
    let key = lock_key(&state, &jar, &subject.user_name);
    let outcome = passkey::verify_second_factor(
        &state,
        &rp,
        &subject.user,
        credential(&fields),
        &key,
        &client_id,
    )
    .await;
    let verified = match outcome {
        Ok(Outcome::Passed(verified)) => verified,
        Ok(Outcome::Refused) => return refused(&state, jar, subject).await,
        Err(e) => return unavailable(e),
    };
    match passed(&state, jar, subject, &verified.amr).await {
        Ok(jar) => signed_in(&state, jar, params).await,
        Err(response) => *response,
    }
}

/// GET /account/passkey: the page that adds one, from the account page or,
/// with `authz`, from the enrolment a sign-in needs (`super::factor`).
pub async fn enrol_form(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<Fields>,
) -> Response {
    if let Err(response) = freshly_signed_in(&state, &jar).await {
        return response;
    }
    let authz = field(&query, "authz").unwrap_or_default();
    if !authz.is_empty() && open(&state, Some(authz)).is_none() {
        return expired();
    }
    enrol_page(&state, jar, authz, StatusCode::OK, None)
}

fn enrol_page(
    state: &AppState,
    jar: CookieJar,
    authz: &str,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let (jar, csrf) = session::csrf_token(state, jar);
    let nonce = pages::script_nonce();
    let page = EnrolPasskeyPage {
        authz,
        csrf: &csrf,
        error,
        nonce: &nonce,
    };
    (jar, pages::render(status, &page, Some(&nonce))).into_response()
}

/// POST /account/passkey/options: a registration ceremony.
pub async fn enrol_options(State(state): State<AppState>, jar: CookieJar, _: Checked) -> Response {
    let Some(rp) = party(&state) else {
        return not_offered();
    };
    let Ok(current) = freshly_signed_in(&state, &jar).await else {
        // The page reloads, which signs in again.
        return answer(StatusCode::UNAUTHORIZED, json!({"error": "login_required"}));
    };
    options(passkey::offer_registration(&state, &rp, &current.user).await)
}

/// POST /account/passkey: the new credential. Made with user
/// verification for this RP, it is a use of the passkey too: the session
/// starts again with its methods (a sign-in that needed the factor goes on).
pub async fn enrol(
    State(state): State<AppState>,
    jar: CookieJar,
    Checked(fields): Checked,
) -> Response {
    let current = match freshly_signed_in(&state, &jar).await {
        Ok(current) => current,
        Err(response) => return response,
    };
    let authz = field(&fields, "authz").unwrap_or_default().to_owned();
    let params = match authz.as_str() {
        "" => None,
        sealed => match open(&state, Some(sealed)) {
            Some(params) => Some(params),
            None => return expired(),
        },
    };
    let Some(rp) = party(&state) else {
        return not_offered();
    };
    let name = field(&fields, "name").unwrap_or_default();
    let result =
        passkey::confirm_registration(&state, &rp, &current, credential(&fields), name).await;
    let enrolled = match result {
        Ok(enrolled) => enrolled,
        Err(PasskeyError::Duplicate) => {
            return enrol_page(
                &state,
                jar,
                &authz,
                StatusCode::CONFLICT,
                Some("That passkey is on your account already."),
            );
        }
        Err(e @ (PasskeyError::Expired | PasskeyError::Refused(_) | PasskeyError::Unsupported)) => {
            tracing::info!(category = "security", event = "passkey_registration_refused", user_id = %current.user.id, reason = %e, outcome = "failure", "a new passkey was refused");
            return enrol_page(
                &state,
                jar,
                &authz,
                StatusCode::BAD_REQUEST,
                Some("The passkey could not be added. Try again."),
            );
        }
        Err(e) => return unavailable(e),
    };
    // Adding a factor ended the user's sessions (docs/security.md 25).
    let amr = oauth::acr::combine(
        &current.session.data.amr,
        &passkey::methods(&enrolled.factor),
    );
    let (jar, current) = match session::start(&state, jar, current.user, amr).await {
        Ok(started) => started,
        Err(e) => return unavailable(e),
    };
    match (enrolled.recovery_codes, params) {
        (Some(codes), _) => codes_page(
            &state,
            jar,
            &authz,
            (
                "Passkey added",
                "You can sign in with it from now on. Keep these recovery codes somewhere safe: each works once if you lose your passkeys.",
            ),
            &codes,
        ),
        (None, Some(params)) => signed_in(&state, jar, params).await,
        (None, None) => {
            render(
                &state,
                jar,
                &current,
                (Some("The passkey was added."), None),
            )
            .await
        }
    }
}
