//! Clients, users and groups on Redis.

use async_trait::async_trait;
use redis::AsyncCommands;
use store::{
    ClientRecord, ClientStore, Conflict, Error, GroupRecord, GroupStore, Page, Paged, Result,
    UserRecord, UserStore, user_name_key,
};

use crate::{RedisStore, from_json, redis_err, status, to_json};

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
        let rows: Vec<Option<String>> = self
            .call(op, |mut conn| async move {
                let mut pipe = redis::pipe();
                for key in &keys {
                    pipe.hget(key, "data");
                }
                pipe.query_async(&mut conn).await.map_err(redis_err)
            })
            .await?;
        rows.into_iter()
            .flatten()
            .map(|data| from_json(&data))
            .collect()
    }

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

    /// One page of an id-ordered index (a sorted set whose scores are all 0,
    /// so members sort by id) and its size.
    async fn page<T: serde::de::DeserializeOwned>(
        &self,
        op: &'static str,
        index: &str,
        record: &str,
        page: Page,
    ) -> Result<Paged<T>> {
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
        let keys = ids
            .iter()
            .map(|id| self.key(&format!("{record}:{id}")))
            .collect();
        Ok(Paged {
            total,
            items: self.load_many(op, keys).await?,
        })
    }
}

#[async_trait]
impl ClientStore for RedisStore {
    async fn create_client(&self, client: &ClientRecord) -> Result<()> {
        let (key, index) = (
            self.key(&format!("client:{}", client.client_id)),
            self.key("idx:clients"),
        );
        let (data, id) = (to_json(client)?, client.client_id.clone());
        let script = &self.scripts().versioned_write;
        let reply: Vec<String> = self
            .call("create_client", |mut conn| async move {
                script
                    .key(key)
                    .key(index)
                    .arg("")
                    .arg(1)
                    .arg(data)
                    .arg(0)
                    .arg(id)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        status(&reply)
    }

    async fn get_client(&self, client_id: &str) -> Result<ClientRecord> {
        self.load_one("get_client", self.key(&format!("client:{client_id}")))
            .await
    }

    async fn list_clients(&self) -> Result<Vec<ClientRecord>> {
        let index = self.key("idx:clients");
        let ids: Vec<String> = self
            .call("list_clients", |mut conn| async move {
                conn.zrange(index, 0, -1).await.map_err(redis_err)
            })
            .await?;
        let keys = ids
            .iter()
            .map(|id| self.key(&format!("client:{id}")))
            .collect();
        self.load_many("list_clients", keys).await
    }

    async fn update_client(&self, client: &ClientRecord) -> Result<()> {
        let key = self.key(&format!("client:{}", client.client_id));
        let data = to_json(client)?;
        let script = &self.scripts().hset_if_exists;
        let reply: Vec<String> = self
            .call("update_client", |mut conn| async move {
                script
                    .key(key)
                    .arg("data")
                    .arg(data)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        status(&reply)
    }

    async fn delete_client(&self, client_id: &str) -> Result<()> {
        let (key, index, id) = (
            self.key(&format!("client:{client_id}")),
            self.key("idx:clients"),
            client_id.to_owned(),
        );
        let (deleted, _): (u64, u64) = self
            .call("delete_client", |mut conn| async move {
                redis::pipe()
                    .atomic()
                    .del(key)
                    .zrem(index, id)
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        if deleted == 0 {
            Err(Error::NotFound)
        } else {
            Ok(())
        }
    }
}

impl RedisStore {
    async fn write_user(
        &self,
        op: &'static str,
        user: &UserRecord,
        expected: Option<u64>,
    ) -> Result<()> {
        let script = &self.scripts().user_write;
        let args = (
            self.prefix().to_owned(),
            expected.map(|v| v.to_string()).unwrap_or_default(),
            user.id.clone(),
            user_name_key(&user.user_name),
            user.external_id.clone().unwrap_or_default(),
            user.version,
            to_json(user)?,
        );
        let reply: Vec<String> = self
            .call(op, |mut conn| async move {
                script
                    .arg(args.0)
                    .arg(args.1)
                    .arg(args.2)
                    .arg(args.3)
                    .arg(args.4)
                    .arg(args.5)
                    .arg(args.6)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        status(&reply)
    }
}

#[async_trait]
impl UserStore for RedisStore {
    async fn create_user(&self, user: &UserRecord) -> Result<()> {
        self.write_user("create_user", user, None).await
    }

    async fn get_user(&self, id: &str) -> Result<UserRecord> {
        self.load_one("get_user", self.key(&format!("user:{id}")))
            .await
    }

    async fn get_user_by_name(&self, user_name: &str) -> Result<UserRecord> {
        let script = &self.scripts().user_by_name;
        let (prefix, key) = (self.prefix().to_owned(), user_name_key(user_name));
        let data: Option<String> = self
            .call("get_user_by_name", |mut conn| async move {
                script
                    .arg(prefix)
                    .arg(key)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        from_json(&data.ok_or(Error::NotFound)?)
    }

    async fn find_users_by_external_id(&self, external_id: &str) -> Result<Vec<UserRecord>> {
        let index = self.key(&format!("idx:user-external:{external_id}"));
        let mut ids: Vec<String> = self
            .call("find_users_by_external_id", |mut conn| async move {
                conn.smembers(index).await.map_err(redis_err)
            })
            .await?;
        ids.sort();
        let keys = ids
            .iter()
            .map(|id| self.key(&format!("user:{id}")))
            .collect();
        self.load_many("find_users_by_external_id", keys).await
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
        let script = &self.scripts().user_delete;
        let (prefix, id) = (self.prefix().to_owned(), id.to_owned());
        let reply: Vec<String> = self
            .call("delete_user", |mut conn| async move {
                script
                    .arg(prefix)
                    .arg(id)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        status(&reply)
    }
}

impl RedisStore {
    async fn write_group(
        &self,
        op: &'static str,
        group: &GroupRecord,
        expected: Option<u64>,
    ) -> Result<()> {
        let script = &self.scripts().group_write;
        let mut invocation = script.prepare_invoke();
        invocation
            .arg(self.prefix())
            .arg(expected.map(|v| v.to_string()).unwrap_or_default())
            .arg(&group.id)
            .arg(group.version)
            .arg(to_json(group)?);
        for member in &group.members {
            invocation.arg(&member.value);
        }
        let reply: Vec<String> = self
            .call(op, |mut conn| async move {
                invocation.invoke_async(&mut conn).await.map_err(redis_err)
            })
            .await?;
        status(&reply)
    }
}

#[async_trait]
impl GroupStore for RedisStore {
    async fn create_group(&self, group: &GroupRecord) -> Result<()> {
        self.write_group("create_group", group, None).await
    }

    async fn get_group(&self, id: &str) -> Result<GroupRecord> {
        self.load_one("get_group", self.key(&format!("group:{id}")))
            .await
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
        let script = &self.scripts().group_delete;
        let (prefix, id) = (self.prefix().to_owned(), id.to_owned());
        let reply: Vec<String> = self
            .call("delete_group", |mut conn| async move {
                script
                    .arg(prefix)
                    .arg(id)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(redis_err)
            })
            .await?;
        status(&reply)
    }

    async fn groups_with_member(&self, member_id: &str) -> Result<Vec<GroupRecord>> {
        let index = self.key(&format!("idx:member-groups:{member_id}"));
        let mut ids: Vec<String> = self
            .call("groups_with_member", |mut conn| async move {
                conn.smembers(index).await.map_err(redis_err)
            })
            .await?;
        ids.sort();
        let keys = ids
            .iter()
            .map(|id| self.key(&format!("group:{id}")))
            .collect();
        self.load_many("groups_with_member", keys).await
    }

    /// Each group changes by its own compare-and-swap, retried on a version
    /// conflict, so a concurrent group update is never lost.
    async fn remove_member_everywhere(&self, member_id: &str) -> Result<u64> {
        let mut changed = 0;
        for group in self.groups_with_member(member_id).await? {
            let mut group = group;
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
