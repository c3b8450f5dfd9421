//! Key material. Only this module touches secret key bytes: the master key
//! that seals private signing keys before they reach the store, and the
//! keyed hash for client secrets derived from it.
//!
//! Signing keys, their rotation and the JWKS arrive with the OAuth issue;
//! what they need from here is [`MasterKey::seal`] and [`MasterKey::open`].

mod master;

pub use master::{MasterKey, SealError, hex, key_file_for, resolve_master_key};
