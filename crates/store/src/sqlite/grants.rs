//! Codes, refresh-token families, sessions, consents and revoked token ids
//! on SQLite.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, db, found, from_json, to_json};
use crate::error::Conflict;
use crate::{
    AuthorizationCode, CodeStore, CodeTake, Consent, ConsentStore, Error, RefreshFamily,
    RefreshTokenStore, Result, RevocationStore, Rotation, Session, SessionStore,
};

#[async_trait]
impl CodeStore for SqliteStore {
    async fn insert_code(&self, code: &AuthorizationCode) -> Result<()> {
        let (hash, expires_at, data) = (code.code_hash.clone(), code.expires_at, to_json(code)?);
        self.write("insert_code", move |tx, now| {
            // An expired row with the same hash is absent by contract, so it
            // may be overwritten; a live one is a conflict.
            let written = tx
                .execute(
                    "INSERT INTO codes (code_hash, used, expires_at, data) VALUES (?1, 0, ?2, ?3) \
                     ON CONFLICT (code_hash) DO UPDATE SET used = 0, expires_at = excluded.expires_at, \
                     data = excluded.data WHERE codes.expires_at <= ?4",
                    params![hash, expires_at, data, now],
                )
                .map_err(db)?;
            if written == 0 { Err(Error::Conflict(Conflict::Exists)) } else { Ok(()) }
        })
        .await
    }

    async fn take_code(&self, code_hash: &str) -> Result<CodeTake> {
        let hash = code_hash.to_owned();
        self.write("take_code", move |tx, now| {
            let fresh: Option<String> = tx
                .query_row(
                    "UPDATE codes SET used = 1 WHERE code_hash = ?1 AND used = 0 AND expires_at > ?2 \
                     RETURNING data",
                    params![hash, now],
                    |row| row.get(0),
                )
                .optional()
                .map_err(db)?;
            if let Some(data) = fresh {
                return Ok(CodeTake::Fresh(from_json(&data)?));
            }
            let used: String = found(tx.query_row(
                "SELECT data FROM codes WHERE code_hash = ?1 AND expires_at > ?2",
                params![hash, now],
                |row| row.get(0),
            ))?;
            Ok(CodeTake::AlreadyUsed(from_json(&used)?))
        })
        .await
    }
}

fn is_live(family: &RefreshFamily, now: i64) -> bool {
    !family.revoked && family.expires_at > now && family.idle_expires_at > now
}

fn save_family(tx: &rusqlite::Transaction<'_>, family: &RefreshFamily) -> Result<()> {
    tx.execute(
        "UPDATE refresh_families SET data = ?2 WHERE id = ?1",
        params![family.id, to_json(family)?],
    )
    .map_err(db)?;
    Ok(())
}

#[async_trait]
impl RefreshTokenStore for SqliteStore {
    async fn create_family(&self, family: &RefreshFamily, token_hash: &str) -> Result<()> {
        let family = family.clone();
        let hash = token_hash.to_owned();
        self.write("create_family", move |tx, _| {
            let inserted = tx
                .execute(
                    "INSERT INTO refresh_families (id, user_id, current_hash, previous_hash, expires_at, data) \
                     VALUES (?1, ?2, ?3, NULL, ?4, ?5) ON CONFLICT DO NOTHING",
                    params![family.id, family.user_id, hash, family.expires_at, to_json(&family)?],
                )
                .map_err(db)?;
            let token = tx
                .execute(
                    "INSERT INTO refresh_tokens (token_hash, family_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    params![hash, family.id],
                )
                .map_err(db)?;
            // Returning an error rolls the transaction back, family row included.
            if inserted == 0 || token == 0 { Err(Error::Conflict(Conflict::Exists)) } else { Ok(()) }
        })
        .await
    }

    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        new_hash: &str,
        idle_expires_at: i64,
        grace_seconds: i64,
    ) -> Result<Rotation> {
        let (presented, new) = (presented_hash.to_owned(), new_hash.to_owned());
        self.write("rotate_refresh_token", move |tx, now| {
            let (current, previous, data): (String, Option<String>, String) = found(tx.query_row(
                "SELECT f.current_hash, f.previous_hash, f.data FROM refresh_tokens t \
                 JOIN refresh_families f ON f.id = t.family_id WHERE t.token_hash = ?1",
                [&presented],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            ))?;
            let mut family: RefreshFamily = from_json(&data)?;
            if !is_live(&family, now) {
                return Err(Error::NotFound);
            }
            let decision = crate::rotation::decide(
                &presented,
                &current,
                previous.as_deref(),
                family.rotated_at,
                now,
                grace_seconds,
            );
            if decision == crate::rotation::Decision::Rotate {
                family.rotated_at = now;
                family.idle_expires_at = idle_expires_at.min(family.expires_at);
                tx.execute(
                    "UPDATE refresh_families SET current_hash = ?2, previous_hash = ?3, data = ?4 WHERE id = ?1",
                    params![family.id, new, presented, to_json(&family)?],
                )
                .map_err(db)?;
                let token = tx
                    .execute(
                        "INSERT INTO refresh_tokens (token_hash, family_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                        params![new, family.id],
                    )
                    .map_err(db)?;
                if token == 0 {
                    return Err(Error::Conflict(Conflict::Exists));
                }
                return Ok(Rotation::Rotated(family));
            }
            if decision == crate::rotation::Decision::WithinGrace {
                return Ok(Rotation::WithinGrace(family));
            }
            family.revoked = true;
            save_family(tx, &family)?;
            Ok(Rotation::ReuseDetected(family))
        })
        .await
    }

    async fn get_current_family(&self, token_hash: &str) -> Result<RefreshFamily> {
        let hash = token_hash.to_owned();
        self.read("get_current_family", move |conn, now| {
            let data: String = found(conn.query_row(
                "SELECT f.data FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id \
                 WHERE t.token_hash = ?1 AND f.current_hash = ?1",
                [&hash],
                |row| row.get(0),
            ))?;
            let family: RefreshFamily = from_json(&data)?;
            if is_live(&family, now) {
                Ok(family)
            } else {
                Err(Error::NotFound)
            }
        })
        .await
    }

    async fn revoke_family(&self, family_id: &str) -> Result<()> {
        let id = family_id.to_owned();
        self.write("revoke_family", move |tx, now| {
            let data: String = found(tx.query_row(
                "SELECT data FROM refresh_families WHERE id = ?1",
                [&id],
                |row| row.get(0),
            ))?;
            let mut family: RefreshFamily = from_json(&data)?;
            if !is_live(&family, now) {
                return Err(Error::NotFound);
            }
            family.revoked = true;
            save_family(tx, &family)
        })
        .await
    }

    async fn revoke_families_for_user(
        &self,
        user_id: &str,
        session_id: Option<&str>,
    ) -> Result<u64> {
        let user_id = user_id.to_owned();
        let session_id = session_id.map(str::to_owned);
        self.write("revoke_families_for_user", move |tx, now| {
            let families = {
                let mut stmt = tx
                    .prepare("SELECT data FROM refresh_families WHERE user_id = ?1")
                    .map_err(db)?;
                let rows = stmt
                    .query_map([&user_id], |row| row.get::<_, String>(0))
                    .map_err(db)?;
                rows.map(|data| from_json::<RefreshFamily>(&data.map_err(db)?))
                    .collect::<Result<Vec<_>>>()?
            };
            let mut revoked = 0;
            let wanted = |f: &RefreshFamily| session_id.is_none() || f.session_id == session_id;
            for mut family in families
                .into_iter()
                .filter(|f| is_live(f, now) && wanted(f))
            {
                family.revoked = true;
                save_family(tx, &family)?;
                revoked += 1;
            }
            Ok(revoked)
        })
        .await
    }
}

fn session_live(session: &Session, now: i64) -> bool {
    session.expires_at > now && session.idle_expires_at > now
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn put_session(&self, session: &Session) -> Result<()> {
        let session = session.clone();
        self.write("put_session", move |tx, _| {
            tx.execute(
                "INSERT OR REPLACE INTO sessions (id_hash, user_id, expires_at, data) VALUES (?1, ?2, ?3, ?4)",
                params![session.id_hash, session.user_id, session.expires_at, to_json(&session)?],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn get_session(&self, id_hash: &str) -> Result<Session> {
        let hash = id_hash.to_owned();
        self.read("get_session", move |conn, now| {
            let data: String = found(conn.query_row(
                "SELECT data FROM sessions WHERE id_hash = ?1",
                [hash],
                |row| row.get(0),
            ))?;
            let session: Session = from_json(&data)?;
            if session_live(&session, now) {
                Ok(session)
            } else {
                Err(Error::NotFound)
            }
        })
        .await
    }

    async fn touch_session(&self, id_hash: &str, idle_expires_at: i64) -> Result<()> {
        let hash = id_hash.to_owned();
        self.write("touch_session", move |tx, now| {
            let data: String = found(tx.query_row(
                "SELECT data FROM sessions WHERE id_hash = ?1",
                [&hash],
                |row| row.get(0),
            ))?;
            let mut session: Session = from_json(&data)?;
            if !session_live(&session, now) {
                return Err(Error::NotFound);
            }
            session.idle_expires_at = idle_expires_at.min(session.expires_at);
            tx.execute(
                "UPDATE sessions SET data = ?2 WHERE id_hash = ?1",
                params![hash, to_json(&session)?],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        let hash = id_hash.to_owned();
        self.write("delete_session", move |tx, _| {
            tx.execute("DELETE FROM sessions WHERE id_hash = ?1", [hash])
                .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn delete_sessions_for_user(&self, user_id: &str) -> Result<u64> {
        let user_id = user_id.to_owned();
        self.write("delete_sessions_for_user", move |tx, _| {
            Ok(tx
                .execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])
                .map_err(db)? as u64)
        })
        .await
    }
}

#[async_trait]
impl ConsentStore for SqliteStore {
    async fn put_consent(&self, consent: &Consent) -> Result<()> {
        let consent = consent.clone();
        self.write("put_consent", move |tx, _| {
            tx.execute(
                "INSERT OR REPLACE INTO consents (user_id, client_id, data) VALUES (?1, ?2, ?3)",
                params![consent.user_id, consent.client_id, to_json(&consent)?],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn get_consent(&self, user_id: &str, client_id: &str) -> Result<Consent> {
        let (user_id, client_id) = (user_id.to_owned(), client_id.to_owned());
        self.read("get_consent", move |conn, _| {
            let data: String = found(conn.query_row(
                "SELECT data FROM consents WHERE user_id = ?1 AND client_id = ?2",
                [user_id, client_id],
                |row| row.get(0),
            ))?;
            from_json(&data)
        })
        .await
    }

    async fn list_consents(&self, user_id: &str) -> Result<Vec<Consent>> {
        let user_id = user_id.to_owned();
        self.read("list_consents", move |conn, _| {
            let mut stmt = conn
                .prepare("SELECT data FROM consents WHERE user_id = ?1 ORDER BY client_id")
                .map_err(db)?;
            let rows = stmt
                .query_map([user_id], |row| row.get::<_, String>(0))
                .map_err(db)?;
            rows.map(|data| from_json(&data.map_err(db)?)).collect()
        })
        .await
    }

    async fn delete_consent(&self, user_id: &str, client_id: &str) -> Result<()> {
        let (user_id, client_id) = (user_id.to_owned(), client_id.to_owned());
        self.write("delete_consent", move |tx, _| {
            tx.execute(
                "DELETE FROM consents WHERE user_id = ?1 AND client_id = ?2",
                [user_id, client_id],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl RevocationStore for SqliteStore {
    async fn revoke_token_id(&self, jti: &str, expires_at: i64) -> Result<()> {
        let jti = jti.to_owned();
        self.write("revoke_token_id", move |tx, _| {
            tx.execute(
                "INSERT INTO revoked_token_ids (jti, expires_at) VALUES (?1, ?2) \
                 ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
                params![jti, expires_at],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn is_token_id_revoked(&self, jti: &str) -> Result<bool> {
        let jti = jti.to_owned();
        self.read("is_token_id_revoked", move |conn, now| {
            conn.query_row(
                "SELECT 1 FROM revoked_token_ids WHERE jti = ?1 AND expires_at > ?2",
                params![jti, now],
                |_| Ok(()),
            )
            .optional()
            .map(|row| row.is_some())
            .map_err(db)
        })
        .await
    }
}
