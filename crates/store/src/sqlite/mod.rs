//! The embedded SQLite backend: one file, WAL mode, one writer connection and
//! a few readers, all used on tokio's blocking pool so the async threads never
//! wait on disk.
//!
//! Why one writer behind a mutex: SQLite admits one writer at a time anyway;
//! queueing in-process is cheaper than `SQLITE_BUSY` retries. Every
//! read-modify-write runs in a `BEGIN IMMEDIATE` transaction, so it stays
//! atomic even against another process (the CLI) writing the same file.
//!
//! Records are stored as JSON in a `data` column, with the columns the queries
//! need (ids, unique keys, expiry) beside it.

mod apis;
mod audit;
mod devices;
mod factors;
mod grants;
mod identity;
mod logout;
pub mod schema;
mod system;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Clock, Error, Result, Store, observe};

const READERS: usize = 4;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite store. Clones share the connections.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    clock: Arc<dyn Clock>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, creating its
    /// directory, and applies pending migrations. Refuses a file that is not an
    /// SQLite database or whose schema is newer than this build, without
    /// writing to it. Blocking: call at startup or from a blocking thread.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self> {
        create_private(path)?;
        let mut writer = connect(path)?;
        // The schema check comes before anything that could write (even the
        // switch to WAL), so a refused file is left exactly as it was.
        schema::migrate(&mut writer)?;
        writer
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| Error::corrupt("cannot switch the database to WAL mode", e))?;
        let readers = (0..READERS)
            .map(|_| connect(path).map(Mutex::new))
            .collect::<Result<_>>()?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
                clock,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on the writer connection inside an immediate transaction.
    async fn write<T, F>(&self, op: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>, i64) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        observe("sqlite", op, async move {
            tokio::task::spawn_blocking(move || {
                let now = inner.clock.now();
                let mut conn = inner.writer.lock().map_err(|_| poisoned())?;
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(db)?;
                let value = f(&tx, now)?;
                tx.commit().map_err(db)?;
                Ok(value)
            })
            .await
            .map_err(|e| Error::unavailable("the sqlite worker thread failed", e))?
        })
        .await
    }

    /// Runs `f` on one of the reader connections.
    async fn read<T, F>(&self, op: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, i64) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        observe("sqlite", op, async move {
            tokio::task::spawn_blocking(move || {
                let now = inner.clock.now();
                let index = inner.next_reader.fetch_add(1, Ordering::Relaxed) % inner.readers.len();
                let conn = inner.readers[index].lock().map_err(|_| poisoned())?;
                f(&conn, now)
            })
            .await
            .map_err(|e| Error::unavailable("the sqlite worker thread failed", e))?
        })
        .await
    }
}

/// Creates the data directory (0700) and the database file (0600) if they
/// do not exist, so that nobody but the service's user can read what the
/// store holds (docs/security.md 29). SQLite gives its `-wal` and `-shm` files
/// the database file's mode. An existing file is left as it is; a warning
/// says when others may read it.
fn create_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                Error::unavailable(
                    format!("cannot create the data directory {}", dir.display()),
                    e,
                )
            })?;
    }
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match created {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if let Ok(meta) = std::fs::metadata(path)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(
                    event = "store_file_readable",
                    path = %path.display(),
                    mode = format!("{:o}", meta.permissions().mode() & 0o777),
                    "the database file is readable by other users; chmod 600 it"
                );
            }
            Ok(())
        }
        Err(e) => Err(Error::unavailable(
            format!("cannot create the database {}", path.display()),
            e,
        )),
    }
}

fn connect(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| Error::unavailable(format!("cannot open {}", path.display()), e))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
    // NORMAL is durable against a process crash in WAL mode; only an OS crash
    // can lose the last transactions (https://sqlite.org/pragma.html#pragma_synchronous).
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(db)?;
    Ok(conn)
}

fn poisoned() -> Error {
    Error::Unavailable {
        message: "a sqlite connection lock was poisoned".into(),
        source: None,
    }
}

/// Maps a SQLite error: a damaged file is `Corrupt`, anything else (busy,
/// I/O, full disk) is `Unavailable`.
pub(crate) fn db(e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            Error::corrupt("the file is damaged or is not an SQLite database", e)
        }
        _ => Error::unavailable("sqlite error", e),
    }
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value)?)
}

pub(crate) fn from_json<T: DeserializeOwned>(text: &str) -> Result<T> {
    Ok(serde_json::from_str(text)?)
}

/// Maps "no row" to `NotFound`.
pub(crate) fn found<T>(result: rusqlite::Result<T>) -> Result<T> {
    match result {
        Ok(v) => Ok(v),
        Err(rusqlite::Error::QueryReturnedNoRows) => Err(Error::NotFound),
        Err(e) => Err(db(e)),
    }
}

/// A count or version as SQLite's integer (saturating; no real value gets near).
/// The one JSON record `sql` (`SELECT data … WHERE key = ?1`) selects by
/// `key`; `NotFound` if none.
pub(crate) fn record<T: DeserializeOwned>(conn: &Connection, sql: &str, key: &str) -> Result<T> {
    let data: String = found(conn.query_row(sql, [key], |row| row.get(0)))?;
    from_json(&data)
}

/// Every JSON record `sql` (`SELECT data …`) selects, in its order.
pub(crate) fn records<T: DeserializeOwned>(conn: &Connection, sql: &str) -> Result<Vec<T>> {
    let mut stmt = conn.prepare(sql).map_err(db)?;
    let rows = stmt
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(db)?;
    rows.map(|data| from_json(&data.map_err(db)?)).collect()
}

/// An `INSERT … ON CONFLICT DO NOTHING` that wrote `rows`: none means the
/// key was taken.
pub(crate) fn inserted(rows: usize) -> Result<()> {
    if rows == 0 {
        Err(Error::Conflict(crate::error::Conflict::Exists))
    } else {
        Ok(())
    }
}

/// An `UPDATE` or `DELETE` by key that changed `rows`: none means there was
/// no such record.
pub(crate) fn changed(rows: usize) -> Result<()> {
    if rows == 0 {
        Err(Error::NotFound)
    } else {
        Ok(())
    }
}

pub(crate) fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        self.read("ping", |conn, _| {
            conn.query_row("SELECT 1", [], |_| Ok(())).map_err(db)
        })
        .await
    }

    async fn diagnostics(&self) -> Result<std::collections::BTreeMap<String, String>> {
        self.read("diagnostics", |conn, _| {
            let mut out = std::collections::BTreeMap::new();
            for pragma in ["journal_mode", "synchronous"] {
                let value: String = conn
                    .query_row(&format!("PRAGMA {pragma}"), [], |row| {
                        row.get::<_, rusqlite::types::Value>(0)
                    })
                    .map(|v| match v {
                        rusqlite::types::Value::Integer(i) => i.to_string(),
                        rusqlite::types::Value::Text(t) => t,
                        other => format!("{other:?}"),
                    })
                    .map_err(db)?;
                out.insert(pragma.to_owned(), value);
            }
            Ok(out)
        })
        .await
    }

    /// Re-keying happened when the database opened (schema migration 4);
    /// this reports the users that still carry another key (collisions).
    async fn upgrade_user_name_keys(&self) -> Result<Vec<String>> {
        self.read("upgrade_user_name_keys", |conn, _| {
            let mut select = conn
                .prepare("SELECT id, user_name_key, data FROM users ORDER BY id")
                .map_err(|e| Error::corrupt("cannot read users", e))?;
            let rows = select
                .query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                })
                .map_err(|e| Error::corrupt("cannot read users", e))?;
            let mut left = Vec::new();
            for row in rows {
                let (id, key, data) = row.map_err(|e| Error::corrupt("cannot read users", e))?;
                let user: crate::UserRecord = serde_json::from_str(&data)
                    .map_err(|e| Error::corrupt(format!("user {id} is not a user record"), e))?;
                if crate::user_name_key(&user.user_name) != key {
                    left.push(id);
                }
            }
            Ok(left)
        })
        .await
    }

    async fn purge_expired(&self) -> Result<u64> {
        self.write("purge_expired", |tx, now| {
            let mut removed = 0;
            for sql in [
                "DELETE FROM codes WHERE expires_at <= ?1",
                "DELETE FROM challenges WHERE expires_at <= ?1",
                "DELETE FROM device_authorizations WHERE expires_at <= ?1",
                "DELETE FROM session_clients WHERE expires_at <= ?1",
                "DELETE FROM sessions WHERE expires_at <= ?1 \
                 OR json_extract(data, '$.idle_expires_at') <= ?1",
                "DELETE FROM refresh_families WHERE expires_at <= ?1 \
                 OR json_extract(data, '$.idle_expires_at') <= ?1",
                "DELETE FROM revoked_token_ids WHERE expires_at <= ?1",
                "DELETE FROM counters WHERE expires_at <= ?1",
                "DELETE FROM leases WHERE expires_at <= ?1",
                "DELETE FROM attempts WHERE expires_at <= ?1",
            ] {
                removed += tx.execute(sql, [now]).map_err(db)? as u64;
            }
            Ok(removed)
        })
        .await
    }
}
