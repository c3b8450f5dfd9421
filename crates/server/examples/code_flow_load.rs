//! A bounded load driver for the whole authorization code flow, as a
//! browser and a relying party perform it: /authorize → /login (GET and
//! POST, so one Argon2id verification) → code → /token with PKCE. With
//! `--returning`, each virtual browser signs in once and then repeats only
//! /authorize → /token on its session, as returning users do.
//!
//!     cargo run --release --example code_flow_load -- \
//!         BASE CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD FLOWS CONCURRENCY [--returning]
//!
//! The client must be first-party (no consent page). Used by scripts/load.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

struct Args {
    base: String,
    client_id: String,
    secret: String,
    redirect: String,
    username: String,
    password: String,
}

struct Browser {
    http: reqwest::Client,
    cookies: HashMap<String, String>,
}

impl Browser {
    fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            cookies: HashMap::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = request.header("cookie", cookie).send().await.unwrap();
        for value in response.headers().get_all("set-cookie") {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.insert(name.into(), value.into());
        }
        response
    }
}

fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 303, "expected a redirect");
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn code_of(url: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    query
        .split('&')
        .find_map(|p| p.strip_prefix("code="))
        .expect("a code")
        .to_owned()
}

async fn authorize(browser: &mut Browser, args: &Args) -> reqwest::Response {
    let url = format!(
        "{}/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s&nonce=n&code_challenge={CHALLENGE}&code_challenge_method=S256",
        args.base, args.client_id, args.redirect
    );
    let request = browser.http.get(url);
    browser.send(request).await
}

async fn sign_in(browser: &mut Browser, args: &Args) -> String {
    let to_login = location(&authorize(browser, args).await);
    let request = browser.http.get(format!("{}{to_login}", args.base));
    let html = browser.send(request).await.text().await.unwrap();
    let form = [
        ("authz", hidden(&html, "authz")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("username", args.username.clone()),
        ("password", args.password.clone()),
    ];
    let request = browser
        .http
        .post(format!("{}/login", args.base))
        .form(&form);
    code_of(&location(&browser.send(request).await))
}

async fn redeem(http: &reqwest::Client, args: &Args, code: &str) {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", args.redirect.as_str()),
        ("code_verifier", VERIFIER),
    ];
    let response = http
        .post(format!("{}/token", args.base))
        .basic_auth(&args.client_id, Some(&args.secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "token exchange failed");
}

#[tokio::main]
async fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let [
        _,
        base,
        client_id,
        secret,
        redirect,
        username,
        password,
        flows,
        concurrency,
        rest @ ..,
    ] = argv.as_slice()
    else {
        panic!(
            "usage: BASE CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD FLOWS CONCURRENCY [--returning]"
        );
    };
    let returning = rest.iter().any(|a| a == "--returning");
    let args = Arc::new(Args {
        base: base.clone(),
        client_id: client_id.clone(),
        secret: secret.clone(),
        redirect: redirect.clone(),
        username: username.clone(),
        password: password.clone(),
    });
    let flows: usize = flows.parse().unwrap();
    let concurrency: usize = concurrency.parse().unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (args, http, next) = (Arc::clone(&args), http.clone(), Arc::clone(&next));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut browser = Browser::new(http.clone());
                if returning {
                    let code = sign_in(&mut browser, &args).await;
                    redeem(&http, &args, &code).await;
                }
                while next.fetch_add(1, Ordering::Relaxed) < flows {
                    let start = Instant::now();
                    let code = if returning {
                        code_of(&location(&authorize(&mut browser, &args).await))
                    } else {
                        browser = Browser::new(http.clone());
                        sign_in(&mut browser, &args).await
                    };
                    redeem(&http, &args, &code).await;
                    latencies.push(start.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "{} flows in {:.2?}: {:.0} flows/s, p50 {:.2?}, p99 {:.2?} ({})",
        latencies.len(),
        elapsed,
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        if returning {
            "returning sessions"
        } else {
            "fresh login each flow"
        }
    );
}
