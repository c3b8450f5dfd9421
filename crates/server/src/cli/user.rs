//! `auth-service user create | list | get | delete | unlock | mfa list | mfa reset`.

use std::io::BufRead;

use clap::Subcommand;
use serde_json::json;
use store::{Page, SystemClock};

use super::{CliError, Context, print_json};
use crate::secret::Secret;
use crate::services::users::{self, NewUser, UserError};
use crate::services::{lockout, mfa};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; prints the SCIM User resource.
    Create {
        #[arg(long)]
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
    },
    /// List every user, as a SCIM ListResponse.
    List,
    /// Show one user.
    Get { id: String },
    /// Delete a user and remove it from its groups.
    Delete { id: String },
    /// Lift a login lock (failed-login back-off) now.
    Unlock { id: String },
    /// A user's sign-in factors (TOTP, passkeys, recovery codes).
    #[command(subcommand)]
    Mfa(MfaCommand),
}

#[derive(Debug, Subcommand)]
pub enum MfaCommand {
    /// List the user's factors (never their secrets).
    List { id: String },
    /// Remove the user's factors (or one, with --factor) and end the
    /// user's sessions.
    Reset {
        id: String,
        #[arg(long)]
        factor: Option<String>,
    },
}

/// One line of stdin, without its line ending and nothing else trimmed:
/// spaces are part of a password.
fn read_password() -> Result<Secret<String>, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::runtime(format!("cannot read the password from stdin: {e}")))?;
    let password = line
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(&line)
        .to_owned();
    zeroize::Zeroize::zeroize(&mut line);
    Ok(Secret::new(password))
}

pub async fn run(command: UserCommand, ctx: Context) -> Result<(), CliError> {
    let store = ctx.store.as_ref();
    let issuer = &ctx.config.issuer;
    match command {
        UserCommand::Create {
            username,
            password_stdin,
            email,
            given_name,
            family_name,
        } => {
            let password = if password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            let new = NewUser {
                user_name: username,
                password,
                email,
                given_name,
                family_name,
            };
            let now = store::Clock::now(&SystemClock);
            let user = users::create(store, &ctx.passwords, now, new)
                .await
                .map_err(|e| match e {
                    UserError::InvalidUserName(problem) => {
                        CliError::usage(format!("--username: {problem}"))
                    }
                    UserError::InvalidEmail(problem) => {
                        CliError::usage(format!("--email: {problem}"))
                    }
                    UserError::Password(e) => CliError::usage(e.to_string()),
                    UserError::Store(store::Error::Conflict(_)) => {
                        CliError::runtime("that userName is already taken")
                    }
                    UserError::Store(e) => e.into(),
                })?;
            print_json(&users::resource(&user, issuer))
        }
        UserCommand::List => {
            let mut resources = Vec::new();
            let mut offset = 0;
            let total = loop {
                let page = store.list_users(Page { offset, limit: 100 }).await?;
                resources.extend(page.items.iter().map(|u| users::resource(u, issuer)));
                offset += 100;
                if page.items.is_empty() || offset >= page.total {
                    break page.total;
                }
            };
            print_json(
                &scim::ListResponse {
                    total_results: total,
                    start_index: 1,
                    resources,
                }
                .to_json(),
            )
        }
        UserCommand::Get { id } => match store.get_user(&id).await {
            Ok(user) => {
                let mut shown = users::resource(&user, issuer);
                // Not a SCIM attribute: the operator's view of the lock.
                let now = store::Clock::now(&SystemClock);
                shown["login"] = lockout::describe(store, &user.user_name, now).await?;
                print_json(&shown)
            }
            Err(store::Error::NotFound) => Err(CliError::runtime(format!("user {id} not found"))),
            Err(e) => Err(e.into()),
        },
        UserCommand::Unlock { id } => match lockout::unlock(store, &id).await {
            Ok(()) => print_json(&json!({"id": id, "unlocked": true})),
            Err(store::Error::NotFound) => Err(CliError::runtime(format!("user {id} not found"))),
            Err(e) => Err(e.into()),
        },
        UserCommand::Mfa(MfaCommand::List { id }) => {
            if let Err(store::Error::NotFound) = store.get_user(&id).await {
                return Err(CliError::runtime(format!("user {id} not found")));
            }
            let factors = store.list_factors(&id).await?;
            let shown: Vec<_> = factors.iter().map(mfa::describe).collect();
            print_json(&json!({"id": id, "factors": shown}))
        }
        UserCommand::Mfa(MfaCommand::Reset { id, factor }) => {
            match mfa::reset(
                store,
                store::Clock::now(&SystemClock),
                &id,
                factor.as_deref(),
            )
            .await
            {
                Ok(removed) => print_json(&json!({"id": id, "removed": removed})),
                Err(store::Error::NotFound) => Err(CliError::runtime(match factor {
                    Some(factor) => format!("user {id} has no factor {factor}"),
                    None => format!("user {id} not found"),
                })),
                Err(e) => Err(e.into()),
            }
        }
        // The same service as a SCIM delete: no membership, session or
        // refresh token outlives the user.
        UserCommand::Delete { id } => {
            match crate::services::users::delete(store, store::Clock::now(&SystemClock), &id).await
            {
                Ok(()) => {
                    tracing::info!(category = "security", event = "user_deleted", user_id = %id, outcome = "success", "user deleted");
                    print_json(&json!({"id": id, "deleted": true}))
                }
                Err(store::Error::NotFound) => {
                    Err(CliError::runtime(format!("user {id} not found")))
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
