//! The authorization request (RFC 6749 §4.1.1, OpenID Connect Core
//! §3.1.2.1), validated in the order that decides where an error may go:
//!
//! 1. `client_id` and `redirect_uri` first. Until both are known to be
//!    registered, an error is shown on a page and never redirected
//!    (RFC 6749 §4.1.2.1; docs/security.md 3).
//! 2. Everything else; errors go back to the client's redirect URI with
//!    `state` (and `iss`, added by the caller).

use crate::Params;
use crate::acr::Level;
use crate::resource::ResourceIndicator;
use crate::{CodeChallenge, Error, ErrorCode, RedirectUri, Scope};

/// How the response travels back (OAuth 2.0 Multiple Response Types §2.1;
/// Form Post Response Mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    FormPost,
}

impl ResponseMode {
    /// Every mode `validate` accepts, which is what discovery advertises
    /// (`response_modes_supported`).
    pub const ALL: [ResponseMode; 2] = [ResponseMode::Query, ResponseMode::FormPost];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::FormPost => "form_post",
        }
    }
}

/// Where a response or an error may be sent, once trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub uri: String,
    pub mode: ResponseMode,
    pub state: Option<String>,
}

impl Redirect {
    /// The parameters of an authorization response or error: `fields`,
    /// then `state` if the request had one (RFC 6749 §4.1.2) and `iss`
    /// (RFC 9207 §2).
    pub fn response_params<'a>(
        &'a self,
        fields: &[(&'a str, &'a str)],
        issuer: &'a str,
    ) -> Vec<(&'a str, &'a str)> {
        let mut all = fields.to_vec();
        if let Some(state) = &self.state {
            all.push(("state", state));
        }
        all.push(("iss", issuer));
        all
    }

    /// The redirect URI with `params` added to its query (RFC 6749 §4.1.2,
    /// keeping any query it was registered with, §3.1.2).
    pub fn location(&self, params: &[(&str, &str)]) -> String {
        with_query(&self.uri, params)
    }
}

/// `uri` with `params` appended to its query, form-encoded.
pub(crate) fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{query}")
}

/// The `prompt` values (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

impl Prompt {
    /// The values that change what happens (`select_account` is accepted
    /// and means nothing with one account per session): what discovery
    /// advertises as `prompt_values_supported`.
    pub const VALUES: [&'static str; 3] = ["none", "login", "consent"];
}

/// A validated authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect: Redirect,
    pub scope: Scope,
    pub nonce: Option<String>,
    pub code_challenge: CodeChallenge,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    /// The least level `acr_values` names (`crate::acr`), if it names one.
    pub acr: Option<Level>,
    pub login_hint: Option<String>,
    /// RFC 8707 §2: the APIs the tokens are for (`resource`, repeatable);
    /// whether the client may have them is the server's to judge.
    pub resources: Vec<ResourceIndicator>,
}

/// What the request is validated against.
#[derive(Debug, Clone, Copy)]
pub struct RegisteredClient<'a> {
    pub client_id: &'a str,
    pub redirect_uris: &'a [String],
    pub scopes: &'a [String],
    pub grant_types: &'a [String],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Show the error to the user; the client or its redirect URI is not trusted.
    Page(Error),
    /// Send the error to the (trusted) redirect URI.
    Redirect(Redirect, Error),
}

const MAX_PARAM: usize = 2048;

/// Step 1a: the client id, or an error page.
pub fn client_id<'a>(params: Params<'a>) -> Result<&'a str, AuthorizeError> {
    params
        .get("client_id")
        .map_err(AuthorizeError::Page)?
        .ok_or_else(|| {
            AuthorizeError::Page(Error::new(
                ErrorCode::InvalidRequest,
                "client_id is missing",
            ))
        })
}

/// Steps 1b and 2: validates the request against the client's registration.
pub fn validate(
    params: Params<'_>,
    client: &RegisteredClient<'_>,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let page = |description: &str| {
        AuthorizeError::Page(Error::new(ErrorCode::InvalidRequest, description))
    };
    let registered: Vec<RedirectUri> = client
        .redirect_uris
        .iter()
        .filter_map(|u| RedirectUri::parse(u).ok())
        .collect();
    let uri = match params.get("redirect_uri").map_err(AuthorizeError::Page)? {
        Some(requested) => {
            if !registered.iter().any(|r| r.matches(requested)) {
                return Err(page("redirect_uri is not registered for this client"));
            }
            requested.to_owned()
        }
        // RFC 6749 §3.1.2.3: optional only when exactly one is registered.
        None => match registered.as_slice() {
            [only] => only.as_str().to_owned(),
            [] => return Err(page("this client has no redirect URI registered")),
            _ => {
                return Err(page(
                    "redirect_uri is required: this client registered several",
                ));
            }
        },
    };

    // From here on errors may be redirected: the target is trusted.
    let state = params.get("state").ok().flatten().map(str::to_owned);
    let mode_param = params.get("response_mode");
    let mode = match mode_param {
        Ok(None | Some("query")) => ResponseMode::Query,
        Ok(Some("form_post")) => ResponseMode::FormPost,
        _ => ResponseMode::Query,
    };
    let redirect = Redirect { uri, mode, state };
    let fail = |code: ErrorCode, description: String| {
        AuthorizeError::Redirect(redirect.clone(), Error::new(code, description))
    };
    let get = |name: &str| {
        params
            .get(name)
            .map_err(|e| AuthorizeError::Redirect(redirect.clone(), e))
    };

    if let Ok(Some(other)) = mode_param
        && mode == ResponseMode::Query
        && other != "query"
    {
        return Err(fail(
            ErrorCode::InvalidRequest,
            format!("unsupported response_mode {other:?}"),
        ));
    }
    if let Some(value) = params
        .0
        .iter()
        .map(|(_, v)| v)
        .find(|v| v.len() > MAX_PARAM)
    {
        return Err(fail(
            ErrorCode::InvalidRequest,
            format!(
                "a parameter is longer than {MAX_PARAM} bytes ({} bytes)",
                value.len()
            ),
        ));
    }
    if get("request")?.is_some() {
        return Err(fail(
            ErrorCode::RequestNotSupported,
            "request objects are not supported".into(),
        ));
    }
    if get("request_uri")?.is_some() {
        return Err(fail(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported".into(),
        ));
    }
    match get("response_type")? {
        Some("code") => {}
        None => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "response_type is missing".into(),
            ));
        }
        // RFC 9700 §2.1.2: no implicit or hybrid flows.
        Some(other) => {
            return Err(fail(
                ErrorCode::UnsupportedResponseType,
                format!("response_type {other:?} is not supported; use code"),
            ));
        }
    }
    if !client.grant_types.iter().any(|g| g == "authorization_code") {
        return Err(fail(
            ErrorCode::UnauthorizedClient,
            "this client may not use the authorization code grant".into(),
        ));
    }
    let scope = Scope::parse(get("scope")?.unwrap_or_default())
        .map_err(|e| fail(ErrorCode::InvalidScope, e.to_string()))?;
    let scope = Scope::parse(&client.scopes.join(" "))
        .unwrap_or_default()
        .narrow(Some(&scope))
        .map_err(|e| AuthorizeError::Redirect(redirect.clone(), e))?;
    let resources = crate::resource::from_params(params)
        .map_err(|e| AuthorizeError::Redirect(redirect.clone(), e))?;
    let code_challenge =
        CodeChallenge::parse(get("code_challenge")?, get("code_challenge_method")?)
            .map_err(|e| AuthorizeError::Redirect(redirect.clone(), e))?;
    let prompt =
        parse_prompt(get("prompt")?).map_err(|e| AuthorizeError::Redirect(redirect.clone(), e))?;
    let max_age = match get("max_age")? {
        None => None,
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| {
                    fail(
                        ErrorCode::InvalidRequest,
                        "max_age must be a non-negative integer".into(),
                    )
                })?,
        ),
    };
    Ok(AuthorizationRequest {
        client_id: client.client_id.to_owned(),
        scope,
        nonce: get("nonce")?.map(str::to_owned),
        code_challenge,
        prompt,
        max_age,
        acr: get("acr_values")?.and_then(Level::requested),
        login_hint: get("login_hint")?.map(str::to_owned),
        resources,
        redirect,
    })
}

fn parse_prompt(value: Option<&str>) -> Result<Prompt, Error> {
    let mut prompt = Prompt::default();
    for word in value
        .unwrap_or_default()
        .split(' ')
        .filter(|w| !w.is_empty())
    {
        match word {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            // There is only one account per session here; nothing to select.
            "select_account" => {}
            other => {
                return Err(Error::new(
                    ErrorCode::InvalidRequest,
                    format!("unsupported prompt value {other:?}"),
                ));
            }
        }
    }
    // OpenID Connect Core §3.1.2.1: "none" must stand alone.
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(prompt)
}

mod interaction;
pub use interaction::{Authenticated, Next, consent_step, sign_in_step};

#[cfg(test)]
mod tests;
