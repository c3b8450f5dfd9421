//! Opaque bearer secrets (codes, refresh tokens, session ids, client
//! secrets): 256 bits from the OS CSPRNG, base64url without padding
//! (docs/security.md 9). The store only ever sees [`hash_token`] of them.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroize;

use crate::keys::hex;
use crate::secret::Secret;

/// A fresh 256-bit random token.
pub fn random_token() -> Result<Secret<String>, aws_lc_rs::error::Unspecified> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes)?;
    let token = Secret::new(URL_SAFE_NO_PAD.encode(bytes));
    bytes.zeroize();
    Ok(token)
}

/// `N` bytes from the OS CSPRNG (a user code's raw material).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], aws_lc_rs::error::Unspecified> {
    let mut bytes = [0u8; N];
    SystemRandom::new().fill(&mut bytes)?;
    Ok(bytes)
}

/// The name under which a token is stored: SHA-256, hex. A fast hash is right
/// here: the input is 256-bit random, so there is nothing to brute-force.
pub fn hash_token(token: &str) -> String {
    hex(digest(&SHA256, token.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_are_256_bit_and_distinct() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(a.expose()).unwrap().len(), 32);
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn hash_is_sha256_hex() {
        // FIPS 180-2 example: SHA-256("abc").
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
