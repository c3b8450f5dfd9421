//! Backups: a portable, versioned, authenticated JSON-lines file holding
//! clients, APIs, users, groups, consents, sign-in factors and signing keys
//! (private keys and TOTP seeds still sealed by the master key), readable by
//! either backend.
//!
//! Layout, one JSON object per line:
//! 1. a header: `{"format":"auth-service-backup","version":1,…}` with a
//!    fingerprint of the master key (restoring with another key would leave
//!    sealed keys and client-secret hashes unusable, so it is refused);
//! 2. records: `{"kind":"client"|"api"|"user"|"group"|"consent"|"factor"|"signing_key",
//!    "record":{…}}`, each the store's own record, serialized as is;
//! 3. a trailer: `{"kind":"end","counts":{…},"hmac":"…"}`, an HMAC-SHA-256
//!    of every byte before it with a key derived from the master key.
//!
//! Authenticated, not only checksummed (docs/security.md 29): a plain SHA-256
//! let anyone who could write the backup store add a `private_key_jwt`
//! client with their own key, recompute the checksum, and own SCIM after a
//! restore. Without the master key no one can make a file that verifies.
//! The whole file is verified before anything is written; version 1 files
//! (checksummed only) are refused.
//!
//! Passkeys are factors: their public keys, flags and signature counters
//! travel with them, so a restored store still refuses a counter that went
//! back.
//!
//! What it does not hold: tokens and sessions in flight (codes, refresh
//! families, sessions, revocations, counters, WebAuthn challenges, which
//! live five minutes). After a restore users sign in again and clients
//! fetch new tokens; access tokens already issued stay valid until they
//! expire, since the signing keys come back.
//!
//! Consistency: every record is read in one store call, so each is whole;
//! the backup is taken while the server runs, one collection after another
//! (keys, clients, users with their consents and factors, groups), so a change made
//! during the backup may or may not be in it.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::Arc;

use aws_lc_rs::hmac;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store::{
    ApiRecord, ClientRecord, Consent, Factor, GroupRecord, Page, SigningKey, Store, UserRecord,
};
use subtle::ConstantTimeEq;

use crate::keys::MasterKey;

pub const FORMAT: &str = "auth-service-backup";
pub const VERSION: u64 = 2;
/// The purpose of the backup's HMAC key ([`MasterKey::mac_context`]).
const MAC_PURPOSE: &str = "backup-file";
const PAGE: u64 = 1000;
/// Records written at once by a restore.
const WRITERS: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("cannot write or read the backup: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a valid backup: {0}")]
    Invalid(String),
    #[error("{0}")]
    Refused(String),
}

/// One record of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "record", rename_all = "snake_case")]
pub enum Entry {
    SigningKey(SigningKey),
    /// Boxed: a client record is several times any other.
    Client(Box<ClientRecord>),
    Api(ApiRecord),
    User(UserRecord),
    Consent(Consent),
    Factor(Factor),
    Group(GroupRecord),
}

impl Entry {
    fn kind(&self) -> &'static str {
        match self {
            Self::SigningKey(_) => "signing_key",
            Self::Client(_) => "client",
            Self::Api(_) => "api",
            Self::User(_) => "user",
            Self::Consent(_) => "consent",
            Self::Factor(_) => "factor",
            Self::Group(_) => "group",
        }
    }
}

/// How many records of each kind.
pub type Counts = BTreeMap<String, u64>;

/// Progress reports: (what, done, total if known).
pub type Progress<'a> = &'a mut dyn FnMut(&str, u64, Option<u64>);

/// The fingerprint of a master key, safe to store beside the data.
fn fingerprint(master_key: &MasterKey) -> String {
    master_key.mac("backup-fingerprint", b"auth-service")
}

/// Writes lines and authenticates them.
struct Hashing<W: Write> {
    out: W,
    hash: hmac::Context,
    counts: Counts,
}

fn tag_hex(context: hmac::Context) -> String {
    crate::keys::hex(context.sign().as_ref())
}

impl<W: Write> Hashing<W> {
    fn line(&mut self, value: &impl Serialize) -> Result<(), BackupError> {
        let mut bytes = serde_json::to_vec(value)
            .map_err(|e| BackupError::Invalid(format!("cannot serialize: {e}")))?;
        bytes.push(b'\n');
        self.hash.update(&bytes);
        self.out.write_all(&bytes)?;
        Ok(())
    }

    fn entry(&mut self, entry: &Entry) -> Result<(), BackupError> {
        self.line(entry)?;
        *self.counts.entry(entry.kind().to_owned()).or_default() += 1;
        Ok(())
    }
}

/// Writes a backup of `store` to `out`; returns the counts.
pub async fn export(
    store: &dyn Store,
    master_key: &MasterKey,
    created_at: String,
    out: impl Write,
    progress: Progress<'_>,
) -> Result<Counts, BackupError> {
    let mut w = Hashing {
        out,
        hash: master_key.mac_context(MAC_PURPOSE),
        counts: Counts::new(),
    };
    w.line(&json!({
        "format": FORMAT,
        "version": VERSION,
        "created_at": created_at,
        "source_backend": store.backend(),
        "master_key_fingerprint": fingerprint(master_key),
        "excluded": "authorization codes, refresh tokens, sessions, revocations, counters",
    }))?;
    for key in store.list_keys().await? {
        w.entry(&Entry::SigningKey(key))?;
    }
    for client in store.list_clients().await? {
        w.entry(&Entry::Client(Box::new(client)))?;
    }
    for api in store.list_apis().await? {
        w.entry(&Entry::Api(api))?;
    }
    let mut offset = 0;
    loop {
        let page = store
            .list_users(Page {
                offset,
                limit: PAGE,
            })
            .await?;
        let read = page.items.len() as u64;
        for user in page.items {
            let consents = store.list_consents(&user.id).await?;
            let factors = store.list_factors(&user.id).await?;
            w.entry(&Entry::User(user))?;
            for consent in consents {
                w.entry(&Entry::Consent(consent))?;
            }
            for factor in factors {
                w.entry(&Entry::Factor(factor))?;
            }
        }
        offset += read;
        progress("users", offset, Some(page.total));
        if read < PAGE {
            break;
        }
    }
    let mut offset = 0;
    loop {
        let page = store
            .list_groups(Page {
                offset,
                limit: PAGE,
            })
            .await?;
        let read = page.items.len() as u64;
        for group in page.items {
            w.entry(&Entry::Group(group))?;
        }
        offset += read;
        progress("groups", offset, Some(page.total));
        if read < PAGE {
            break;
        }
    }
    let Hashing { out, hash, counts } = w;
    let mut out = out;
    let mut trailer =
        serde_json::to_vec(&json!({"kind": "end", "counts": counts, "hmac": tag_hex(hash)}))
            .map_err(|e| BackupError::Invalid(e.to_string()))?;
    trailer.push(b'\n');
    out.write_all(&trailer)?;
    out.flush()?;
    Ok(counts)
}

/// Counts the records a store holds, as a backup would.
pub async fn count(store: &dyn Store) -> Result<Counts, BackupError> {
    let mut counts = Counts::new();
    let mut put = |kind: &str, n: u64| {
        if n > 0 {
            counts.insert(kind.to_owned(), n);
        }
    };
    put("signing_key", store.list_keys().await?.len() as u64);
    put("client", store.list_clients().await?.len() as u64);
    put("api", store.list_apis().await?.len() as u64);
    let users = store
        .list_users(Page {
            offset: 0,
            limit: 0,
        })
        .await?
        .total;
    put("user", users);
    put(
        "group",
        store
            .list_groups(Page {
                offset: 0,
                limit: 0,
            })
            .await?
            .total,
    );
    let (mut consents, mut factors) = (0, 0);
    let mut offset = 0;
    while offset < users {
        let page = store
            .list_users(Page {
                offset,
                limit: PAGE,
            })
            .await?;
        if page.items.is_empty() {
            break;
        }
        for user in &page.items {
            consents += store.list_consents(&user.id).await?.len() as u64;
            factors += store.list_factors(&user.id).await?.len() as u64;
        }
        offset += page.items.len() as u64;
    }
    put("consent", consents);
    put("factor", factors);
    Ok(counts)
}

/// Reads a whole backup and checks it (header, every record, trailer,
/// checksum) without keeping it; returns the counts. Run before
/// [`import`], so a damaged file changes nothing.
pub fn verify(input: impl BufRead, master_key: &MasterKey) -> Result<Counts, BackupError> {
    let invalid = |m: String| BackupError::Invalid(m);
    let mut hash = master_key.mac_context(MAC_PURPOSE);
    let mut lines = input.split(b'\n');
    let header = lines
        .next()
        .ok_or_else(|| invalid("the file is empty".into()))??;
    hash.update(&header);
    hash.update(b"\n");
    let header: Value = serde_json::from_slice(&header)
        .map_err(|e| invalid(format!("the first line is not a header: {e}")))?;
    if header["format"] != FORMAT {
        return Err(invalid(format!("the first line is not an {FORMAT} header")));
    }
    match header["version"].as_u64() {
        Some(VERSION) => {}
        Some(1) => {
            return Err(BackupError::Refused(
                "this is a version 1 backup, which is checksummed but not authenticated, so \
                 anyone could have changed it; it is not restored (restore it with the release \
                 that wrote it if you trust the file, then take a new backup)"
                    .into(),
            ));
        }
        other => {
            return Err(invalid(format!(
                "format version {other:?}; this build reads version {VERSION}"
            )));
        }
    }
    if header["master_key_fingerprint"].as_str() != Some(fingerprint(master_key).as_str()) {
        return Err(BackupError::Refused(
            "the backup was taken with another master key: its signing keys and client secrets \
             would be unusable (set AUTH_MASTER_KEY to the key of the source)"
                .into(),
        ));
    }
    let mut counts = Counts::new();
    for (number, line) in lines.enumerate() {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        let value: Value = serde_json::from_slice(&line)
            .map_err(|e| invalid(format!("line {}: {e}", number + 2)))?;
        if value["kind"] == "end" {
            let expected = tag_hex(hash);
            let given = value["hmac"].as_str().unwrap_or_default();
            if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
                return Err(invalid(
                    "the authentication tag does not match: the file was changed, cut or made \
                     without this master key"
                        .into(),
                ));
            }
            let declared: Counts = serde_json::from_value(value["counts"].clone())
                .map_err(|e| invalid(format!("the trailer's counts: {e}")))?;
            if declared != counts {
                return Err(invalid(format!(
                    "the trailer counts {declared:?} but the file holds {counts:?}"
                )));
            }
            return Ok(counts);
        }
        hash.update(&line);
        hash.update(b"\n");
        let entry: Entry = serde_json::from_value(value)
            .map_err(|e| invalid(format!("line {}: {e}", number + 2)))?;
        *counts.entry(entry.kind().to_owned()).or_default() += 1;
    }
    Err(invalid(
        "the file ends without its trailer: it was cut short".into(),
    ))
}

/// Writes a [`verify`]-ed backup into `store`. Unless `force`, the store
/// must be empty; with `force`, records with the same id are replaced.
pub async fn import(
    store: Arc<dyn Store>,
    input: impl BufRead,
    expected: &Counts,
    force: bool,
    progress: Progress<'_>,
) -> Result<Counts, BackupError> {
    let before = count(store.as_ref()).await?;
    if !force && !before.is_empty() {
        return Err(BackupError::Refused(format!(
            "the store is not empty ({before:?}); restore into an empty store, or pass --force \
             to replace records with the same ids"
        )));
    }
    let total: u64 = expected.values().sum();
    let mut done = 0;
    // Records are independent of each other (members and consents are ids,
    // not references the store checks), so they are written many at a time.
    let mut writing = tokio::task::JoinSet::new();
    let mut finished = |result: Option<Result<Result<(), BackupError>, tokio::task::JoinError>>| -> Result<(), BackupError> {
        match result {
            Some(Ok(written)) => {
                written?;
                done += 1;
                if done % 1000 == 0 || done == total {
                    progress("records", done, Some(total));
                }
                Ok(())
            }
            Some(Err(e)) => Err(BackupError::Invalid(format!("a write failed: {e}"))),
            None => Ok(()),
        }
    };
    for line in input.split(b'\n').skip(1) {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        let value: Value = serde_json::from_slice(&line)
            .map_err(|e| BackupError::Invalid(format!("a record: {e}")))?;
        if value["kind"] == "end" {
            break;
        }
        let entry: Entry = serde_json::from_value(value)
            .map_err(|e| BackupError::Invalid(format!("a record: {e}")))?;
        if writing.len() >= WRITERS {
            finished(writing.join_next().await)?;
        }
        let store = Arc::clone(&store);
        writing.spawn(async move { write(store.as_ref(), entry, force).await });
    }
    while !writing.is_empty() {
        finished(writing.join_next().await)?;
    }
    let after = count(store.as_ref()).await?;
    if !force && &after != expected {
        return Err(BackupError::Invalid(format!(
            "after the restore the store holds {after:?}, the backup {expected:?}"
        )));
    }
    Ok(after)
}

async fn write(store: &dyn Store, entry: Entry, force: bool) -> Result<(), BackupError> {
    use store::{Conflict, Error};
    let exists = |r: &Result<(), Error>| {
        matches!(
            r,
            Err(Error::Conflict(Conflict::Exists | Conflict::Unique(_)))
        )
    };
    match entry {
        Entry::SigningKey(key) => {
            let first = store.insert_key(&key).await;
            if force && exists(&first) {
                store.delete_key(&key.kid).await?;
                store.insert_key(&key).await?;
            } else {
                first?;
            }
        }
        Entry::Api(api) => {
            let first = store.create_api(&api).await;
            if force && exists(&first) {
                store.delete_api(&api.identifier).await?;
                store.create_api(&api).await?;
            } else {
                first?;
            }
        }
        Entry::Client(client) => {
            let first = store.create_client(&client).await;
            if force && exists(&first) {
                store.delete_client(&client.client_id).await?;
                store.create_client(&client).await?;
            } else {
                first?;
            }
        }
        Entry::User(user) => {
            let first = store.create_user(&user).await;
            if force && exists(&first) {
                match store.get_user(&user.id).await {
                    Ok(_) => store.delete_user(&user.id).await?,
                    Err(Error::NotFound) => {
                        // Another user holds the userName: it goes.
                        let holder = store.get_user_by_name(&user.user_name).await?;
                        store.delete_user(&holder.id).await?;
                    }
                    Err(e) => return Err(e.into()),
                }
                store.create_user(&user).await?;
            } else {
                first?;
            }
        }
        Entry::Consent(consent) => store.put_consent(&consent).await?,
        Entry::Factor(factor) => {
            let first = store.insert_factor(&factor).await;
            if force && exists(&first) {
                store.delete_factor(&factor.user_id, &factor.id).await?;
                store.insert_factor(&factor).await?;
            } else {
                first?;
            }
        }
        Entry::Group(group) => {
            let first = store.create_group(&group).await;
            if force && exists(&first) {
                store.delete_group(&group.id).await?;
                store.create_group(&group).await?;
            } else {
                first?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use store::sqlite::SqliteStore;
    use store::{Store, TestClock};

    use crate::services::fixtures;

    use crate::keys::MasterKey;

    /// A user's factors travel with it, counters and last use included: a
    /// restore must not let a TOTP code already used be used again.
    #[tokio::test]
    async fn factors_round_trip_with_their_counters() {
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str| -> Arc<dyn Store> {
            Arc::new(
                SqliteStore::open(&dir.path().join(name), Arc::new(TestClock::new(0))).unwrap(),
            )
        };
        let (from, into) = (open("from.db"), open("into.db"));
        let user = fixtures::user("u-1", "alice");
        from.create_user(&user).await.unwrap();
        let factor = fixtures::totp_factor("u-1", "f-1");
        from.insert_factor(&factor).await.unwrap();
        assert!(from.advance_factor("u-1", "f-1", 59, 1_770).await.unwrap());

        let master = MasterKey::from_bytes(&[5; 32]).unwrap();
        let mut file = Vec::new();
        let counts = super::export(
            from.as_ref(),
            &master,
            "now".into(),
            &mut file,
            &mut |_, _, _| {},
        )
        .await
        .unwrap();
        assert_eq!(counts["factor"], 1);
        let checked = super::verify(file.as_slice(), &master).unwrap();
        super::import(
            Arc::clone(&into),
            file.as_slice(),
            &checked,
            false,
            &mut |_, _, _| {},
        )
        .await
        .unwrap();
        let restored = into.get_factor("u-1", "f-1").await.unwrap();
        assert_eq!(restored, from.get_factor("u-1", "f-1").await.unwrap());
        assert_eq!((restored.counter, restored.last_used_at), (59, Some(1_770)));
        assert!(!into.advance_factor("u-1", "f-1", 59, 1_800).await.unwrap());
    }
}
