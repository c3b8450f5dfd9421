//! `auth-service token mint | revoke`: long-lived access tokens for systems
//! that only take a static bearer token (SCIM provisioning from some
//! identity providers).
//!
//! A minted token is an ordinary RFC 9068 access token with a long `exp`.
//! It is recorded on its client (`client get` lists it), revocable here or
//! at `/revoke`, and its signing key stays published until it expires, even
//! after rotation retires the key.

use std::time::Duration;

use clap::Subcommand;
use oauth::Scope;
use serde_json::json;
use store::{Clock, SystemClock};

use super::{Context, Failure, print_json};
use crate::jwt::{self, ACCESS_TOKEN_TYP};
use crate::keys::Keys;
use crate::services::rfc3339;
use crate::services::tokens::access_token_claims;
use crate::state::key_settings;

/// Clock skew allowed for verifiers.
const SKEW_SECONDS: i64 = 300;

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

fn runtime(e: impl std::fmt::Display) -> Failure {
    Failure::runtime(e.to_string())
}

pub async fn run(command: TokenCommand, ctx: Context) -> Result<(), Failure> {
    match command {
        TokenCommand::Mint {
            client_id,
            scope,
            ttl,
        } => {
            let cap = ctx.config.minted_token_max_ttl;
            let ttl = ttl.unwrap_or(cap);
            if ttl > cap {
                let cap = match cap.as_secs() {
                    s if s % 86_400 == 0 => format!("{} days", s / 86_400),
                    _ => humantime::format_duration(cap).to_string(),
                };
                return Err(Failure::usage(format!(
                    "--ttl: at most {cap} (AUTH_MINTED_TOKEN_MAX_TTL)"
                )));
            }
            mint(&ctx, &client_id, &scope, ttl).await
        }
        TokenCommand::Revoke { client_id, jti } => revoke(&ctx, client_id.as_deref(), &jti).await,
    }
}

async fn mint(ctx: &Context, client_id: &str, scope: &str, ttl: Duration) -> Result<(), Failure> {
    let mut client = match ctx.store.get_client(client_id).await {
        Ok(client) => client,
        Err(store::Error::NotFound) => {
            return Err(Failure::usage(format!(
                "--client-id: client {client_id} not found"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    if client.public {
        return Err(Failure::usage(
            "--client-id: a public client cannot hold a bearer token of its own",
        ));
    }
    let scope = Scope::parse(scope).map_err(|e| Failure::usage(format!("--scope: {e}")))?;
    let allowed = Scope::parse(&client.scopes.join(" ")).unwrap_or_default();
    if scope.is_empty() || !scope.is_subset(&allowed) {
        return Err(Failure::usage(format!(
            "--scope must be within the client's scopes ({allowed})"
        )));
    }
    let ttl = i64::try_from(ttl.as_secs()).map_err(runtime)?;
    if ttl < 60 {
        return Err(Failure::usage("--ttl must be at least one minute"));
    }

    let clock = std::sync::Arc::new(SystemClock);
    let keys = Keys::new(
        ctx.store.clone(),
        ctx.master_key.clone(),
        clock.clone(),
        key_settings(&ctx.config),
    );
    keys.refresh().await.map_err(runtime)?;
    let alg = ctx.config.access_token_alg;
    let signer = keys
        .signer(alg)
        .ok_or_else(|| Failure::runtime(format!("no active {alg} signing key")))?;
    let now = clock.now();
    let exp = now + ttl;
    let jti = uuid::Uuid::new_v4().to_string();
    let claims = access_token_claims(
        &ctx.config.issuer,
        &client.client_id,
        &client.client_id,
        &scope,
        &jti,
        now,
        exp,
    );
    let token = jwt::sign(&signer, ACCESS_TOKEN_TYP, &claims).map_err(runtime)?;
    // The key must outlive the token.
    keys.keep_until(&signer.kid, exp + SKEW_SECONDS)
        .await
        .map_err(runtime)?;

    let record = json!({"jti": jti, "scope": scope.to_string(), "created_at": now, "expires_at": exp, "kid": signer.kid});
    let minted = client
        .metadata
        .entry("minted_tokens")
        .or_insert_with(|| json!([]));
    if let Some(list) = minted.as_array_mut() {
        list.push(record);
    }
    ctx.store.update_client(&client).await?;
    tracing::info!(
        category = "security",
        event = "token_minted",
        client_id = %client.client_id,
        jti = %jti,
        expires_at = exp,
        outcome = "success",
        "long-lived access token minted"
    );
    print_json(&json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "expires_at": rfc3339(exp),
        "scope": scope.to_string(),
        "jti": jti,
    }))
}

async fn revoke(ctx: &Context, client_id: Option<&str>, jti: &str) -> Result<(), Failure> {
    let client = match client_id {
        None => None,
        Some(id) => match ctx.store.get_client(id).await {
            Ok(client) => Some(client),
            // The client is gone: its tokens are refused anyway, and the jti
            // is revoked below all the same.
            Err(store::Error::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
    };
    let recorded = client.as_ref().and_then(|client| {
        crate::services::clients::minted_tokens(client)
            .into_iter()
            .find(|(minted, _)| minted == jti)
    });
    if let (Some(client), None) = (&client, &recorded) {
        return Err(Failure::runtime(format!(
            "client {} has no minted token {jti}",
            client.client_id
        )));
    }
    // Without the record, keep the revocation as long as any minted token
    // can live.
    let cap = i64::try_from(ctx.config.minted_token_max_ttl.as_secs()).map_err(runtime)?;
    let exp = recorded.map_or_else(|| SystemClock.now() + cap + SKEW_SECONDS, |(_, exp)| exp);
    ctx.store.revoke_token_id(jti, exp).await?;
    tracing::info!(category = "security", event = "token_revoked", client_id = client_id.unwrap_or_default(), jti = %jti, outcome = "success", "minted token revoked");
    print_json(&json!({"jti": jti, "revoked": true}))
}
