//! The SQLite schema, as numbered migrations applied in order at startup.
//! `PRAGMA user_version` records how many have been applied. A database whose
//! version is newer than this build knows is refused, never "fixed": a newer
//! binary wrote it, and an older one must not guess at its meaning.

use rusqlite::Connection;

use crate::{Error, Result};

/// Migration `i` moves the schema from version `i` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE clients (
    client_id TEXT PRIMARY KEY,
    data TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    user_name_key TEXT NOT NULL UNIQUE,
    external_id TEXT,
    version INTEGER NOT NULL,
    data TEXT NOT NULL
) STRICT;
CREATE INDEX users_external_id ON users (external_id);

CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    data TEXT NOT NULL
) STRICT;
CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
) STRICT;
CREATE INDEX group_members_member ON group_members (member_id);

CREATE TABLE codes (
    code_hash TEXT PRIMARY KEY,
    used INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL,
    data TEXT NOT NULL
) STRICT;

CREATE TABLE refresh_families (
    id TEXT PRIMARY KEY,
    user_id TEXT,
    current_hash TEXT NOT NULL,
    previous_hash TEXT,
    expires_at INTEGER NOT NULL,
    data TEXT NOT NULL
) STRICT;
CREATE INDEX refresh_families_user ON refresh_families (user_id);
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE
) STRICT;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    data TEXT NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE consents (
    user_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT;

CREATE TABLE revoked_token_ids (
    jti TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL
) STRICT;

CREATE TABLE counters (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
"#,
    r#"
CREATE TABLE user_emails (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email_key TEXT NOT NULL,
    PRIMARY KEY (user_id, email_key)
) STRICT;
CREATE INDEX user_emails_key ON user_emails (email_key);
-- Users written before this migration. SQLite's lower() folds ASCII only;
-- later writes fold as Rust's to_lowercase does.
INSERT OR IGNORE INTO user_emails (user_id, email_key)
    SELECT users.id, lower(json_extract(e.value, '$.value'))
    FROM users, json_each(users.data, '$.attributes.emails') AS e
    WHERE json_type(e.value, '$.value') = 'text';
"#,
    r#"
CREATE TABLE attempts (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
"#,
    // userName keys under RFC 8265 (docs/security.md 26): the rows are re-keyed
    // in Rust, since SQL has no PRECIS (see `rekey_user_names`).
    "SELECT 1;",
    // Sign-in factors: the record as JSON, its counter and last use apart,
    // so advancing the counter is one conditional UPDATE.
    r#"
CREATE TABLE factors (
    user_id TEXT NOT NULL,
    id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    counter INTEGER NOT NULL,
    last_used_at INTEGER,
    data TEXT NOT NULL,
    PRIMARY KEY (user_id, id)
) STRICT;
"#,
    // WebAuthn ceremonies in progress: taken once, purged when expired.
    r#"
CREATE TABLE challenges (
    id TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    data TEXT NOT NULL
) STRICT;
"#,
    // APIs (RFC 8707 resources), keyed by their identifier.
    r#"
CREATE TABLE apis (
    identifier TEXT PRIMARY KEY,
    data TEXT NOT NULL
) STRICT;
"#,
    // Device authorizations (RFC 8628): the request as JSON; the decision
    // and the polling state in columns, each changed by one conditional
    // UPDATE.
    r#"
CREATE TABLE device_authorizations (
    device_code_hash TEXT PRIMARY KEY,
    user_code_hash TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    interval INTEGER NOT NULL,
    last_poll INTEGER,
    decision TEXT,
    used INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL
) STRICT;
CREATE INDEX device_authorizations_user_code ON device_authorizations (user_code_hash);
"#,
    // Back-channel logout: the clients of each session, and the queue of
    // logout tokens to deliver, ordered by when each is due.
    r#"
CREATE TABLE session_clients (
    user_id TEXT NOT NULL,
    sid TEXT NOT NULL,
    client_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, sid, client_id)
) STRICT;
CREATE TABLE logout_notices (
    id TEXT PRIMARY KEY,
    due_at INTEGER NOT NULL,
    data TEXT NOT NULL
) STRICT;
CREATE INDEX logout_notices_due ON logout_notices (due_at);
"#,
    // The audit trail: security events in the order appended (the rowid),
    // purged by age.
    r#"
CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    data TEXT NOT NULL
) STRICT;
CREATE INDEX audit_events_at ON audit_events (at);
CREATE TABLE audit_cursors (
    reader TEXT PRIMARY KEY,
    id TEXT NOT NULL
) STRICT;
"#,
];

/// The migration whose rows [`rekey_user_names`] rewrites.
const REKEY_MIGRATION: usize = 3;

/// Re-keys every user under [`crate::user_name_key`]. A user whose new key
/// another holds keeps its old one and is logged (`user_name_collision`)
/// so an operator can rename one of the two.
fn rekey_user_names(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let rows: Vec<(String, String, String)> = {
        let mut select = tx
            .prepare("SELECT id, user_name_key, data FROM users ORDER BY id")
            .map_err(|e| Error::corrupt("cannot read users to re-key", e))?;
        select
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .and_then(Iterator::collect)
            .map_err(|e| Error::corrupt("cannot read users to re-key", e))?
    };
    for (id, old, data) in rows {
        let user: crate::UserRecord = serde_json::from_str(&data)
            .map_err(|e| Error::corrupt(format!("user {id} is not a user record"), e))?;
        let new = crate::user_name_key(&user.user_name);
        if new == old {
            continue;
        }
        let moved = tx.execute(
            "UPDATE users SET user_name_key = ?2 WHERE id = ?1 \
             AND NOT EXISTS (SELECT 1 FROM users WHERE user_name_key = ?2)",
            rusqlite::params![id, new],
        );
        match moved {
            Ok(1) => {}
            Ok(_) => tracing::warn!(
                event = "user_name_collision",
                user_id = %id,
                "another user has the same userName under RFC 8265; this one keeps its old key until one of them is renamed"
            ),
            Err(e) => return Err(Error::corrupt(format!("cannot re-key user {id}"), e)),
        }
    }
    Ok(())
}

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`SCHEMA_VERSION`], or refuses it.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| {
            Error::corrupt(
                "cannot read the schema version; is this an SQLite database?",
                e,
            )
        })?;
    if current > SCHEMA_VERSION {
        return Err(Error::Corrupt {
            message: format!(
                "the database has schema version {current}, newer than the {SCHEMA_VERSION} this build \
                 supports; refusing to open it (upgrade auth-service instead)"
            ),
            source: None,
        });
    }
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let tx = conn
            .transaction()
            .map_err(|e| Error::unavailable("cannot start a migration", e))?;
        tx.execute_batch(sql)
            .map_err(|e| Error::corrupt(format!("schema migration {} failed", index + 1), e))?;
        if index == REKEY_MIGRATION {
            rekey_user_names(&tx)?;
        }
        tx.pragma_update(None, "user_version", index as i64 + 1)
            .map_err(|e| Error::corrupt("cannot record the schema version", e))?;
        tx.commit()
            .map_err(|e| Error::unavailable("cannot commit a migration", e))?;
        tracing::info!(
            event = "store_migrated",
            version = index + 1,
            "applied schema migration"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Users stored under lower-case keys get RFC 8265 keys; a look-alike
    /// that would collide keeps its old key.
    #[test]
    fn migration_4_rekeys_user_names_under_rfc_8265() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..REKEY_MIGRATION] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", REKEY_MIGRATION as i64)
            .unwrap();
        for (id, name) in [
            ("u-1", "ＡＤＭＩＮ"),
            ("u-2", "admin"),
            ("u-3", "Bob  Smith"),
        ] {
            let data = serde_json::json!({
                "id": id, "user_name": name, "external_id": null, "active": true,
                "password_hash": null, "version": 1, "created_at": 0, "updated_at": 0,
                "attributes": {},
            });
            conn.execute(
                "INSERT INTO users (id, user_name_key, external_id, version, data) VALUES (?1, ?2, NULL, 1, ?3)",
                rusqlite::params![id, name.to_lowercase(), data.to_string()],
            )
            .unwrap();
        }
        migrate(&mut conn).unwrap();
        let key = |id: &str| -> String {
            conn.query_row(
                "SELECT user_name_key FROM users WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .unwrap()
        };
        // u-2 holds "admin" already, so the look-alike u-1 keeps its old key.
        assert_eq!(key("u-2"), "admin");
        assert_eq!(key("u-1"), "ａｄｍｉｎ");
        assert_eq!(key("u-3"), "bob smith");
    }

    /// A database written before the email index gets it filled in.
    #[test]
    fn migration_2_indexes_the_emails_of_existing_users() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let data = serde_json::json!({
            "id": "u-1", "user_name": "a", "external_id": null, "active": true,
            "password_hash": null, "version": 1, "created_at": 0, "updated_at": 0,
            "attributes": {"emails": [{"value": "A@Example.com"}, {"type": "work"}, {"value": 7}]},
        });
        conn.execute(
            "INSERT INTO users (id, user_name_key, external_id, version, data) VALUES ('u-1', 'a', NULL, 1, ?1)",
            [data.to_string()],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let keys: Vec<String> = conn
            .prepare("SELECT email_key FROM user_emails WHERE user_id = 'u-1'")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        assert_eq!(keys, ["a@example.com"]);
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }
}
