//! Clients, users and groups on SQLite.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Transaction, params};

use super::{SqliteStore, changed, db, found, from_json, inserted, int, record, records, to_json};
use crate::error::Conflict;
use crate::{
    ClientRecord, ClientStore, Error, GroupRecord, GroupStore, Page, Paged, Result, UserRecord,
    UserStore, user_name_key,
};

#[async_trait]
impl ClientStore for SqliteStore {
    async fn create_client(&self, client: &ClientRecord) -> Result<()> {
        let (id, data) = (client.client_id.clone(), to_json(client)?);
        self.write("create_client", move |tx, _| {
            inserted(
                tx.execute(
                    "INSERT INTO clients (client_id, data) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    params![id, data],
                )
                .map_err(db)?,
            )
        })
        .await
    }

    async fn get_client(&self, client_id: &str) -> Result<ClientRecord> {
        let id = client_id.to_owned();
        self.read("get_client", move |conn, _| {
            record(conn, "SELECT data FROM clients WHERE client_id = ?1", &id)
        })
        .await
    }

    async fn list_clients(&self) -> Result<Vec<ClientRecord>> {
        self.read("list_clients", |conn, _| {
            records(conn, "SELECT data FROM clients ORDER BY client_id")
        })
        .await
    }

    async fn update_client(&self, client: &ClientRecord) -> Result<()> {
        let (id, data) = (client.client_id.clone(), to_json(client)?);
        self.write("update_client", move |tx, _| {
            changed(
                tx.execute(
                    "UPDATE clients SET data = ?2 WHERE client_id = ?1",
                    params![id, data],
                )
                .map_err(db)?,
            )
        })
        .await
    }

    async fn delete_client(&self, client_id: &str) -> Result<()> {
        let id = client_id.to_owned();
        self.write("delete_client", move |tx, _| {
            changed(
                tx.execute("DELETE FROM clients WHERE client_id = ?1", [id])
                    .map_err(db)?,
            )
        })
        .await
    }
}

fn stored_version(tx: &Transaction<'_>, table: &str, id: &str) -> Result<u64> {
    let sql = format!("SELECT version FROM {table} WHERE id = ?1");
    let version: i64 = found(tx.query_row(&sql, [id], |row| row.get(0)))?;
    Ok(u64::try_from(version).unwrap_or(0))
}

fn user_name_owner(tx: &Transaction<'_>, key: &str) -> Result<Option<String>> {
    tx.query_row(
        "SELECT id FROM users WHERE user_name_key = ?1",
        [key],
        |row| row.get(0),
    )
    .optional()
    .map_err(db)
}

/// Indexes the user's email addresses ([`crate::email_keys`]).
fn write_email_keys(tx: &rusqlite::Transaction<'_>, user: &UserRecord) -> Result<()> {
    let mut insert = tx
        .prepare_cached("INSERT OR IGNORE INTO user_emails (user_id, email_key) VALUES (?1, ?2)")
        .map_err(db)?;
    for key in crate::email_keys(user) {
        insert.execute(params![user.id, key]).map_err(db)?;
    }
    Ok(())
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: &UserRecord) -> Result<()> {
        let user = user.clone();
        let data = to_json(&user)?;
        self.write("create_user", move |tx, _| {
            let key = user_name_key(&user.user_name);
            if user_name_owner(tx, &key)?.is_some() {
                return Err(Error::Conflict(Conflict::Unique("userName")));
            }
            let inserted = tx
                .execute(
                    "INSERT INTO users (id, user_name_key, external_id, version, data) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                    params![user.id, key, user.external_id, int(user.version), data],
                )
                .map_err(db)?;
            if inserted == 0 {
                return Err(Error::Conflict(Conflict::Exists));
            }
            write_email_keys(tx, &user)
        })
        .await
    }

    async fn get_user(&self, id: &str) -> Result<UserRecord> {
        let id = id.to_owned();
        self.read("get_user", move |conn, _| {
            let data: String = found(conn.query_row(
                "SELECT data FROM users WHERE id = ?1",
                [id],
                |row| row.get(0),
            ))?;
            from_json(&data)
        })
        .await
    }

    async fn get_user_by_name(&self, user_name: &str) -> Result<UserRecord> {
        let key = user_name_key(user_name);
        self.read("get_user_by_name", move |conn, _| {
            let data: String = found(conn.query_row(
                "SELECT data FROM users WHERE user_name_key = ?1",
                [key],
                |row| row.get(0),
            ))?;
            from_json(&data)
        })
        .await
    }

    async fn find_users_by_external_id(&self, external_id: &str) -> Result<Vec<UserRecord>> {
        let external_id = external_id.to_owned();
        self.read("find_users_by_external_id", move |conn, _| {
            let mut stmt = conn
                .prepare("SELECT data FROM users WHERE external_id = ?1 ORDER BY id")
                .map_err(db)?;
            let rows = stmt
                .query_map([external_id], |row| row.get::<_, String>(0))
                .map_err(db)?;
            rows.map(|data| from_json(&data.map_err(db)?)).collect()
        })
        .await
    }

    async fn find_users_by_email(&self, email: &str) -> Result<Vec<UserRecord>> {
        let key = email.to_lowercase();
        self.read("find_users_by_email", move |conn, _| {
            let mut stmt = conn
                .prepare(
                    "SELECT data FROM users JOIN user_emails ON user_emails.user_id = users.id \
                     WHERE user_emails.email_key = ?1 ORDER BY users.id",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map([key], |row| row.get::<_, String>(0))
                .map_err(db)?;
            rows.map(|data| from_json(&data.map_err(db)?)).collect()
        })
        .await
    }

    async fn list_users(&self, page: Page) -> Result<Paged<UserRecord>> {
        self.read("list_users", move |conn, _| list_page(conn, "users", page))
            .await
    }

    async fn update_user(&self, user: &UserRecord) -> Result<UserRecord> {
        let mut user = user.clone();
        self.write("update_user", move |tx, _| {
            if stored_version(tx, "users", &user.id)? != user.version {
                return Err(Error::Conflict(Conflict::Version));
            }
            let key = user_name_key(&user.user_name);
            if user_name_owner(tx, &key)?.is_some_and(|owner| owner != user.id) {
                return Err(Error::Conflict(Conflict::Unique("userName")));
            }
            user.version += 1;
            tx.execute(
                "UPDATE users SET user_name_key = ?2, external_id = ?3, version = ?4, data = ?5 WHERE id = ?1",
                params![user.id, key, user.external_id, int(user.version), to_json(&user)?],
            )
            .map_err(db)?;
            tx.execute("DELETE FROM user_emails WHERE user_id = ?1", [&user.id])
                .map_err(db)?;
            write_email_keys(tx, &user)?;
            Ok(user)
        })
        .await
    }

    async fn delete_user(&self, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.write("delete_user", move |tx, _| {
            let changed = tx
                .execute("DELETE FROM users WHERE id = ?1", [id])
                .map_err(db)?;
            if changed == 0 {
                Err(Error::NotFound)
            } else {
                Ok(())
            }
        })
        .await
    }
}

fn list_page<T: serde::de::DeserializeOwned>(
    conn: &rusqlite::Connection,
    table: &str,
    page: Page,
) -> Result<Paged<T>> {
    let total: i64 = conn
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .map_err(db)?;
    let mut stmt = conn
        .prepare(&format!(
            "SELECT data FROM {table} ORDER BY id LIMIT ?1 OFFSET ?2"
        ))
        .map_err(db)?;
    let rows = stmt
        .query_map([int(page.limit), int(page.offset)], |row| {
            row.get::<_, String>(0)
        })
        .map_err(db)?;
    let items = rows
        .map(|data| from_json(&data.map_err(db)?))
        .collect::<Result<_>>()?;
    Ok(Paged {
        total: u64::try_from(total).unwrap_or(0),
        items,
    })
}

fn write_members(tx: &Transaction<'_>, group: &GroupRecord) -> Result<()> {
    tx.execute("DELETE FROM group_members WHERE group_id = ?1", [&group.id])
        .map_err(db)?;
    let mut insert = tx
        .prepare("INSERT OR IGNORE INTO group_members (group_id, member_id) VALUES (?1, ?2)")
        .map_err(db)?;
    for member in &group.members {
        insert.execute([&group.id, &member.value]).map_err(db)?;
    }
    Ok(())
}

fn groups_with(tx: &rusqlite::Connection, member_id: &str) -> Result<Vec<GroupRecord>> {
    let mut stmt = tx
        .prepare(
            "SELECT g.data FROM groups g JOIN group_members m ON m.group_id = g.id \
             WHERE m.member_id = ?1 ORDER BY g.id",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map([member_id], |row| row.get::<_, String>(0))
        .map_err(db)?;
    rows.map(|data| from_json(&data.map_err(db)?)).collect()
}

#[async_trait]
impl GroupStore for SqliteStore {
    async fn create_group(&self, group: &GroupRecord) -> Result<()> {
        let group = group.clone();
        let data = to_json(&group)?;
        self.write("create_group", move |tx, _| {
            let inserted = tx
                .execute(
                    "INSERT INTO groups (id, version, data) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    params![group.id, int(group.version), data],
                )
                .map_err(db)?;
            if inserted == 0 {
                return Err(Error::Conflict(Conflict::Exists));
            }
            write_members(tx, &group)
        })
        .await
    }

    async fn get_group(&self, id: &str) -> Result<GroupRecord> {
        let id = id.to_owned();
        self.read("get_group", move |conn, _| {
            let data: String = found(conn.query_row(
                "SELECT data FROM groups WHERE id = ?1",
                [id],
                |row| row.get(0),
            ))?;
            from_json(&data)
        })
        .await
    }

    async fn list_groups(&self, page: Page) -> Result<Paged<GroupRecord>> {
        self.read("list_groups", move |conn, _| {
            list_page(conn, "groups", page)
        })
        .await
    }

    async fn update_group(&self, group: &GroupRecord) -> Result<GroupRecord> {
        let mut group = group.clone();
        self.write("update_group", move |tx, _| {
            if stored_version(tx, "groups", &group.id)? != group.version {
                return Err(Error::Conflict(Conflict::Version));
            }
            group.version += 1;
            tx.execute(
                "UPDATE groups SET version = ?2, data = ?3 WHERE id = ?1",
                params![group.id, int(group.version), to_json(&group)?],
            )
            .map_err(db)?;
            write_members(tx, &group)?;
            Ok(group)
        })
        .await
    }

    async fn delete_group(&self, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.write("delete_group", move |tx, _| {
            let changed = tx
                .execute("DELETE FROM groups WHERE id = ?1", [id])
                .map_err(db)?;
            if changed == 0 {
                Err(Error::NotFound)
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn groups_with_member(&self, member_id: &str) -> Result<Vec<GroupRecord>> {
        let member_id = member_id.to_owned();
        self.read("groups_with_member", move |conn, _| {
            groups_with(conn, &member_id)
        })
        .await
    }

    async fn groups_with_members(
        &self,
        member_ids: &[String],
    ) -> Result<Vec<(String, GroupRecord)>> {
        let member_ids = member_ids.to_vec();
        self.read("groups_with_members", move |conn, _| {
            let mut out = Vec::new();
            // SQLite allows 32 766 parameters; stay well below.
            for chunk in member_ids.chunks(500) {
                let marks = vec!["?"; chunk.len()].join(", ");
                let mut stmt = conn
                    .prepare(&format!(
                        "SELECT m.member_id, g.data FROM groups g JOIN group_members m ON m.group_id = g.id \
                         WHERE m.member_id IN ({marks}) ORDER BY m.member_id, g.id"
                    ))
                    .map_err(db)?;
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(chunk), |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                    })
                    .map_err(db)?;
                for row in rows {
                    let (member, data) = row.map_err(db)?;
                    out.push((member, from_json(&data)?));
                }
            }
            out.sort_by(|a: &(String, GroupRecord), b| (&a.0, &a.1.id).cmp(&(&b.0, &b.1.id)));
            Ok(out)
        })
        .await
    }

    async fn remove_member_everywhere(&self, member_id: &str) -> Result<u64> {
        let member_id = member_id.to_owned();
        self.write("remove_member_everywhere", move |tx, now| {
            let groups = groups_with(tx, &member_id)?;
            for mut group in groups.iter().cloned() {
                group.members.retain(|m| m.value != member_id);
                group.version += 1;
                group.updated_at = now;
                tx.execute(
                    "UPDATE groups SET version = ?2, data = ?3 WHERE id = ?1",
                    params![group.id, int(group.version), to_json(&group)?],
                )
                .map_err(db)?;
            }
            tx.execute(
                "DELETE FROM group_members WHERE member_id = ?1",
                [&member_id],
            )
            .map_err(db)?;
            Ok(groups.len() as u64)
        })
        .await
    }
}
