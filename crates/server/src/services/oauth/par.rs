//! Pushed authorization requests (RFC 9126; the rules are
//! `oauth::par`'s). [`push`] validates the request as `/authorize` would
//! and keeps it, single-use, as a challenge record named by the hash of
//! its reference (the store's take-once record: of two authorization
//! requests with one `request_uri`, one gets it); [`redeem`] turns the
//! `request_uri` of an authorization request back into the pushed
//! parameters, marked as pushed so that a client that must push
//! ([`required`]) is told apart from one that did not.

use oauth::par::{self, PushedAuthorizationResponse};
use oauth::{Error, ErrorCode, Params};
use serde::{Deserialize, Serialize};
use store::{Challenge, ClientRecord};

use super::authorize::{self, AuthorizeFailure};
use crate::opaque::{hash_token, random_token};
use crate::services::Ctx;

/// The parameter [`redeem`] adds to pushed parameters. Names under
/// `auth-service:` never come from a browser (`routes::authorize` drops
/// them), so no request passes for a pushed one.
pub const PUSHED: (&str, &str) = ("auth-service:pushed", "1");

/// A pushed request, as kept in the store.
#[derive(Debug, Serialize, Deserialize)]
struct Pushed {
    client_id: String,
    params: Vec<(String, String)>,
}

/// Why a push is refused: the token endpoint's vocabulary (RFC 9126 §2.3).
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("{}", .0.description)]
    Protocol(Error),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// Whether a parameter name is one only this server adds ([`PUSHED`],
/// `super::request_object::SIGNED`).
pub fn reserved(name: &str) -> bool {
    name.starts_with("auth-service:")
}

/// Whether `client`'s authorization requests must be pushed: the
/// server's setting or the client's (RFC 9126 §5, §6).
pub fn required(ctx: &Ctx, client: &ClientRecord) -> bool {
    ctx.config.require_par || client.metadata.require_pushed_authorization_requests
}

/// Whether `params` came from a pushed request ([`redeem`]).
pub fn is_pushed(params: &[(String, String)]) -> bool {
    params
        .iter()
        .any(|(n, v)| (n.as_str(), v.as_str()) == PUSHED)
}

/// Validates and keeps the authorization request `client` pushed (§2.1).
pub async fn push(
    ctx: &Ctx,
    client: &ClientRecord,
    mut params: Vec<(String, String)>,
) -> Result<PushedAuthorizationResponse, PushError> {
    par::check_pushed(Params(&params), &client.client_id).map_err(PushError::Protocol)?;
    if params.iter().any(|(n, _)| reserved(n)) {
        return Err(PushError::Protocol(Error::new(
            ErrorCode::InvalidRequest,
            "parameter names under auth-service: are reserved",
        )));
    }
    // RFC 9126 §3: a pushed request may be a request object; kept as the
    // parameters it carries, judged as they will be used.
    if let Some(request) = Params(&params)
        .get("request")
        .map_err(PushError::Protocol)?
    {
        params =
            super::request_object::verify(ctx, client, request).map_err(PushError::Protocol)?;
    }
    if !params.iter().any(|(n, _)| n == "client_id") {
        params.push(("client_id".to_owned(), client.client_id.clone()));
    }
    // §2.1: judged as the authorization endpoint judges it (pushed, as it
    // will be when redeemed), so the client hears of a bad request now,
    // not its user later.
    let mut judged = params.clone();
    judged.push((PUSHED.0.to_owned(), PUSHED.1.to_owned()));
    match authorize::load(ctx, Params(&judged)).await {
        Ok(_) => {}
        Err(AuthorizeFailure::Refused(
            oauth::authorize::AuthorizeError::Page(e)
            | oauth::authorize::AuthorizeError::Redirect(_, e),
        )) => return Err(PushError::Protocol(e)),
        Err(AuthorizeFailure::Store(e)) => return Err(e.into()),
    }
    let reference = random_token().map_err(|_| store::Error::Unavailable {
        message: "no randomness".into(),
        source: None,
    })?;
    let pushed = Pushed {
        client_id: client.client_id.clone(),
        params,
    };
    ctx.store
        .insert_challenge(&Challenge {
            id: record_id(reference.expose()),
            user_id: None,
            state: serde_json::to_value(&pushed).map_err(|e| store::Error::Corrupt {
                message: format!("a pushed request does not serialize: {e}"),
                source: None,
            })?,
            expires_at: ctx.clock.now() + par::LIFETIME_SECONDS,
        })
        .await?;
    tracing::info!(
        event = "authorization_request_pushed",
        client_id = %client.client_id,
        "an authorization request was pushed"
    );
    Ok(PushedAuthorizationResponse::new(reference.expose()))
}

/// The store record of a reference: its hash, so that a copy of the store
/// holds no `request_uri` anyone could use.
fn record_id(reference: &str) -> String {
    format!("par:{}", hash_token(reference))
}

/// The pushed parameters an authorization request's `request_uri` names,
/// marked [`PUSHED`]; `None` when it has none. The request must name the
/// same client (§4); the reference is spent whatever follows.
pub async fn redeem(
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Option<Vec<(String, String)>>, AuthorizeFailure> {
    let refuse = |code: ErrorCode, description: &str| {
        AuthorizeFailure::Refused(oauth::authorize::AuthorizeError::Page(Error::new(
            code,
            description,
        )))
    };
    let params = Params(params);
    let invalid = |e: Error| AuthorizeFailure::Refused(oauth::authorize::AuthorizeError::Page(e));
    let Some(request_uri) = params.get("request_uri").map_err(invalid)? else {
        return Ok(None);
    };
    let Some(client_id) = params.get("client_id").map_err(invalid)? else {
        return Err(refuse(
            ErrorCode::InvalidRequest,
            "client_id is required with request_uri (RFC 9126 section 4)",
        ));
    };
    // Request objects by reference (RFC 9101 §5.2) would have this server
    // fetch a URL a browser brought: only pushed requests are taken.
    let Some(reference) = par::reference(request_uri) else {
        return Err(refuse(
            ErrorCode::RequestUriNotSupported,
            "only request_uri values from the pushed_authorization_request_endpoint are supported",
        ));
    };
    let gone = || {
        refuse(
            ErrorCode::InvalidRequestUri,
            "request_uri is unknown, used or expired: push the request again",
        )
    };
    let challenge = match ctx.store.take_challenge(&record_id(reference)).await {
        Ok(challenge) => challenge,
        Err(store::Error::NotFound) => return Err(gone()),
        Err(e) => return Err(e.into()),
    };
    let pushed: Pushed = serde_json::from_value(challenge.state).map_err(|_| gone())?;
    if pushed.client_id != client_id {
        return Err(refuse(
            ErrorCode::InvalidRequestUri,
            "request_uri was pushed by another client",
        ));
    }
    let mut params = pushed.params;
    params.push((PUSHED.0.to_owned(), PUSHED.1.to_owned()));
    Ok(Some(params))
}
