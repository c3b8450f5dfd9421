//! A cluster on one machine: N `auth-service` replicas on free loopback
//! ports sharing one `redis-server`, behind a tiny round-robin front in the
//! test process, so clients see one issuer URL — as in production behind a
//! load balancer. The front sends only to replicas whose `/health/ready`
//! answered 200 at the last poll (every 50 ms), as a Kubernetes Service does.
//!
//! Used by the production-condition tests (`production.rs`), and by anyone
//! reproducing a production problem: `Cluster::start(3, &[]).await`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::Value;
use store_redis::testing::TestRedis;

use crate::helpers::{MASTER_KEY, Server, cli, free_port, stdout_json};

#[derive(Debug, Clone)]
struct Backend {
    base: String,
    ready: bool,
}

/// The round-robin front.
#[derive(Clone)]
pub struct Front {
    pub url: String,
    backends: Arc<Mutex<Vec<Backend>>>,
    next: Arc<AtomicUsize>,
    http: reqwest::Client,
}

impl Front {
    async fn start(port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let front = Self {
            url: format!("http://127.0.0.1:{port}"),
            backends: Arc::new(Mutex::new(Vec::new())),
            next: Arc::new(AtomicUsize::new(0)),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        };
        let app = axum::Router::new()
            .fallback(proxy)
            .with_state(front.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let poller = front.clone();
        tokio::spawn(async move {
            loop {
                let bases: Vec<String> = poller
                    .backends
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|b| b.base.clone())
                    .collect();
                for base in bases {
                    let ready = poller
                        .http
                        .get(format!("{base}/health/ready"))
                        .timeout(Duration::from_millis(500))
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 200);
                    if let Some(b) = poller
                        .backends
                        .lock()
                        .unwrap()
                        .iter_mut()
                        .find(|b| b.base == base)
                    {
                        b.ready = ready;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        front
    }

    /// Adds a replica; it gets traffic once a poll finds it ready.
    pub fn add(&self, base: &str) {
        self.backends.lock().unwrap().push(Backend {
            base: base.to_owned(),
            ready: false,
        });
    }

    pub fn remove(&self, base: &str) {
        self.backends.lock().unwrap().retain(|b| b.base != base);
    }

    fn pick(&self) -> Option<String> {
        let backends = self.backends.lock().unwrap();
        let ready: Vec<&Backend> = backends.iter().filter(|b| b.ready).collect();
        if ready.is_empty() {
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        Some(ready[n % ready.len()].base.clone())
    }
}

async fn proxy(State(front): State<Front>, request: Request) -> Response {
    let Some(base) = front.pick() else {
        return Response::builder()
            .status(503)
            .body(Body::from("no ready replica"))
            .unwrap();
    };
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = front
        .http
        .request(parts.method.clone(), format!("{base}{path}"));
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            outgoing = outgoing.header(name, value);
        }
    }
    match outgoing.body(body).send().await {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status().as_u16());
            for (name, value) in answer.headers() {
                if name != "content-length" && name != "transfer-encoding" {
                    response = response.header(name, value);
                }
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            response.body(Body::from(bytes)).unwrap()
        }
        Err(e) => Response::builder()
            .status(502)
            .body(Body::from(format!("front: {base}: {e}")))
            .unwrap(),
    }
}

/// N replicas, one Redis, one front.
pub struct Cluster {
    pub redis: TestRedis,
    pub replicas: Vec<Server>,
    pub front: Front,
    env: Vec<(String, String)>,
}

impl Cluster {
    /// Starts Redis, the front and `n` replicas, and waits until the front
    /// sees every replica ready.
    pub async fn start(n: usize, extra: &[(&str, &str)]) -> Self {
        let redis = TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
        let front = Front::start(free_port()).await;
        let mut env: Vec<(String, String)> = vec![
            ("AUTH_STORE".into(), redis.url.clone()),
            ("AUTH_MASTER_KEY".into(), MASTER_KEY.into()),
            ("AUTH_ISSUER".into(), front.url.clone()),
        ];
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let mut cluster = Self {
            redis,
            replicas: Vec::new(),
            front,
            env,
        };
        for _ in 0..n {
            cluster.add_replica().await;
        }
        cluster
    }

    fn env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// Starts one more replica, adds it to the front, waits until it is ready.
    pub async fn add_replica(&mut self) -> usize {
        let mut server = Server::start(&self.env());
        server.wait_live().await;
        self.front.add(&server.base);
        let ready_url = server.url("/health/ready");
        for _ in 0..200 {
            if crate::helpers::client()
                .get(&ready_url)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        // One poll of the front later, it takes traffic.
        tokio::time::sleep(Duration::from_millis(150)).await;
        self.replicas.push(server);
        self.replicas.len() - 1
    }

    /// The CLI with the cluster's configuration.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Value {
        stdout_json(&cli(&self.env(), args, stdin))
    }

    pub fn base(&self, replica: usize) -> String {
        self.replicas[replica].base.clone()
    }
}
