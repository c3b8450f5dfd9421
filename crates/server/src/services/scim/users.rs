//! SCIM Users (RFC 7643 §4.1): create, replace, patch, delete, and the
//! rendering with the derived, read-only `groups` (direct and indirect).
//!
//! Deactivating (`active: false`), deleting a user or changing its password
//! ends their browser sessions and revokes their refresh tokens, so the
//! change takes effect at once rather than when tokens expire.

use std::collections::{HashMap, HashSet};

use scim::ResourceSchema;
use serde_json::{Map, Value, json};
use store::{GroupRecord, UserRecord};

use super::{
    Actor, Change, Failure, Result, WRITE_ATTEMPTS, base_url, check_if_match, off_workers,
    take_string,
};
use crate::secret::Secret;

/// How deep nested groups are followed for `User.groups`.
const MAX_NESTING: usize = 16;

/// The stored attributes as a resource, without `groups` and `meta`: the
/// input of PATCH and of the immutability check.
fn plain(user: &UserRecord) -> Value {
    let mut resource = match &user.attributes {
        Value::Object(a) => a.clone(),
        _ => Map::new(),
    };
    resource.insert("id".into(), json!(user.id));
    resource.insert("userName".into(), json!(user.user_name));
    if let Some(external_id) = &user.external_id {
        resource.insert("externalId".into(), json!(external_id));
    }
    resource.insert("active".into(), json!(user.active));
    Value::Object(resource)
}

/// The User resource; `groups` as given (computed by [`groups_of`]).
pub fn render(
    state: &crate::services::Ctx,
    user: &UserRecord,
    groups: Option<Vec<Value>>,
) -> Value {
    let mut resource = crate::services::users::resource(user, &state.config.issuer);
    if let (Some(groups), Some(object)) = (groups, resource.as_object_mut())
        && !groups.is_empty()
    {
        object.insert("groups".into(), Value::Array(groups));
    }
    resource
}

/// `User.groups` (RFC 7643 §4.1.2): the groups the user is a member of,
/// directly or through nested groups (`type` `direct` or `indirect`).
pub async fn groups_of(state: &crate::services::Ctx, user_id: &str) -> store::Result<Vec<Value>> {
    let mut all = groups_of_many(state, &[user_id.to_owned()]).await?;
    Ok(all.remove(user_id).unwrap_or_default())
}

/// [`groups_of`] for a page of users: one store call per level of nesting
/// for the whole page, not one per user.
pub async fn groups_of_many(
    state: &crate::services::Ctx,
    user_ids: &[String],
) -> store::Result<HashMap<String, Vec<Value>>> {
    groups_from(state, user_ids, None).await
}

/// [`groups_of_many`] for users read with their direct groups
/// ([`store::Store::list_users_with_groups`]): the first level is not read
/// again.
pub async fn groups_of_read<'a>(
    state: &crate::services::Ctx,
    users: impl IntoIterator<Item = (&'a str, &'a [GroupRecord])>,
) -> store::Result<HashMap<String, Vec<Value>>> {
    let mut ids = Vec::new();
    let mut direct = Vec::new();
    for (id, groups) in users {
        ids.push(id.to_owned());
        direct.extend(groups.iter().map(|g| (id.to_owned(), g.clone())));
    }
    groups_from(state, &ids, Some(direct)).await
}

/// Walks the nesting from `user_ids`; `direct`, when given, is the first
/// level, as `groups_with_members` would answer it.
async fn groups_from(
    state: &crate::services::Ctx,
    user_ids: &[String],
    mut direct_given: Option<Vec<(String, GroupRecord)>>,
) -> store::Result<HashMap<String, Vec<Value>>> {
    let base = base_url(state);
    let mut out: HashMap<String, Vec<Value>> = HashMap::new();
    let mut seen: HashMap<&str, HashSet<String>> = HashMap::new();
    let mut frontier: HashMap<&str, Vec<String>> = user_ids
        .iter()
        .map(|u| (u.as_str(), vec![u.clone()]))
        .collect();
    for depth in 0..MAX_NESTING {
        let mut asked: Vec<String> = frontier.values().flatten().cloned().collect();
        asked.sort();
        asked.dedup();
        if asked.is_empty() {
            break;
        }
        let mut direct: HashMap<String, Vec<(String, String)>> = HashMap::new();
        let found = match direct_given.take() {
            Some(given) if depth == 0 => given,
            _ => state.store.groups_with_members(&asked).await?,
        };
        for (member, group) in found {
            direct
                .entry(member)
                .or_default()
                .push((group.id, group.display_name));
        }
        for user in user_ids {
            let Some(members) = frontier.remove(user.as_str()) else {
                continue;
            };
            let mut next = Vec::new();
            for member in members {
                for (id, display_name) in direct.get(&member).into_iter().flatten() {
                    if !seen.entry(user.as_str()).or_default().insert(id.clone()) {
                        continue;
                    }
                    out.entry(user.clone()).or_default().push(json!({
                        "value": id,
                        "$ref": format!("{base}/Groups/{id}"),
                        "display": display_name,
                        "type": if depth == 0 { "direct" } else { "indirect" },
                    }));
                    next.push(id.clone());
                }
            }
            if !next.is_empty() {
                frontier.insert(user.as_str(), next);
            }
        }
    }
    Ok(out)
}

/// The names of the groups of a user, for the OIDC `groups` claim.
pub async fn group_names(
    state: &crate::services::Ctx,
    user_id: &str,
) -> store::Result<Vec<String>> {
    Ok(groups_of(state, user_id)
        .await?
        .into_iter()
        .filter_map(|g| g["display"].as_str().map(str::to_owned))
        .collect())
}

/// docs/security.md 10 (8 to 1024 characters, no composition rules), as
/// `invalidValue`.
fn check_password(password: &str) -> Result<()> {
    crate::password::check_policy(password).map_err(|e| {
        Failure::Scim(scim::Error::new(
            scim::ScimType::InvalidValue,
            e.to_string(),
        ))
    })
}

async fn hash(state: &crate::services::Ctx, password: String) -> Result<String> {
    check_password(&password)?;
    state
        .passwords
        .hash(Secret::new(password))
        .await
        .map_err(|e| Failure::Internal(e.to_string()))
}

/// The record a prepared resource describes.
fn record_from(
    mut resource: Map<String, Value>,
    id: String,
    password_hash: Option<String>,
    version: u64,
    created_at: i64,
    now: i64,
) -> Result<UserRecord> {
    let user_name = take_string(&mut resource, "userName").unwrap_or_default();
    crate::services::users::check_user_name(&user_name)?;
    let external_id = take_string(&mut resource, "externalId");
    let active = !matches!(resource.remove("active"), Some(Value::Bool(false)));
    Ok(UserRecord {
        id,
        user_name,
        external_id,
        active,
        password_hash,
        attributes: Value::Object(resource),
        version,
        created_at,
        updated_at: now,
    })
}

/// POST /Users (RFC 7644 §3.3).
pub async fn create(
    state: &crate::services::Ctx,
    actor: &Actor,
    body: &Value,
) -> Result<UserRecord> {
    let body = body.clone();
    let prepared =
        off_workers(move || scim::input::prepare(&body, &ResourceSchema::user(), None)).await??;
    let password_hash = match prepared.password {
        Some(p) => Some(hash(state, p).await?),
        None => None,
    };
    let now = state.clock.now();
    let user = record_from(
        prepared.resource,
        uuid::Uuid::new_v4().to_string(),
        password_hash,
        1,
        now,
        now,
    )?;
    state.store.create_user(&user).await?;
    tracing::info!(
        category = "security",
        event = "scim_user_created",
        user_id = %user.id,
        client_id = %actor.client_id,
        outcome = "success",
        "SCIM user created"
    );
    Ok(user)
}

/// PUT or PATCH /Users/{id}: a read-modify-write, retried on a concurrent
/// change unless the client pinned a version with `If-Match`.
pub async fn update(
    state: &crate::services::Ctx,
    actor: &Actor,
    id: &str,
    if_match: Option<&str>,
    change: &Change,
) -> Result<UserRecord> {
    let mut hashed: Option<(Secret<String>, String)> = None;
    for _ in 0..WRITE_ATTEMPTS {
        let current = state.store.get_user(id).await?;
        check_if_match(if_match, current.version)?;
        let prepared = change
            .prepare_off_workers(plain(&current), ResourceSchema::user)
            .await?;
        let password_hash = match prepared.password {
            None => current.password_hash.clone(),
            Some(p) => match &hashed {
                Some((plain, hash)) if plain.expose() == &p => Some(hash.clone()),
                _ => {
                    let h = hash(state, p.clone()).await?;
                    hashed = Some((Secret::new(p), h.clone()));
                    Some(h)
                }
            },
        };
        let next = record_from(
            prepared.resource,
            current.id.clone(),
            password_hash,
            current.version,
            current.created_at,
            state.clock.now(),
        )?;
        if unchanged(&current, &next) {
            return Ok(current);
        }
        match state.store.update_user(&next).await {
            Ok(stored) => {
                after_change(state, actor, &current, &stored).await?;
                return Ok(stored);
            }
            Err(store::Error::Conflict(store::Conflict::Version)) if if_match.is_none() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::Scim(scim::Error::status(
        409,
        "the resource kept changing concurrently; retry",
    )))
}

fn unchanged(current: &UserRecord, next: &UserRecord) -> bool {
    current.user_name == next.user_name
        && current.external_id == next.external_id
        && current.active == next.active
        && current.password_hash == next.password_hash
        && current.attributes == next.attributes
}

/// Security events, and the end of sessions for a deactivated user or a
/// changed password.
async fn after_change(
    state: &crate::services::Ctx,
    actor: &Actor,
    before: &UserRecord,
    after: &UserRecord,
) -> Result<()> {
    tracing::info!(
        category = "security",
        event = "scim_user_updated",
        user_id = %after.id,
        client_id = %actor.client_id,
        password_changed = before.password_hash != after.password_hash,
        outcome = "success",
        "SCIM user updated"
    );
    let ended = if before.active && !after.active {
        Some((
            "scim_user_deactivated",
            "SCIM user deactivated: sessions ended, refresh tokens revoked",
        ))
    } else if before.password_hash != after.password_hash {
        // ASVS V7.4.3 / docs/security.md 25: a changed credential ends the
        // sessions and refresh tokens that the old one opened.
        Some((
            "password_changed",
            "password changed over SCIM: sessions ended, refresh tokens revoked",
        ))
    } else {
        None
    };
    if let Some((event, message)) = ended {
        end_sessions(state, &after.id).await?;
        tracing::info!(
            category = "security",
            event,
            user_id = %after.id,
            client_id = %actor.client_id,
            outcome = "success",
            "{message}"
        );
    }
    if !before.active && after.active {
        tracing::info!(
            category = "security",
            event = "scim_user_reactivated",
            user_id = %after.id,
            client_id = %actor.client_id,
            outcome = "success",
            "SCIM user reactivated"
        );
    }
    Ok(())
}

async fn end_sessions(state: &crate::services::Ctx, user_id: &str) -> Result<()> {
    crate::services::users::end_sessions(state, user_id, None).await?;
    Ok(())
}

/// DELETE /Users/{id} (RFC 7644 §3.6), as [`crate::services::users::delete`].
pub async fn delete(
    state: &crate::services::Ctx,
    actor: &Actor,
    id: &str,
    if_match: Option<&str>,
) -> Result<()> {
    let current = state.store.get_user(id).await?;
    check_if_match(if_match, current.version)?;
    crate::services::users::delete(state.store.as_ref(), state.clock.now(), id).await?;
    state.logouts.notify_one();
    tracing::info!(
        category = "security",
        event = "scim_user_deleted",
        user_id = %id,
        client_id = %actor.client_id,
        outcome = "success",
        "SCIM user deleted"
    );
    Ok(())
}
