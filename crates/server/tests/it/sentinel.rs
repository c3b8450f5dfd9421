//! The service on Redis behind Sentinel (`redis+sentinel://`): it finds the
//! primary through the Sentinels, says which one in `/health`, and follows
//! a failover without a restart.

use std::time::{Duration, Instant};

use serde_json::Value;
use store_redis::testing::TestSentinel;

use crate::helpers::{TestApp, client};

async fn health(app: &TestApp) -> Value {
    client()
        .get(app.server.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_service_follows_a_sentinel_failover() {
    let sentinel = TestSentinel::start().unwrap_or_else(|e| panic!("{e}"));
    let app = TestApp::start(&[("AUTH_STORE", &sentinel.url)]).await;
    let svc = app.client("read");
    let before = app.token(&svc, None).await;
    assert!(before["access_token"].is_string());
    let first = format!("127.0.0.1:{}", sentinel.nodes[0].port);
    assert_eq!(health(&app).await["store_primary"], first.as_str());

    sentinel.wait_replica().unwrap();
    let promoted = format!("127.0.0.1:{}", sentinel.failover().unwrap());
    // Tokens are issued again, from the new primary, within the poll
    // interval plus a margin; meanwhile a refusal is a 503, never a 500.
    let started = Instant::now();
    loop {
        let response = app
            .post(
                "/token",
                Some(&svc),
                &[("grant_type", "client_credentials")],
            )
            .await;
        let status = response.status().as_u16();
        assert!(status == 200 || status == 503, "{status}");
        if status == 200 && health(&app).await["store_primary"] == promoted.as_str() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not on {promoted} after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The client registered before the failover is still there.
    let token = app.token(&svc, None).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.introspect(&svc, &token).await["active"], true);
    app.server
        .log_lines(
            |l| l["event"] == "redis_primary" && l["primary"] == promoted.as_str(),
            1,
        )
        .await;
}
