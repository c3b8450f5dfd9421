//! Clients, users and groups on Redis.

use async_trait::async_trait;
use redis::AsyncCommands;
use store::{
    ClientRecord, ClientStore, Conflict, Error, GroupRecord, GroupStore, Page, Paged, Result,
    UserRecord, UserStore, user_name_key,
};

use crate::{RedisStore, from_json, redis_err, to_json};

impl RedisStore {
    /// Reads the `data` field of each hash, in order, skipping vanished ones.
    pub(crate) async fn load_many<T: serde::de::DeserializeOwned>(
        &self,
        op: &'static str,
        keys: Vec<String>,
    ) -> Result<Vec<T>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        if self.clustered() {
            return self.load_many_across_slots(op, keys).await;
        }
        let mut invocation = self.scripts().hget_many.prepare_invoke();
        for key in &keys {
            invocation.key(key);
        }
        let rows: Vec<Option<String>> = self.invoke(op, invocation).await?;
        rows.into_iter()
            .flatten()
            .map(|data| from_json(&data))
            .collect()
    }

    /// Reads the `data` field of one hash; `NotFound` if absent.
    pub(crate) async fn load_one<T: serde::de::DeserializeOwned>(
        &self,
        op: &'static str,
        key: String,
    ) -> Result<T> {
        let data: Option<String> = self
            .call(op, |mut conn| async move {
                conn.hget(key, "data").await.map_err(redis_err)
            })
            .await?;
        from_json(&data.ok_or(Error::NotFound)?)
    }

    /// The members of each set, in order, in one script (one Redis only).
    async fn smembers_many(
        &self,
        op: &'static str,
        indexes: &[String],
    ) -> Result<Vec<Vec<String>>> {
        let mut invocation = self.scripts().smembers_many.prepare_invoke();
        for index in indexes {
            invocation.key(index);
        }
        self.invoke(op, invocation).await
    }

    /// The records listed in an index, loaded in the order given.
    pub(crate) async fn load_ids<T: serde::de::DeserializeOwned>(
        &self,
        op: &'static str,
        record: &str,
        ids: &[String],
    ) -> Result<Vec<T>> {
        let keys = ids.iter().map(|id| self.tagged(record, id)).collect();
        self.load_many(op, keys).await
    }

    /// The sorted members of a lookup index (externalId, email, a member's
    /// groups): a set on one Redis, a version-stamped sorted set on a
    /// cluster (crate::cluster).
    async fn lookup_members(&self, op: &'static str, index: String) -> Result<Vec<String>> {
        if self.clustered() {
            let mut ids = self
                .sets_across_slots(op, vec![index])
                .await?
                .pop()
                .unwrap_or_default();
            ids.sort();
            return Ok(ids);
        }
        self.set_members(op, index).await
    }

    /// The sorted members of a set (a full key).
    pub(crate) async fn set_members(&self, op: &'static str, index: String) -> Result<Vec<String>> {
        let mut ids: Vec<String> = self
            .call(op, |mut conn| async move {
                conn.smembers(index).await.map_err(redis_err)
            })
            .await?;
        ids.sort();
        Ok(ids)
    }

    /// Every member of a sorted-set index (a full key), in index order.
    pub(crate) async fn index_members(
        &self,
        op: &'static str,
        index: String,
    ) -> Result<Vec<String>> {
        self.call(op, |mut conn| async move {
            conn.zrange(index, 0, -1).await.map_err(redis_err)
        })
        .await
    }

    /// One page of an id-ordered index (a sorted set whose scores are all 0,
    /// so members sort by id) and its size.
    async fn page<T: serde::de::DeserializeOwned>(
        &self,
        op: &'static str,
        index: &str,
        record: &str,
        page: Page,
    ) -> Result<Paged<T>> {
        let (total, ids) = self.page_ids(op, index, page).await?;
        Ok(Paged {
            total,
            items: self.load_ids(op, record, &ids).await?,
        })
    }

    /// The users `ids` names (vanished ones left out), each with the
    /// groups that list it as a direct member, ordered by id. A user is
    /// read with its member index (`idx:member-groups:{uid}`): in one
    /// script for all of them on one Redis; on a cluster, where the two
    /// share a slot, in one pipeline per node (crate::cluster::batch).
    pub(crate) async fn with_groups(
        &self,
        op: &'static str,
        ids: &[String],
    ) -> Result<Vec<(UserRecord, Vec<GroupRecord>)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let pairs: Vec<(String, String)> = ids
            .iter()
            .map(|id| {
                (
                    self.tagged("user", id),
                    self.tagged("idx:member-groups", id),
                )
            })
            .collect();
        let replies: Vec<redis::Value> = if self.clustered() {
            let reads = pairs
                .into_iter()
                .flat_map(|(user, index)| {
                    [
                        redis::cmd("HGET").arg(user).arg("data").clone(),
                        redis::cmd("ZRANGE").arg(index).arg(0).arg(-1).clone(),
                    ]
                })
                .collect();
            self.read_across_slots(op, reads).await?
        } else {
            let mut invocation = self.scripts().users_with_indexes.prepare_invoke();
            for (user, index) in &pairs {
                invocation.key(user).key(index);
            }
            self.invoke(op, invocation).await?
        };
        let mut users = Vec::with_capacity(ids.len());
        for pair in replies.chunks(2) {
            let (data, group_ids): (Option<String>, Vec<String>) =
                redis::from_redis_value(redis::Value::Array(pair.to_vec()))
                    .map_err(|e| Error::corrupt(format!("{op}: an unexpected reply"), e))?;
            // A user listed but deleted since is left out, as by list_users.
            if let Some(data) = data {
                users.push((from_json::<UserRecord>(&data)?, group_ids));
            }
        }
        let mut wanted: Vec<String> = users.iter().flat_map(|(_, g)| g.clone()).collect();
        wanted.sort();
        wanted.dedup();
        let groups: Vec<GroupRecord> = self.load_ids(op, "group", &wanted).await?;
        // On a cluster the index may name a group the user has left
        // (crate::cluster): the group's record decides.
        Ok(users
            .into_iter()
            .map(|(user, _)| {
                let of_user = groups
                    .iter()
                    .filter(|g| g.members.iter().any(|m| m.value == user.id))
                    .cloned()
                    .collect();
                (user, of_user)
            })
            .collect())
    }

    /// The size of an id-ordered index and the ids of one page of it.
    pub(crate) async fn page_ids(
        &self,
        op: &'static str,
        index: &str,
        page: Page,
    ) -> Result<(u64, Vec<String>)> {
        let index = self.key(index);
        let (total, ids): (u64, Vec<String>) = if page.limit == 0 {
            (
                self.call(op, |mut conn| async move {
                    conn.zcard(index).await.map_err(redis_err)
                })
                .await?,
                vec![],
            )
        } else {
            let start = isize::try_from(page.offset).unwrap_or(isize::MAX);
            let stop = start.saturating_add(isize::try_from(page.limit).unwrap_or(isize::MAX) - 1);
            self.call(op, |mut conn| async move {
                redis::pipe()
                    .atomic()
                    .zcard(&index)
                    .zrange(&index, start, stop)
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?
        };
        Ok((total, ids))
    }
}

#[async_trait]
impl ClientStore for RedisStore {
    async fn create_client(&self, client: &ClientRecord) -> Result<()> {
        self.versioned_write(
            "create_client",
            crate::Versioned {
                record: self.tagged("client", &client.client_id),
                index: self.key("idx:clients"),
                expected: None,
                version: 1,
                data: to_json(client)?,
                score: 0,
                member: &client.client_id,
            },
        )
        .await
    }

    async fn get_client(&self, client_id: &str) -> Result<ClientRecord> {
        self.load_one("get_client", self.tagged("client", client_id))
            .await
    }

    async fn list_clients(&self) -> Result<Vec<ClientRecord>> {
        let ids = self
            .index_members("list_clients", self.key("idx:clients"))
            .await?;
        self.load_ids("list_clients", "client", &ids).await
    }

    async fn update_client(&self, client: &ClientRecord) -> Result<()> {
        let mut invocation = self.scripts().hset_if_exists.prepare_invoke();
        invocation
            .key(self.tagged("client", &client.client_id))
            .arg("data")
            .arg(to_json(client)?);
        self.invoke_status("update_client", invocation).await
    }

    async fn delete_client(&self, client_id: &str) -> Result<()> {
        let key = self.tagged("client", client_id);
        self.delete_indexed(
            "delete_client",
            key,
            self.key("idx:clients"),
            client_id.to_owned(),
        )
        .await
    }
}

impl RedisStore {
    async fn write_user(
        &self,
        op: &'static str,
        user: &UserRecord,
        expected: Option<u64>,
    ) -> Result<()> {
        if self.clustered() {
            return self.cluster_write_user(op, user, expected).await;
        }
        let mut invocation = self.scripts().user_write.prepare_invoke();
        invocation
            .arg(self.prefix())
            .arg(expected.map(|v| v.to_string()).unwrap_or_default())
            .arg(&user.id)
            .arg(user_name_key(&user.user_name))
            .arg(user.external_id.as_deref().unwrap_or_default())
            .arg(user.version)
            .arg(to_json(user)?);
        for key in store::email_keys(user) {
            invocation.arg(key);
        }
        self.invoke_status(op, invocation).await
    }
}

#[async_trait]
impl UserStore for RedisStore {
    async fn create_user(&self, user: &UserRecord) -> Result<()> {
        self.write_user("create_user", user, None).await
    }

    async fn get_user(&self, id: &str) -> Result<UserRecord> {
        self.load_one("get_user", self.tagged("user", id)).await
    }

    async fn get_user_by_name(&self, user_name: &str) -> Result<UserRecord> {
        if self.clustered() {
            return self.cluster_user_by_name(user_name).await;
        }
        let mut invocation = self.scripts().user_by_name.prepare_invoke();
        invocation.arg(self.prefix()).arg(user_name_key(user_name));
        let data: Option<String> = self.invoke("get_user_by_name", invocation).await?;
        from_json(&data.ok_or(Error::NotFound)?)
    }

    async fn find_users_by_external_id(&self, external_id: &str) -> Result<Vec<UserRecord>> {
        let op = "find_users_by_external_id";
        let ids = self
            .lookup_members(op, self.tagged("idx:user-external", external_id))
            .await?;
        let users: Vec<UserRecord> = self.load_ids(op, "user", &ids).await?;
        // On a cluster the index is written before the record and may name
        // a user that no longer matches (crate::cluster): the record decides.
        Ok(users
            .into_iter()
            .filter(|u| u.external_id.as_deref() == Some(external_id))
            .collect())
    }

    async fn find_users_by_email(&self, email: &str) -> Result<Vec<UserRecord>> {
        let op = "find_users_by_email";
        let key = email.to_lowercase();
        let ids = self
            .lookup_members(op, self.tagged("idx:user-email", &key))
            .await?;
        let users: Vec<UserRecord> = self.load_ids(op, "user", &ids).await?;
        // As for external ids: the record decides.
        Ok(users
            .into_iter()
            .filter(|u| store::email_keys(u).contains(&key))
            .collect())
    }

    async fn list_users(&self, page: Page) -> Result<Paged<UserRecord>> {
        self.page("list_users", "idx:users", "user", page).await
    }

    async fn update_user(&self, user: &UserRecord) -> Result<UserRecord> {
        let mut next = user.clone();
        next.version += 1;
        self.write_user("update_user", &next, Some(user.version))
            .await?;
        Ok(next)
    }

    async fn delete_user(&self, id: &str) -> Result<()> {
        if self.clustered() {
            return self.cluster_delete_user(id).await;
        }
        let mut invocation = self.scripts().user_delete.prepare_invoke();
        invocation.arg(self.prefix()).arg(id);
        self.invoke_status("delete_user", invocation).await
    }
}

impl RedisStore {
    async fn write_group(
        &self,
        op: &'static str,
        group: &GroupRecord,
        expected: Option<u64>,
    ) -> Result<()> {
        if self.clustered() {
            return self.cluster_write_group(op, group, expected).await;
        }
        let mut invocation = self.scripts().group_write.prepare_invoke();
        invocation
            .arg(self.prefix())
            .arg(expected.map(|v| v.to_string()).unwrap_or_default())
            .arg(&group.id)
            .arg(group.version)
            .arg(to_json(group)?);
        for member in &group.members {
            invocation.arg(&member.value);
        }
        self.invoke_status(op, invocation).await
    }
}

#[async_trait]
impl GroupStore for RedisStore {
    async fn create_group(&self, group: &GroupRecord) -> Result<()> {
        self.write_group("create_group", group, None).await
    }

    async fn get_group(&self, id: &str) -> Result<GroupRecord> {
        self.load_one("get_group", self.tagged("group", id)).await
    }

    async fn list_groups(&self, page: Page) -> Result<Paged<GroupRecord>> {
        self.page("list_groups", "idx:groups", "group", page).await
    }

    async fn update_group(&self, group: &GroupRecord) -> Result<GroupRecord> {
        let mut next = group.clone();
        next.version += 1;
        self.write_group("update_group", &next, Some(group.version))
            .await?;
        Ok(next)
    }

    async fn delete_group(&self, id: &str) -> Result<()> {
        if self.clustered() {
            return self.cluster_delete_group(id).await;
        }
        let mut invocation = self.scripts().group_delete.prepare_invoke();
        invocation.arg(self.prefix()).arg(id);
        self.invoke_status("delete_group", invocation).await
    }

    async fn groups_with_member(&self, member_id: &str) -> Result<Vec<GroupRecord>> {
        let op = "groups_with_member";
        let ids = self
            .lookup_members(op, self.tagged("idx:member-groups", member_id))
            .await?;
        let groups: Vec<GroupRecord> = self.load_ids(op, "group", &ids).await?;
        // The index may name a group the member has left (crate::cluster).
        Ok(groups
            .into_iter()
            .filter(|g| g.members.iter().any(|m| m.value == member_id))
            .collect())
    }

    async fn groups_with_members(
        &self,
        member_ids: &[String],
    ) -> Result<Vec<(String, GroupRecord)>> {
        let op = "groups_with_members";
        if member_ids.is_empty() {
            return Ok(Vec::new());
        }
        let indexes: Vec<String> = member_ids
            .iter()
            .map(|m| self.tagged("idx:member-groups", m))
            .collect();
        let sets = if self.clustered() {
            self.sets_across_slots(op, indexes).await?
        } else {
            self.smembers_many(op, &indexes).await?
        };
        let mut ids: Vec<String> = sets.iter().flatten().cloned().collect();
        ids.sort();
        ids.dedup();
        let groups: Vec<GroupRecord> = self.load_ids(op, "group", &ids).await?;
        let by_id: std::collections::HashMap<&str, &GroupRecord> =
            groups.iter().map(|g| (g.id.as_str(), g)).collect();
        let mut out = Vec::new();
        for (member, set) in member_ids.iter().zip(sets) {
            let mut set = set;
            set.sort();
            for id in set {
                // The index may name a group deleted since: it is skipped.
                if let Some(group) = by_id.get(id.as_str())
                    && group.members.iter().any(|m| &m.value == member)
                {
                    out.push((member.clone(), (*group).clone()));
                }
            }
        }
        out.sort_by(|a, b| (&a.0, &a.1.id).cmp(&(&b.0, &b.1.id)));
        Ok(out)
    }

    /// Each group changes by its own compare-and-swap, retried on a version
    /// conflict, so a concurrent group update is never lost.
    async fn remove_member_everywhere(&self, member_id: &str) -> Result<u64> {
        let mut changed = 0;
        for mut group in self.groups_with_member(member_id).await? {
            loop {
                let mut next = group.clone();
                next.members.retain(|m| m.value != member_id);
                next.updated_at = self.now();
                match self.update_group(&next).await {
                    Ok(_) => {
                        changed += 1;
                        break;
                    }
                    Err(Error::Conflict(Conflict::Version)) => {
                        match self.get_group(&group.id).await {
                            Ok(fresh) => group = fresh,
                            Err(Error::NotFound) => break,
                            Err(e) => return Err(e),
                        }
                    }
                    Err(Error::NotFound) => break,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(changed)
    }
}
