//! A hostile client on loopback (SECURITY.md 23, 27, 28): failure budgets
//! for client authentication, per-/64 limits for IPv6, a limiter that
//! concurrency never makes stricter than its rate, and 413 for bodies over
//! the limit.

use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde_json::Value;

use crate::helpers::{MASTER_KEY, Server, client, service_client};

async fn start(env: &[(&str, &str)]) -> (Server, String) {
    let mut vars = vec![("AUTH_MASTER_KEY", MASTER_KEY)];
    vars.extend_from_slice(env);
    let mut server = Server::start(&vars);
    server.wait_live().await;
    let store = env
        .iter()
        .find(|(name, _)| *name == "AUTH_STORE")
        .map_or_else(
            || format!("sqlite://{}", server.database().display()),
            |(_, url)| (*url).to_owned(),
        );
    (server, store)
}

async fn token_with(
    base: &str,
    id: &str,
    secret: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = client()
        .post(format!("{base}/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")]);
    if let Some(ip) = forwarded_for {
        request = request.header("x-forwarded-for", ip);
    }
    request.send().await.unwrap()
}

/// The finding: 300 wrong secrets from one IP got 300 × 401 and no 429.
#[tokio::test]
async fn failed_client_authentication_has_a_budget_per_ip_and_per_client() {
    let (server, store) = start(&[
        ("AUTH_TRUSTED_PROXIES", "127.0.0.1"),
        ("AUTH_RATE_LIMIT_CLIENT_AUTH_FAILURES", "20/1h"),
    ])
    .await;
    let env = [
        ("AUTH_STORE", store.as_str()),
        ("AUTH_MASTER_KEY", MASTER_KEY),
    ];
    let (id, secret) = service_client(&env, "read");

    // One IP, many client ids: 20 failures, then 429.
    let mut statuses = Vec::new();
    for n in 0..60 {
        let response =
            token_with(&server.base, &format!("guess-{n}"), "x", Some("192.0.2.1")).await;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key(RETRY_AFTER));
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "temporarily_unavailable");
        }
        statuses.push(status);
    }
    let unauthorized = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((unauthorized, limited), (20, 40));
    // The right secret is never throttled by failures, even from that IP.
    assert_eq!(
        token_with(&server.base, &id, &secret, Some("192.0.2.1"))
            .await
            .status(),
        StatusCode::OK
    );

    // One client id, many IPs: its budget is spent after 20 failures.
    let mut limited = 0;
    for n in 0..30 {
        let ip = format!("198.51.100.{n}");
        if token_with(&server.base, &id, "wrong", Some(&ip))
            .await
            .status()
            == StatusCode::TOO_MANY_REQUESTS
        {
            limited += 1;
        }
    }
    assert_eq!(limited, 10);
    assert_eq!(
        token_with(&server.base, &id, &secret, Some("198.51.100.99"))
            .await
            .status(),
        StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        server
            .json_logs()
            .iter()
            .any(|l| l["event"] == "authentication_failure")
    );
}

/// The finding: per-IP limits keyed on the full IPv6 address, so the owner
/// of a /64 had 2^64 buckets.
#[tokio::test]
async fn ipv6_clients_share_a_limit_per_64() {
    let (server, _) = start(&[
        ("AUTH_TRUSTED_PROXIES", "127.0.0.1"),
        ("AUTH_RATE_LIMIT_TOKEN", "5/1h"),
    ])
    .await;
    let mut statuses = Vec::new();
    for n in 1..=8 {
        let ip = format!("2001:db8:1:2::{n:x}");
        statuses.push(
            token_with(&server.base, "nobody", "x", Some(&ip))
                .await
                .status(),
        );
    }
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(limited, 3, "{statuses:?}");
    // Another /64 has its own bucket.
    assert_ne!(
        token_with(&server.base, "nobody", "x", Some("2001:db8:1:3::1"))
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Sends `count` requests to `/token`, `concurrency` at a time; returns how
/// many were refused with 429.
async fn burst(base: &str, count: usize, concurrency: usize) -> usize {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let gate = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let (http, gate, url) = (http.clone(), Arc::clone(&gate), format!("{base}/token"));
            tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.unwrap();
                http.post(url)
                    .basic_auth("nobody", Some("x"))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    let mut limited = 0;
    for task in tasks {
        if task.await.unwrap() == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    limited
}

/// The finding: 2000 concurrent `/token` requests within a 6000/min limit
/// got 1332 (SQLite) and 1771 (Redis) × 429, and a lone request after them
/// still got 429. Concurrency must never make the limiter stricter than its
/// rate: under the limit nothing is refused, over it exactly the limit is
/// admitted (± one batch: burst / 100).
async fn the_limiter_admits_exactly_its_rate_under_concurrency(store: Option<&str>) {
    let mut env = vec![
        // Batches of 10; the refill over the test (an hour's rate) is nil.
        ("AUTH_RATE_LIMIT_TOKEN", "1000/1h"),
        ("AUTH_RATE_LIMIT_TOKEN_CLIENT", "off"),
        ("AUTH_RATE_LIMIT_CLIENT_AUTH_FAILURES", "off"),
    ];
    if let Some(url) = store {
        env.push(("AUTH_STORE", url));
    }
    let (server, _) = start(&env).await;
    assert_eq!(burst(&server.base, 600, 200).await, 0, "under the limit");
    let refused = burst(&server.base, 800, 200).await;
    assert!(
        (390..=410).contains(&refused),
        "over the limit: {refused} of 800 refused, 400 ± 10 expected"
    );
}

#[tokio::test]
async fn the_limiter_admits_exactly_its_rate_under_concurrency_on_sqlite() {
    the_limiter_admits_exactly_its_rate_under_concurrency(None).await;
}

#[tokio::test]
async fn the_limiter_admits_exactly_its_rate_under_concurrency_on_redis() {
    let redis = store_redis::testing::TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
    the_limiter_admits_exactly_its_rate_under_concurrency(Some(&redis.url)).await;
}

/// RFC 9110 §15.5.14: a body over the limit is 413 (it was 400), in the
/// route's vocabulary.
#[tokio::test]
async fn an_oversized_form_is_413() {
    let (server, _) = start(&[]).await;
    let huge = "x".repeat(3 << 20);
    for path in ["/token", "/introspect", "/revoke"] {
        let response = client()
            .post(server.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("grant_type=client_credentials&pad={huge}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{path}");
    }
    for path in ["/login", "/consent", "/logout", "/authorize"] {
        let response = client()
            .post(server.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("pad={huge}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
}
