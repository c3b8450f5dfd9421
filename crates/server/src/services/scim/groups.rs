//! SCIM Groups (RFC 7643 §4.2): members are users or groups (nested
//! groups allowed); every member must exist, and its type is decided here
//! from what it is, whatever `type` the client sent.

use std::collections::HashSet;

use scim::{ResourceSchema, ScimType};
use serde_json::{Map, Value, json};
use store::{GroupMember, GroupRecord, MemberKind};

use super::{
    Actor, Change, Failure, Result, WRITE_ATTEMPTS, base_url, check_if_match, check_name,
    off_workers, take_string,
};

/// The most members one group may list ([`scim::input::MAX_MEMBERS`]); a
/// larger group is refused with `invalidValue`.
pub use scim::input::MAX_MEMBERS;

fn kind_name(kind: MemberKind) -> &'static str {
    match kind {
        MemberKind::User => "User",
        MemberKind::Group => "Group",
    }
}

fn members_json(state: &crate::services::Ctx, group: &GroupRecord) -> Vec<Value> {
    let base = base_url(state);
    group
        .members
        .iter()
        .map(|m| {
            let kind = kind_name(m.kind);
            json!({
                "value": m.value,
                "type": kind,
                "$ref": format!("{base}/{kind}s/{}", m.value),
            })
        })
        .collect()
}

fn plain(state: &crate::services::Ctx, group: &GroupRecord) -> Value {
    let mut resource = match &group.attributes {
        Value::Object(a) => a.clone(),
        _ => Map::new(),
    };
    resource.insert("id".into(), json!(group.id));
    resource.insert("displayName".into(), json!(group.display_name));
    if let Some(external_id) = &group.external_id {
        resource.insert("externalId".into(), json!(external_id));
    }
    let members = members_json(state, group);
    if !members.is_empty() {
        resource.insert("members".into(), Value::Array(members));
    }
    Value::Object(resource)
}

/// The Group resource.
pub fn render(state: &crate::services::Ctx, group: &GroupRecord) -> Value {
    let meta = scim::Meta {
        resource_type: "Group",
        created: crate::services::rfc3339(group.created_at),
        last_modified: crate::services::rfc3339(group.updated_at),
        version: group.version,
        location: format!("{}/Groups/{}", base_url(state), group.id),
    };
    scim::group_resource(
        &group.id,
        &group.display_name,
        group.external_id.as_deref(),
        members_json(state, group),
        &group.attributes,
        &meta,
    )
}

fn invalid(detail: String) -> Failure {
    Failure::Scim(scim::Error::new(ScimType::InvalidValue, detail))
}

/// The members of a prepared resource, each checked to exist. Members the
/// group already had keep their known type without a lookup.
async fn resolve_members(
    state: &crate::services::Ctx,
    group_id: &str,
    members: Option<Value>,
    known: &[GroupMember],
) -> Result<Vec<GroupMember>> {
    let items = match members {
        Some(Value::Array(items)) => items,
        _ => return Ok(Vec::new()),
    };
    if items.len() > MAX_MEMBERS {
        return Err(invalid(format!(
            "a group has at most {MAX_MEMBERS} members"
        )));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Some(value) = item.get("value").and_then(Value::as_str) else {
            return Err(invalid("every member needs a value (its id)".into()));
        };
        if !seen.insert(value.to_owned()) {
            continue;
        }
        if value == group_id {
            return Err(invalid("a group cannot be a member of itself".into()));
        }
        if let Some(member) = known.iter().find(|m| m.value == value) {
            out.push(member.clone());
            continue;
        }
        let wants = item.get("type").and_then(Value::as_str);
        let kind = member_kind(state, value, wants).await?;
        out.push(GroupMember {
            value: value.to_owned(),
            kind,
        });
    }
    Ok(out)
}

async fn member_kind(
    state: &crate::services::Ctx,
    id: &str,
    wants: Option<&str>,
) -> Result<MemberKind> {
    let as_group = wants.is_some_and(|w| w.eq_ignore_ascii_case("Group"));
    if !as_group {
        match state.store.get_user(id).await {
            Ok(_) => return Ok(MemberKind::User),
            Err(store::Error::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    match state.store.get_group(id).await {
        Ok(_) => Ok(MemberKind::Group),
        Err(store::Error::NotFound) => Err(invalid(format!("member {id:?} does not exist"))),
        Err(e) => Err(e.into()),
    }
}

async fn record_from(
    state: &crate::services::Ctx,
    mut resource: Map<String, Value>,
    id: String,
    known: &[GroupMember],
    version: u64,
    created_at: i64,
) -> Result<GroupRecord> {
    let display_name = take_string(&mut resource, "displayName").unwrap_or_default();
    check_name(&display_name, "displayName")?;
    let external_id = take_string(&mut resource, "externalId");
    let members = resolve_members(state, &id, resource.remove("members"), known).await?;
    Ok(GroupRecord {
        id,
        display_name,
        external_id,
        members,
        attributes: Value::Object(resource),
        version,
        created_at,
        updated_at: state.clock.now(),
    })
}

/// POST /Groups.
pub async fn create(
    state: &crate::services::Ctx,
    actor: &Actor,
    body: &Value,
) -> Result<GroupRecord> {
    let body = body.clone();
    let prepared =
        off_workers(move || scim::input::prepare(&body, &ResourceSchema::group(), None)).await??;
    let now = state.clock.now();
    let group = record_from(
        state,
        prepared.resource,
        uuid::Uuid::new_v4().to_string(),
        &[],
        1,
        now,
    )
    .await?;
    state.store.create_group(&group).await?;
    tracing::info!(
        category = "security",
        event = "scim_group_created",
        group_id = %group.id,
        client_id = %actor.client_id,
        members = group.members.len(),
        outcome = "success",
        "SCIM group created"
    );
    Ok(group)
}

/// PUT or PATCH /Groups/{id}, as [`super::users::update`].
pub async fn update(
    state: &crate::services::Ctx,
    actor: &Actor,
    id: &str,
    if_match: Option<&str>,
    change: &Change,
) -> Result<GroupRecord> {
    for _ in 0..WRITE_ATTEMPTS {
        let current = state.store.get_group(id).await?;
        check_if_match(if_match, current.version)?;
        let prepared = change
            .prepare_off_workers(plain(state, &current), ResourceSchema::group)
            .await?;
        let next = record_from(
            state,
            prepared.resource,
            current.id.clone(),
            &current.members,
            current.version,
            current.created_at,
        )
        .await?;
        if current.display_name == next.display_name
            && current.external_id == next.external_id
            && current.members == next.members
            && current.attributes == next.attributes
        {
            return Ok(current);
        }
        match state.store.update_group(&next).await {
            Ok(stored) => {
                tracing::info!(
                    category = "security",
                    event = "scim_group_updated",
                    group_id = %stored.id,
                    client_id = %actor.client_id,
                    members = stored.members.len(),
                    outcome = "success",
                    "SCIM group updated"
                );
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

/// DELETE /Groups/{id}: its membership in other groups goes too.
pub async fn delete(
    state: &crate::services::Ctx,
    actor: &Actor,
    id: &str,
    if_match: Option<&str>,
) -> Result<()> {
    let current = state.store.get_group(id).await?;
    check_if_match(if_match, current.version)?;
    state.store.remove_member_everywhere(id).await?;
    state.store.delete_group(id).await?;
    tracing::info!(
        category = "security",
        event = "scim_group_deleted",
        group_id = %id,
        client_id = %actor.client_id,
        outcome = "success",
        "SCIM group deleted"
    );
    Ok(())
}
