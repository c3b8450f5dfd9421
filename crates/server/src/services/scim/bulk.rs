//! Bulk requests (RFC 7644 §3.7): many writes in one request, with
//! `bulkId` references from later operations to resources created by
//! earlier ones (§3.7.2), in whatever order they are listed: an operation
//! waits until the resources it references exist. `failOnErrors` stops
//! processing after that many errors; each operation is its own write, as
//! the RFC allows (no transaction across operations).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::{Actor, Change, Failure, Result, base_url, groups, users};

/// At most this many operations per request (`bulk.maxOperations`).
pub const MAX_OPERATIONS: usize = 1000;
/// At most this many bytes per request (`bulk.maxPayloadSize`).
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

fn syntax(detail: impl Into<String>) -> Failure {
    Failure::Scim(scim::Error::new(scim::ScimType::InvalidSyntax, detail))
}

/// One parsed operation.
#[derive(Debug, Clone)]
struct Operation {
    method: String,
    path: String,
    bulk_id: Option<String>,
    version: Option<String>,
    data: Option<Value>,
}

fn parse(body: &Value) -> Result<(Vec<Operation>, Option<usize>)> {
    let object = body
        .as_object()
        .ok_or_else(|| syntax("the request body must be a BulkRequest object"))?;
    let schemas_ok = object
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|u| u == scim::urn::BULK_REQUEST));
    if !schemas_ok {
        return Err(syntax(format!(
            "schemas must contain {}",
            scim::urn::BULK_REQUEST
        )));
    }
    let fail_on_errors = match object.get("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n > 0)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| syntax("failOnErrors must be a positive integer"))?,
        ),
    };
    let operations = object
        .get("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| syntax("Operations must be an array"))?;
    if operations.len() > MAX_OPERATIONS {
        return Err(Failure::Scim(scim::Error::status(
            413,
            format!("a bulk request has at most {MAX_OPERATIONS} operations"),
        )));
    }
    let mut parsed = Vec::with_capacity(operations.len());
    for op in operations {
        let text = |name: &str| op.get(name).and_then(Value::as_str).map(str::to_owned);
        let method = text("method")
            .ok_or_else(|| syntax("each operation needs a method"))?
            .to_ascii_uppercase();
        let path = text("path").ok_or_else(|| syntax("each operation needs a path"))?;
        let bulk_id = text("bulkId");
        if method == "POST" && bulk_id.is_none() {
            return Err(syntax("a POST operation needs a bulkId (RFC 7644 §3.7)"));
        }
        parsed.push(Operation {
            method,
            path,
            bulk_id,
            version: text("version"),
            data: op.get("data").cloned(),
        });
    }
    Ok((parsed, fail_on_errors))
}

/// The `bulkId:…` references in a value.
fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:") {
                out.push(id.to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        Value::Object(map) => map.values().for_each(|v| references(v, out)),
        _ => {}
    }
}

fn substitute(value: &mut Value, ids: &HashMap<String, String>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:").and_then(|b| ids.get(b)) {
                *s = id.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, ids)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, ids)),
        _ => {}
    }
}

fn path_reference(path: &str) -> Option<String> {
    path.rsplit('/')
        .next()
        .and_then(|last| last.strip_prefix("bulkId:"))
        .map(str::to_owned)
}

/// What one operation produced.
struct Outcome {
    status: u16,
    location: Option<String>,
    version: Option<u64>,
    id: Option<String>,
}

async fn execute(state: &crate::services::Ctx, actor: &Actor, op: &Operation) -> Result<Outcome> {
    let data = op.data.clone().unwrap_or(Value::Null);
    let trimmed = op.path.trim_matches('/');
    let (resource, id) = match trimmed.split_once('/') {
        Some((resource, id)) => (resource, Some(id)),
        None => (trimmed, None),
    };
    let base = base_url(state);
    let if_match = op.version.as_deref();
    let not_found = || {
        Failure::Scim(scim::Error::new(
            scim::ScimType::InvalidPath,
            format!("{} {} is not a bulk operation here", op.method, op.path),
        ))
    };
    let user_outcome = |status, user: store::UserRecord| Outcome {
        status,
        location: Some(format!("{base}/Users/{}", user.id)),
        version: Some(user.version),
        id: Some(user.id),
    };
    let group_outcome = |status, group: store::GroupRecord| Outcome {
        status,
        location: Some(format!("{base}/Groups/{}", group.id)),
        version: Some(group.version),
        id: Some(group.id),
    };
    let deleted = |location: String| Outcome {
        status: 204,
        location: Some(location),
        version: None,
        id: None,
    };
    Ok(match (op.method.as_str(), resource, id) {
        ("POST", "Users", None) => user_outcome(201, users::create(state, actor, &data).await?),
        ("POST", "Groups", None) => group_outcome(201, groups::create(state, actor, &data).await?),
        ("PUT" | "PATCH", "Users", Some(id)) => {
            let change = change(&op.method, data)?;
            user_outcome(
                200,
                users::update(state, actor, id, if_match, &change).await?,
            )
        }
        ("PUT" | "PATCH", "Groups", Some(id)) => {
            let change = change(&op.method, data)?;
            group_outcome(
                200,
                groups::update(state, actor, id, if_match, &change).await?,
            )
        }
        ("DELETE", "Users", Some(id)) => {
            users::delete(state, actor, id, if_match).await?;
            deleted(format!("{base}/Users/{id}"))
        }
        ("DELETE", "Groups", Some(id)) => {
            groups::delete(state, actor, id, if_match).await?;
            deleted(format!("{base}/Groups/{id}"))
        }
        _ => return Err(not_found()),
    })
}

fn change(method: &str, data: Value) -> Result<Change> {
    Ok(if method == "PATCH" {
        Change::patch(&data)?
    } else {
        Change::Replace(data)
    })
}

fn result_json(op: &Operation, outcome: std::result::Result<Outcome, scim::Error>) -> Value {
    let mut out = Map::new();
    out.insert("method".into(), json!(op.method));
    if let Some(bulk_id) = &op.bulk_id {
        out.insert("bulkId".into(), json!(bulk_id));
    }
    match outcome {
        Ok(done) => {
            if let Some(location) = done.location {
                out.insert("location".into(), json!(location));
            }
            if let Some(version) = done.version {
                out.insert("version".into(), json!(scim::etag(version)));
            }
            out.insert("status".into(), json!(done.status.to_string()));
        }
        Err(e) => {
            out.insert("status".into(), json!(e.status.to_string()));
            out.insert("response".into(), e.to_json());
        }
    }
    Value::Object(out)
}

/// Runs a BulkRequest and renders the BulkResponse.
pub async fn run(state: &crate::services::Ctx, actor: &Actor, body: &Value) -> Result<Value> {
    let (operations, fail_on_errors) = parse(body)?;
    let mut created: HashMap<String, String> = HashMap::new();
    let mut failed_bulk_ids: Vec<String> = Vec::new();
    let mut results: Vec<Option<Value>> = (0..operations.len()).map(|_| None).collect();
    let mut pending: Vec<usize> = (0..operations.len()).collect();
    let mut errors = 0;
    'rounds: while !pending.is_empty() {
        let mut progressed = false;
        let mut waiting = Vec::new();
        for index in pending {
            let op = &operations[index];
            let mut refs = Vec::new();
            if let Some(data) = &op.data {
                references(data, &mut refs);
            }
            refs.extend(path_reference(&op.path));
            if let Some(bad) = refs.iter().find(|r| failed_bulk_ids.contains(r)) {
                let e = scim::Error::new(
                    scim::ScimType::InvalidValue,
                    format!("the operation with bulkId {bad:?} failed"),
                );
                fail(op, &mut failed_bulk_ids);
                results[index] = Some(result_json(op, Err(e)));
                errors += 1;
                progressed = true;
            } else if refs.iter().all(|r| created.contains_key(r)) {
                let mut resolved = op.clone();
                if let Some(data) = &mut resolved.data {
                    substitute(data, &created);
                }
                if let Some(reference) = path_reference(&op.path)
                    && let Some(id) = created.get(&reference)
                {
                    resolved.path = op.path.replace(&format!("bulkId:{reference}"), id);
                }
                let outcome = match execute(state, actor, &resolved).await {
                    Ok(outcome) => Ok(outcome),
                    Err(Failure::Scim(e)) => Err(e),
                    // Reported per operation, so the client learns which
                    // earlier operations took effect.
                    Err(other) => {
                        tracing::warn!(event = "scim_bulk_operation_failed", error = ?other, "bulk operation failed");
                        Err(other.to_scim())
                    }
                };
                match &outcome {
                    Ok(done) => {
                        if let (Some(bulk_id), Some(id)) = (&op.bulk_id, &done.id) {
                            created.insert(bulk_id.clone(), id.clone());
                        }
                    }
                    Err(_) => {
                        fail(op, &mut failed_bulk_ids);
                        errors += 1;
                    }
                }
                results[index] = Some(result_json(op, outcome));
                progressed = true;
            } else {
                waiting.push(index);
            }
            if fail_on_errors.is_some_and(|limit| errors >= limit) {
                break 'rounds;
            }
        }
        if !progressed {
            // Unknown bulkIds, or references in a circle (RFC 7644 §3.7.1).
            for index in waiting {
                let op = &operations[index];
                let e = scim::Error::new(
                    scim::ScimType::InvalidValue,
                    "a bulkId reference names no operation of this request that can run first",
                );
                results[index] = Some(result_json(op, Err(e)));
            }
            break;
        }
        pending = waiting;
    }
    Ok(json!({
        "schemas": [scim::urn::BULK_RESPONSE],
        "Operations": results.into_iter().flatten().collect::<Vec<_>>(),
    }))
}

fn fail(op: &Operation, failed: &mut Vec<String>) {
    if let Some(bulk_id) = &op.bulk_id {
        failed.push(bulk_id.clone());
    }
}
