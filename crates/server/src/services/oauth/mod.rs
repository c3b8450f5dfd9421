//! The OAuth 2.0 and OpenID Connect services, one module per decision:
//!
//! - [`authorize`]: an authorization request's next step (sign in,
//!   consent, or the code), and the code itself; [`par`]: pushed
//!   authorization requests (RFC 9126); [`request_object`]: signed ones
//!   (RFC 9101);
//! - [`consent`]: recording the user's consent;
//! - [`device`]: device authorizations (RFC 8628) and the user's decision;
//! - [`client_auth`]: whether a client's credentials are right;
//! - [`login`]: whether a userName and password sign in;
//! - [`session`]: browser sessions as records (the cookie is `web::session`);
//! - [`grants`]: the token endpoint's grants, each deciding and then
//!   calling [`issue`];
//! - [`issue`]: one issuance into a typed `TokenSet`;
//! - [`resources`]: which APIs a grant is for (RFC 8707);
//! - [`sign`]: what goes into access and ID tokens, and signing them;
//! - [`claims`]: the standard claims of a user, by scope;
//! - [`verify`]: the one check of a presented access token;
//! - [`logout`]: ending a session and what was issued in it;
//! - [`backchannel`]: telling clients a session ended (Back-Channel Logout).
//!
//! The protocol rules themselves (request parsing, scope narrowing, the
//! interaction steps) are pure functions in `crates/oauth`; these modules
//! read and write the store around them. Nothing here knows HTTP: the
//! routes extract, call one service, and map its typed outcome.

pub mod authorize;
pub mod backchannel;
pub mod claims;
pub mod client_auth;
pub mod consent;
pub mod device;
pub mod dpop;
pub mod grants;
pub mod issue;
pub mod login;
pub mod logout;
pub mod par;
pub mod request_object;
pub mod resources;
pub mod session;
pub mod sign;
pub mod verify;
