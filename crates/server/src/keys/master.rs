//! The master key (`AUTH_MASTER_KEY`, 32 bytes): AES-256-GCM sealing of
//! private key material, and an HMAC-SHA-256 key for hashing client secrets.
//!
//! Sealed format: `nonce (12 bytes) || ciphertext || tag (16 bytes)`, with a
//! random nonce per seal (at the rate keys are sealed, 96-bit random nonces
//! are far from the collision bound). The associated data names what was
//! sealed (e.g. the key id), so a sealed blob cannot be swapped for another.
//!
//! Two sub-keys are derived with HKDF-SHA-256 (RFC 5869) so that sealing and
//! secret hashing never share a key.

use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, KeyType, Salt};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;

use crate::secret::Secret;

const KEY_LEN: usize = 32;

/// The service's master key. Cloning shares nothing mutable; `Debug` redacts.
#[derive(Clone)]
pub struct MasterKey {
    bytes: Secret<[u8; KEY_LEN]>,
    /// Derived once: client secrets are checked on every token request.
    client_secret_key: hmac::Key,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

/// Sealing or opening failed; deliberately without detail.
#[derive(Debug, thiserror::Error)]
#[error("sealed data could not be opened with this master key (wrong key, or data altered)")]
pub struct SealError;

/// A sub-key for one `purpose` (HKDF-SHA-256, RFC 5869).
fn derive(master: &[u8; KEY_LEN], purpose: &[u8]) -> Secret<[u8; KEY_LEN]> {
    let prk = Salt::new(HKDF_SHA256, b"auth-service master key v1").extract(master);
    let mut out = [0u8; KEY_LEN];
    let info = [purpose];
    // HKDF-Expand fails only for an output longer than 255 hash lengths.
    if let Ok(okm) = prk.expand(&info, Len(KEY_LEN)) {
        let _ = okm.fill(&mut out);
    }
    Secret::new(out)
}

struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl MasterKey {
    /// Accepts exactly 32 bytes; otherwise returns the length it got.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, usize> {
        let array: [u8; KEY_LEN] = bytes.try_into().map_err(|_| bytes.len())?;
        Ok(Self::new(Secret::new(array)))
    }

    /// A fresh random key.
    pub fn generate() -> Result<Self, SealError> {
        let mut bytes = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| SealError)?;
        let key = Self::new(Secret::new(bytes));
        bytes.fill(0);
        Ok(key)
    }

    fn new(bytes: Secret<[u8; KEY_LEN]>) -> Self {
        let derived = derive(bytes.expose(), b"client-secret");
        let client_secret_key = hmac::Key::new(hmac::HMAC_SHA256, derived.expose());
        Self {
            bytes,
            client_secret_key,
        }
    }

    fn derive(&self, purpose: &[u8]) -> Secret<[u8; KEY_LEN]> {
        derive(self.bytes.expose(), purpose)
    }

    fn aead(&self) -> Result<LessSafeKey, SealError> {
        let key = self.derive(b"seal");
        Ok(LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, key.expose()).map_err(|_| SealError)?,
        ))
    }

    /// Encrypts `plaintext`, bound to `context` (e.g. `"signing-key:<kid>"`).
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealError)?;
        let mut buffer = plaintext.to_vec();
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| SealError)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&buffer);
        Ok(sealed)
    }

    /// Decrypts what [`seal`](Self::seal) produced with the same `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Secret<Vec<u8>>, SealError> {
        if sealed.len() < NONCE_LEN {
            return Err(SealError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError)?;
        let mut buffer = ciphertext.to_vec();
        let plain_len = self
            .aead()?
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer)
            .map_err(|_| SealError)?
            .len();
        buffer.truncate(plain_len);
        Ok(Secret::new(buffer))
    }

    /// The keyed hash under which client secrets are stored: HMAC-SHA-256
    /// with a key derived from the master key, hex-encoded. A stolen store
    /// alone does not allow offline guessing; the secrets are 256-bit random
    /// anyway, so a fast hash suffices.
    pub fn hash_client_secret(&self, secret: &str) -> String {
        hex(hmac::sign(&self.client_secret_key, secret.as_bytes()).as_ref())
    }

    /// Constant-time check of a presented client secret against its stored hash.
    pub fn verify_client_secret(&self, secret: &str, stored_hash: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.hash_client_secret(secret)
            .as_bytes()
            .ct_eq(stored_hash.as_bytes())
            .into()
    }

    /// An HMAC-SHA-256 tag (base64url) over `data`, with a key derived for
    /// `purpose` alone, for values the service hands out and must get back
    /// unaltered (the authorization transaction of the login pages).
    pub fn mac(&self, purpose: &str, data: &[u8]) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let key = self.derive(format!("mac:{purpose}").as_bytes());
        URL_SAFE_NO_PAD
            .encode(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key.expose()), data).as_ref())
    }

    /// An incremental HMAC-SHA-256 with the key of [`mac`](Self::mac) for
    /// `purpose`, for data too large to hold at once (a backup file).
    pub fn mac_context(&self, purpose: &str) -> hmac::Context {
        let key = self.derive(format!("mac:{purpose}").as_bytes());
        hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, key.expose()))
    }

    /// Checks a tag from [`mac`](Self::mac) in constant time.
    pub fn verify_mac(&self, purpose: &str, data: &[u8], tag: &str) -> bool {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        let key = self.derive(format!("mac:{purpose}").as_bytes());
        hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key.expose()), data, &tag).is_ok()
    }

    fn to_base64(&self) -> Secret<String> {
        Secret::new(base64::engine::general_purpose::STANDARD.encode(self.bytes.expose()))
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// Where a generated key is kept for the embedded store: beside the database.
pub fn key_file_for(database: &Path) -> PathBuf {
    database
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("master.key")
}

/// The master key to use: the configured one; or, for the embedded store
/// only, the one in `master.key` beside the database, generated (mode 0600)
/// with a warning the first time. A Redis store without a configured key is
/// refused: replicas must share the key, and a per-replica key would make
/// each unable to read the others' signing keys.
pub fn resolve_master_key(
    configured: Option<&MasterKey>,
    sqlite: Option<&Path>,
) -> Result<MasterKey, String> {
    if let Some(key) = configured {
        return Ok(key.clone());
    }
    let Some(database) = sqlite else {
        return Err(
            "AUTH_MASTER_KEY: required with a Redis store (every replica must share it); \
                    generate one with: openssl rand -base64 32"
                .into(),
        );
    };
    let path = key_file_for(database);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| format!("{}: not valid base64", path.display()))?;
            MasterKey::from_bytes(&bytes)
                .map_err(|len| format!("{}: expected 32 bytes, got {len}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = MasterKey::generate().map_err(|e| e.to_string())?;
            write_private(&path, key.to_base64().expose()).map_err(|e| {
                format!(
                    "{}: cannot write a generated master key: {e}",
                    path.display()
                )
            })?;
            tracing::warn!(
                event = "master_key_generated",
                path = %path.display(),
                "AUTH_MASTER_KEY is not set: generated one into the data directory; back it up with the \
                 database, or set AUTH_MASTER_KEY"
            );
            Ok(key)
        }
        Err(e) => Err(format!(
            "{}: cannot read the master key: {e}",
            path.display()
        )),
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn seal_round_trips_and_binds_context() {
        let key = MasterKey::generate().unwrap();
        let sealed = key.seal("signing-key:k1", b"private bytes").unwrap();
        assert!(!sealed.windows(13).any(|w| w == b"private bytes"));
        assert_eq!(
            key.open("signing-key:k1", &sealed).unwrap().expose(),
            b"private bytes"
        );
        assert!(key.open("signing-key:k2", &sealed).is_err());
        assert!(
            MasterKey::generate()
                .unwrap()
                .open("signing-key:k1", &sealed)
                .is_err()
        );
        let mut tampered = sealed.clone();
        tampered[NONCE_LEN] ^= 1;
        assert!(key.open("signing-key:k1", &tampered).is_err());
        assert!(key.open("signing-key:k1", &sealed[..5]).is_err());
        assert_ne!(
            sealed,
            key.seal("signing-key:k1", b"private bytes").unwrap(),
            "fresh nonce per seal"
        );
    }

    #[test]
    fn client_secret_hash_is_keyed_and_verifies() {
        let key = MasterKey::from_bytes(&[7; 32]).unwrap();
        let hash = key.hash_client_secret("s3cret");
        assert_eq!(hash.len(), 64);
        assert!(key.verify_client_secret("s3cret", &hash));
        assert!(!key.verify_client_secret("s3cret!", &hash));
        assert_ne!(
            hash,
            MasterKey::from_bytes(&[8; 32])
                .unwrap()
                .hash_client_secret("s3cret")
        );
    }

    #[test]
    fn generated_key_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("data/auth.db");
        let first = resolve_master_key(None, Some(&db)).unwrap();
        let path = key_file_for(&db);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let again = resolve_master_key(None, Some(&db)).unwrap();
        assert_eq!(first.hash_client_secret("x"), again.hash_client_secret("x"));
    }

    #[test]
    fn redis_without_a_key_is_refused() {
        let err = resolve_master_key(None, None).unwrap_err();
        assert!(
            err.starts_with("AUTH_MASTER_KEY: required with a Redis store"),
            "{err}"
        );
    }
}
