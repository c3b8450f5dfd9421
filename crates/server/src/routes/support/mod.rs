//! What the HTTP routes share, so that no route module imports another:
//! the OAuth error response, the extractors (a form whose parameters
//! appear at most once, a Bearer token), client authentication and the
//! rate limits, and the authorization response that `/authorize`,
//! `/login` and `/consent` all end with.

pub mod authorization_response;
pub mod bound_token;
pub mod client_auth;
mod error;
mod extract;
pub mod rate_limit;
pub mod scim_response;

pub use error::{OAuthError, error, no_store};
pub use extract::{Bearer, FormParams, OAuthForm};
