//! Device authorizations on SQLite: one row each, keyed by the device
//! code's hash and indexed by the user code's. The request is JSON; the
//! decision, the spent flag and the polling state are columns, so a
//! decision and a poll are each one conditional `UPDATE` in a transaction
//! of the single writer connection.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, db, found, from_json, to_json};
use crate::error::Conflict;
use crate::{DeviceAuthorization, DeviceDecision, DevicePoll, DeviceStore, Error, Result};

#[async_trait]
impl DeviceStore for SqliteStore {
    async fn insert_device_authorization(&self, device: &DeviceAuthorization) -> Result<()> {
        let device = device.clone();
        self.write("insert_device_authorization", move |tx, now| {
            let taken: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM device_authorizations WHERE expires_at > ?3 AND \
                     (device_code_hash = ?1 OR (user_code_hash = ?2 AND decision IS NULL))",
                    params![device.device_code_hash, device.user_code_hash, now],
                    |row| row.get(0),
                )
                .optional()
                .map_err(db)?;
            if taken.is_some() {
                return Err(Error::Conflict(Conflict::Exists));
            }
            // An expired row may still hold the device code until purged.
            tx.execute(
                "DELETE FROM device_authorizations WHERE device_code_hash = ?1",
                [&device.device_code_hash],
            )
            .map_err(db)?;
            tx.execute(
                "INSERT INTO device_authorizations \
                 (device_code_hash, user_code_hash, expires_at, interval, data) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    device.device_code_hash,
                    device.user_code_hash,
                    device.expires_at,
                    device.interval,
                    to_json(&device)?
                ],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn get_device_authorization(&self, user_code_hash: &str) -> Result<DeviceAuthorization> {
        let hash = user_code_hash.to_owned();
        self.read("get_device_authorization", move |conn, now| {
            let data: String = found(conn.query_row(
                "SELECT data FROM device_authorizations WHERE user_code_hash = ?1 \
                 AND decision IS NULL AND expires_at > ?2",
                params![hash, now],
                |row| row.get(0),
            ))?;
            from_json(&data)
        })
        .await
    }

    async fn decide_device_authorization(
        &self,
        user_code_hash: &str,
        decision: &DeviceDecision,
    ) -> Result<()> {
        let hash = user_code_hash.to_owned();
        let decision = to_json(decision)?;
        self.write("decide_device_authorization", move |tx, now| {
            let decided = tx
                .execute(
                    "UPDATE device_authorizations SET decision = ?2 WHERE user_code_hash = ?1 \
                     AND decision IS NULL AND expires_at > ?3",
                    params![hash, decision, now],
                )
                .map_err(db)?;
            if decided == 0 {
                Err(Error::NotFound)
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn poll_device_authorization(
        &self,
        device_code_hash: &str,
        slow_down_step: i64,
    ) -> Result<DevicePoll> {
        let hash = device_code_hash.to_owned();
        self.write("poll_device_authorization", move |tx, now| {
            let (data, interval, last_poll, decision, used): (
                String,
                i64,
                Option<i64>,
                Option<String>,
                bool,
            ) = found(tx.query_row(
                "SELECT data, interval, last_poll, decision, used FROM device_authorizations \
                 WHERE device_code_hash = ?1 AND expires_at > ?2",
                params![hash, now],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                },
            ))?;
            if last_poll.is_some_and(|last| now < last + interval) {
                let interval = interval + slow_down_step;
                tx.execute(
                    "UPDATE device_authorizations SET last_poll = ?2, interval = ?3 \
                     WHERE device_code_hash = ?1",
                    params![hash, now, interval],
                )
                .map_err(db)?;
                return Ok(DevicePoll::SlowDown(interval));
            }
            let spend = decision.is_some() && !used;
            tx.execute(
                "UPDATE device_authorizations SET last_poll = ?2, used = used OR ?3 \
                 WHERE device_code_hash = ?1",
                params![hash, now, spend],
            )
            .map_err(db)?;
            Ok(match decision {
                _ if used => DevicePoll::AlreadyUsed,
                Some(decision) => {
                    DevicePoll::Decided(from_json(&data)?, Box::new(from_json(&decision)?))
                }
                None => DevicePoll::Pending,
            })
        })
        .await
    }
}
