//! `auth-service client create | list | get | delete`.

use clap::Subcommand;
use serde_json::json;
use store::SystemClock;

use super::{CliError, Context, print_json};
use crate::services::clients::{self, ClientError, Field, NewClient};

#[derive(Debug, Subcommand)]
// Parsed once per process from the command line: the size of its largest
// variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
pub enum ClientCommand {
    /// Register a client; prints its id and (unless --public) its secret, once.
    Create {
        #[arg(long)]
        name: String,
        /// authorization_code, refresh_token, client_credentials,
        /// urn:ietf:params:oauth:grant-type:device_code (RFC 8628) or
        /// urn:ietf:params:oauth:grant-type:token-exchange (repeatable).
        #[arg(long = "grant-type", value_name = "G")]
        grant_types: Vec<String>,
        /// An exact redirect URI (repeatable).
        #[arg(long = "redirect-uri", value_name = "U")]
        redirect_uris: Vec<String>,
        /// Space-separated scopes the client may request.
        #[arg(long)]
        scope: Option<String>,
        /// A public client (no secret; PKCE only).
        #[arg(long)]
        public: bool,
        /// Where logout may return the browser (repeatable, exact match).
        #[arg(long = "post-logout-redirect-uri", value_name = "U")]
        post_logout_redirect_uris: Vec<String>,
        /// Where logout tokens are POSTed when a user's session ends
        /// (OpenID Connect Back-Channel Logout 1.0).
        #[arg(long, value_name = "U")]
        backchannel_logout_uri: Option<String>,
        /// Its logout tokens must carry the session id (`sid`).
        #[arg(long)]
        backchannel_logout_session_required: bool,
        /// ID token signing algorithm: RS256 (default) or ES256.
        #[arg(long, value_name = "ALG")]
        id_token_alg: Option<String>,
        /// A first-party client: users are not asked for consent.
        #[arg(long)]
        first_party: bool,
        /// Its users must sign in with a second factor (TOTP or a passkey).
        #[arg(long)]
        require_mfa: bool,
        /// Its token requests must carry a DPoP proof (RFC 9449 dpop_bound_access_tokens).
        #[arg(long)]
        dpop_bound_access_tokens: bool,
        /// Its authorization requests must be pushed to /par first (RFC 9126).
        #[arg(long)]
        require_pushed_authorization_requests: bool,
        /// Its authorization requests must be request objects signed with
        /// its --jwks-file keys (RFC 9101).
        #[arg(long)]
        require_signed_request_object: bool,
        /// A shorter access-token lifetime for this client (e.g. 5m); capped at AUTH_ACCESS_TOKEN_TTL.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        access_token_ttl: Option<std::time::Duration>,
        /// Authenticate with private_key_jwt using the public keys in this JWKS file (no secret is issued).
        #[arg(long, value_name = "FILE")]
        jwks_file: Option<std::path::PathBuf>,
        /// An API (its identifier, `auth-service api create`) it may ask tokens for (repeatable).
        #[arg(long = "resource", value_name = "URI")]
        resources: Vec<String>,
        /// The one of its --resource APIs its tokens are for when a request names none.
        #[arg(long, value_name = "URI")]
        default_resource: Option<String>,
        /// An API it may exchange tokens for (RFC 8693, with --grant-type
        /// urn:ietf:params:oauth:grant-type:token-exchange; repeatable).
        #[arg(long = "exchange-resource", value_name = "URI")]
        exchange_resources: Vec<String>,
        /// A claim of its own in ID tokens and userinfo (repeatable):
        /// NAME=claim:OTHER (rename a standard claim), NAME=scim:PATH (a
        /// SCIM attribute, e.g. enterprise:department), NAME=value:TEXT.
        #[arg(long = "claim", value_name = "NAME=SOURCE")]
        claims: Vec<String>,
    },
    /// List every client.
    List,
    /// Show one client.
    Get { id: String },
    /// Delete a client and revoke the tokens minted for it.
    Delete { id: String },
    /// Disable a client: it cannot authenticate and its tokens are refused.
    Disable { id: String },
    /// Enable a disabled client again.
    Enable { id: String },
}

pub async fn run(command: ClientCommand, ctx: Context) -> Result<(), CliError> {
    let store = ctx.store.as_ref();
    match command {
        ClientCommand::Create {
            name,
            grant_types,
            redirect_uris,
            scope,
            public,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            backchannel_logout_session_required,
            id_token_alg,
            first_party,
            require_mfa,
            dpop_bound_access_tokens,
            require_pushed_authorization_requests,
            require_signed_request_object,
            access_token_ttl,
            jwks_file,
            resources,
            default_resource,
            exchange_resources,
            claims,
        } => {
            let jwks = match jwks_file {
                None => None,
                Some(path) => {
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        CliError::usage(format!("--jwks-file {}: {e}", path.display()))
                    })?;
                    Some(serde_json::from_str(&text).map_err(|e| {
                        CliError::usage(format!("--jwks-file {}: not JSON: {e}", path.display()))
                    })?)
                }
            };
            let new = NewClient {
                client_name: name,
                grant_types,
                redirect_uris,
                scope,
                public,
                post_logout_redirect_uris,
                backchannel_logout_uri,
                backchannel_logout_session_required,
                id_token_signed_response_alg: id_token_alg,
                first_party,
                require_mfa,
                dpop_bound_access_tokens,
                require_pushed_authorization_requests,
                require_signed_request_object,
                access_token_ttl: access_token_ttl.map(|ttl| ttl.as_secs()),
                jwks,
                resources,
                default_resource,
                exchange_resources,
                claims,
                token_endpoint_auth_method: None,
            };
            let now = store::Clock::now(&SystemClock);
            let created = clients::create(store, &ctx.master_key, now, new)
                .await
                .map_err(|e| match e {
                    ClientError::Invalid(e) => match flag(e.field) {
                        Some(flag) => CliError::usage(format!("{flag}: {}", e.problem)),
                        None => CliError::usage(e.problem),
                    },
                    ClientError::Randomness => CliError::runtime(e.to_string()),
                    ClientError::Store(e) => e.into(),
                })?;
            let mut out = json!({"client_id": created.record.client_id});
            if let Some(secret) = &created.secret {
                out["client_secret"] = json!(secret.expose());
            }
            print_json(&out)
        }
        ClientCommand::List => {
            let clients = store.list_clients().await?;
            print_json(&clients.iter().map(clients::view).collect())
        }
        ClientCommand::Get { id } => match store.get_client(&id).await {
            Ok(client) => print_json(&clients::view(&client)),
            Err(store::Error::NotFound) => Err(CliError::runtime(format!("client {id} not found"))),
            Err(e) => Err(e.into()),
        },
        ClientCommand::Delete { id } => match clients::delete(store, &id).await {
            Ok(revoked) => print_json(
                &json!({"client_id": id, "deleted": true, "minted_tokens_revoked": revoked}),
            ),
            Err(store::Error::NotFound) => Err(CliError::runtime(format!("client {id} not found"))),
            Err(e) => Err(e.into()),
        },
        ClientCommand::Disable { id } => set_disabled(store, &id, true).await,
        ClientCommand::Enable { id } => set_disabled(store, &id, false).await,
    }
}

/// The flag that sets a registration field.
fn flag(field: Field) -> Option<&'static str> {
    Some(match field {
        Field::ClientName => "--name",
        Field::RedirectUris => "--redirect-uri",
        Field::GrantTypes => "--grant-type",
        Field::Scope => "--scope",
        Field::PostLogoutRedirectUris => "--post-logout-redirect-uri",
        Field::BackchannelLogoutUri => "--backchannel-logout-uri",
        Field::IdTokenSignedResponseAlg => "--id-token-alg",
        Field::AccessTokenTtl => "--access-token-ttl",
        Field::Jwks => "--jwks-file",
        Field::Resources => "--resource",
        Field::DefaultResource => "--default-resource",
        Field::Claims => "--claim",
        Field::Registration | Field::TokenEndpointAuthMethod => return None,
    })
}

async fn set_disabled(store: &dyn store::Store, id: &str, disabled: bool) -> Result<(), CliError> {
    match clients::set_disabled(store, id, disabled).await {
        Ok(client) => print_json(&clients::view(&client)),
        Err(store::Error::NotFound) => Err(CliError::runtime(format!("client {id} not found"))),
        Err(e) => Err(e.into()),
    }
}
