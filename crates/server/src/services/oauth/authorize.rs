//! An authorization request's way to a code (RFC 6749 §4.1, OpenID
//! Connect Core §3.1.2): load the client and validate the request
//! (`oauth::authorize`), ask what the user must still do
//! (`oauth::authorize::{sign_in_step, consent_step}`): sign in, step up to
//! the level the server's policy, the client and the request require
//! ([`required_level`]), consent; and once nothing is left, issue the code. The request is re-validated at every step, so a
//! client disabled or changed meanwhile is seen.

use oauth::acr::Level;
use oauth::authorize::{
    self, Authenticated, AuthorizationRequest, AuthorizeError, Next, Redirect, RegisteredClient,
};
use oauth::resource::ResourceIndicator;
use oauth::{Error, ErrorCode, Params};
use store::{AuthorizationCode, ClientRecord, GrantContext};

use super::grants::GrantError;
use super::resources::Apis;
use super::session::Current;
use crate::config::{MfaPolicy, seconds};
use crate::opaque::{hash_token, random_token};
use crate::services::Ctx;

/// Authorization codes live at most 60 s (docs/security.md 4).
pub const CODE_LIFETIME: i64 = 60;

/// What the user has just done on our pages.
#[derive(Debug, Clone, Copy, Default)]
pub struct Done {
    pub signed_in: bool,
    pub consented: bool,
    /// Declined to enrol a factor during the grace period ("Not now").
    pub enrolment_declined: bool,
}

/// Where an authorization request goes next.
#[derive(Debug)]
pub enum Step {
    SignIn,
    /// The signed-in user must add a factor (or enrol one) to reach the level.
    StepUp(Level),
    /// The user just signed in without a factor that `AUTH_MFA=required`
    /// will demand once the account's grace period ends: enrolment is
    /// offered, and may be declined.
    OfferEnrolment,
    Consent,
    /// An error for the client's (trusted) redirect URI.
    Refused(Redirect, Error),
    /// The authorization code, for the redirect URI.
    Code(Redirect, String),
}

#[derive(Debug, thiserror::Error)]
pub enum AuthorizeFailure {
    /// The request is refused: on a page when the client or redirect URI
    /// is not trusted, at the redirect URI otherwise.
    #[error("{0:?}")]
    Refused(AuthorizeError),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// The request's client, and the request validated against it. An
/// unknown or disabled client is refused on a page: its redirect URIs are
/// not trusted.
pub async fn load(
    ctx: &Ctx,
    params: Params<'_>,
) -> Result<(ClientRecord, AuthorizationRequest), AuthorizeFailure> {
    let id = authorize::client_id(params).map_err(AuthorizeFailure::Refused)?;
    let client = match crate::services::client_documents::get_client(ctx, id).await {
        Ok(client) if super::verify::client_enabled(&client, ctx.clock.now()) => client,
        Ok(_) | Err(store::Error::NotFound) => {
            return Err(AuthorizeFailure::Refused(AuthorizeError::Page(Error::new(
                ErrorCode::InvalidClient,
                "Unknown client.",
            ))));
        }
        Err(e) => return Err(e.into()),
    };
    // RFC 9126 §5, §6 and RFC 9101 §10.5: refused on a page, since the
    // parameters the browser brought are the ones pushing or signing
    // exists to keep from it.
    let unprotected = if super::par::required(ctx, &client) && !super::par::is_pushed(params.0) {
        Some(
            "This client must push its authorization requests (RFC 9126): use the \
             pushed_authorization_request_endpoint.",
        )
    } else if client.metadata.require_signed_request_object
        && !super::request_object::is_signed(params.0)
    {
        Some(
            "This client must send its authorization requests as signed request objects (RFC 9101).",
        )
    } else {
        None
    };
    if let Some(description) = unprotected {
        return Err(AuthorizeFailure::Refused(AuthorizeError::Page(Error::new(
            ErrorCode::InvalidRequest,
            description,
        ))));
    }
    let registered = RegisteredClient {
        client_id: &client.client_id,
        redirect_uris: &client.redirect_uris,
        scopes: &client.scopes,
        grant_types: &client.grant_types,
    };
    let mut request =
        authorize::validate(params, &registered).map_err(AuthorizeFailure::Refused)?;
    // RFC 8707 §2.1: the APIs the code is for, judged now so the client
    // hears invalid_target or invalid_scope before the user signs in.
    let refused = |e: GrantError| match e {
        GrantError::Protocol(e) => {
            AuthorizeFailure::Refused(AuthorizeError::Redirect(request.redirect.clone(), e))
        }
        GrantError::Store(e) => AuthorizeFailure::Store(e),
        other => AuthorizeFailure::Refused(AuthorizeError::Redirect(
            request.redirect.clone(),
            Error::new(ErrorCode::InvalidTarget, other.to_string()),
        )),
    };
    let apis = Apis::resolve_or_default(ctx, &client, &request.resources)
        .await
        .map_err(refused)?;
    request.scope = apis.scope(&request.scope, true).map_err(refused)?;
    request.resources = apis
        .audience()
        .iter()
        .filter_map(|id| ResourceIndicator::parse(id).ok())
        .collect();
    // With second factors off there is no level to step up to: acr_values
    // go unmet, and the ID token's `acr` says what the session reached.
    if ctx.config.mfa == MfaPolicy::Off {
        request.acr = None;
    }
    Ok((client, request))
}

/// The next step for a loaded request, given the browser's session and
/// what the user has just done.
pub async fn next(
    ctx: &Ctx,
    client: &ClientRecord,
    request: &AuthorizationRequest,
    current: Option<&Current>,
    done: Done,
) -> Result<Step, store::Error> {
    let now = ctx.clock.now();
    let session = current.map(|c| Authenticated {
        auth_time: c.session.auth_time,
        level: Level::of(&c.session.data.amr),
    });
    let required = current.and_then(|c| required_level(ctx, client, &c.user, now));
    let current = match authorize::sign_in_step(request, session, required, done.signed_in, now) {
        Next::Proceed => current,
        other => return Ok(step(request, other)),
    };
    let Some(current) = current else {
        return Ok(Step::SignIn);
    };
    // Only right after the password: the offer does not interrupt single
    // sign-on (and prompt=none never signs in).
    if done.signed_in
        && !done.enrolment_declined
        && in_enrolment_grace(ctx, &current.user, now)
        && !has_factor(ctx, &current.user.id).await?
    {
        return Ok(Step::OfferEnrolment);
    }
    // A first-party client is trusted by configuration: no consent page.
    if !done.consented && !client.metadata.first_party {
        let granted = super::consent::granted(ctx, &current.user.id, &client.client_id).await?;
        match authorize::consent_step(request, granted.as_ref(), false) {
            Next::Proceed => {}
            other => return Ok(step(request, other)),
        }
    }
    let code = issue_code(ctx, request, current).await?;
    Ok(Step::Code(request.redirect.clone(), code))
}

/// The level every sign-in of `user` at `client` must reach, beyond what
/// the request asks (docs/security.md 31): `AUTH_MFA=required` (after the
/// new account's grace period), or a client created with `--require-mfa`.
/// A user who enrolled a factor always uses it: the login asks for it
/// before any session exists (`routes::factor`).
pub fn required_level(
    ctx: &Ctx,
    client: &ClientRecord,
    user: &store::UserRecord,
    now: i64,
) -> Option<Level> {
    match ctx.config.mfa {
        MfaPolicy::Off => None,
        MfaPolicy::Required | MfaPolicy::Optional => policy_level(ctx, user, now)
            .or_else(|| client.metadata.require_mfa.then_some(Level::Mfa)),
    }
}

/// The level `AUTH_MFA` alone asks of `user`'s sign-ins: two factors when
/// `required`, after the account's grace period.
pub fn policy_level(ctx: &Ctx, user: &store::UserRecord, now: i64) -> Option<Level> {
    (ctx.config.mfa == MfaPolicy::Required && !in_enrolment_grace(ctx, user, now))
        .then_some(Level::Mfa)
}

/// `AUTH_MFA=required`, and `user` is younger than
/// `AUTH_MFA_ENROLMENT_GRACE`: it may sign in without a factor for now.
pub fn in_enrolment_grace(ctx: &Ctx, user: &store::UserRecord, now: i64) -> bool {
    ctx.config.mfa == MfaPolicy::Required
        && now < user.created_at + seconds(ctx.config.mfa_enrolment_grace)
}

/// The last moment of `user`'s grace period (Unix seconds).
pub fn enrolment_deadline(ctx: &Ctx, user: &store::UserRecord) -> i64 {
    user.created_at + seconds(ctx.config.mfa_enrolment_grace)
}

async fn has_factor(ctx: &Ctx, user_id: &str) -> Result<bool, store::Error> {
    Ok(!ctx.store.list_factors(user_id).await?.is_empty())
}

fn step(request: &AuthorizationRequest, next: Next) -> Step {
    match next {
        Next::SignIn | Next::Proceed => Step::SignIn,
        Next::StepUp(level) => Step::StepUp(level),
        Next::Consent => Step::Consent,
        Next::Refuse(e) => Step::Refused(request.redirect.clone(), e),
    }
}

/// Stores a code for the request and the session's user; returns it.
async fn issue_code(
    ctx: &Ctx,
    request: &AuthorizationRequest,
    current: &Current,
) -> Result<String, store::Error> {
    let code = random_token().map_err(|_| store::Error::Unavailable {
        message: "no randomness".into(),
        source: None,
    })?;
    let record = AuthorizationCode {
        code_hash: hash_token(code.expose()),
        client_id: request.client_id.clone(),
        user_id: current.user.id.clone(),
        redirect_uri: request.redirect.uri.clone(),
        scope: request.scope.to_string(),
        code_challenge: request.code_challenge.as_str().to_owned(),
        expires_at: ctx.clock.now() + CODE_LIFETIME,
        grant: GrantContext {
            nonce: request.nonce.clone(),
            auth_time: Some(current.session.auth_time),
            sid: Some(current.session.data.sid.clone()),
            amr: current.session.data.amr.clone(),
            resources: request
                .resources
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            dpop_jkt: None,
        },
    };
    ctx.store.insert_code(&record).await?;
    Ok(code.expose().clone())
}
