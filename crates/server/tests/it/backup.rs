//! `backup` and `restore`: a round trip SQLite → Redis → SQLite preserves
//! every record byte for byte, taken while the server runs; damaged files,
//! another master key and non-empty stores are refused.

use serde_json::{Value, json};

use crate::helpers::{MASTER_KEY, Server, cli, client, stdout_json};
use crate::oidc::{Browser, Provider, query};

/// The records of a backup file, without its header and trailer.
pub(crate) fn records(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "a header and a trailer at least");
    lines[1..lines.len() - 1]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}

/// The CLI on `store`, with the tests' master key.
pub(crate) fn run(store: &str, args: &[&str]) -> std::process::Output {
    cli(
        &[
            ("AUTH_STORE", store),
            ("AUTH_MASTER_KEY", MASTER_KEY),
            ("AUTH_ISSUER", "https://auth.example.test"),
        ],
        args,
        None,
    )
}

/// Restores `file` into the empty store at `url`, which must report the
/// `counts` the backup reported, then backs that store up again: the two
/// files must hold the same records, byte for byte.
pub(crate) fn restore_and_compare(url: &str, file: &std::path::Path, counts: &Value) {
    let path = file.to_str().unwrap();
    let restored = stdout_json(&run(url, &["restore", "--input", path]));
    assert_eq!(restored["counts"], *counts);
    let dir = tempfile::tempdir().unwrap();
    let again = dir.path().join("again.jsonl");
    stdout_json(&run(url, &["backup", "--output", again.to_str().unwrap()]));
    assert_eq!(records(file), records(&again));
}

#[tokio::test]
async fn a_round_trip_through_both_backends_keeps_every_record() {
    // Data of every kind: keys, clients, users (one with a password and a
    // consent), groups, made through the real endpoints.
    let p = Provider::start().await;
    let mut browser = Browser::new();
    let callback = p.sign_in(&mut browser, &[]).await;
    assert!(query(&callback).contains_key("code"));
    let env = p.cli_env();
    let (id, secret) = crate::helpers::service_client(&env, "scim:write");
    let token = crate::helpers::service_token(&p.base, (&id, &secret)).await;
    let token = token.as_str();
    let mut ids = Vec::new();
    for n in 0..30 {
        let created: Value = client()
            .post(format!("{}/scim/v2/Users", p.base))
            .bearer_auth(token)
            .json(
                &json!({"userName": format!("user-{n}"), "name": {"givenName": "Ünïcode ✓"},
                "emails": [{"value": format!("u{n}@example.com"), "type": "work"}]}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let group = client()
        .post(format!("{}/scim/v2/Groups", p.base))
        .bearer_auth(token)
        .json(&json!({"displayName": "Everyone", "members": ids.iter().map(|id| json!({"value": id})).collect::<Vec<_>>()}))
        .send()
        .await
        .unwrap();
    assert_eq!(group.status(), 201);

    // An API whose identifier has characters a Redis key would mind.
    p.cli(&[
        "api",
        "create",
        "--identifier",
        "urn:example:billing%2Fv1:orders",
        "--scope",
        "orders:read",
    ]);

    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.jsonl");
    // Taken while the server runs.
    let summary = stdout_json(&run(
        &p.store,
        &["backup", "--output", first.to_str().unwrap()],
    ));
    assert_eq!(summary["counts"]["user"], 31);
    assert_eq!(summary["counts"]["group"], 1);
    assert_eq!(summary["counts"]["consent"], 1);
    assert_eq!(summary["counts"]["client"], 2);
    assert_eq!(summary["counts"]["api"], 1);
    assert_eq!(summary["counts"]["signing_key"], 2);

    // Into Redis, and back out.
    let redis = store_redis::testing::TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
    let restored = stdout_json(&run(
        &redis.url,
        &["restore", "--input", first.to_str().unwrap()],
    ));
    assert_eq!(restored["counts"], summary["counts"]);
    let second = dir.path().join("second.jsonl");
    stdout_json(&run(
        &redis.url,
        &["backup", "--output", second.to_str().unwrap()],
    ));
    assert_eq!(
        records(&first),
        records(&second),
        "SQLite → Redis keeps every byte"
    );

    // Into a fresh SQLite, and back out.
    let sqlite = format!("sqlite://{}", dir.path().join("fresh/auth.db").display());
    stdout_json(&run(
        &sqlite,
        &["restore", "--input", second.to_str().unwrap()],
    ));
    let third = dir.path().join("third.jsonl");
    stdout_json(&run(
        &sqlite,
        &["backup", "--output", third.to_str().unwrap()],
    ));
    assert_eq!(
        records(&first),
        records(&third),
        "Redis → SQLite keeps every byte"
    );

    // A non-empty store is refused unless told.
    let refused = run(&p.store, &["restore", "--input", first.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not empty"));
    stdout_json(&run(
        &p.store,
        &["restore", "--input", first.to_str().unwrap(), "--force"],
    ));

    // A damaged file changes nothing.
    let damaged = dir.path().join("damaged.jsonl");
    let text = std::fs::read_to_string(&first)
        .unwrap()
        .replace("user-7", "user-X");
    std::fs::write(&damaged, text).unwrap();
    let empty = format!("sqlite://{}", dir.path().join("empty/auth.db").display());
    let refused = run(&empty, &["restore", "--input", damaged.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("authentication tag"));
    // docs/security.md 29: a forged file is refused and changes nothing. The
    // attack of the review: add a private_key_jwt client of one's own and
    // fix the trailer (it was a plain SHA-256 anyone could recompute).
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&first).unwrap().permissions().mode() & 0o777,
        0o600,
        "backups are written 0600"
    );
    let text = std::fs::read_to_string(&first).unwrap();
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut forged_client = lines
        .iter()
        .find(|l| l["kind"] == "client")
        .unwrap()
        .clone();
    forged_client["record"]["client_id"] = json!("attacker");
    forged_client["record"]["scopes"] = json!(["scim:write"]);
    let trailer = lines.pop().unwrap();
    lines.push(forged_client);
    let mut trailer = trailer;
    let clients = trailer["counts"]["client"].as_u64().unwrap();
    trailer["counts"]["client"] = json!(clients + 1);
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body.as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    trailer["sha256"] = json!(hex);
    let forged = dir.path().join("forged.jsonl");
    std::fs::write(&forged, format!("{body}{trailer}\n")).unwrap();
    let refused = run(&empty, &["restore", "--input", forged.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("authentication tag"));
    // A version 1 file (checksummed only) is refused.
    let mut v1 = text.clone();
    v1 = v1.replacen("\"version\":2", "\"version\":1", 1);
    let old = dir.path().join("v1.jsonl");
    std::fs::write(&old, v1).unwrap();
    let refused = run(&empty, &["restore", "--input", old.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("version 1"));
    let cut = dir.path().join("cut.jsonl");
    let text = std::fs::read_to_string(&first).unwrap();
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    assert_eq!(
        run(&empty, &["restore", "--input", cut.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
    let counts = stdout_json(&run(&empty, &["user", "list"]));
    assert_eq!(counts["totalResults"], 0, "nothing was written");

    // Another master key is refused before anything is written.
    let other_key = cli(
        &[
            ("AUTH_STORE", empty.as_str()),
            (
                "AUTH_MASTER_KEY",
                "BAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            ),
        ],
        &["restore", "--input", first.to_str().unwrap()],
        None,
    );
    assert_eq!(other_key.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&other_key.stderr).contains("master key"));

    // A server on the restored Redis publishes the same keys (the sealed
    // private keys open with the same master key). Password hashes and
    // client-secret hashes came back byte for byte with the records above.
    let jwks = |base: String| async move {
        let body: Value = client()
            .get(format!("{base}/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut kids: Vec<String> = body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        kids.sort();
        kids
    };
    let mut on_redis = Server::start(&[
        ("AUTH_STORE", redis.url.as_str()),
        ("AUTH_MASTER_KEY", MASTER_KEY),
        ("AUTH_ISSUER", "https://auth.example.test"),
    ]);
    on_redis.wait_live().await;
    assert_eq!(
        jwks(on_redis.base.clone()).await,
        jwks(p.base.clone()).await
    );
}
