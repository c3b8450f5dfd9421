//! Services: the orchestration between a caller (HTTP route or CLI) and the
//! store: validate with the protocol crates, persist, emit security events.
//!
//! Every service works from one [`Ctx`], which the HTTP `AppState` and the
//! CLI both hold, so a write made on the command line goes through the same
//! function, with the same rules, as one made over HTTP.

pub mod apis;
pub mod audit;
pub mod backup;
pub mod client_documents;
pub mod clients;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod forward_auth;
pub mod lockout;
pub mod mfa;
pub mod minted;
pub mod oauth;
pub mod registration;
pub mod scim;
pub mod users;

use std::sync::Arc;

use store::{Clock, Store};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What services work with: configuration, the store, the master key and
/// signing keys, the clock and the password hasher. Cheap to clone (handles).
#[derive(Debug, Clone)]
pub struct Ctx {
    pub config: Arc<crate::config::Config>,
    pub store: Arc<dyn Store>,
    pub master_key: crate::keys::MasterKey,
    pub keys: crate::keys::Keys,
    pub clock: Arc<dyn Clock>,
    pub passwords: crate::password::PasswordHasher,
    /// The APIs the token endpoint read lately (`apis::ApiCache`).
    pub apis: Arc<apis::ApiCache>,
    /// Wakes this replica's back-channel logout worker when a session
    /// ended here (`oauth::backchannel`); others find the notice by polling.
    pub logouts: Arc<tokio::sync::Notify>,
    /// This server as a WebAuthn relying party; `None` when the issuer's
    /// host is an IP address, which WebAuthn does not take as an RP id.
    #[cfg(feature = "passkeys")]
    pub passkeys: Option<Arc<mfa::passkey::RelyingParty>>,
}

impl Ctx {
    /// A context on the system clock with OWASP password parameters. The
    /// key ring starts empty: [`crate::keys::Keys::refresh`] loads it.
    pub fn new(
        config: crate::config::Config,
        store: Arc<dyn Store>,
        master_key: crate::keys::MasterKey,
    ) -> Result<Self, crate::password::PasswordError> {
        let clock: Arc<dyn Clock> = Arc::new(store::SystemClock);
        let keys = crate::keys::Keys::new(
            Arc::clone(&store),
            master_key.clone(),
            Arc::clone(&clock),
            crate::state::key_settings(&config),
        );
        #[cfg(feature = "passkeys")]
        let passkeys = passkey_party(&config);
        Ok(Self {
            #[cfg(feature = "passkeys")]
            passkeys,
            config: Arc::new(config),
            apis: Arc::default(),
            logouts: Arc::default(),
            store,
            master_key,
            keys,
            clock,
            passwords: crate::password::PasswordHasher::owasp()?,
        })
    }
}

/// The relying party of the configured issuer and RP id
/// (`AUTH_WEBAUTHN_RP_ID`, checked when the configuration is read).
#[cfg(feature = "passkeys")]
fn passkey_party(config: &crate::config::Config) -> Option<Arc<mfa::passkey::RelyingParty>> {
    let rp_id = Some(config.webauthn_rp_id.as_str());
    match mfa::passkey::RelyingParty::new(&config.issuer, rp_id) {
        Ok(party) => Some(Arc::new(party)),
        Err(e) => {
            tracing::warn!(event = "passkeys_unavailable", error = %e, "passkeys are off");
            None
        }
    }
}

/// Unix seconds as an RFC 3339 UTC timestamp.
pub fn rfc3339(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The host (and port, if any) of the issuer URL: how authenticator apps
/// label this server's TOTP generators.
pub fn issuer_host(issuer: &str) -> &str {
    let rest = issuer.split_once("://").map_or(issuer, |(_, rest)| rest);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}
