//! `auth-service api create | list | get | delete`: the APIs (RFC 8707
//! resources) access tokens are issued for.

use clap::Subcommand;
use store::{Clock, SystemClock};

use super::{CliError, Context, print_json};
use crate::services::apis::{self, ApiError, NewApi};

#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Register an API: its identifier (an absolute URI, the `aud` of its tokens) and scopes.
    Create {
        /// The resource indicator clients send (RFC 8707): an absolute URI without a fragment.
        #[arg(long, value_name = "URI")]
        identifier: String,
        /// A name for people; the identifier if absent.
        #[arg(long)]
        name: Option<String>,
        /// The scopes it offers, space-separated (repeatable).
        #[arg(long = "scope", value_name = "S")]
        scopes: Vec<String>,
        /// A shorter access-token lifetime for its tokens (e.g. 5m); capped at AUTH_ACCESS_TOKEN_TTL.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        access_token_ttl: Option<std::time::Duration>,
        /// The signing algorithm of its tokens: ES256 or RS256.
        #[arg(long, value_name = "ALG")]
        alg: Option<String>,
    },
    /// List every API.
    List,
    /// Show one API.
    Get { identifier: String },
    /// Remove an API.
    Delete { identifier: String },
}

pub async fn run(command: ApiCommand, ctx: Context) -> Result<(), CliError> {
    let store = ctx.store.as_ref();
    match command {
        ApiCommand::Create {
            identifier,
            name,
            scopes,
            access_token_ttl,
            alg,
        } => {
            let new = NewApi {
                identifier,
                name,
                scope: Some(scopes.join(" ")),
                access_token_ttl,
                alg,
            };
            match apis::create(store, SystemClock.now(), new).await {
                Ok(api) => print_json(&apis::view(&api)),
                Err(ApiError::Invalid { field, problem }) => Err(CliError::usage(format!(
                    "--{}: {problem}",
                    field.replace('_', "-")
                ))),
                Err(e @ ApiError::Exists(_)) => Err(CliError::runtime(e.to_string())),
                Err(ApiError::Store(e)) => Err(e.into()),
            }
        }
        ApiCommand::List => {
            let all = store.list_apis().await?;
            print_json(&all.iter().map(apis::view).collect())
        }
        ApiCommand::Get { identifier } => match store.get_api(&identifier).await {
            Ok(api) => print_json(&apis::view(&api)),
            Err(store::Error::NotFound) => Err(not_found(&identifier)),
            Err(e) => Err(e.into()),
        },
        ApiCommand::Delete { identifier } => match apis::delete(store, &identifier).await {
            Ok(()) => print_json(&serde_json::json!({"deleted": identifier})),
            Err(store::Error::NotFound) => Err(not_found(&identifier)),
            Err(e) => Err(e.into()),
        },
    }
}

fn not_found(identifier: &str) -> CliError {
    CliError::runtime(format!("API {identifier} not found"))
}
