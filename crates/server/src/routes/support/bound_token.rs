//! How this server's own resources (userinfo, SCIM) take an access token:
//! from `Authorization: Bearer`, or `Authorization: DPoP` with a `DPoP`
//! proof for a DPoP-bound token (RFC 9449 §7.1), and what they answer when
//! the binding does not hold: the DPoP challenge with the error (§7.1),
//! and the server nonce when one is wanted (§9).

use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

use crate::services::oauth::dpop::{self, BindingError, Presentation};
use crate::services::oauth::verify::VerifiedToken;
use crate::state::AppState;

/// The access token of a request and how it came.
#[derive(Debug)]
pub struct Credentials {
    pub token: String,
    /// The `DPoP` scheme rather than `Bearer`.
    pub dpop: bool,
}

impl Credentials {
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let value = headers
            .get(axum::http::header::AUTHORIZATION)?
            .to_str()
            .ok()?;
        oauth::bearer::access_token(value).map(|(dpop, token)| Self {
            token: token.to_owned(),
            dpop,
        })
    }
}

/// A refusal of the binding, for the route to answer in its own voice
/// (401) with [`Refusal::apply`].
#[derive(Debug)]
pub struct Refusal {
    /// `invalid_token`, `invalid_dpop_proof` or `use_dpop_nonce`.
    pub code: &'static str,
    pub description: String,
    nonce: Option<String>,
}

impl Refusal {
    /// Adds the DPoP challenge (and `DPoP-Nonce`) to the route's 401.
    pub fn apply(&self, response: &mut Response) {
        let challenge = dpop::challenge(Some((self.code, &self.description)));
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response.headers_mut().append(WWW_AUTHENTICATE, value);
        }
        if let Some(value) = self
            .nonce
            .as_deref()
            .and_then(|n| HeaderValue::from_str(n).ok())
        {
            response.headers_mut().insert("dpop-nonce", value);
        }
    }
}

/// Checks that `verified` came as its binding requires (§7.1) to the
/// resource at `path` (under the issuer). `Err(Ok(refusal))` for a refusal,
/// `Err(Err(e))` when the store could not answer.
pub async fn check(
    state: &AppState,
    verified: &VerifiedToken,
    credentials: &Credentials,
    headers: &HeaderMap,
    method: &str,
    path: &str,
) -> Result<(), Result<Refusal, store::Error>> {
    let refuse = |code: &'static str, e: &dyn std::fmt::Display| {
        tracing::info!(category = "security", event = "dpop_proof_refused", error = code, reason = %e, client_id = verified.client_id(), outcome = "failure", "DPoP binding refused");
        Ok(Refusal {
            code,
            description: e.to_string(),
            nonce: (code == "use_dpop_nonce").then(|| dpop::nonce(state)),
        })
    };
    let proof = match dpop::header(headers) {
        Ok(proof) => proof,
        Err(e) => return Err(refuse(e.code(), &e)),
    };
    let url = format!("{}{path}", state.config.issuer);
    let presented = Presentation {
        dpop_scheme: credentials.dpop,
        proof,
        method,
        url: &url,
        token: &credentials.token,
    };
    match dpop::check_binding(state, verified, presented).await {
        Ok(()) => Ok(()),
        Err(BindingError::Store(e)) => Err(Err(e)),
        Err(BindingError::Scheme(why)) => Err(refuse("invalid_token", &why)),
        Err(BindingError::Proof(e)) => Err(refuse(e.code(), &e)),
    }
}
