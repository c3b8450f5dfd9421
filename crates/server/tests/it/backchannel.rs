//! OpenID Connect Back-Channel Logout 1.0 end to end: a relying party's
//! receiver (scripts/backchannel_receiver.py, validating each logout token
//! with jwcrypto) is told when a session it got tokens in ends, once,
//! through failures, and through the death of the replica delivering.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{ISSUER, MASTER_KEY, Server, free_port};
use crate::mfa::payload;
use crate::oidc::{Browser, LOGGED_OUT, PASSWORD, Provider, hidden, location, post_login, query};

const ALLOW: (&str, &str) = ("AUTH_BACKCHANNEL_LOGOUT_ALLOW", "127.0.0.0/8");

/// The receiver process and the deliveries it reported.
struct Receiver {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    /// Starts the receiver on `port` for `p`'s client, with `extra` flags
    /// (`--fail N`, `--hold N`).
    fn start(port: u16, p: &Provider, extra: &[&str]) -> Self {
        let script = format!(
            "{}/../../scripts/backchannel_receiver.py",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut child = Command::new(crate::ops_kit::python())
            .arg(script)
            .args(["--port", &port.to_string()])
            .args(["--jwks", &format!("{}/jwks.json", p.base)])
            .args(["--issuer", ISSUER, "--audience", &p.client_id])
            .args(["--lifetime", "90"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        assert_eq!(
            first.trim(),
            format!("listening {port}"),
            "the receiver started"
        );
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_str(&line).unwrap());
            }
        });
        Self { child, lines }
    }

    fn lines(&self) -> Vec<Value> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until `count` deliveries had `outcome`, within `limit`; all
    /// deliveries so far.
    async fn wait_for(&self, outcome: &str, count: usize, limit: Duration) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let lines = self.lines();
            if lines.iter().filter(|l| l["outcome"] == outcome).count() >= count {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "{count} {outcome} deliveries expected within {limit:?}; got {lines:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn backchannel_uri(port: u16) -> String {
    format!("http://127.0.0.1:{port}/backchannel-logout?tenant=a")
}

/// A provider whose client registered a back-channel logout URI on `port`.
async fn provider(port: u16) -> Provider {
    Provider::start_with_client(
        &[ALLOW],
        &[
            "--backchannel-logout-uri",
            &backchannel_uri(port),
            "--backchannel-logout-session-required",
        ],
    )
    .await
}

/// Signs `browser` in and redeems the code: the ID token's claims and the
/// raw ID token.
async fn tokens_in(p: &Provider, browser: &mut Browser) -> (Value, String) {
    let code = query(&p.sign_in(browser, &[]).await)["code"].clone();
    redeem(p, &code).await
}

/// Signs another browser in for a client the user consented to already.
async fn tokens_again(p: &Provider, browser: &mut Browser) -> (Value, String) {
    let to_login = location(&browser.get(&p.authorize_url(&[])).await);
    let callback = location(&post_login(&p.base, browser, &to_login, "bjensen", PASSWORD).await);
    redeem(p, &query(&callback)["code"]).await
}

async fn redeem(p: &Provider, code: &str) -> (Value, String) {
    let tokens: Value = p.exchange(code).await.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    (payload(&id_token), id_token)
}

/// RP-initiated logout with the ID token as hint (ends without asking).
async fn rp_logout(p: &Provider, browser: &mut Browser, id_token: &str) {
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", LOGGED_OUT),
        ])
        .finish();
    let back = location(&browser.get(&format!("{}/logout?{q}", p.base)).await);
    assert_eq!(back, LOGGED_OUT);
}

fn accepted(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .filter(|l| l["outcome"] == "accepted")
        .collect()
}

/// The issue's receiver that fails twice, then succeeds: one accepted
/// delivery, whose token (checked by jwcrypto: signature through our
/// JWKS, `typ`, `iss`, `aud`, `exp`, `events`, no `nonce`) names the
/// session the relying party knows from its ID token.
#[tokio::test]
async fn a_relying_party_that_fails_twice_is_told_once() {
    let port = free_port();
    let p = provider(port).await;
    let receiver = Receiver::start(port, &p, &["--fail", "2"]);
    let mut browser = Browser::new();
    let (id_claims, id_token) = tokens_in(&p, &mut browser).await;
    assert!(id_claims["sid"].is_string(), "{id_claims}");

    rp_logout(&p, &mut browser, &id_token).await;
    let lines = receiver
        .wait_for("accepted", 1, Duration::from_secs(20))
        .await;
    let outcomes: Vec<&str> = lines
        .iter()
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["failed", "failed", "accepted"]);
    let delivered = &accepted(&lines)[0];
    let claims = &delivered["claims"];
    assert_eq!(delivered["header"]["typ"], "logout+jwt");
    assert_eq!(claims["sid"], id_claims["sid"]);
    assert_eq!(claims["sub"], id_claims["sub"]);
    assert_eq!(claims["aud"], p.client_id.as_str());
    assert_eq!(claims["iss"], ISSUER);

    // The server saw the same: two failures, then a delivery on the third
    // attempt with the same jti.
    let failed = p
        .server
        .log_lines(|l| l["event"] == "backchannel_logout_failed", 2)
        .await;
    assert_eq!(failed[0]["retry_in_seconds"], 1);
    assert_eq!(failed[1]["retry_in_seconds"], 2);
    let done = p
        .server
        .security_event("backchannel_logout_delivered")
        .await;
    assert_eq!(done["attempts"], 3);
    assert_eq!(done["jti"], claims["jti"]);
    // And nothing more: the notice left the queue.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.lines().len(), 3, "{:?}", receiver.lines());
    let metrics = p.server.get_text("/metrics").await;
    assert!(
        metrics.contains("auth_backchannel_logout_deliveries_total{outcome=\"retried\"} 2"),
        "{metrics}"
    );
}

/// "Sign out of other sessions" tells the relying party about the other
/// browser's session and not about this one, which stays; an operator's
/// MFA reset then ends this one too, and it is told about that.
#[tokio::test]
async fn each_ended_session_is_announced_and_a_kept_one_is_not() {
    let port = free_port();
    let p = provider(port).await;
    let receiver = Receiver::start(port, &p, &[]);
    let (mut here, mut there) = (Browser::new(), Browser::new());
    let (here_claims, _) = tokens_in(&p, &mut here).await;
    let (there_claims, _) = tokens_again(&p, &mut there).await;
    assert_ne!(here_claims["sid"], there_claims["sid"]);

    let html = here
        .get(&format!("{}/account", p.base))
        .await
        .text()
        .await
        .unwrap();
    let response = here
        .post(
            &format!("{}/account/sessions", p.base),
            &[("csrf_token", &hidden(&html, "csrf_token"))],
        )
        .await;
    assert_eq!(response.status(), 200);
    let lines = receiver
        .wait_for("accepted", 1, Duration::from_secs(10))
        .await;
    assert_eq!(accepted(&lines)[0]["claims"]["sid"], there_claims["sid"]);

    // The kept session still works, and its sid is the same.
    assert_eq!(here.get(&format!("{}/account", p.base)).await.status(), 200);
    p.cli(&["user", "mfa", "reset", &p.user_id]);
    let lines = receiver
        .wait_for("accepted", 2, Duration::from_secs(10))
        .await;
    assert_eq!(accepted(&lines)[1]["claims"]["sid"], here_claims["sid"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(accepted(&receiver.lines()).len(), 2);
}

/// The issue's replica killed mid-delivery: the receiver holds the first
/// delivery, the replica dies (SIGKILL), and another replica on the same
/// store delivers the notice once its lease runs out.
#[tokio::test]
async fn a_replica_killed_mid_delivery_loses_nothing() {
    let port = free_port();
    let mut p = provider(port).await;
    let receiver = Receiver::start(port, &p, &["--hold", "1"]);
    let mut browser = Browser::new();
    let (id_claims, id_token) = tokens_in(&p, &mut browser).await;
    rp_logout(&p, &mut browser, &id_token).await;
    receiver.wait_for("held", 1, Duration::from_secs(10)).await;
    p.server.signal("KILL");
    p.server.wait_exit(Duration::from_secs(5)).await.unwrap();

    let dir = std::mem::replace(&mut p.server.dir, tempfile::tempdir().unwrap());
    let mut replica = Server::start_in(
        dir,
        &[
            ("AUTH_MASTER_KEY", MASTER_KEY),
            ("AUTH_ISSUER", ISSUER),
            ALLOW,
        ],
    );
    replica.wait_live().await;
    let lines = receiver
        .wait_for("accepted", 1, Duration::from_secs(40))
        .await;
    assert_eq!(accepted(&lines)[0]["claims"]["sid"], id_claims["sid"]);
    let delivered = replica
        .log_lines(|l| l["event"] == "backchannel_logout_delivered", 1)
        .await;
    assert!(
        delivered[0]["queued_seconds"].as_i64().unwrap() >= 15,
        "{delivered:?}"
    );
}
