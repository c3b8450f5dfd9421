//! Refusing to start: bad configuration (exit 2, one line naming the
//! variable) and stores that must not be touched (exit 1, data unchanged).

use crate::helpers::{BIN, Server, cli};

fn serve_fails(env: &[(&str, &str)]) -> (i32, String) {
    let output = cli(env, &["serve"], None);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code().unwrap_or(-1), stderr)
}

#[test]
fn bad_values_stop_with_exit_2_and_one_line() {
    for (env, expected) in [
        (
            vec![("AUTH_LISTEN", "not-an-address")],
            "auth-service: AUTH_LISTEN: invalid listen address",
        ),
        (
            vec![("AUTH_STORE", "mysql://db/auth")],
            "auth-service: AUTH_STORE: unknown store scheme \"mysql\"",
        ),
        (
            vec![("AUTH_STORE", "redis+sentinel://127.0.0.1:26379")],
            "auth-service: AUTH_STORE: invalid Redis URL: a Sentinel URL names the service",
        ),
        (
            vec![("AUTH_MASTER_KEY", "dG9vIHNob3J0")],
            "auth-service: AUTH_MASTER_KEY: must be 32 bytes",
        ),
        (
            vec![("AUTH_LOG_FORMAT", "yaml")],
            "auth-service: AUTH_LOG_FORMAT: unknown log format",
        ),
        (
            vec![("AUTH_SHUTDOWN_GRACE", "forever")],
            "auth-service: AUTH_SHUTDOWN_GRACE: invalid duration",
        ),
    ] {
        let (code, stderr) = serve_fails(&env);
        assert_eq!(code, 2, "{env:?}: {stderr}");
        assert!(stderr.starts_with(expected), "{env:?}: {stderr:?}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr:?}");
    }
}

#[test]
fn redis_without_a_master_key_is_refused() {
    let (code, stderr) = serve_fails(&[("AUTH_STORE", "redis://127.0.0.1:1/0")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("AUTH_MASTER_KEY: required with a Redis store"),
        "{stderr}"
    );
}

#[test]
fn unknown_command_is_usage_error() {
    let output = cli(&[], &["frobnicate"], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        std::process::Command::new(BIN)
            .arg("--help")
            .output()
            .unwrap()
            .status
            .success()
    );
}

#[test]
fn a_file_that_is_not_a_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("auth.db");
    let garbage = b"definitely not sqlite ".repeat(300);
    std::fs::write(&db, &garbage).unwrap();
    let store = format!("sqlite://{}", db.display());
    let (code, stderr) = serve_fails(&[("AUTH_STORE", &store), ("AUTH_LISTEN", "127.0.0.1:0")]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not an SQLite database"), "{stderr}");
    assert_eq!(std::fs::read(&db).unwrap(), garbage);
}

#[test]
fn a_newer_schema_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("auth.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); PRAGMA user_version = 77;")
        .unwrap();
    let before = std::fs::read(&db).unwrap();
    let store = format!("sqlite://{}", db.display());
    let (code, stderr) = serve_fails(&[("AUTH_STORE", &store), ("AUTH_LISTEN", "127.0.0.1:0")]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("schema version 77"), "{stderr}");
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[tokio::test]
async fn sqlite_without_a_key_generates_one_privately_and_warns() {
    let mut server = Server::start(&[]);
    server.wait_live().await;
    let key = server.dir.path().join("data/master.key");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let logs = server.json_logs();
    let warning = logs
        .iter()
        .find(|l| l["event"] == "master_key_generated")
        .expect("a warning");
    assert_eq!(warning["level"], "WARN");
}
