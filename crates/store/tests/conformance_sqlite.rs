//! The store conformance suite on the embedded SQLite backend.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use store::conformance::{Harness, T0};
use store::sqlite::SqliteStore;
use store::{CounterStore, Store, TestClock};

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/auth.db");
    let clock = TestClock::new(T0);
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&path, Arc::new(clock.clone())).unwrap());
    let other: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&path, Arc::new(clock.clone())).unwrap());
    Harness {
        store,
        other,
        clock,
        guard: Some(Box::new(dir)),
    }
}

store::conformance_tests!(harness);

/// A file that is not a database is refused, and left byte for byte as it was.
#[test]
fn refuses_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.db");
    let garbage = b"this is not an sqlite database, and it must stay this way".repeat(100);
    std::fs::write(&path, &garbage).unwrap();
    let err = SqliteStore::open(&path, Arc::new(TestClock::new(T0))).unwrap_err();
    assert!(matches!(err, store::Error::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("SQLite database"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
}

/// A schema written by a newer build is refused without being touched.
#[test]
fn refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 999;")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = SqliteStore::open(&path, Arc::new(TestClock::new(T0))).unwrap_err();
    assert!(err.to_string().contains("schema version 999"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

/// Reopening applies no migration twice and keeps the data.
#[tokio::test]
async fn reopening_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.db");
    let clock: Arc<TestClock> = Arc::new(TestClock::new(T0));
    {
        let store = SqliteStore::open(&path, clock.clone()).unwrap();
        store.increment("k", 5, 60).await.unwrap();
    }
    let store = SqliteStore::open(&path, clock).unwrap();
    assert_eq!(store.get_counter("k").await.unwrap(), 5);
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, store::sqlite::schema::SCHEMA_VERSION);
}

/// docs/security.md 29: the database, its WAL and shared-memory files are 0600
/// and a data directory the store creates is 0700 (they were 0644/0755).
#[tokio::test]
async fn database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = data.join("auth.db");
    let store = SqliteStore::open(&path, Arc::new(TestClock::new(T0))).unwrap();
    store.increment("k", 1, 60).await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for file in ["auth.db", "auth.db-wal", "auth.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
}
