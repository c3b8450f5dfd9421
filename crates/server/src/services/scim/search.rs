//! Listing and searching (RFC 7644 §3.4.2, §3.4.3): GET with query
//! parameters or POST `.search` with a SearchRequest, on a resource type or
//! the root.
//!
//! Equality on `userName`, `externalId`, `id` and `emails` (alone, as
//! `emails[value eq …]`, inside `and`, or in every branch of an `or`) is
//! answered from store indexes; any other
//! filter, and any `sortBy`, reads the resources in the store's stable id
//! order and evaluates the filter with the `scim` crate. Without a filter
//! or sort, a page is one store call. Paging is over that stable order, so
//! Okta's `startIndex += 100` imports see every resource once.

use std::collections::HashMap;

use scim::filter::{AttrExp, CompValue, CompareOp, CoreSchema, Filter, Schema, ValFilter};
use scim::query::{AttrName, Paging};
use serde_json::Value;
use store::{Page, UserRecord};

use super::{Result, groups, users};

/// A page when the client does not ask for a size; Okta asks for 100.
pub const DEFAULT_COUNT: u64 = 100;
/// The largest page (advertised as `filter.maxResults`).
pub const MAX_COUNT: u64 = 1000;
/// Records read per store call while scanning.
const SCAN_BATCH: u64 = 500;

/// What to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Users,
    Groups,
    /// `POST /.search` at the root: every resource type.
    All,
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.9), for every response
/// that carries a resource.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub attributes: Vec<AttrName>,
    pub excluded: Vec<AttrName>,
}

impl Projection {
    pub fn from_params(params: &HashMap<String, String>) -> std::result::Result<Self, scim::Error> {
        Ok(Self {
            attributes: AttrName::parse_list(param(params, "attributes"))?,
            excluded: AttrName::parse_list(param(params, "excludedAttributes"))?,
        })
    }

    pub fn apply(&self, resource: &Value) -> Value {
        scim::query::project(resource, &self.attributes, &self.excluded)
    }

    pub fn wants(&self, name: &str) -> bool {
        scim::query::wants(name, &self.attributes, &self.excluded)
    }
}

/// A parsed search.
#[derive(Debug, Clone)]
pub struct Query {
    pub filter: Option<Filter>,
    pub sort_by: Option<AttrName>,
    pub descending: bool,
    pub paging: Paging,
    pub projection: Projection,
    /// Whether the filter or sort reads `User.groups`, which is then
    /// computed for every user the search reads, not only the page.
    pub reads_groups: bool,
}

/// Query parameter names match without regard to case (Entra ID and Okta
/// both use the RFC's spelling; others lower-case them).
fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn sort_order(value: Option<&str>) -> std::result::Result<bool, scim::Error> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("ascending") => Ok(false),
        Some("descending") => Ok(true),
        Some(other) => Err(scim::Error::new(
            scim::ScimType::InvalidValue,
            format!("sortOrder must be ascending or descending, got {other:?}"),
        )),
    }
}

impl Query {
    /// From GET query parameters (RFC 7644 §3.4.2).
    pub fn from_params(params: &HashMap<String, String>) -> std::result::Result<Self, scim::Error> {
        let filter_text = param(params, "filter").filter(|f| !f.trim().is_empty());
        let sort_by = param(params, "sortBy")
            .filter(|s| !s.trim().is_empty())
            .map(AttrName::parse)
            .transpose()?;
        let reads_groups = filter_text.is_some_and(|f| f.to_ascii_lowercase().contains("groups"))
            || sort_by
                .as_ref()
                .is_some_and(|s| s.name.eq_ignore_ascii_case("groups"));
        Ok(Self {
            filter: filter_text.map(scim::filter::parse).transpose()?,
            sort_by,
            descending: sort_order(param(params, "sortOrder"))?,
            paging: Paging::parse(
                param(params, "startIndex"),
                param(params, "count"),
                DEFAULT_COUNT,
                MAX_COUNT,
            )?,
            projection: Projection::from_params(params)?,
            reads_groups,
        })
    }

    /// From a SearchRequest body (RFC 7644 §3.4.3). Its members are JSON
    /// values; they are read as the query parameters of the same names.
    pub fn from_body(body: &Value) -> std::result::Result<Self, scim::Error> {
        let object = body.as_object().ok_or_else(|| {
            scim::Error::new(
                scim::ScimType::InvalidSyntax,
                "the request body must be a SearchRequest object",
            )
        })?;
        let mut params = HashMap::new();
        for (key, value) in object {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                Value::Null => continue,
                _ => {
                    return Err(scim::Error::new(
                        scim::ScimType::InvalidValue,
                        format!("{key} has the wrong type"),
                    ));
                }
            };
            params.insert(key.clone(), text);
        }
        Self::from_params(&params)
    }
}

fn is_core(path: &scim::filter::AttrPath) -> bool {
    path.uri
        .as_deref()
        .is_none_or(|u| u.eq_ignore_ascii_case(scim::urn::USER))
}

/// The `value eq "…"` inside `emails[…]`, alone or joined by `and`.
fn email_in(filter: &ValFilter) -> Option<&str> {
    match filter {
        ValFilter::Attr(AttrExp::Comparison(path, CompareOp::Eq, CompValue::Str(value)))
            if path.name.eq_ignore_ascii_case("value") =>
        {
            Some(value)
        }
        ValFilter::And(operands) => operands.as_slice().iter().find_map(email_in),
        _ => None,
    }
}

/// The records an indexed filter narrows a user search to, or `None` when
/// the filter needs a scan.
async fn indexed_users(
    state: &crate::services::Ctx,
    filter: &Filter,
) -> Result<Option<Vec<UserRecord>>> {
    Ok(match filter {
        Filter::Attr(AttrExp::Comparison(path, CompareOp::Eq, CompValue::Str(value)))
            if path.name.eq_ignore_ascii_case("emails")
                && path
                    .sub_attr
                    .as_deref()
                    .is_none_or(|s| s.eq_ignore_ascii_case("value"))
                && is_core(path) =>
        {
            Some(state.store.find_users_by_email(value).await?)
        }
        Filter::ValuePath(path)
            if path.attr.name.eq_ignore_ascii_case("emails") && is_core(&path.attr) =>
        {
            match email_in(&path.filter) {
                Some(email) => Some(state.store.find_users_by_email(email).await?),
                None => None,
            }
        }
        Filter::Attr(AttrExp::Comparison(path, CompareOp::Eq, CompValue::Str(value)))
            if path.sub_attr.is_none() && is_core(path) =>
        {
            let found = |r: store::Result<UserRecord>| match r {
                Ok(user) => Ok(vec![user]),
                Err(store::Error::NotFound) => Ok(Vec::new()),
                Err(e) => Err(e),
            };
            match path.name.to_ascii_lowercase().as_str() {
                "username" => Some(found(state.store.get_user_by_name(value).await)?),
                "id" => Some(found(state.store.get_user(value).await)?),
                "externalid" => Some(state.store.find_users_by_external_id(value).await?),
                _ => None,
            }
        }
        Filter::And(operands) => {
            for operand in operands.as_slice() {
                if let Some(found) = Box::pin(indexed_users(state, operand)).await? {
                    return Ok(Some(found));
                }
            }
            None
        }
        Filter::Or(operands) => {
            let mut all: Vec<UserRecord> = Vec::new();
            for operand in operands.as_slice() {
                match Box::pin(indexed_users(state, operand)).await? {
                    Some(found) => all.extend(found),
                    None => return Ok(None),
                }
            }
            all.sort_by(|a, b| a.id.cmp(&b.id));
            all.dedup_by(|a, b| a.id == b.id);
            Some(all)
        }
        _ => None,
    })
}

async fn user_resources(
    state: &crate::services::Ctx,
    records: Vec<UserRecord>,
    with_groups: bool,
) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(records.len());
    let mut groups = if with_groups {
        let ids: Vec<String> = records.iter().map(|u| u.id.clone()).collect();
        users::groups_of_many(state, &ids).await?
    } else {
        Default::default()
    };
    for user in records {
        let groups = with_groups.then(|| groups.remove(&user.id).unwrap_or_default());
        out.push(users::render(state, &user, groups));
    }
    Ok(out)
}

/// The resources that match `filter`, evaluated off the async workers
/// ([`super::off_workers`]): a scan of many users is CPU time.
async fn keep_matching(resources: Vec<Value>, filter: Option<&Filter>) -> Result<Vec<Value>> {
    let Some(filter) = filter.cloned() else {
        return Ok(resources);
    };
    let kept = super::off_workers(move || {
        let rules = CoreSchema::new();
        let mut kept = Vec::with_capacity(resources.len());
        for resource in resources {
            if scim::filter::matches(&filter, &resource, &rules)? {
                kept.push(resource);
            }
        }
        Ok::<_, scim::Error>(kept)
    })
    .await??;
    Ok(kept)
}

/// The lookup identity providers send most (`userName eq "…"`, or `id
/// eq`), when the answer shows groups: the user is read with its groups in
/// one call ([`store::Store::get_user_by_name_with_groups`]). `None` for
/// any other filter.
async fn one_user_with_groups(
    state: &crate::services::Ctx,
    filter: &Filter,
) -> Result<Option<Vec<Value>>> {
    let Filter::Attr(AttrExp::Comparison(path, CompareOp::Eq, CompValue::Str(value))) = filter
    else {
        return Ok(None);
    };
    if path.sub_attr.is_some() || !is_core(path) {
        return Ok(None);
    }
    let found = match path.name.to_ascii_lowercase().as_str() {
        "username" => state.store.get_user_by_name_with_groups(value).await,
        "id" => state.store.get_user_with_groups(value).await,
        _ => return Ok(None),
    };
    let (user, direct) = match found {
        Ok(found) => found,
        Err(store::Error::NotFound) => return Ok(Some(Vec::new())),
        Err(e) => return Err(e.into()),
    };
    let read = [(user.id.as_str(), direct.as_slice())];
    let groups = users::groups_of_read(state, read)
        .await?
        .remove(&user.id)
        .unwrap_or_default();
    Ok(Some(vec![users::render(state, &user, Some(groups))]))
}

/// Every user matching the query's filter, rendered, in id order, and
/// whether they carry `groups` already.
async fn matching_users(state: &crate::services::Ctx, query: &Query) -> Result<(Vec<Value>, bool)> {
    if (query.reads_groups || query.projection.wants("groups"))
        && let Some(filter) = &query.filter
        && let Some(found) = one_user_with_groups(state, filter).await?
    {
        return Ok((keep_matching(found, Some(filter)).await?, true));
    }
    let with_groups = query.reads_groups;
    Ok((
        matching_users_read(state, query, with_groups).await?,
        with_groups,
    ))
}

async fn matching_users_read(
    state: &crate::services::Ctx,
    query: &Query,
    with_groups: bool,
) -> Result<Vec<Value>> {
    if let Some(filter) = &query.filter
        && let Some(records) = indexed_users(state, filter).await?
    {
        let resources = user_resources(state, records, with_groups).await?;
        return keep_matching(resources, Some(filter)).await;
    }
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let page = state
            .store
            .list_users(Page {
                offset,
                limit: SCAN_BATCH,
            })
            .await?;
        let read = page.items.len() as u64;
        let resources = user_resources(state, page.items, with_groups).await?;
        out.extend(keep_matching(resources, query.filter.as_ref()).await?);
        offset += read;
        if read < SCAN_BATCH || offset >= page.total {
            return Ok(out);
        }
    }
}

/// Every group matching the query's filter, rendered, in id order.
async fn matching_groups(state: &crate::services::Ctx, query: &Query) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let page = state
            .store
            .list_groups(Page {
                offset,
                limit: SCAN_BATCH,
            })
            .await?;
        let read = page.items.len() as u64;
        let resources: Vec<Value> = page
            .items
            .iter()
            .map(|g| groups::render(state, g))
            .collect();
        out.extend(keep_matching(resources, query.filter.as_ref()).await?);
        offset += read;
        if read < SCAN_BATCH || offset >= page.total {
            return Ok(out);
        }
    }
}

/// Runs a search and renders the ListResponse.
pub async fn search(state: &crate::services::Ctx, target: Target, query: &Query) -> Result<Value> {
    let paging = query.paging;
    let wants_groups = query.projection.wants("groups");
    // The fast path: one page straight from the store.
    if query.filter.is_none() && query.sort_by.is_none() && target != Target::All {
        let page = Page {
            offset: paging.offset(),
            limit: paging.count,
        };
        let (total, resources) = match target {
            // With their groups, the users and their membership indexes
            // are read together (one round trip per node on a cluster).
            Target::Users if wants_groups => {
                let found = state.store.list_users_with_groups(page).await?;
                let read = found
                    .items
                    .iter()
                    .map(|(u, g)| (u.id.as_str(), g.as_slice()));
                let mut groups = users::groups_of_read(state, read).await?;
                let resources = found
                    .items
                    .iter()
                    .map(|(user, _)| {
                        let of_user = groups.remove(&user.id).unwrap_or_default();
                        users::render(state, user, Some(of_user))
                    })
                    .collect();
                (found.total, resources)
            }
            Target::Users => {
                let found = state.store.list_users(page).await?;
                let resources = user_resources(state, found.items, false).await?;
                (found.total, resources)
            }
            _ => {
                let found = state.store.list_groups(page).await?;
                let resources = found
                    .items
                    .iter()
                    .map(|g| groups::render(state, g))
                    .collect();
                (found.total, resources)
            }
        };
        return Ok(list_response(total, paging, resources, &query.projection));
    }
    let mut resources = Vec::new();
    let mut have_groups = query.reads_groups;
    if matches!(target, Target::Users | Target::All) {
        let (users, with_groups) = matching_users(state, query).await?;
        resources.extend(users);
        have_groups = with_groups;
    }
    if matches!(target, Target::Groups | Target::All) {
        resources.extend(matching_groups(state, query).await?);
    }
    if let Some(by) = &query.sort_by {
        let rules = CoreSchema::new();
        let info = rules.attribute(by.urn.as_deref(), &by.name, by.sub_attr.as_deref());
        scim::query::sort(&mut resources, by, query.descending, info.case_exact);
    }
    let total = resources.len() as u64;
    let start = usize::try_from(paging.offset()).unwrap_or(usize::MAX);
    let count = usize::try_from(paging.count).unwrap_or(usize::MAX);
    let mut page: Vec<Value> = resources.into_iter().skip(start).take(count).collect();
    if wants_groups && !have_groups {
        add_groups(state, &mut page).await?;
    }
    Ok(list_response(total, paging, page, &query.projection))
}

/// Adds `groups` to the rendered Users of a page (not to Groups).
async fn add_groups(state: &crate::services::Ctx, page: &mut [Value]) -> Result<()> {
    let ids: Vec<String> = page
        .iter()
        .filter(|r| r["meta"]["resourceType"] == "User")
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect();
    let mut groups = users::groups_of_many(state, &ids).await?;
    for resource in page.iter_mut() {
        let id = resource["id"].as_str().unwrap_or_default().to_owned();
        if let (Some(found), Some(object)) = (groups.remove(&id), resource.as_object_mut())
            && !found.is_empty()
        {
            object.insert("groups".into(), Value::Array(found));
        }
    }
    Ok(())
}

fn list_response(total: u64, paging: Paging, items: Vec<Value>, projection: &Projection) -> Value {
    scim::ListResponse {
        total_results: total,
        start_index: paging.start_index,
        resources: items.iter().map(|r| projection.apply(r)).collect(),
    }
    .to_json()
}
