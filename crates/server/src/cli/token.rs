//! `auth-service token mint | revoke`: the command line of
//! [`crate::services::minted`] (what a minted token is, and its rules).

use std::time::Duration;

use clap::Subcommand;
use serde_json::json;

use super::{CliError, Context, print_json};
use crate::services::minted::{self, MintError};
use crate::services::rfc3339;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Sign a long-lived access token for a confidential client.
    Mint {
        #[arg(long)]
        client_id: String,
        /// Space-separated scopes, within the client's.
        #[arg(long)]
        scope: String,
        /// Lifetime, e.g. 30d; at most AUTH_MINTED_TOKEN_MAX_TTL (default 90d, also the default).
        #[arg(long, value_parser = humantime::parse_duration)]
        ttl: Option<Duration>,
    },
    /// Revoke a minted token by its id (`jti`), whether or not its client still exists.
    Revoke {
        #[arg(long)]
        client_id: Option<String>,
        #[arg(long)]
        jti: String,
    },
}

pub async fn run(command: TokenCommand, ctx: Context) -> Result<(), CliError> {
    match command {
        TokenCommand::Mint {
            client_id,
            scope,
            ttl,
        } => {
            let minted = minted::mint(&ctx, &client_id, &scope, ttl)
                .await
                .map_err(failure)?;
            print_json(&json!({
                "access_token": minted.token,
                "token_type": "Bearer",
                "expires_in": minted.expires_in,
                "expires_at": rfc3339(minted.expires_at),
                "scope": minted.scope.to_string(),
                "jti": minted.jti,
            }))
        }
        TokenCommand::Revoke { client_id, jti } => {
            minted::revoke(&ctx, client_id.as_deref(), &jti)
                .await
                .map_err(failure)?;
            print_json(&json!({"jti": jti, "revoked": true}))
        }
    }
}

/// The CLI's words for a service error: bad usage names the flag.
fn failure(e: MintError) -> CliError {
    match e {
        MintError::UnknownClient(id) => {
            CliError::usage(format!("--client-id: client {id} not found"))
        }
        MintError::PublicClient => CliError::usage(format!("--client-id: {e}")),
        MintError::ScopeNotAllowed { allowed } => CliError::usage(format!(
            "--scope must be within the client's scopes ({allowed})"
        )),
        MintError::InvalidScope(problem) => CliError::usage(format!("--scope: {problem}")),
        MintError::TooShort => CliError::usage("--ttl must be at least one minute"),
        MintError::OverCap { cap } => {
            let cap = match cap.as_secs() {
                s if s % 86_400 == 0 => format!("{} days", s / 86_400),
                _ => humantime::format_duration(cap).to_string(),
            };
            CliError::usage(format!("--ttl: at most {cap} (AUTH_MINTED_TOKEN_MAX_TTL)"))
        }
        MintError::Store(e) => e.into(),
        other => CliError::runtime(other.to_string()),
    }
}
