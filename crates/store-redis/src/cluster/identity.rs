//! Users and groups on Redis Cluster: the userName reservation and the
//! version-stamped lookups of the module docs (`super`).

use std::time::Instant;

use store::{Conflict, Error, GroupRecord, Result, UserRecord, email_keys, user_name_key};

use super::RESERVATION_GRACE;
use crate::{RedisStore, from_json, status, to_json};

/// A userName reservation's value, `"id version time"`.
struct Reservation<'a> {
    owner: &'a str,
    at: i64,
}

impl<'a> Reservation<'a> {
    fn parse(value: &'a str) -> Self {
        let mut words = value.split(' ');
        let owner = words.next().unwrap_or_default();
        let at = words.nth(1).and_then(|t| t.parse().ok()).unwrap_or(0);
        Self { owner, at }
    }
}

impl RedisStore {
    fn name_key(&self, user_name: &str) -> String {
        self.tagged("idx:username", &user_name_key(user_name))
    }

    /// The userName key for `user`, reserved for it at its new version.
    /// Returns whether this call made the reservation (so must release it
    /// if the write fails).
    async fn reserve_name(&self, op: &'static str, user: &UserRecord) -> Result<bool> {
        let key = self.name_key(&user.user_name);
        let now = self.now();
        let mut invocation = self.cluster_scripts().name_reserve.prepare_invoke();
        invocation
            .key(&key)
            .arg(&user.id)
            .arg(user.version)
            .arg(now);
        let reply: Vec<String> = self.invoke(op, invocation).await?;
        let seen = match reply.first().map(String::as_str) {
            Some("new") => return Ok(true),
            Some("held") => return Ok(false),
            Some("taken") => reply.get(1).cloned().unwrap_or_default(),
            _ => return status(&reply).map(|()| false),
        };
        let holder = Reservation::parse(&seen);
        let name = user_name_key(&user.user_name);
        let holder_name: Option<String> = {
            let record = self.tagged("user", holder.owner);
            self.call(op, |mut conn| async move {
                redis::cmd("HGET")
                    .arg(record)
                    .arg("name")
                    .query_async(&mut conn)
                    .await
                    .map_err(crate::redis_err)
            })
            .await?
        };
        let grace = i64::try_from(RESERVATION_GRACE.as_secs()).unwrap_or(i64::MAX);
        if holder_name.as_deref() == Some(name.as_str()) || now - holder.at < grace {
            return Err(Error::Conflict(Conflict::Unique("userName")));
        }
        // Stale: its user does not carry the name and it is old.
        let mut invocation = self.cluster_scripts().name_takeover.prepare_invoke();
        invocation
            .key(&key)
            .arg(&seen)
            .arg(format!("{} {} {now}", user.id, user.version));
        self.invoke_status(op, invocation).await?;
        tracing::warn!(event = "store_repaired", name_owner = %holder.owner, "took over a stale userName reservation");
        Ok(true)
    }

    async fn release_name(
        &self,
        op: &'static str,
        name_key: String,
        id: &str,
        version: Option<u64>,
    ) -> Result<()> {
        let mut invocation = self.cluster_scripts().name_release.prepare_invoke();
        invocation
            .key(name_key)
            .arg(id)
            .arg(version.map_or_else(|| "inf".to_owned(), |v| v.to_string()));
        self.invoke_status(op, invocation).await
    }

    /// The lookups a user's record asserts: its externalId's and emails'.
    fn lookups(&self, external_id: &str, emails: &[String]) -> Vec<String> {
        let mut out: Vec<String> = emails
            .iter()
            .map(|e| self.tagged("idx:user-email", e))
            .collect();
        if !external_id.is_empty() {
            out.push(self.tagged("idx:user-external", external_id));
        }
        out
    }

    /// Writes a user in the steps of the module docs: reserve the name,
    /// stamp the lookups, write the record, then release what the previous
    /// version held and list the user.
    pub(crate) async fn cluster_write_user(
        &self,
        op: &'static str,
        user: &UserRecord,
        expected: Option<u64>,
    ) -> Result<()> {
        let started = Instant::now();
        let name = user_name_key(&user.user_name);
        let reserved = self.reserve_name(op, user).await?;
        let release = |why: Error| async move {
            if reserved {
                self.release_name(
                    op,
                    self.name_key(&user.user_name),
                    &user.id,
                    Some(user.version),
                )
                .await?;
            }
            Err(why)
        };
        let external_id = user.external_id.clone().unwrap_or_default();
        let emails = email_keys(user);
        if let Err(e) = self
            .stamp(
                op,
                self.lookups(&external_id, &emails),
                &user.id,
                user.version,
            )
            .await
        {
            return release(e).await;
        }
        if started.elapsed() > RESERVATION_GRACE / 2 {
            return release(Error::Unavailable {
                message: format!("{op}: the userName reservation is too old to commit"),
                source: None,
            })
            .await;
        }
        let mut invocation = self.cluster_scripts().user_cas.prepare_invoke();
        invocation
            .key(self.tagged("user", &user.id))
            .arg(expected.map(|v| v.to_string()).unwrap_or_default())
            .arg(user.version)
            .arg(to_json(user)?)
            .arg(&name)
            .arg(&external_id)
            .arg(to_json(&emails)?);
        // An unknown outcome (a timeout) keeps the reservation: the record
        // may hold the name. The staleness rule frees it otherwise.
        let reply: Vec<String> = self.invoke(op, invocation).await?;
        if let Err(e) = status(&reply) {
            return release(e).await;
        }
        let (old_name, old_external, old_emails) = match reply.as_slice() {
            [_, name, external, emails] => (name, external, from_json::<Vec<String>>(emails)?),
            _ => return Err(crate::short_reply(op)),
        };
        if !old_name.is_empty() && *old_name != name {
            self.release_name(
                op,
                self.tagged("idx:username", old_name),
                &user.id,
                expected,
            )
            .await?;
        }
        let dropped: Vec<String> = old_emails
            .iter()
            .filter(|e| !emails.contains(e))
            .cloned()
            .collect();
        let old_external = if *old_external == external_id {
            ""
        } else {
            old_external.as_str()
        };
        self.unstamp(op, self.lookups(old_external, &dropped), &user.id, expected)
            .await?;
        self.list_add(op, "idx:users", &user.id).await
    }

    /// The id of the user holding the reservation of `user_name`; its
    /// record decides whether it carries the name.
    async fn name_owner(&self, op: &'static str, user_name: &str) -> Result<String> {
        let key = self.name_key(user_name);
        let value: Option<String> = self
            .call(op, |mut conn| async move {
                redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut conn)
                    .await
                    .map_err(crate::redis_err)
            })
            .await?;
        Ok(Reservation::parse(&value.ok_or(Error::NotFound)?)
            .owner
            .to_owned())
    }

    /// The user whose reservation and record both carry the name, with its
    /// groups: the reservation, then the user with its member index.
    pub(crate) async fn cluster_user_by_name_with_groups(
        &self,
        user_name: &str,
    ) -> Result<(UserRecord, Vec<GroupRecord>)> {
        let op = "get_user_by_name_with_groups";
        let owner = self.name_owner(op, user_name).await?;
        match self.with_groups(op, &[owner]).await?.pop() {
            Some((user, groups)) if user_name_key(&user.user_name) == user_name_key(user_name) => {
                Ok((user, groups))
            }
            _ => Err(Error::NotFound),
        }
    }

    /// The user whose reservation and record both carry the name.
    pub(crate) async fn cluster_user_by_name(&self, user_name: &str) -> Result<UserRecord> {
        let op = "get_user_by_name";
        let name = user_name_key(user_name);
        let owner = self.name_owner(op, user_name).await?;
        let record = self.tagged("user", &owner);
        let (data, carried): (Option<String>, Option<String>) = self
            .call(op, |mut conn| async move {
                redis::cmd("HMGET")
                    .arg(record)
                    .arg("data")
                    .arg("name")
                    .query_async(&mut conn)
                    .await
                    .map_err(crate::redis_err)
            })
            .await?;
        match (data, carried) {
            (Some(data), Some(carried)) if carried == name => from_json(&data),
            _ => Err(Error::NotFound),
        }
    }

    /// Deletes the record, then what it held.
    pub(crate) async fn cluster_delete_user(&self, id: &str) -> Result<()> {
        let op = "delete_user";
        let mut invocation = self.cluster_scripts().user_remove.prepare_invoke();
        invocation.key(self.tagged("user", id));
        let reply: Vec<String> = self.invoke(op, invocation).await?;
        status(&reply)?;
        let (name, external, emails) = match reply.as_slice() {
            [_, name, external, emails] => (name, external, from_json::<Vec<String>>(emails)?),
            _ => return Err(crate::short_reply(op)),
        };
        self.release_name(op, self.tagged("idx:username", name), id, None)
            .await?;
        self.unstamp(op, self.lookups(external, &emails), id, None)
            .await?;
        self.list_remove(op, "idx:users", id).await
    }

    /// Lists an id in one of the id-ordered lists (score 0).
    async fn list_add(&self, op: &'static str, list: &str, id: &str) -> Result<()> {
        let (list, id) = (self.key(list), id.to_owned());
        self.call(op, |mut conn| async move {
            redis::cmd("ZADD")
                .arg(list)
                .arg(0)
                .arg(id)
                .query_async::<()>(&mut conn)
                .await
                .map_err(crate::redis_err)
        })
        .await
    }

    async fn list_remove(&self, op: &'static str, list: &str, id: &str) -> Result<()> {
        let (list, id) = (self.key(list), id.to_owned());
        self.call(op, |mut conn| async move {
            redis::cmd("ZREM")
                .arg(list)
                .arg(id)
                .query_async::<()>(&mut conn)
                .await
                .map_err(crate::redis_err)
        })
        .await
    }

    fn member_index(&self, member: &str) -> String {
        self.tagged("idx:member-groups", member)
    }

    /// Writes a group: stamp its members' indexes, swap the record with its
    /// member set, unstamp the members it lost, list it.
    pub(crate) async fn cluster_write_group(
        &self,
        op: &'static str,
        group: &GroupRecord,
        expected: Option<u64>,
    ) -> Result<()> {
        let members: Vec<&str> = group.members.iter().map(|m| m.value.as_str()).collect();
        let indexes = members.iter().map(|m| self.member_index(m)).collect();
        self.stamp(op, indexes, &group.id, group.version).await?;
        let mut invocation = self.cluster_scripts().group_cas.prepare_invoke();
        invocation
            .key(self.tagged("group", &group.id))
            .key(self.tagged("idx:group-members", &group.id))
            .arg(expected.map(|v| v.to_string()).unwrap_or_default())
            .arg(group.version)
            .arg(to_json(group)?);
        for member in &members {
            invocation.arg(*member);
        }
        let reply: Vec<String> = self.invoke(op, invocation).await?;
        // A failed swap leaves stamps for members it did not add: readers
        // check the group, and the next write of it unstamps them.
        status(&reply)?;
        let lost: Vec<String> = reply[1..]
            .iter()
            .filter(|m| !members.contains(&m.as_str()))
            .map(|m| self.member_index(m))
            .collect();
        self.unstamp(op, lost, &group.id, expected).await?;
        self.list_add(op, "idx:groups", &group.id).await
    }

    pub(crate) async fn cluster_delete_group(&self, id: &str) -> Result<()> {
        let op = "delete_group";
        let mut invocation = self.cluster_scripts().group_remove.prepare_invoke();
        invocation
            .key(self.tagged("group", id))
            .key(self.tagged("idx:group-members", id));
        let reply: Vec<String> = self.invoke(op, invocation).await?;
        status(&reply)?;
        let indexes = reply[1..].iter().map(|m| self.member_index(m)).collect();
        self.unstamp(op, indexes, id, None).await?;
        self.list_remove(op, "idx:groups", id).await
    }
}
