//! Sign-in factors on SQLite: one row per factor, keyed by user and id.
//! The counter and the last use live in their own columns, so that
//! [`FactorStore::advance_factor`] is one conditional `UPDATE`, which the
//! single writer connection serialises. WebAuthn challenges are rows of
//! their own, taken by one `DELETE … RETURNING`.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, db, found, from_json, to_json};
use crate::error::Conflict;
use crate::{Challenge, Error, Factor, FactorStore, Result};

/// A factor from its row: the stored JSON with the live counter and use.
fn factor(data: &str, counter: i64, last_used_at: Option<i64>) -> Result<Factor> {
    let mut factor: Factor = from_json(data)?;
    factor.counter = u64::try_from(counter).unwrap_or(0);
    factor.last_used_at = last_used_at;
    Ok(factor)
}

/// Counters are u64; SQLite integers are i64. No TOTP step or WebAuthn
/// signature counter comes near 2^63.
fn as_column(counter: u64) -> i64 {
    i64::try_from(counter).unwrap_or(i64::MAX)
}

#[async_trait]
impl FactorStore for SqliteStore {
    async fn insert_factor(&self, factor: &Factor) -> Result<()> {
        let factor = factor.clone();
        self.write("insert_factor", move |tx, _| {
            let written = tx
                .execute(
                    "INSERT INTO factors (user_id, id, created_at, counter, last_used_at, data) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                    params![
                        factor.user_id,
                        factor.id,
                        factor.created_at,
                        as_column(factor.counter),
                        factor.last_used_at,
                        to_json(&factor)?
                    ],
                )
                .map_err(db)?;
            if written == 0 {
                Err(Error::Conflict(Conflict::Exists))
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn list_factors(&self, user_id: &str) -> Result<Vec<Factor>> {
        let user_id = user_id.to_owned();
        self.read("list_factors", move |conn, _| {
            let mut stmt = conn
                .prepare(
                    "SELECT data, counter, last_used_at FROM factors WHERE user_id = ?1 \
                     ORDER BY created_at, id",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map([user_id], |row| {
                    Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?))
                })
                .map_err(db)?;
            rows.map(|row| {
                let (data, counter, used) = row.map_err(db)?;
                factor(&data, counter, used)
            })
            .collect()
        })
        .await
    }

    async fn get_factor(&self, user_id: &str, factor_id: &str) -> Result<Factor> {
        let (user_id, id) = (user_id.to_owned(), factor_id.to_owned());
        self.read("get_factor", move |conn, _| {
            let (data, counter, used): (String, i64, Option<i64>) = found(conn.query_row(
                "SELECT data, counter, last_used_at FROM factors WHERE user_id = ?1 AND id = ?2",
                [user_id, id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            ))?;
            factor(&data, counter, used)
        })
        .await
    }

    async fn rename_factor(&self, user_id: &str, factor_id: &str, name: &str) -> Result<()> {
        let (user_id, id, name) = (user_id.to_owned(), factor_id.to_owned(), name.to_owned());
        self.write("rename_factor", move |tx, _| {
            let data: String = found(tx.query_row(
                "SELECT data FROM factors WHERE user_id = ?1 AND id = ?2",
                [&user_id, &id],
                |row| row.get(0),
            ))?;
            let mut factor: Factor = from_json(&data)?;
            factor.name = name;
            tx.execute(
                "UPDATE factors SET data = ?3 WHERE user_id = ?1 AND id = ?2",
                params![user_id, id, to_json(&factor)?],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn delete_factor(&self, user_id: &str, factor_id: &str) -> Result<()> {
        let (user_id, id) = (user_id.to_owned(), factor_id.to_owned());
        self.write("delete_factor", move |tx, _| {
            let deleted = tx
                .execute(
                    "DELETE FROM factors WHERE user_id = ?1 AND id = ?2",
                    [user_id, id],
                )
                .map_err(db)?;
            if deleted == 0 {
                Err(Error::NotFound)
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn delete_factors(&self, user_id: &str) -> Result<u64> {
        let user_id = user_id.to_owned();
        self.write("delete_factors", move |tx, _| {
            Ok(tx
                .execute("DELETE FROM factors WHERE user_id = ?1", [user_id])
                .map_err(db)? as u64)
        })
        .await
    }

    async fn advance_factor(
        &self,
        user_id: &str,
        factor_id: &str,
        counter: u64,
        now: i64,
    ) -> Result<bool> {
        let (user_id, id) = (user_id.to_owned(), factor_id.to_owned());
        self.write("advance_factor", move |tx, _| {
            let moved = tx
                .execute(
                    "UPDATE factors SET counter = ?3, last_used_at = ?4 \
                     WHERE user_id = ?1 AND id = ?2 AND counter < ?3",
                    params![user_id, id, as_column(counter), now],
                )
                .map_err(db)?;
            if moved == 1 {
                return Ok(true);
            }
            let exists: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM factors WHERE user_id = ?1 AND id = ?2",
                    [&user_id, &id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(db)?;
            match exists {
                Some(_) => Ok(false),
                None => Err(Error::NotFound),
            }
        })
        .await
    }

    async fn touch_factor(&self, user_id: &str, factor_id: &str, now: i64) -> Result<()> {
        let (user_id, id) = (user_id.to_owned(), factor_id.to_owned());
        self.write("touch_factor", move |tx, _| {
            let touched = tx
                .execute(
                    "UPDATE factors SET last_used_at = ?3 WHERE user_id = ?1 AND id = ?2",
                    params![user_id, id, now],
                )
                .map_err(db)?;
            if touched == 0 {
                Err(Error::NotFound)
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn insert_challenge(&self, challenge: &Challenge) -> Result<()> {
        let challenge = challenge.clone();
        self.write("insert_challenge", move |tx, now| {
            // An expired row with the id is dead; it must not block the id.
            tx.execute(
                "DELETE FROM challenges WHERE id = ?1 AND expires_at <= ?2",
                params![challenge.id, now],
            )
            .map_err(db)?;
            let written = tx
                .execute(
                    "INSERT INTO challenges (id, expires_at, data) VALUES (?1, ?2, ?3) \
                     ON CONFLICT DO NOTHING",
                    params![challenge.id, challenge.expires_at, to_json(&challenge)?],
                )
                .map_err(db)?;
            if written == 0 {
                Err(Error::Conflict(Conflict::Exists))
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn take_challenge(&self, id: &str) -> Result<Challenge> {
        let id = id.to_owned();
        self.write("take_challenge", move |tx, now| {
            let data: String = found(tx.query_row(
                "DELETE FROM challenges WHERE id = ?1 RETURNING data, expires_at",
                [id],
                |row| {
                    let expires_at: i64 = row.get(1)?;
                    Ok((row.get::<_, String>(0)?, expires_at))
                },
            ))
            .and_then(|(data, expires_at)| {
                if expires_at > now {
                    Ok(data)
                } else {
                    Err(Error::NotFound)
                }
            })?;
            from_json(&data)
        })
        .await
    }
}
