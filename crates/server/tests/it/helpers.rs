//! Starting the real binary and talking to it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_auth-service");

/// A 32-byte master key, base64, for tests that need one.
pub const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `auth-service serve`, killed on drop.
pub struct Server {
    child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the server on the embedded store in a fresh directory, with
    /// `env` added (and overriding the defaults here).
    pub fn start(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, env)
    }

    pub fn start_in(dir: tempfile::TempDir, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let store = format!("sqlite://{}", dir.path().join("data/auth.db").display());
        let mut command = Command::new(BIN);
        command
            .arg("serve")
            .env_clear()
            .env("AUTH_LISTEN", format!("127.0.0.1:{port}"))
            .env("AUTH_STORE", store)
            .env("AUTH_LOG_LEVEL", "debug")
            .env("AUTH_SHUTDOWN_DRAIN", "200ms")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            // "self": the server's own address, for relying parties that
            // check the issuer against the URL they discovered it at.
            // "self-localhost": the same by name, for WebAuthn, whose RP id
            // must be a domain (and browsers trust http://localhost).
            let value = match *value {
                "self" => format!("http://127.0.0.1:{port}"),
                "self-localhost" => format!("http://localhost:{port}"),
                other => other.to_owned(),
            };
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let logs = Arc::clone(&logs);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    logs.lock().unwrap().push(line);
                }
            });
        }
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
            logs,
        }
    }

    /// Waits until `/health/live` answers.
    pub async fn wait_live(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "the server exited with {status} before answering:\n{}",
                    self.logs().join("\n")
                );
            }
            if let Ok(response) = client()
                .get(format!("{}/health/live", self.base))
                .send()
                .await
                && response.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "the server did not answer within 20 s:\n{}",
            self.logs().join("\n")
        );
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET `path`, its body as JSON (`Null` when the server does not answer).
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        match client().get(self.url(path)).send().await {
            Ok(response) => response.json().await.unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        }
    }

    /// GET `path`, its body as text.
    pub async fn get_text(&self, path: &str) -> String {
        client()
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Log lines parsed as JSON (non-JSON lines are a failure: the format promises JSON lines).
    pub fn json_logs(&self) -> Vec<serde_json::Value> {
        self.logs()
            .iter()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"))
            })
            .collect()
    }

    /// The JSON log lines matching `wanted`, once there are at least
    /// `count` of them (within 5 s, or the test fails): log lines reach the
    /// test through a pipe, after the response that caused them, so reading
    /// at once may miss them and a fixed sleep is a guess.
    pub async fn log_lines(
        &self,
        wanted: impl Fn(&serde_json::Value) -> bool,
        count: usize,
    ) -> Vec<serde_json::Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let found: Vec<serde_json::Value> =
                self.json_logs().into_iter().filter(|l| wanted(l)).collect();
            if found.len() >= count {
                return found;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} matching log lines after 5 s, {count} expected",
                found.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The first security event named `event` (see [`Server::log_lines`]).
    pub async fn security_event(&self, event: &str) -> serde_json::Value {
        let mut lines = self
            .log_lines(|l| l["event"] == event && l["category"] == "security", 1)
            .await;
        lines.swap_remove(0)
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, up to `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    pub fn database(&self) -> PathBuf {
        self.dir.path().join("data/auth.db")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Runs a CLI command with only the given environment and `stdin`.
pub fn cli(env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

pub fn stdout_json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "exit {:?}, stderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Sends one raw Redis command (inline protocol) and returns the first reply line.
pub fn redis_command(port: u16, command: &str) -> String {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(format!("{command}\r\n").as_bytes())
        .unwrap();
    let mut buffer = [0u8; 256];
    let n = stream.read(&mut buffer).unwrap();
    String::from_utf8_lossy(&buffer[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A `client_credentials` client made with the CLI (`env` carries the
/// server's AUTH_STORE and AUTH_MASTER_KEY): its id and secret.
pub fn service_client(env: &[(&str, &str)], scope: &str) -> (String, String) {
    let created = stdout_json(&cli(
        env,
        &[
            "client",
            "create",
            "--name",
            "service",
            "--grant-type",
            "client_credentials",
            "--scope",
            scope,
        ],
        None,
    ));
    (
        created["client_id"].as_str().unwrap().to_owned(),
        created["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// An access token for a `client_credentials` client from the server at `base`.
pub async fn service_token(base: &str, (id, secret): (&str, &str)) -> String {
    let answer: serde_json::Value = client()
        .post(format!("{base}/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {answer}"))
        .to_owned()
}

/// The issuer the fixtures configure.
pub const ISSUER: &str = "https://auth.example.test";

/// The one fixture of the integration tests: `auth-service serve` on the
/// embedded store in a fresh directory (or on the `AUTH_STORE` given),
/// with the test master key and [`ISSUER`] unless `env` says otherwise,
/// and the CLI pointed at the same store and configuration.
pub struct TestApp {
    pub server: Server,
    /// The store URL the server and the CLI share.
    pub store: String,
    /// What the CLI shares with the server: store, master key, issuer.
    cli_env: Vec<(String, String)>,
}

/// A confidential client's credentials.
pub struct Client {
    pub id: String,
    pub secret: String,
}

impl TestApp {
    pub async fn start(env: &[(&str, &str)]) -> Self {
        let mut vars = vec![("AUTH_MASTER_KEY", MASTER_KEY), ("AUTH_ISSUER", ISSUER)];
        for (name, value) in env {
            vars.retain(|(n, _)| n != name);
            vars.push((name, value));
        }
        let mut server = Server::start(&vars);
        server.wait_live().await;
        let var = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        let store = var("AUTH_STORE").map_or_else(
            || format!("sqlite://{}", server.database().display()),
            str::to_owned,
        );
        let issuer = match var("AUTH_ISSUER") {
            Some("self") => server.base.clone(),
            Some("self-localhost") => server.base.replace("127.0.0.1", "localhost"),
            other => other.unwrap_or(ISSUER).to_owned(),
        };
        let mut cli_env = vec![
            ("AUTH_STORE".to_owned(), store.clone()),
            (
                "AUTH_MASTER_KEY".to_owned(),
                var("AUTH_MASTER_KEY").unwrap_or(MASTER_KEY).to_owned(),
            ),
            ("AUTH_ISSUER".to_owned(), issuer),
        ];
        // How to reach Redis (Sentinel credentials, acknowledgements).
        for (name, value) in &vars {
            if name.starts_with("AUTH_REDIS_") {
                cli_env.push(((*name).to_owned(), (*value).to_owned()));
            }
        }
        Self {
            server,
            store,
            cli_env,
        }
    }

    /// The environment of a CLI run against this server.
    pub fn cli_env(&self) -> Vec<(&str, &str)> {
        self.cli_env
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    /// Runs the CLI against this server's store; the raw output.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        cli(&self.cli_env(), args, stdin)
    }

    /// Runs the CLI, which must succeed, and parses its JSON output.
    pub fn cli(&self, args: &[&str]) -> serde_json::Value {
        stdout_json(&self.run(args, None))
    }

    /// A `client_credentials` client with `scope`.
    pub fn client(&self, scope: &str) -> Client {
        let created = self.cli(&[
            "client",
            "create",
            "--name",
            "svc",
            "--grant-type",
            "client_credentials",
            "--scope",
            scope,
        ]);
        Client {
            id: created["client_id"].as_str().unwrap().into(),
            secret: created["client_secret"].as_str().unwrap().into(),
        }
    }

    /// A form POST to `path`, with `auth` as HTTP Basic credentials.
    pub async fn post(
        &self,
        path: &str,
        auth: Option<&Client>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = client().post(self.server.url(path)).form(form);
        if let Some(c) = auth {
            request = request.basic_auth(&c.id, Some(&c.secret));
        }
        request.send().await.unwrap()
    }

    /// The status of a client_credentials token request for `c` (200, or
    /// 503 while the store is away).
    pub async fn token_status(&self, c: &Client) -> u16 {
        self.post("/token", Some(c), &[("grant_type", "client_credentials")])
            .await
            .status()
            .as_u16()
    }

    /// A client_credentials token response for `c`.
    pub async fn token(&self, c: &Client, scope: Option<&str>) -> serde_json::Value {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let response = self.post("/token", Some(c), &form).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// An introspection answer, which must be a 200 with `no-store`.
    pub async fn introspect(&self, caller: &Client, token: &str) -> serde_json::Value {
        let response = self
            .post("/introspect", Some(caller), &[("token", token)])
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        response.json().await.unwrap()
    }
}
