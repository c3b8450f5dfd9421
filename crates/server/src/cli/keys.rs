//! `auth-service keys list | rotate | retire KID`.

use clap::Subcommand;
use serde_json::{Value, json};
use store::SigningKey;

use super::{CliError, Context, print_json};
use crate::services::rfc3339;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the signing keys with their state and dates.
    List,
    /// Create new keys now; they are published at once and sign after the
    /// publish lead (AUTH_KEY_PUBLISH_LEAD).
    Rotate,
    /// Emergency: remove a key from the JWKS now (e.g. its private part
    /// leaked). Every token it signed stops verifying, here and at relying
    /// parties once they refetch the JWKS; a replacement signs at once.
    Retire { kid: String },
}

fn view(key: &SigningKey) -> Value {
    let at = |t: Option<i64>| t.map(rfc3339);
    json!({
        "kid": key.kid,
        "alg": key.alg,
        "state": key.state,
        "created_at": rfc3339(key.created_at),
        "activates_at": rfc3339(key.activates_at),
        "retired_at": at(key.retired_at),
        "remove_at": at(key.remove_at),
    })
}

pub async fn run(command: KeysCommand, ctx: Context) -> Result<(), CliError> {
    let (keys, clock) = (&ctx.keys, &ctx.clock);
    let failure =
        |e: crate::keys::RingError| CliError::runtime(format!("{:#}", anyhow::Error::new(e)));
    match command {
        KeysCommand::List => {
            // Bring the lifecycle up to date first, as a server would.
            keys.refresh().await.map_err(failure)?;
            let now = clock.now();
            let records: Vec<Value> = keys.records().iter().map(view).collect();
            print_json(&json!({"now": rfc3339(now), "keys": records}))
        }
        KeysCommand::Rotate => {
            keys.refresh().await.map_err(failure)?;
            let created = keys.rotate_now().await.map_err(failure)?;
            print_json(&json!({"created": created.iter().map(view).collect::<Vec<_>>()}))
        }
        KeysCommand::Retire { kid } => {
            let removed = match keys.retire_now(&kid).await {
                Ok(removed) => removed,
                Err(crate::keys::RingError::Store(store::Error::NotFound)) => {
                    return Err(CliError::runtime(format!("no signing key {kid}")));
                }
                Err(e) => return Err(failure(e)),
            };
            eprintln!(
                "warning: key {kid} is removed from the JWKS. Every access token, ID token and \
                 minted token it signed is now refused by this server (by every replica within \
                 5 s); relying parties refuse them once they refetch the JWKS. Clients must \
                 obtain new tokens; re-mint any minted token it signed."
            );
            print_json(
                &json!({"retired": view(&removed), "keys": keys.records().iter().map(view).collect::<Vec<_>>()}),
            )
        }
    }
}
