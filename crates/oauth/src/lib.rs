//! OAuth 2.0 and OpenID Connect as pure logic: typed protocol identifiers
//! that validate once when parsed, the RFC error vocabulary, and the
//! protocol decisions the server asks for:
//!
//! - requests: [`Params`] (each parameter at most once), [`authorize`]
//!   (the authorization request and the sign-in and consent steps),
//!   [`token_request`], [`token_exchange`] (RFC 8693), [`device`] (RFC
//!   8628 device authorization), [`par`] (RFC 9126 pushed requests),
//!   [`request_object`] (RFC 9101 signed requests),
//!   [`logout`], [`backchannel_logout`] (the logout token);
//! - clients: [`client_auth`] (presented credentials, assertion claims),
//!   [`registration`] (RFC 7591 metadata), [`client_metadata`] (its JSON
//!   form, for dynamic registration);
//! - APIs: [`resource`] (RFC 8707 resource indicators),
//!   [`protected_resource`] (RFC 9728 metadata);
//! - tokens: [`access_token`] (RFC 9068 claims and their checks),
//!   [`id_token`], [`claims`] (a user's claims by scope),
//!   [`claim_mapping`] (a client's own claims), [`Scope::narrow`],
//!   [`bearer`] (RFC 6750), [`dpop`] (RFC 9449 proofs), [`introspection`]
//!   (RFC 7662 answers);
//! - authentication levels: [`acr`] (`acr` values and RFC 8176 methods);
//! - [`discovery`]: the metadata, derived from the types above;
//!   [`webfinger`] (RFC 7033 issuer discovery).
//!
//! This crate does no IO, reads no clock and draws no randomness: time and
//! random values are parameters. It knows nothing of HTTP types, stores or
//! tokio, which keeps it fast to test against the RFCs' own examples.

pub mod access_token;
pub mod acr;
pub mod authorize;
pub mod backchannel_logout;
pub mod bearer;
pub mod claim_mapping;
pub mod claims;
pub mod client_auth;
pub mod client_metadata;
pub mod device;
pub mod discovery;
pub mod dpop;
mod error;
mod grant;
pub mod id_token;
pub mod introspection;
pub mod logout;
pub mod par;
mod params;
mod pkce;
pub mod protected_resource;
mod redirect_uri;
pub mod registration;
pub mod request_object;
pub mod resource;
mod scope;
pub mod token_exchange;
pub mod token_request;
pub mod webfinger;

pub use error::{Error, ErrorCode};
pub use grant::GrantType;
pub use params::Params;
pub use pkce::CodeChallenge;
pub use redirect_uri::{RedirectUri, RedirectUriError};
pub use scope::{Scope, ScopeError};
