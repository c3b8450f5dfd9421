//! Service provider configuration (RFC 7644 §4; RFC 7643 §5–7): what this
//! server supports, each claim backed by an implementation and a test.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{error_response, scim_json};
use crate::services::scim::base_url;
use crate::services::scim::bulk::{MAX_OPERATIONS, MAX_PAYLOAD_BYTES};
use crate::services::scim::search::MAX_COUNT;
use crate::state::AppState;

pub async fn service_provider_config(State(state): State<AppState>) -> Response {
    let base = base_url(&state);
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [scim::urn::SERVICE_PROVIDER_CONFIG],
            "patch": {"supported": true},
            "bulk": {
                "supported": true,
                "maxOperations": MAX_OPERATIONS,
                "maxPayloadSize": MAX_PAYLOAD_BYTES,
            },
            "filter": {"supported": true, "maxResults": MAX_COUNT},
            "changePassword": {"supported": true},
            "sort": {"supported": true},
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "An access token from this server's token endpoint with scope scim:read or scim:write.",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "primary": true,
            }],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": format!("{base}/ServiceProviderConfig"),
            },
        }),
    )
}

fn list(resources: Vec<Value>) -> Response {
    scim_json(
        StatusCode::OK,
        &scim::ListResponse {
            total_results: resources.len() as u64,
            start_index: 1,
            resources,
        }
        .to_json(),
    )
}

fn resource_types_json(state: &AppState) -> Vec<Value> {
    let base = base_url(state);
    [scim::ResourceSchema::user(), scim::ResourceSchema::group()]
        .iter()
        .map(|r| r.to_json(&base))
        .collect()
}

pub async fn resource_types(State(state): State<AppState>) -> Response {
    list(resource_types_json(&state))
}

pub async fn resource_type(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match resource_types_json(&state).into_iter().find(|r| {
        r["id"]
            .as_str()
            .is_some_and(|i| i.eq_ignore_ascii_case(&id))
    }) {
        Some(found) => scim_json(StatusCode::OK, &found),
        None => error_response(&scim::Error::status(
            404,
            format!("no resource type {id:?}"),
        )),
    }
}

fn schemas_json(state: &AppState) -> Vec<Value> {
    let base = base_url(state);
    scim::resource_type::all_schemas()
        .iter()
        .map(|s| s.to_json(&format!("{base}/Schemas/{}", s.id)))
        .collect()
}

pub async fn schemas(State(state): State<AppState>) -> Response {
    list(schemas_json(&state))
}

pub async fn schema(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match schemas_json(&state).into_iter().find(|s| {
        s["id"]
            .as_str()
            .is_some_and(|i| i.eq_ignore_ascii_case(&id))
    }) {
        Some(found) => scim_json(StatusCode::OK, &found),
        None => error_response(&scim::Error::status(404, format!("no schema {id:?}"))),
    }
}
