//! Recovery codes: ten single-use codes, made at a user's first enrolment
//! and on request, shown once, for when the authenticator is lost.
//!
//! - A code is 10 characters of a 32-symbol alphabet without look-alikes
//!   (50 bits), shown as `xxxxx-xxxxx`; case, spaces and dashes do not
//!   matter when it is typed.
//! - Each code is its own factor record (`store::FactorKind::RecoveryCodes`),
//!   whose id is an HMAC of the user and the code under a key derived from
//!   the master key. The store never sees a code, and a copy of the store
//!   alone cannot test guesses offline (a plain hash of 50 bits could be
//!   searched).
//! - Using a code deletes its record: the store's delete is atomic, so of
//!   two requests with one code exactly one wins (docs/security.md 31).
//!   Finding the record by its keyed id compares no secret in our code: a
//!   guess costs the same whatever it shares with a real code.

use store::{Factor, FactorKind, Store};

use crate::keys::MasterKey;
use crate::secret::Secret;

/// Codes per set.
pub const COUNT: usize = 10;
/// Characters per code.
const LEN: usize = 10;
/// Crockford's base32 alphabet, lowercase: no i, l, o or u.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const PURPOSE: &str = "recovery-code";
/// The display name of each record.
const NAME: &str = "Recovery code";

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("no randomness for recovery codes")]
    Random,
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// A typed code in its comparison form, if it can be a code at all.
fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// Whether `typed` has the shape of a recovery code (not a TOTP code).
pub fn looks_like_one(typed: &str) -> bool {
    normalize(typed).is_some()
}

fn record_id(master: &MasterKey, user_id: &str, code: &str) -> String {
    format!(
        "rc-{}",
        master.mac(PURPOSE, format!("{user_id}\n{code}").as_bytes())
    )
}

/// A fresh set of codes for the user, replacing any left: the codes to show
/// (once), after the records are stored.
pub async fn regenerate(
    store: &dyn Store,
    master: &MasterKey,
    user_id: &str,
    now: i64,
) -> Result<Vec<Secret<String>>, RecoveryError> {
    for old in store.list_factors(user_id).await? {
        if old.kind == FactorKind::RecoveryCodes {
            match store.delete_factor(user_id, &old.id).await {
                Ok(()) | Err(store::Error::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let mut random = [0u8; COUNT * LEN];
    aws_lc_rs::rand::fill(&mut random).map_err(|_| RecoveryError::Random)?;
    let mut codes = Vec::with_capacity(COUNT);
    for chunk in random.chunks(LEN) {
        // 256 is a multiple of 32: taking the low five bits is unbiased.
        let code: String = chunk
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
            .collect();
        store
            .insert_factor(&Factor {
                id: record_id(master, user_id, &code),
                user_id: user_id.to_owned(),
                kind: FactorKind::RecoveryCodes,
                name: NAME.to_owned(),
                sealed_secret: None,
                data: serde_json::json!({}),
                counter: 0,
                created_at: now,
                last_used_at: None,
            })
            .await?;
        codes.push(Secret::new(format!("{}-{}", &code[..5], &code[5..])));
    }
    Ok(codes)
}

/// Uses `typed` if it is one of the user's unused codes: how many remain
/// then. `None` if it is not (wrong, or used already).
pub async fn consume(
    store: &dyn Store,
    master: &MasterKey,
    user_id: &str,
    typed: &str,
) -> Result<Option<usize>, store::Error> {
    let Some(code) = normalize(typed) else {
        return Ok(None);
    };
    match store
        .delete_factor(user_id, &record_id(master, user_id, &code))
        .await
    {
        Ok(()) => {}
        Err(store::Error::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    }
    Ok(Some(remaining(&store.list_factors(user_id).await?)))
}

/// How many unused recovery codes are among `factors`.
pub fn remaining(factors: &[Factor]) -> usize {
    factors
        .iter()
        .filter(|f| f.kind == FactorKind::RecoveryCodes)
        .count()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use store::sqlite::SqliteStore;
    use store::{FactorStore, TestClock};

    use super::*;

    #[tokio::test]
    async fn each_code_works_once_and_the_store_never_sees_one() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            SqliteStore::open(&dir.path().join("auth.db"), Arc::new(TestClock::new(0))).unwrap();
        let master = MasterKey::from_bytes(&[7; 32]).unwrap();
        let codes = regenerate(&store, &master, "u-1", 10).await.unwrap();
        assert_eq!(codes.len(), COUNT);
        let stored = store.list_factors("u-1").await.unwrap();
        assert_eq!(remaining(&stored), COUNT);
        for code in &codes {
            let bare = code.expose().replace('-', "");
            assert!(stored.iter().all(|f| !f.id.contains(&bare)));
        }
        let first = codes[0].expose().to_uppercase().replace('-', " ");
        assert_eq!(
            consume(&store, &master, "u-1", &first).await.unwrap(),
            Some(COUNT - 1)
        );
        // Used: refused; another user's code: refused; a new set replaces.
        assert_eq!(consume(&store, &master, "u-1", &first).await.unwrap(), None);
        assert_eq!(
            consume(&store, &master, "u-2", codes[1].expose())
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            consume(&store, &master, "u-1", "123456").await.unwrap(),
            None
        );
        let fresh = regenerate(&store, &master, "u-1", 20).await.unwrap();
        assert_eq!(
            consume(&store, &master, "u-1", codes[1].expose())
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            consume(&store, &master, "u-1", fresh[0].expose())
                .await
                .unwrap(),
            Some(COUNT - 1)
        );
        assert!(looks_like_one("ABCDE-12345") && !looks_like_one("123456"));
    }
}
