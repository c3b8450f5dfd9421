//! The SCIM service provider over the store (RFC 7644): users, groups,
//! searches and bulk requests. The `scim` crate decides what a request means
//! and what to store; this module loads and saves records, keeps versions
//! (compare-and-swap, ETags), hashes passwords, ends the sessions of users
//! who are deactivated or deleted, and logs every change as a security event.

pub mod bulk;
pub mod groups;
pub mod search;
pub mod users;

use serde_json::Value;

/// Why a SCIM operation failed: the client's mistake (a SCIM error) or the
/// store's (503, fail closed; the cause is logged, not sent).
#[derive(Debug)]
pub enum Failure {
    Scim(scim::Error),
    Store(store::Error),
    Internal(String),
}

pub type Result<T> = std::result::Result<T, Failure>;

impl From<scim::Error> for Failure {
    fn from(e: scim::Error) -> Self {
        Self::Scim(e)
    }
}

impl From<store::Error> for Failure {
    fn from(e: store::Error) -> Self {
        use store::Conflict;
        match e {
            store::Error::NotFound => Self::Scim(scim::Error::status(404, "resource not found")),
            store::Error::Conflict(Conflict::Unique(field)) => Self::Scim(scim::Error::new(
                scim::ScimType::Uniqueness,
                format!("{field} is already taken"),
            )),
            store::Error::Conflict(Conflict::Exists) => Self::Scim(scim::Error::new(
                scim::ScimType::Uniqueness,
                "a resource with this id already exists",
            )),
            store::Error::Conflict(Conflict::Version) => Self::Scim(precondition_failed()),
            other => Self::Store(other),
        }
    }
}

impl Failure {
    /// The SCIM error a client sees (RFC 7644 §3.12).
    pub fn to_scim(&self) -> scim::Error {
        match self {
            Self::Scim(e) => e.clone(),
            Self::Store(_) => scim::Error::status(503, "the service is temporarily unavailable"),
            Self::Internal(_) => scim::Error::status(500, "internal error"),
        }
    }
}

fn precondition_failed() -> scim::Error {
    scim::Error::status(
        412,
        "the resource changed: its version no longer matches If-Match",
    )
}

/// A write to an existing resource: PUT's replacement (RFC 7644 §3.5.1)
/// or PATCH's operations (§3.5.2). Either way the result is checked by
/// [`scim::input::prepare`], so PATCH cannot store what PUT would refuse.
#[derive(Debug, Clone)]
pub enum Change {
    Replace(Value),
    Patch(Vec<scim::patch::Operation>),
}

impl Change {
    /// A PATCH request body, parsed.
    pub fn patch(body: &Value) -> std::result::Result<Self, scim::Error> {
        Ok(Self::Patch(scim::patch::parse_request(body)?))
    }

    /// [`Change::prepare`] off the async workers ([`off_workers`]).
    async fn prepare_off_workers(
        &self,
        current: Value,
        schema: fn() -> scim::ResourceSchema,
    ) -> Result<scim::input::Prepared> {
        let change = self.clone();
        Ok(off_workers(move || change.prepare(&current, &schema())).await??)
    }

    /// What this change makes of `current` (the resource as stored).
    fn prepare(
        &self,
        current: &Value,
        schema: &scim::ResourceSchema,
    ) -> std::result::Result<scim::input::Prepared, scim::Error> {
        match self {
            Self::Replace(body) => scim::input::prepare(body, schema, Some(current)),
            Self::Patch(operations) => {
                let mut resource = current.as_object().cloned().unwrap_or_default();
                scim::patch::apply(&mut resource, operations, schema)?;
                scim::input::prepare(&Value::Object(resource), schema, Some(current))
            }
        }
    }
}

/// Runs CPU-bound SCIM work (PATCH application, input checks, filter
/// evaluation) on the blocking pool. Each is linear in its input and the
/// input is bounded, but a 1 MiB request is still milliseconds of CPU, and
/// on the async workers it would delay every other request, `/health/live`
/// included (docs/security.md 27).
pub async fn off_workers<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Failure::Internal(format!("SCIM work did not finish: {e}")))
}

/// Who is making the change, for the security log.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub client_id: String,
}

/// How many times a read-modify-write is retried when another writer got
/// there first and the client gave no `If-Match`.
const WRITE_ATTEMPTS: usize = 5;

/// RFC 7644 §3.14 and RFC 7232 §3.1: `If-Match` holds if it lists the
/// current version (weakly compared) or is `*`.
pub fn if_match_holds(if_match: Option<&str>, version: u64) -> bool {
    let Some(header) = if_match else {
        return true;
    };
    let current = scim::etag(version);
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == current || tag.trim_start_matches("W/") == &current[2..])
}

fn check_if_match(if_match: Option<&str>, version: u64) -> Result<()> {
    if if_match_holds(if_match, version) {
        Ok(())
    } else {
        Err(Failure::Scim(precondition_failed()))
    }
}

/// The SCIM base URL, e.g. `https://auth.example.com/scim/v2`.
pub fn base_url(state: &crate::services::Ctx) -> String {
    format!("{}/scim/v2", state.config.issuer)
}

/// Pulls a string attribute out of a prepared resource.
fn take_string(resource: &mut serde_json::Map<String, Value>, name: &str) -> Option<String> {
    match resource.remove(name) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// Rejects names that are empty or carry control characters.
fn check_name(name: &str, attribute: &str) -> Result<()> {
    if !crate::services::users::is_valid_name(name) {
        return Err(Failure::Scim(scim::Error::new(
            scim::ScimType::InvalidValue,
            format!("{attribute} must be 1 to 256 printable characters"),
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_compares_weakly() {
        assert!(if_match_holds(None, 3));
        assert!(if_match_holds(Some("W/\"3\""), 3));
        assert!(if_match_holds(Some("\"3\""), 3));
        assert!(if_match_holds(Some("W/\"1\", W/\"3\""), 3));
        assert!(if_match_holds(Some("*"), 3));
        assert!(!if_match_holds(Some("W/\"2\""), 3));
        assert!(!if_match_holds(Some("W/\"33\""), 3));
    }
}
