//! `auth-service token mint | revoke`: the command line of
//! [`crate::services::minted`] (what a minted token is, and its rules), and
//! `token mint --registration`, an initial access token for dynamic client
//! registration ([`crate::services::registration`]).

use std::time::Duration;

use clap::Subcommand;
use serde_json::json;

use super::{CliError, Context, print_json};
use crate::services::minted::{self, MintError};
use crate::services::registration;
use crate::services::rfc3339;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Sign a long-lived access token for a confidential client, or with
    /// --registration an initial access token for POST /register.
    Mint {
        #[arg(long, required_unless_present = "registration")]
        client_id: Option<String>,
        /// Space-separated scopes, within the client's.
        #[arg(long, required_unless_present = "registration")]
        scope: Option<String>,
        /// Lifetime, e.g. 30d; at most AUTH_MINTED_TOKEN_MAX_TTL (default 90d, also the default;
        /// 7d for --registration).
        #[arg(long, value_parser = humantime::parse_duration)]
        ttl: Option<Duration>,
        /// An initial access token for dynamic client registration (AUTH_REGISTRATION=initial-token).
        #[arg(long, conflicts_with_all = ["client_id", "scope"])]
        registration: bool,
        /// How many clients the initial access token may register.
        #[arg(long, default_value_t = 1, requires = "registration")]
        max_clients: u32,
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
            registration: true,
            ttl,
            max_clients,
            ..
        } => mint_initial(&ctx, ttl, max_clients),
        TokenCommand::Mint {
            client_id,
            scope,
            ttl,
            ..
        } => {
            let (Some(client_id), Some(scope)) = (client_id, scope) else {
                return Err(CliError::usage("--client-id and --scope are required"));
            };
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

/// An initial access token: its lifetime within the cap, so a revocation
/// (kept as long as a minted token can live) outlives it.
fn mint_initial(ctx: &Context, ttl: Option<Duration>, max_clients: u32) -> Result<(), CliError> {
    let cap = ctx.config.minted_token_max_ttl;
    let ttl = ttl.unwrap_or(Duration::from_secs(7 * 86_400)).min(cap);
    if ttl < Duration::from_secs(60) {
        return Err(CliError::usage("--ttl must be at least one minute"));
    }
    if !(1..=registration::MAX_CLIENTS_PER_INITIAL_TOKEN).contains(&max_clients) {
        return Err(CliError::usage(format!(
            "--max-clients: 1 to {}",
            registration::MAX_CLIENTS_PER_INITIAL_TOKEN
        )));
    }
    let minted = registration::mint_initial_token(ctx, max_clients, ttl)
        .map_err(|e| CliError::runtime(e.to_string()))?;
    tracing::info!(
        category = "security",
        event = "registration_token_minted",
        jti = %minted.jti,
        max_clients,
        outcome = "success",
        "initial access token minted"
    );
    print_json(&json!({
        "initial_access_token": minted.token.expose(),
        "jti": minted.jti,
        "max_clients": minted.max_clients,
        "expires_at": rfc3339(minted.expires_at),
    }))
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
