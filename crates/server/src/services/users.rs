//! Creating and deleting users, and showing them as SCIM resources. The CLI
//! and SCIM (`services::scim::users`) share these, so their rules cannot
//! diverge.

use serde_json::{Map, Value, json};
use store::{Store, UserRecord};

use crate::password::{PasswordError, PasswordHasher};
use crate::secret::Secret;
use crate::services::oauth::backchannel::{self, Ended};

#[derive(Debug, Default)]
pub struct NewUser {
    pub user_name: String,
    pub password: Option<Secret<String>>,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The userName is not acceptable (length, characters, RFC 8265).
    #[error("userName: {0}")]
    InvalidUserName(String),
    /// The email address is not one.
    #[error("emails: {0}")]
    InvalidEmail(String),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// A user or group name: 1 to 256 characters, none of them a control
/// character, not only spaces. The CLI and SCIM share the rule.
pub fn is_valid_name(name: &str) -> bool {
    !name.trim().is_empty() && name.chars().count() <= 256 && !name.chars().any(char::is_control)
}

/// Whether `user_name` may name a user: the name rule of
/// [`is_valid_name`], then RFC 8265 ([`scim::user_name`]). The CLI and SCIM
/// share it, so neither accepts a name the other refuses.
pub fn check_user_name(user_name: &str) -> Result<(), scim::Error> {
    if !is_valid_name(user_name) {
        return Err(scim::Error::new(
            scim::ScimType::InvalidValue,
            "userName must be 1 to 256 printable characters",
        ));
    }
    scim::user_name::key(user_name).map(drop)
}

/// Validates, hashes the password (Argon2id) and stores a new user.
pub async fn create(
    store: &dyn Store,
    passwords: &PasswordHasher,
    now: i64,
    new: NewUser,
) -> Result<UserRecord, UserError> {
    let user_name = new.user_name.trim();
    check_user_name(user_name).map_err(|e| UserError::InvalidUserName(e.detail))?;
    if let Some(email) = &new.email
        && (!email.contains('@') || email.chars().any(char::is_whitespace))
    {
        return Err(UserError::InvalidEmail(format!(
            "{email:?} is not an email address"
        )));
    }
    let password_hash = match new.password {
        Some(password) => Some(passwords.hash(password).await?),
        None => None,
    };
    let mut attributes = Map::new();
    let mut name = Map::new();
    if let Some(given) = &new.given_name {
        name.insert("givenName".into(), json!(given));
    }
    if let Some(family) = &new.family_name {
        name.insert("familyName".into(), json!(family));
    }
    if !name.is_empty() {
        let formatted: Vec<&str> = [&new.given_name, &new.family_name]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        name.insert("formatted".into(), json!(formatted.join(" ")));
        attributes.insert("name".into(), Value::Object(name));
    }
    if let Some(email) = &new.email {
        attributes.insert(
            "emails".into(),
            json!([{"value": email, "type": "work", "primary": true}]),
        );
    }
    let record = UserRecord {
        id: uuid::Uuid::new_v4().to_string(),
        user_name: user_name.to_owned(),
        external_id: None,
        active: true,
        password_hash,
        attributes: Value::Object(attributes),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store.create_user(&record).await?;
    tracing::info!(category = "security", event = "user_created", user_id = %record.id, outcome = "success", "user created");
    Ok(record)
}

/// The SCIM User resource (RFC 7643 §4.1) of a stored user.
pub fn resource(user: &UserRecord, issuer: &str) -> Value {
    let meta = scim::Meta {
        resource_type: "User",
        created: super::rfc3339(user.created_at),
        last_modified: super::rfc3339(user.updated_at),
        version: user.version,
        location: format!("{issuer}/scim/v2/Users/{}", user.id),
    };
    scim::user_resource(
        &user.id,
        &user.user_name,
        user.external_id.as_deref(),
        user.active,
        &user.attributes,
        &meta,
    )
}

/// After a user's credential changed (a password, a factor added or
/// removed), or the user was deactivated or deleted: every browser session
/// of the user ends and every refresh family is revoked (docs/security.md
/// 25), so whoever held the old credential, or a session made with it, is
/// out, and the clients of those sessions are told by back-channel. `keep`
/// is the session of the browser that made the change, if it stays signed
/// in: put back as it was (same `sid`), and its clients are not told.
pub async fn credential_changed(
    store: &dyn Store,
    now: i64,
    id: &str,
    keep: Option<&store::Session>,
) -> Result<(), store::Error> {
    let except = keep.map(|session| session.data.sid.as_str());
    backchannel::sessions_ended(store, now, id, Ended::All { except }).await?;
    store.delete_sessions_for_user(id).await?;
    store.revoke_families_for_user(id, None).await?;
    if let Some(session) = keep {
        store.put_session(session).await?;
    }
    Ok(())
}

/// [`credential_changed`] where a server runs it: this replica's logout
/// worker starts on the notices at once rather than at its next poll.
pub async fn end_sessions(
    ctx: &crate::services::Ctx,
    id: &str,
    keep: Option<&store::Session>,
) -> Result<(), store::Error> {
    credential_changed(ctx.store.as_ref(), ctx.clock.now(), id, keep).await?;
    ctx.logouts.notify_one();
    Ok(())
}

/// Deletes a user and everything that would outlive it: its group
/// memberships, browser sessions, refresh-token families and sign-in
/// factors. In this order,
/// with the user record last, so a failure part-way leaves a user that a
/// retried delete finishes (deleting the record first left memberships no
/// one could remove). `NotFound` if absent.
pub async fn delete(store: &dyn Store, now: i64, id: &str) -> Result<(), store::Error> {
    store.get_user(id).await?;
    store.remove_member_everywhere(id).await?;
    credential_changed(store, now, id, None).await?;
    store.delete_factors(id).await?;
    store.delete_user(id).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use store::sqlite::SqliteStore;
    use store::{FactorStore, TestClock, UserStore};

    use crate::services::fixtures;

    /// A deleted user's sign-in factors go with it (sealed TOTP seeds and
    /// passkeys are personal data and must not outlive the account).
    #[tokio::test]
    async fn deleting_a_user_deletes_its_factors() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            SqliteStore::open(&dir.path().join("auth.db"), Arc::new(TestClock::new(0))).unwrap();
        let user = fixtures::user("u-1", "alice");
        store.create_user(&user).await.unwrap();
        let factor = fixtures::totp_factor("u-1", "f-1");
        store.insert_factor(&factor).await.unwrap();
        super::delete(&store, 0, "u-1").await.unwrap();
        assert!(store.list_factors("u-1").await.unwrap().is_empty());
    }
}
