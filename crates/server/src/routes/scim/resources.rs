//! Users, Groups, `/Me`, searches and `/Bulk` (RFC 7644 §3.2–3.7, §3.11).
//! Every response carrying a resource honours `attributes` and
//! `excludedAttributes` from the query string (RFC 7644 §3.9).

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{IF_MATCH, IF_NONE_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{Caller, ScimBody, ScimError, params, resource_response, scim_json};
use crate::services::scim::search::{self, Projection, Query, Target};
use crate::services::scim::{Change, Failure, bulk as bulk_service, groups, if_match_holds, users};
use crate::state::AppState;

type Answer = Result<Response, ScimError>;

fn header<'a>(headers: &'a HeaderMap, name: &axum::http::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn projection(query: Option<&str>) -> Result<Projection, ScimError> {
    Ok(Projection::from_params(&params(query))?)
}

/// RFC 7232 §3.2 on GET: 304 when the client's copy is current.
fn not_modified(headers: &HeaderMap, version: u64) -> bool {
    header(headers, &IF_NONE_MATCH)
        .is_some_and(|tags| tags.trim() != "*" && if_match_holds(Some(tags), version))
}

fn with_location(mut response: Response, location: &Value) -> Response {
    if let Some(location) = location.as_str()
        && let Ok(value) = HeaderValue::from_str(location)
    {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

async fn user_answer(
    state: &AppState,
    user: &store::UserRecord,
    status: StatusCode,
    query: Option<&str>,
) -> Answer {
    let projection = projection(query)?;
    let groups = if projection.wants("groups") {
        Some(users::groups_of(state, &user.id).await?)
    } else {
        None
    };
    let full = users::render(state, user, groups);
    let response = resource_response(status, &projection.apply(&full), user.version);
    Ok(if status == StatusCode::CREATED {
        with_location(response, &full["meta"]["location"])
    } else {
        response
    })
}

fn group_answer(
    state: &AppState,
    group: &store::GroupRecord,
    status: StatusCode,
    query: Option<&str>,
) -> Answer {
    let projection = projection(query)?;
    let full = groups::render(state, group);
    let response = resource_response(status, &projection.apply(&full), group.version);
    Ok(if status == StatusCode::CREATED {
        with_location(response, &full["meta"]["location"])
    } else {
        response
    })
}

async fn list(state: &AppState, target: Target, query: Option<&str>) -> Answer {
    let parsed = Query::from_params(&params(query))?;
    let body = search::search(state, target, &parsed).await?;
    Ok(scim_json(StatusCode::OK, &body))
}

async fn search_body(state: &AppState, target: Target, body: &Value) -> Answer {
    let parsed = Query::from_body(body)?;
    let answer = search::search(state, target, &parsed).await?;
    Ok(scim_json(StatusCode::OK, &answer))
}

pub async fn list_users(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    list(&state, Target::Users, query.as_deref()).await
}

pub async fn list_groups(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    list(&state, Target::Groups, query.as_deref()).await
}

pub async fn search_users(State(state): State<AppState>, ScimBody(body): ScimBody) -> Answer {
    search_body(&state, Target::Users, &body).await
}

pub async fn search_groups(State(state): State<AppState>, ScimBody(body): ScimBody) -> Answer {
    search_body(&state, Target::Groups, &body).await
}

pub async fn search_all(State(state): State<AppState>, ScimBody(body): ScimBody) -> Answer {
    search_body(&state, Target::All, &body).await
}

pub async fn create_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
    ScimBody(body): ScimBody,
) -> Answer {
    let user = users::create(&state, &caller.actor, &body).await?;
    user_answer(&state, &user, StatusCode::CREATED, query.as_deref()).await
}

async fn get_user_by_id(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Answer {
    let projection = projection(query)?;
    // With its groups, the user and its membership index are read together
    // (one round trip on a cluster, where they share a slot).
    let (user, direct) = if projection.wants("groups") {
        let (user, groups) = state
            .store
            .get_user_with_groups(id)
            .await
            .map_err(Failure::from)?;
        (user, Some(groups))
    } else {
        let user = state.store.get_user(id).await.map_err(Failure::from)?;
        (user, None)
    };
    if not_modified(headers, user.version) {
        return Ok(
            resource_response(StatusCode::NOT_MODIFIED, &Value::Null, user.version)
                .into_response()
                .map(|_| axum::body::Body::empty()),
        );
    }
    let groups = match direct {
        Some(direct) => {
            let read = [(user.id.as_str(), direct.as_slice())];
            Some(
                users::groups_of_read(state, read)
                    .await?
                    .remove(&user.id)
                    .unwrap_or_default(),
            )
        }
        None => None,
    };
    let full = users::render(state, &user, groups);
    Ok(resource_response(
        StatusCode::OK,
        &projection.apply(&full),
        user.version,
    ))
}

pub async fn get_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Answer {
    get_user_by_id(&state, &id, &headers, query.as_deref()).await
}

async fn update_user(
    state: &AppState,
    caller: &Caller,
    id: &str,
    headers: &HeaderMap,
    query: Option<&str>,
    change: Change,
) -> Answer {
    let if_match = header(headers, &IF_MATCH);
    let user = users::update(state, &caller.actor, id, if_match, &change).await?;
    user_answer(state, &user, StatusCode::OK, query).await
}

pub async fn replace_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    ScimBody(body): ScimBody,
) -> Answer {
    let change = Change::Replace(body);
    update_user(&state, &caller, &id, &headers, query.as_deref(), change).await
}

pub async fn patch_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    ScimBody(body): ScimBody,
) -> Answer {
    let change = Change::patch(&body)?;
    update_user(&state, &caller, &id, &headers, query.as_deref(), change).await
}

pub async fn delete_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Answer {
    users::delete(&state, &caller.actor, &id, header(&headers, &IF_MATCH)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn create_group(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
    ScimBody(body): ScimBody,
) -> Answer {
    let group = groups::create(&state, &caller.actor, &body).await?;
    group_answer(&state, &group, StatusCode::CREATED, query.as_deref())
}

pub async fn get_group(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Answer {
    let group = state.store.get_group(&id).await.map_err(Failure::from)?;
    if not_modified(&headers, group.version) {
        return Ok(
            resource_response(StatusCode::NOT_MODIFIED, &Value::Null, group.version)
                .map(|_| axum::body::Body::empty()),
        );
    }
    group_answer(&state, &group, StatusCode::OK, query.as_deref())
}

async fn update_group(
    state: &AppState,
    caller: &Caller,
    id: &str,
    headers: &HeaderMap,
    query: Option<&str>,
    change: Change,
) -> Answer {
    let if_match = header(headers, &IF_MATCH);
    let group = groups::update(state, &caller.actor, id, if_match, &change).await?;
    group_answer(state, &group, StatusCode::OK, query)
}

pub async fn replace_group(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    ScimBody(body): ScimBody,
) -> Answer {
    let change = Change::Replace(body);
    update_group(&state, &caller, &id, &headers, query.as_deref(), change).await
}

pub async fn patch_group(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    ScimBody(body): ScimBody,
) -> Answer {
    let change = Change::patch(&body)?;
    update_group(&state, &caller, &id, &headers, query.as_deref(), change).await
}

pub async fn delete_group(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Answer {
    groups::delete(&state, &caller.actor, &id, header(&headers, &IF_MATCH)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The user `/Me` stands for (RFC 7644 §3.11): the token's subject.
async fn me(state: &AppState, caller: &Caller) -> Result<String, ScimError> {
    match state.store.get_user(&caller.subject).await {
        Ok(user) => Ok(user.id),
        Err(store::Error::NotFound) => Err(scim::Error::status(
            404,
            "the token's subject is not a SCIM user (a client_credentials token has no /Me)",
        )
        .into()),
        Err(e) => Err(Failure::from(e).into()),
    }
}

pub async fn get_me(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Answer {
    let id = me(&state, &caller).await?;
    get_user_by_id(&state, &id, &headers, query.as_deref()).await
}

pub async fn replace_me(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    ScimBody(body): ScimBody,
) -> Answer {
    let id = me(&state, &caller).await?;
    let change = Change::Replace(body);
    update_user(&state, &caller, &id, &headers, query.as_deref(), change).await
}

pub async fn patch_me(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    ScimBody(body): ScimBody,
) -> Answer {
    let id = me(&state, &caller).await?;
    let change = Change::patch(&body)?;
    update_user(&state, &caller, &id, &headers, query.as_deref(), change).await
}

pub async fn delete_me(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> Answer {
    let id = me(&state, &caller).await?;
    users::delete(&state, &caller.actor, &id, header(&headers, &IF_MATCH)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn bulk(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ScimBody(body): ScimBody,
) -> Answer {
    let answer = bulk_service::run(&state, &caller.actor, &body).await?;
    Ok(scim_json(StatusCode::OK, &answer))
}
