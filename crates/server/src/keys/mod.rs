//! Key material. Only this module touches secret key bytes: the master key
//! that seals private signing keys before they reach the store, the keyed
//! hash for client secrets derived from it, and the signing keys themselves
//! with their lifecycle and the JWKS.

mod master;
pub mod material;
mod ring;

pub use master::{MasterKey, SealError, hex, key_file_for, resolve_master_key};
pub use material::{Alg, KeyError, Signer};
pub use ring::{KeySettings, Keys, RingError};

#[cfg(test)]
mod tests;
