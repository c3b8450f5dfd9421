//! `/account`: the signed-in user's own page. It lists the user's factors
//! (name, added, last used), adds a TOTP generator, renames and removes
//! factors, makes new recovery codes, changes the password and signs out
//! of other sessions.
//!
//! - Signed out, the page sends the browser through the login pages
//!   (`web::transaction::account_params`) and back.
//! - Adding or removing a factor and new recovery codes need a fresh
//!   authentication (within [`FRESH_SECONDS`]): a browser left signed in
//!   is not enough to change how the account signs in. The password change
//!   asks for the current password instead.
//! - Every form carries the CSRF token and changes state only by POST
//!   (docs/security.md 15); pages carry the headers of docs/security.md 17
//!   and need no JavaScript.
//! - A credential change ends the user's other sessions and refresh
//!   families and keeps this browser signed in (docs/security.md 25).

use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use store::FactorKind;

use super::factor::{codes_page, confirm, enrol_page};
use super::login::{Fields, field, form_and_cookies, form_fields, passkeys_on};
use super::support::authorization_response::{see_other, to_page};
use crate::secret::Secret;
use crate::services::mfa::{enrol, recovery};
use crate::services::oauth::login;
use crate::services::{lockout, rfc3339};
use crate::state::AppState;
use crate::web::errors::{csrf_refused, unavailable};
use crate::web::pages::{self, AccountPage, FactorRow};
use crate::web::{device, session, transaction};

/// How recent the sign-in must be to add or remove a factor.
pub const FRESH_SECONDS: i64 = 5 * 60;

fn with_page_headers(mut response: Response) -> Response {
    crate::web::page_headers(response.headers_mut(), None);
    response
}

/// A 303 to the account page.
pub(super) fn to_account() -> Response {
    with_page_headers(see_other("/account"))
}

/// A 303 through the login pages and back here.
fn sign_in(state: &AppState) -> Response {
    with_page_headers(to_page(state, "/login", &transaction::account_params()))
}

/// The browser's session, or the response that sends it to sign in.
pub(super) async fn signed_in(
    state: &AppState,
    jar: &CookieJar,
) -> Result<session::Current, Response> {
    match session::current(state, jar).await {
        Ok(Some(current)) => Ok(current),
        Ok(None) => Err(sign_in(state)),
        Err(e) => Err(unavailable(e)),
    }
}

/// As [`signed_in`], and signed in within [`FRESH_SECONDS`].
pub(super) async fn freshly_signed_in(
    state: &AppState,
    jar: &CookieJar,
) -> Result<session::Current, Response> {
    let current = signed_in(state, jar).await?;
    if state.clock.now() - current.session.auth_time > FRESH_SECONDS {
        return Err(sign_in(state));
    }
    Ok(current)
}

/// A form of the account page, its CSRF token checked (or the refusal).
pub(super) struct Checked(pub Fields);

impl FromRequest<AppState> for Checked {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (body, jar) = form_and_cookies(request, state).await;
        let fields = form_fields(body, csrf_refused).map_err(|response| *response)?;
        if !session::csrf_ok(state, &jar, field(&fields, "csrf_token")) {
            return Err(csrf_refused());
        }
        Ok(Checked(fields))
    }
}

fn kind_name(factor: &store::Factor) -> &'static str {
    match factor.kind {
        FactorKind::Totp => "authenticator app",
        #[cfg(feature = "passkeys")]
        FactorKind::Passkey if crate::services::mfa::passkey::is_synced(factor) => {
            "passkey, may be synced"
        }
        FactorKind::Passkey => "passkey",
        FactorKind::RecoveryCodes => "recovery code",
    }
}

pub(super) async fn render(
    state: &AppState,
    jar: CookieJar,
    current: &session::Current,
    (notice, error): (Option<&str>, Option<&str>),
) -> Response {
    let factors = match state.store.list_factors(&current.user.id).await {
        Ok(factors) => factors,
        Err(e) => return unavailable(e),
    };
    let recovery_left = recovery::remaining(&factors);
    let rows: Vec<FactorRow> = factors
        .into_iter()
        .filter(|f| f.kind != FactorKind::RecoveryCodes)
        .map(|f| FactorRow {
            kind: kind_name(&f),
            created: rfc3339(f.created_at),
            last_used: f.last_used_at.map_or_else(|| "never".to_owned(), rfc3339),
            id: f.id,
            name: f.name,
        })
        .collect();
    let (jar, csrf) = session::csrf_token(state, jar);
    let page = AccountPage {
        user_name: &current.user.user_name,
        passkeys: passkeys_on(state),
        has_factors: !rows.is_empty(),
        factors: rows,
        recovery_left,
        csrf: &csrf,
        notice,
        error,
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (jar, pages::render(status, &page, None)).into_response()
}

/// GET /account.
pub async fn page(State(state): State<AppState>, jar: CookieJar) -> Response {
    match signed_in(&state, &jar).await {
        Ok(current) => render(&state, jar, &current, (None, None)).await,
        Err(response) => response,
    }
}

/// GET /account/totp: a new generator to scan.
pub async fn totp_form(State(state): State<AppState>, jar: CookieJar) -> Response {
    match freshly_signed_in(&state, &jar).await {
        Ok(current) => enrol_page(&state, jar, ("/account/totp", ""), &current.user, None),
        Err(response) => response,
    }
}

/// POST /account/totp: the confirming code.
pub async fn totp(
    State(state): State<AppState>,
    jar: CookieJar,
    Checked(fields): Checked,
) -> Response {
    match freshly_signed_in(&state, &jar).await {
        Ok(current) => confirm(&state, jar, &fields, current, "").await,
        Err(response) => response,
    }
}

/// POST /account/factor: rename or remove one factor.
pub async fn factor(
    State(state): State<AppState>,
    jar: CookieJar,
    Checked(fields): Checked,
) -> Response {
    let id = field(&fields, "factor_id").unwrap_or_default().to_owned();
    let remove = field(&fields, "action") == Some("remove");
    let current = match if remove {
        freshly_signed_in(&state, &jar).await
    } else {
        signed_in(&state, &jar).await
    } {
        Ok(current) => current,
        Err(response) => return response,
    };
    let result = if remove {
        enrol::remove(&state, &current, &id).await
    } else {
        let name = enrol::factor_name(field(&fields, "name").unwrap_or_default(), "Factor");
        state
            .store
            .rename_factor(&current.user.id, &id, &name)
            .await
    };
    match result {
        Ok(()) if remove => {
            // enrol::remove ended the other sessions (docs/security.md 25)
            // and kept this one.
            render(
                &state,
                jar,
                &current,
                (Some("The factor was removed."), None),
            )
            .await
        }
        Ok(()) => {
            render(
                &state,
                jar,
                &current,
                (Some("The factor was renamed."), None),
            )
            .await
        }
        Err(store::Error::NotFound) => {
            render(
                &state,
                jar,
                &current,
                (None, Some("There is no such factor.")),
            )
            .await
        }
        Err(e) => unavailable(e),
    }
}

/// POST /account/recovery: a new set of recovery codes, shown once.
pub async fn recovery(State(state): State<AppState>, jar: CookieJar, _: Checked) -> Response {
    let current = match freshly_signed_in(&state, &jar).await {
        Ok(current) => current,
        Err(response) => return response,
    };
    let has_factor = match state.store.list_factors(&current.user.id).await {
        Ok(factors) => factors.iter().any(|f| f.kind != FactorKind::RecoveryCodes),
        Err(e) => return unavailable(e),
    };
    if !has_factor {
        return render(&state, jar, &current, (None, Some("Add a factor first."))).await;
    }
    match recovery::regenerate(
        state.store.as_ref(),
        &state.master_key,
        &current.user.id,
        state.clock.now(),
    )
    .await
    {
        Ok(codes) => {
            tracing::info!(category = "security", event = "recovery_codes_regenerated", user_id = %current.user.id, outcome = "success", "new recovery codes replace the old ones");
            codes_page(
                &state,
                jar,
                "",
                (
                    "New recovery codes",
                    "Your old recovery codes no longer work.",
                ),
                &codes,
            )
        }
        Err(e) => unavailable(e),
    }
}

/// POST /account/password: the current password, then the new one.
pub async fn password(
    State(state): State<AppState>,
    jar: CookieJar,
    Checked(fields): Checked,
) -> Response {
    let current = match signed_in(&state, &jar).await {
        Ok(current) => current,
        Err(response) => return response,
    };
    let account = lockout::account(&current.user.user_name);
    let credentials = login::Credentials {
        user_name: &current.user.user_name,
        password: Secret::new(
            field(&fields, "current_password")
                .unwrap_or_default()
                .to_owned(),
        ),
        client_id: "account",
        device_key: device::lockout_key(&state, &jar, &account),
    };
    match login::attempt(&state, credentials).await {
        Ok(login::Outcome::SignedIn(_) | login::Outcome::SecondFactor(_)) => {}
        Ok(login::Outcome::Refused) => {
            return render(
                &state,
                jar,
                &current,
                (None, Some("The current password is not right.")),
            )
            .await;
        }
        Err(e) => return unavailable(e),
    }
    let new = Secret::new(
        field(&fields, "new_password")
            .unwrap_or_default()
            .to_owned(),
    );
    let hash = match state.passwords.hash(new).await {
        Ok(hash) => hash,
        Err(
            e
            @ (crate::password::PasswordError::TooShort | crate::password::PasswordError::TooLong),
        ) => {
            let message = format!("The new password is not allowed: {e}.");
            return render(&state, jar, &current, (None, Some(&message))).await;
        }
        Err(e) => return unavailable(e),
    };
    let mut user = current.user.clone();
    user.password_hash = Some(hash);
    match state.store.update_user(&user).await {
        Ok(_) => {}
        Err(store::Error::Conflict(_)) => {
            return render(
                &state,
                jar,
                &current,
                (None, Some("The account changed meanwhile; try again.")),
            )
            .await;
        }
        Err(e) => return unavailable(e),
    }
    tracing::warn!(category = "security", event = "password_changed", user_id = %user.id, outcome = "success", "the user changed the password; the other sessions ended");
    keep_this_session(&state, jar, current, "Your password was changed.").await
}

/// POST /account/sessions: sign out everywhere else.
pub async fn sessions(State(state): State<AppState>, jar: CookieJar, _: Checked) -> Response {
    match signed_in(&state, &jar).await {
        Ok(current) => {
            tracing::info!(category = "security", event = "other_sessions_ended", user_id = %current.user.id, outcome = "success", "the user signed out of other sessions");
            keep_this_session(&state, jar, current, "Your other sessions were signed out.").await
        }
        Err(response) => response,
    }
}

/// Ends every session and refresh family of the user (docs/security.md 25)
/// but this browser's session, which `credential_changed` keeps as it was
/// (same id, same authentication time).
async fn keep_this_session(
    state: &AppState,
    jar: CookieJar,
    current: session::Current,
    notice: &str,
) -> Response {
    if let Err(e) =
        crate::services::users::end_sessions(state, &current.user.id, Some(&current.session)).await
    {
        return unavailable(e);
    }
    render(state, jar, &current, (Some(notice), None)).await
}
