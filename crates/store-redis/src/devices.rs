//! Device authorizations on Redis. The authorization is a hash of its own,
//! `device:{hash}` (the device code's): field `d` is the request as JSON,
//! `u` the user code's hash, `dec` the decision, `iv` and `last` the
//! polling state, `used` set once a poll took the decision; each change is
//! one script on that one key (`lua/device_*.lua`), so it is atomic on a
//! cluster too. The user code is a pointer, `device-user:{hash}` → the
//! device code's hash, written after the authorization (so it never names
//! one that is not there) and taken over only when what it names is dead.

use async_trait::async_trait;
use store::{DeviceAuthorization, DeviceDecision, DevicePoll, DeviceStore, Error, Result};

use crate::{RedisStore, from_json, redis_err, status, to_json};

impl RedisStore {
    fn device_key(&self, device_code_hash: &str) -> String {
        self.tagged("device", device_code_hash)
    }

    fn user_code_key(&self, user_code_hash: &str) -> String {
        self.tagged("device-user", user_code_hash)
    }

    /// The device code hash a user code names, if any.
    async fn user_code_target(&self, user_code_hash: &str) -> Result<Option<String>> {
        let key = self.user_code_key(user_code_hash);
        self.call("get_device_authorization", |mut conn| async move {
            redis::cmd("GET")
                .arg(key)
                .query_async(&mut conn)
                .await
                .map_err(redis_err)
        })
        .await
    }

    /// The live, undecided authorization under `device_code_hash` whose
    /// user code hashes to `user_code_hash`.
    async fn undecided(
        &self,
        device_code_hash: &str,
        user_code_hash: &str,
    ) -> Result<DeviceAuthorization> {
        let key = self.device_key(device_code_hash);
        let (data, decision): (Option<String>, Option<String>) = self
            .call("get_device_authorization", |mut conn| async move {
                redis::cmd("HMGET")
                    .arg(key)
                    .arg("d")
                    .arg("dec")
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        let device: DeviceAuthorization = from_json(&data.ok_or(Error::NotFound)?)?;
        // Redis expires by its own clock; the contract is the store's.
        if decision.is_some()
            || device.expires_at <= self.now()
            || device.user_code_hash != user_code_hash
        {
            return Err(Error::NotFound);
        }
        Ok(device)
    }

    async fn point_user_code(&self, device: &DeviceAuthorization, expected: &str) -> Result<()> {
        let mut invocation = self.scripts().device_user_code.prepare_invoke();
        invocation
            .key(self.user_code_key(&device.user_code_hash))
            .arg(&device.device_code_hash)
            .arg(device.expires_at - self.now())
            .arg(expected);
        self.invoke_status("insert_device_authorization", invocation)
            .await
    }
}

#[async_trait]
impl DeviceStore for RedisStore {
    async fn insert_device_authorization(&self, device: &DeviceAuthorization) -> Result<()> {
        let mut invocation = self.scripts().device_insert.prepare_invoke();
        invocation
            .key(self.device_key(&device.device_code_hash))
            .arg(to_json(device)?)
            .arg(&device.user_code_hash)
            .arg(device.interval)
            .arg(device.expires_at)
            .arg(self.now());
        self.invoke_status("insert_device_authorization", invocation)
            .await?;
        let pointed = match self.point_user_code(device, "").await {
            Err(Error::Conflict(_)) => {
                // Taken: by a live undecided authorization, or by a dead one
                // whose pointer has not expired yet, which may be taken over.
                match self.user_code_target(&device.user_code_hash).await? {
                    Some(target) => match self.undecided(&target, &device.user_code_hash).await {
                        Err(Error::NotFound) => self.point_user_code(device, &target).await,
                        Ok(_) => Err(Error::Conflict(store::Conflict::Exists)),
                        Err(e) => Err(e),
                    },
                    None => self.point_user_code(device, "").await,
                }
            }
            other => other,
        };
        if pointed.is_err() {
            let key = self.device_key(&device.device_code_hash);
            let _: Result<i64> = self
                .call("insert_device_authorization", |mut conn| async move {
                    redis::cmd("DEL")
                        .arg(key)
                        .query_async(&mut conn)
                        .await
                        .map_err(redis_err)
                })
                .await;
        }
        pointed
    }

    async fn get_device_authorization(&self, user_code_hash: &str) -> Result<DeviceAuthorization> {
        let target = self
            .user_code_target(user_code_hash)
            .await?
            .ok_or(Error::NotFound)?;
        self.undecided(&target, user_code_hash).await
    }

    async fn decide_device_authorization(
        &self,
        user_code_hash: &str,
        decision: &DeviceDecision,
    ) -> Result<()> {
        let target = self
            .user_code_target(user_code_hash)
            .await?
            .ok_or(Error::NotFound)?;
        let mut invocation = self.scripts().device_decide.prepare_invoke();
        invocation
            .key(self.device_key(&target))
            .arg(to_json(decision)?)
            .arg(user_code_hash)
            .arg(self.now());
        self.invoke_status("decide_device_authorization", invocation)
            .await
    }

    async fn poll_device_authorization(
        &self,
        device_code_hash: &str,
        slow_down_step: i64,
    ) -> Result<DevicePoll> {
        let mut invocation = self.scripts().device_poll.prepare_invoke();
        invocation
            .key(self.device_key(device_code_hash))
            .arg(self.now())
            .arg(slow_down_step);
        let reply: Vec<String> = self.invoke("poll_device_authorization", invocation).await?;
        match (
            reply.first().map(String::as_str),
            reply.get(1),
            reply.get(2),
        ) {
            (Some("slow_down"), Some(interval), _) => {
                Ok(DevicePoll::SlowDown(interval.parse().map_err(|_| {
                    Error::Corrupt {
                        message: format!("device poll interval {interval:?}"),
                        source: None,
                    }
                })?))
            }
            (Some("pending"), ..) => Ok(DevicePoll::Pending),
            (Some("used"), ..) => Ok(DevicePoll::AlreadyUsed),
            (Some("decided"), Some(data), Some(decision)) => Ok(DevicePoll::Decided(
                from_json(data)?,
                Box::new(from_json(decision)?),
            )),
            _ => status(&reply).and(Err(Error::NotFound)),
        }
    }
}
