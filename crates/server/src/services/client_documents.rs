//! Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document,
//! the registration MCP prefers): with `AUTH_CLIENT_ID_METADATA_DOCUMENTS=true`
//! a `client_id` that is an https URL with a path names its own metadata.
//! The document is fetched under the SSRF policy of `ops::outbound`, must
//! name itself (`client_id` equal to the URL), is read and judged as a
//! dynamic registration is (`oauth::client_metadata`, the
//! `AUTH_REGISTRATION_*` policy, `oauth::registration`), and may not hold
//! a secret: such a client is public, or uses `private_key_jwt`.
//!
//! The client is kept in the store under its URL, so every replica and
//! every check (token verification included) sees the same record, and is
//! fetched again once its cache time is over: the document's `max-age`,
//! between [`MIN_CACHE`] and [`MAX_CACHE`] seconds, [`DEFAULT_CACHE`]
//! without one. A document that cannot be fetched or is refused makes the
//! client unknown (logged as `client_metadata_document_refused`).

use serde_json::Value;
use store::{ClientRecord, MetadataDocument};

use super::Ctx;
use super::registration::admit;
use crate::ops::outbound::{self, Policy};

pub const MIN_CACHE: i64 = 60;
pub const MAX_CACHE: i64 = 86_400;
pub const DEFAULT_CACHE: i64 = 300;

/// Whether `client_id` names a metadata document: an https URL with a
/// path other than `/`, no fragment and no dot segments (the draft's
/// rules for the URL).
pub fn is_document_url(client_id: &str) -> bool {
    let Some(rest) = client_id.strip_prefix("https://") else {
        return false;
    };
    let Some((authority, path)) = rest.split_once('/') else {
        return false;
    };
    !authority.is_empty()
        && !authority.contains('@')
        && !path.is_empty()
        && !client_id.contains('#')
        && !path.split('/').any(|s| s == "." || s == "..")
}

/// The client `client_id`: from the store, or, for a document URL when
/// documents are on, from its document when the stored copy is missing or
/// its cache time is over. `NotFound` for a document that is refused.
pub async fn get_client(ctx: &Ctx, client_id: &str) -> Result<ClientRecord, store::Error> {
    let stored = ctx.store.get_client(client_id).await;
    if !ctx.config.client_id_documents || !is_document_url(client_id) {
        return stored;
    }
    let now = ctx.clock.now();
    let existing = match stored {
        Ok(client) => match &client.metadata.metadata_document {
            Some(doc) if doc.expires_at > now => return Ok(client),
            Some(_) => Some(client),
            // A client registered under this id another way is left alone.
            None => return Ok(client),
        },
        Err(store::Error::NotFound) => None,
        Err(e) => return Err(e),
    };
    match fetch(ctx, client_id, now).await {
        Ok(client) => {
            let written = if existing.is_some() {
                ctx.store.update_client(&client).await
            } else {
                match ctx.store.create_client(&client).await {
                    // Another replica fetched it at the same time.
                    Err(store::Error::Conflict(_)) => ctx.store.update_client(&client).await,
                    other => other,
                }
            };
            written?;
            Ok(client)
        }
        Err(why) => {
            tracing::info!(
                category = "security",
                event = "client_metadata_document_refused",
                client_id,
                reason = %why,
                outcome = "failure",
                "client ID metadata document refused"
            );
            Err(store::Error::NotFound)
        }
    }
}

/// Fetches and judges the document of `url` into a client record.
async fn fetch(ctx: &Ctx, url: &str, now: i64) -> Result<ClientRecord, String> {
    let policy = Policy {
        allow: ctx.config.client_id_metadata_allow.clone(),
        http_inside: false,
    };
    let fetched = outbound::fetch_json(&policy, url)
        .await
        .map_err(|e| e.to_string())?;
    let body: Value =
        serde_json::from_slice(&fetched.body).map_err(|e| format!("not JSON: {e}"))?;
    if body.get("client_id").and_then(Value::as_str) != Some(url) {
        return Err("its client_id is not its own URL".into());
    }
    if body.get("client_secret").is_some() || body.get("client_secret_expires_at").is_some() {
        return Err("a metadata document cannot hold a client secret".into());
    }
    let mut request = oauth::client_metadata::parse(&body).map_err(|e| e.to_string())?;
    // No secret is ever issued: public unless it signs with its keys.
    match request.token_endpoint_auth_method.as_deref() {
        None | Some("none") => {
            request.public = true;
            request.token_endpoint_auth_method = Some("none".into());
        }
        Some("private_key_jwt") => {}
        Some(other) => return Err(format!("token_endpoint_auth_method {other} needs a secret")),
    }
    if request.client_name == oauth::client_metadata::UNNAMED {
        request.client_name = url.to_owned();
    }
    let request = admit(ctx, request).map_err(|e| e.to_string())?;
    let registration = super::clients::validate(&request).map_err(|e| e.to_string())?;
    let cache = fetched
        .max_age
        .map_or(DEFAULT_CACHE, |age| i64::try_from(age).unwrap_or(MAX_CACHE))
        .clamp(MIN_CACHE, MAX_CACHE);
    let mut client = super::clients::record_of(registration, url.to_owned(), None, now);
    client.metadata.metadata_document = Some(MetadataDocument {
        fetched_at: now,
        expires_at: now + cache,
    });
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_urls() {
        assert!(is_document_url("https://app.example.com/oauth/client.json"));
        assert!(is_document_url("https://127.0.0.1:8443/client"));
        for not in [
            "https://app.example.com",
            "https://app.example.com/",
            "http://app.example.com/client",
            "https://user@app.example.com/client",
            "https://app.example.com/a/../client",
            "https://app.example.com/client#x",
            "0b4c3c0e-7d2a-4f62-9f0b-3f4f3f0e9c11",
        ] {
            assert!(!is_document_url(not), "{not}");
        }
    }
}
