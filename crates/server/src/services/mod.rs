//! Services: the orchestration between a caller (HTTP route or CLI) and the
//! store: validate with the protocol crates, persist, emit security events.

pub mod backup;
pub mod claims;
pub mod clients;
pub mod lockout;
pub mod scim;
pub mod tokens;
pub mod users;
pub mod verify;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Unix seconds as an RFC 3339 UTC timestamp.
pub fn rfc3339(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}
