//! Storage for auth-service: one small trait per aggregate, the records they
//! keep, the embedded SQLite backend, and (behind the `conformance` feature)
//! the suite every backend must pass.
//!
//! This crate knows nothing of HTTP or of OAuth/SCIM rules. It keeps records
//! and the atomicity promises written on each trait method. Bearer secrets
//! (codes, refresh tokens, session ids) reach it only as hashes: the callers
//! hash, this crate never sees a usable secret.
//!
//! Two rules hold for every backend:
//! - **Expired means absent.** A record whose `expires_at` is not after the
//!   store clock's `now` is never returned, whether or not it was purged yet.
//! - **Pagination is stable.** Lists are ordered by id, and ids are UUIDv7 or
//!   caller-chosen strings, so a page boundary never moves under a client that
//!   pages while others insert.

mod clock;
mod error;
pub mod limits;
mod metrics;
mod records;
pub mod rotation;
pub mod sqlite;
mod traits;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use clock::{Clock, SystemClock, TestClock};
pub use error::{Conflict, Error, Result};
pub use limits::{Attempt, AttemptState, BackoffPolicy, RateDecision};
pub use metrics::observe;
pub use records::*;
pub use traits::*;
