//! The command line (README "Command line"): JSON on stdout for anything a
//! script reads; exit 0 when it worked, 1 for a runtime error, 2 for bad
//! usage or bad configuration, always with one clear line on stderr.
//!
//! Every command works through the configured store, so it works whether or
//! not a server is running.

mod api;
mod audit;
mod backup;
mod client;
mod doctor;
mod keys;
mod token;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::startup::{Application, master_key, open_store, shutdown_signal};

#[derive(Debug, Parser)]
#[command(
    name = "auth-service",
    version,
    about = "OAuth 2.0 / OpenID Connect provider and SCIM 2.0 service"
)]
struct Cli {
    /// TOML configuration file (the environment overrides it).
    #[arg(long, global = true, env = "AUTH_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Print the effective configuration as JSON, secrets redacted.
    CheckConfig,
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Manage APIs: the resources access tokens are issued for (RFC 8707).
    #[command(subcommand)]
    Api(api::ApiCommand),
    /// Manage users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Read the audit trail: every replica's security events.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Mint or revoke long-lived access tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Write clients, APIs, users, groups, consents, factors and signing keys to a file.
    Backup {
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Diagnose the deployment: store, persistence, keys, JWKS, clock.
    Doctor {
        /// The report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Load a backup into an empty store (of either backend).
    Restore {
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
        /// Restore into a store that is not empty, replacing records with the same ids.
        #[arg(long)]
        force: bool,
    },
}

/// A failed command: its exit code and its one line.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
}

impl From<store::Error> for CliError {
    fn from(e: store::Error) -> Self {
        CliError::runtime(format!("{:#}", anyhow::Error::new(e)))
    }
}

/// What a command needs to work on data: the services' context, so every
/// write goes through the function the HTTP surface uses.
pub type Context = crate::services::Ctx;

/// The process entry point.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version are successes; anything else is bad usage (2).
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("auth-service: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("auth-service: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("auth-service: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

async fn run(command: Command, config: Config) -> Result<(), CliError> {
    let result = dispatch(command, config).await;
    // What the command logged as security events reaches the trail
    // before the process ends (a store that is down gets 5 s).
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        crate::ops::audit::flush(),
    )
    .await;
    result
}

async fn dispatch(command: Command, config: Config) -> Result<(), CliError> {
    match command {
        Command::Serve => serve(config).await,
        Command::CheckConfig => print_json(&config.redacted()),
        Command::Client(command) => client::run(command, context(config).await?).await,
        Command::Api(command) => api::run(command, context(config).await?).await,
        Command::User(command) => user::run(command, context(config).await?).await,
        Command::Keys(command) => keys::run(command, context(config).await?).await,
        Command::Token(command) => token::run(command, context(config).await?).await,
        Command::Audit(command) => audit::run(command, context(config).await?).await,
        Command::Doctor { json } => doctor::run(context(config).await?, json).await,
        Command::Backup { output } => backup::backup(context(config).await?, &output).await,
        Command::Restore { input, force } => {
            backup::restore(context(config).await?, &input, force).await
        }
    }
}

async fn serve(config: Config) -> Result<(), CliError> {
    crate::ops::logging::init(config.log_format, &config.log_level);
    let master_key = master_key(&config).map_err(CliError::usage)?;
    let app = Application::build(config, master_key).await.map_err(|e| {
        tracing::error!(
            event = "startup_failed",
            error = format!("{e:#}"),
            "cannot start"
        );
        CliError::runtime(format!("{e:#}"))
    })?;
    app.run_until_stopped(shutdown_signal())
        .await
        .map_err(|e| CliError::runtime(format!("{e:#}")))
}

async fn context(config: Config) -> Result<Context, CliError> {
    // CLI commands log only warnings, and to stderr: stdout is for JSON.
    crate::ops::logging::init_with_writer(config.log_format, "warn", std::io::stderr);
    let master_key = master_key(&config).map_err(CliError::usage)?;
    let store = open_store(&config)
        .await
        .map_err(|e| CliError::runtime(format!("{e:#}")))?;
    let ctx =
        Context::new(config, store, master_key).map_err(|e| CliError::runtime(e.to_string()))?;
    crate::services::audit::spawn(ctx.clone(), crate::services::audit::Purge::No);
    Ok(ctx)
}

pub fn print_json(value: &serde_json::Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::runtime(e.to_string()))?;
    println!("{text}");
    Ok(())
}
