//! Request objects (RFC 9101): an authorization request sent as a JWT in
//! `request`, at `/authorize` or pushed to `/par`, signed by the client
//! with a key it registered (`jwks`). The signature is checked with
//! [`registered_key`] (asymmetric algorithms only, the key's own `alg`
//! when it names one), then `iss` (the client), `aud` (this issuer), `exp`
//! and `nbf`; the object's claims then replace every parameter sent
//! beside it but `client_id` (`oauth::request_object`, §5, §6.3).

use jsonwebtoken::Validation;
use oauth::authorize::AuthorizeError;
use oauth::request_object::{parameters, typ_accepted};
use oauth::{Error, ErrorCode, Params};
use serde_json::{Map, Value};
use store::ClientRecord;

use super::authorize::AuthorizeFailure;
use super::client_auth::{KeyRefusal, registered_key};
use crate::services::Ctx;

/// The parameter [`verify`] adds to a signed request's parameters; like
/// `super::par::PUSHED`, no browser can send it (`routes::authorize`).
pub const SIGNED: (&str, &str) = ("auth-service:signed", "1");

/// Whether `params` came from a request object the client signed.
pub fn is_signed(params: &[(String, String)]) -> bool {
    params
        .iter()
        .any(|(n, v)| (n.as_str(), v.as_str()) == SIGNED)
}

fn refuse(description: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidRequestObject, description)
}

/// The parameters of the request object in an authorization request's
/// `request`, if it has one; refused on a page otherwise (the redirect
/// URI is the object's, and the object is not trusted).
pub async fn unpack(
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Option<Vec<(String, String)>>, AuthorizeFailure> {
    let page = |e: Error| AuthorizeFailure::Refused(AuthorizeError::Page(e));
    let outer = Params(params);
    let Some(request) = outer.get("request").map_err(page)? else {
        return Ok(None);
    };
    let Some(client_id) = outer.get("client_id").map_err(page)? else {
        return Err(page(Error::new(
            ErrorCode::InvalidRequest,
            "client_id is required with request (RFC 9101 section 5)",
        )));
    };
    let client = match crate::services::client_documents::get_client(ctx, client_id).await {
        Ok(client) => client,
        Err(store::Error::NotFound) => {
            return Err(page(Error::new(
                ErrorCode::InvalidClient,
                "Unknown client.",
            )));
        }
        Err(e) => return Err(e.into()),
    };
    verify(ctx, &client, request).map(Some).map_err(page)
}

/// The parameters of `request`, a request object `client` signed.
pub fn verify(
    ctx: &Ctx,
    client: &ClientRecord,
    request: &str,
) -> Result<Vec<(String, String)>, Error> {
    let header =
        jsonwebtoken::decode_header(request).map_err(|_| refuse("request is not a signed JWT"))?;
    if !typ_accepted(header.typ.as_deref()) {
        return Err(refuse(format!(
            "typ {:?} is not a request object's",
            header.typ.unwrap_or_default()
        )));
    }
    let key = registered_key(client, &header).map_err(|e| {
        refuse(match e {
            KeyRefusal::Algorithm => "the signing algorithm is not one this client may use",
            KeyRefusal::NoKeys => "the client registered no keys (jwks) to sign with",
            KeyRefusal::UnknownKey => "no registered key of the client has this kid",
        })
    })?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[client.client_id.as_str()]);
    validation.set_audience(&[ctx.config.issuer.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.validate_nbf = true;
    validation.leeway = 30;
    let claims = jsonwebtoken::decode::<Map<String, Value>>(request, &key, &validation)
        .map_err(|e| refuse(format!("the request object is not valid: {e}")))?
        .claims;
    let mut params = parameters(&claims, &client.client_id, ctx.clock.now())?;
    if let Some((name, _)) = params.iter().find(|(n, _)| super::par::reserved(n)) {
        return Err(refuse(format!("{name} is reserved")));
    }
    params.push((SIGNED.0.to_owned(), SIGNED.1.to_owned()));
    Ok(params)
}
