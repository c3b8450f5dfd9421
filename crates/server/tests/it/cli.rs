//! The CLI: JSON on stdout, exit codes, secrets shown once and stored hashed.

use std::sync::Arc;

use serde_json::Value;
use store::{SystemClock, UserStore};

use crate::helpers::{MASTER_KEY, TestApp, cli, client, stdout_json};

struct Env {
    dir: tempfile::TempDir,
    store: String,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = format!("sqlite://{}", dir.path().join("data/auth.db").display());
        Self { dir, store }
    }

    fn vars(&self) -> Vec<(&str, &str)> {
        vec![
            ("AUTH_STORE", self.store.as_str()),
            ("AUTH_MASTER_KEY", MASTER_KEY),
        ]
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        cli(&self.vars(), args, None)
    }

    fn database_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(self.dir.path().join("data")).unwrap() {
            bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        bytes
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// `api create | list | get | delete`: RFC 8707 identifiers checked, kept
/// exactly as given; bad usage exits 2, a duplicate or a missing API 1.
#[test]
fn api_lifecycle() {
    let env = Env::new();
    let created = stdout_json(&env.run(&[
        "api",
        "create",
        "--identifier",
        "https://api.example.com/Orders",
        "--name",
        "Orders",
        "--scope",
        "orders:read orders:write",
        "--scope",
        "orders:admin",
        "--access-token-ttl",
        "5m",
        "--alg",
        "ES256",
    ]));
    assert_eq!(created["identifier"], "https://api.example.com/Orders");
    assert_eq!(
        created["scopes"],
        serde_json::json!(["orders:admin", "orders:read", "orders:write"])
    );
    assert_eq!(created["access_token_ttl"], 300);
    let again = env.run(&[
        "api",
        "create",
        "--identifier",
        "https://api.example.com/Orders",
    ]);
    assert_eq!(again.status.code(), Some(1));
    for (flag, value) in [
        ("--identifier", "api.example.com/orders"),
        ("--identifier", "https://api.example.com/#x"),
    ] {
        let bad = env.run(&["api", "create", flag, value]);
        assert_eq!(bad.status.code(), Some(2), "{value}");
        assert!(String::from_utf8_lossy(&bad.stderr).contains("--identifier"));
    }
    let bad_alg = env.run(&[
        "api",
        "create",
        "--identifier",
        "https://b.example",
        "--alg",
        "HS256",
    ]);
    assert_eq!(bad_alg.status.code(), Some(2));
    let listed = stdout_json(&env.run(&["api", "list"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let got = stdout_json(&env.run(&["api", "get", "https://api.example.com/Orders"]));
    assert_eq!(got["name"], "Orders");
    let other_case = env.run(&["api", "get", "https://api.example.com/orders"]);
    assert_eq!(other_case.status.code(), Some(1), "compared exactly");
    stdout_json(&env.run(&["api", "delete", "https://api.example.com/Orders"]));
    let gone = env.run(&["api", "delete", "https://api.example.com/Orders"]);
    assert_eq!(gone.status.code(), Some(1));
}

#[test]
fn client_lifecycle_with_a_secret_shown_once() {
    let env = Env::new();
    let created = stdout_json(&env.run(&[
        "client",
        "create",
        "--name",
        "Billing API",
        "--grant-type",
        "client_credentials",
        "--scope",
        "invoices:read invoices:write",
    ]));
    let keys: Vec<_> = created.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["client_id", "client_secret"]);
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    assert_eq!(secret.len(), 43, "256 bits, base64url");

    // Only a keyed hash reaches the store.
    assert!(!contains(&env.database_bytes(), secret));

    let shown = stdout_json(&env.run(&["client", "get", id]));
    assert_eq!(shown["client_name"], "Billing API");
    assert_eq!(
        shown["grant_types"],
        serde_json::json!(["client_credentials"])
    );
    assert_eq!(shown["scope"], "invoices:read invoices:write");
    assert_eq!(shown["token_endpoint_auth_method"], "client_secret_basic");
    assert!(!shown.to_string().contains(secret) && shown.get("secret_hash").is_none());

    let list = stdout_json(&env.run(&["client", "list"]));
    assert_eq!(list.as_array().unwrap().len(), 1);

    stdout_json(&env.run(&["client", "delete", id]));
    let gone = env.run(&["client", "get", id]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("not found"));
}

#[test]
fn public_clients_have_no_secret_and_validation_speaks_plainly() {
    let env = Env::new();
    let created = stdout_json(&env.run(&[
        "client",
        "create",
        "--name",
        "SPA",
        "--public",
        "--redirect-uri",
        "http://127.0.0.1:8080/callback",
    ]));
    assert!(created.get("client_secret").is_none());
    let shown = stdout_json(&env.run(&["client", "get", created["client_id"].as_str().unwrap()]));
    assert_eq!(shown["token_endpoint_auth_method"], "none");
    assert_eq!(
        shown["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );

    for (args, expected) in [
        (vec!["--name", "x", "--grant-type", "password"], "RFC 9700"),
        (
            vec!["--name", "x", "--grant-type", "authorization_code"],
            "--redirect-uri: the authorization_code grant needs at least one redirect URI",
        ),
        (
            vec![
                "--name",
                "x",
                "--public",
                "--grant-type",
                "client_credentials",
            ],
            "public client cannot use client_credentials",
        ),
        (
            vec!["--name", "x", "--redirect-uri", "http://evil.example/cb"],
            "only on loopback",
        ),
        (vec!["--name", "x", "--scope", "bad\"scope"], "--scope"),
    ] {
        let mut full = vec!["client", "create"];
        full.extend(args.iter());
        let output = env.run(&full);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
}

#[tokio::test]
async fn user_create_hashes_the_password_with_argon2id() {
    let env = Env::new();
    let password = "correct horse battery staple";
    let output = cli(
        &env.vars(),
        &[
            "user",
            "create",
            "--username",
            "bjensen",
            "--password-stdin",
            "--email",
            "bjensen@example.com",
            "--given-name",
            "Barbara",
            "--family-name",
            "Jensen",
        ],
        Some(&format!("{password}\n")),
    );
    let user = stdout_json(&output);
    assert_eq!(
        user["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:User"
    );
    assert_eq!(user["userName"], "bjensen");
    assert_eq!(user["name"]["formatted"], "Barbara Jensen");
    assert_eq!(user["emails"][0]["value"], "bjensen@example.com");
    assert_eq!(user["meta"]["version"], "W/\"1\"");
    assert!(user.get("password").is_none());
    assert!(!contains(&output.stdout, password) && !contains(&output.stderr, password));
    assert!(!contains(&env.database_bytes(), password));

    let path = env.dir.path().join("data/auth.db");
    let store = store::sqlite::SqliteStore::open(&path, Arc::new(SystemClock)).unwrap();
    let record = store.get_user(user["id"].as_str().unwrap()).await.unwrap();
    let hash = record.password_hash.unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );

    // userName is unique regardless of case.
    let duplicate = env.run(&["user", "create", "--username", "BJensen"]);
    assert_eq!(duplicate.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already taken"));

    let short = cli(
        &env.vars(),
        &["user", "create", "--username", "x", "--password-stdin"],
        Some("short\n"),
    );
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8"));

    let list = stdout_json(&env.run(&["user", "list"]));
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["userName"], "bjensen");
    let id = user["id"].as_str().unwrap();
    assert_eq!(stdout_json(&env.run(&["user", "get", id]))["id"], id);
    stdout_json(&env.run(&["user", "delete", id]));
    assert_eq!(env.run(&["user", "get", id]).status.code(), Some(1));
}

#[test]
fn check_config_prints_effective_config_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("auth.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:4001\"\nlog_format = \"pretty\"\n",
    )
    .unwrap();
    let output = cli(
        &[
            ("AUTH_CONFIG", file.to_str().unwrap()),
            ("AUTH_LOG_FORMAT", "json"),
            ("AUTH_MASTER_KEY", MASTER_KEY),
            ("AUTH_STORE", "redis://:hunter2pw@127.0.0.1:6379/2"),
        ],
        &["check-config"],
        None,
    );
    let config: Value = stdout_json(&output);
    assert_eq!(config["listen"], "127.0.0.1:4001", "from the file");
    assert_eq!(config["log_format"], "json", "the environment wins");
    assert_eq!(config["master_key"], "[REDACTED]");
    assert_eq!(config["store"], "redis://:[REDACTED]@127.0.0.1:6379/2");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!text.contains("hunter2pw") && !text.contains(MASTER_KEY));

    let bad = cli(
        &[("AUTH_CONFIG", "/nonexistent/auth.toml")],
        &["check-config"],
        None,
    );
    assert_eq!(bad.status.code(), Some(2));
}

/// The CLI and a running server share the embedded store.
#[tokio::test]
async fn cli_works_beside_a_running_server() {
    let app = TestApp::start(&[]).await;
    let server = &app.server;
    let vars = app.cli_env();
    for i in 0..5 {
        let name = format!("client-{i}");
        stdout_json(&cli(&vars, &["client", "create", "--name", &name], None));
        let ready = client()
            .get(server.url("/health/ready"))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200);
    }
    assert_eq!(
        stdout_json(&cli(&vars, &["client", "list"], None))
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

/// `user mfa list` shows a user's factors without their secrets; `user mfa
/// reset` removes one (`--factor`) or all; an unknown user or factor is a
/// runtime error (exit 1).
#[tokio::test]
async fn user_mfa_list_and_reset() {
    let env = Env::new();
    let user = stdout_json(&env.run(&["user", "create", "--username", "alice"]));
    let id = user["id"].as_str().unwrap().to_owned();
    let store = store::sqlite::SqliteStore::open(
        &env.dir.path().join("data/auth.db"),
        Arc::new(SystemClock),
    )
    .unwrap();
    for (factor, at) in [("f-1", 1), ("f-2", 2)] {
        store::FactorStore::insert_factor(
            &store,
            &store::Factor {
                id: factor.into(),
                user_id: id.clone(),
                kind: store::FactorKind::Totp,
                name: format!("phone {factor}"),
                sealed_secret: Some("SEALED-SEED".into()),
                data: serde_json::json!({"digits": 6}),
                counter: 0,
                created_at: at,
                last_used_at: None,
            },
        )
        .await
        .unwrap();
    }
    let output = env.run(&["user", "mfa", "list", &id]);
    let listed = stdout_json(&output);
    assert_eq!(listed["factors"].as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(listed["factors"][0]["name"], "phone f-1");
    assert_eq!(listed["factors"][0]["kind"], "totp");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("SEALED-SEED"));

    let removed = stdout_json(&env.run(&["user", "mfa", "reset", &id, "--factor", "f-1"]));
    assert_eq!(removed["removed"], 1);
    let missing = env.run(&["user", "mfa", "reset", &id, "--factor", "f-1"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no factor f-1"));
    assert_eq!(
        stdout_json(&env.run(&["user", "mfa", "reset", &id]))["removed"],
        1
    );
    let listed = stdout_json(&env.run(&["user", "mfa", "list", &id]));
    assert!(listed["factors"].as_array().unwrap().is_empty());
    assert_eq!(
        env.run(&["user", "mfa", "list", "nobody"]).status.code(),
        Some(1)
    );
}
