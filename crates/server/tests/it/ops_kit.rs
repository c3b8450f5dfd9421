//! The operations kit in deploy/: Kubernetes manifests (kubernetes-validate
//! --strict and the runbook's contract), Prometheus alerts (promtool check
//! and test rules), Grafana dashboards (every query parses and uses only
//! exported series), and what the container image relies on.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{MASTER_KEY, Server, client, free_port};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The virtualenv with the Python test tools, which `scripts/test` installs.
pub fn python() -> PathBuf {
    let python = std::env::var("AUTH_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join("target/test-venv/bin/python"));
    assert!(
        python.exists(),
        "no test tools at {}: run ./scripts/test (it installs scim2-tester, scim-sanity and \
         kubernetes-validate into target/test-venv) or set AUTH_TEST_PYTHON",
        python.display()
    );
    python
}

/// Runs `scripts/NAME` (a client that is not ours) with the venv's Python
/// and `args`, off the async threads: it must exit 0 having printed `done`.
pub async fn run_client_script(name: &str, args: Vec<String>, done: &'static str) {
    let (python, script) = (python(), repo().join("scripts").join(name));
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&python)
            .arg(script)
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains(done),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn run(command: &mut Command) -> (bool, String) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn manifests(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| !p.ends_with("kustomization.yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn kubernetes_manifests_validate_strictly_and_keep_the_runbooks_contract() {
    let python = python();
    let dir = repo().join("deploy/k8s");
    let validate = python.with_file_name("kubernetes-validate");
    let (ok, out) = run(Command::new(&validate)
        .arg("--strict")
        .args(manifests(&dir)));
    assert!(ok, "kubernetes-validate --strict:\n{out}");
    assert!(out.contains("deployment/auth-service"), "{out}");
    let checker = repo().join("scripts/check_ops.py");
    let (ok, out) = run(Command::new(&python).arg(&checker).arg("k8s").arg(&dir));
    assert!(ok, "{out}");

    // The contract check can fail: a rollout that may drop below capacity.
    let copy = tempfile::tempdir().unwrap();
    for file in manifests(&dir) {
        let text = std::fs::read_to_string(&file).unwrap();
        let text = text.replace("maxUnavailable: 0", "maxUnavailable: 1");
        std::fs::write(copy.path().join(file.file_name().unwrap()), text).unwrap();
    }
    let (ok, out) = run(Command::new(&python)
        .arg(&checker)
        .arg("k8s")
        .arg(copy.path()));
    assert!(!ok && out.contains("maxUnavailable"), "{out}");

    // And the review's findings: Redis open to anyone in the pod network
    // with no memory bound, every 10.x address trusted as a proxy.
    let copy = tempfile::tempdir().unwrap();
    for file in manifests(&dir) {
        let text = std::fs::read_to_string(&file)
            .unwrap()
            .replace("aclfile ", "# aclfile ")
            .replace("maxmemory 768mb", "")
            .replace("10.244.0.0/24", "10.0.0.0/8");
        std::fs::write(copy.path().join(file.file_name().unwrap()), text).unwrap();
    }
    let (ok, out) = run(Command::new(&python)
        .arg(&checker)
        .arg("k8s")
        .arg(copy.path()));
    assert!(!ok, "{out}");
    for problem in ["ACL file", "maxmemory", "broader than the ingress"] {
        assert!(out.contains(problem), "{problem}: {out}");
    }
}

/// deploy/k8s/sentinel: the base with three Redis pods under Sentinel in
/// place of the single Redis. Its own manifests validate strictly; the
/// whole (base plus overlay) keeps the same contract, and a quorum of one
/// is refused. Its configuration runs in it/k8s_sentinel.rs.
#[test]
fn the_sentinel_variant_validates_and_keeps_the_contract() {
    let python = python();
    let dir = repo().join("deploy/k8s/sentinel");
    let validate = python.with_file_name("kubernetes-validate");
    let (ok, out) = run(Command::new(&validate)
        .arg("--strict")
        .args(manifests(&dir)));
    assert!(ok, "kubernetes-validate --strict:\n{out}");
    assert!(out.contains("statefulset/redis-sentinel"), "{out}");
    let checker = repo().join("scripts/check_ops.py");
    let (ok, out) = run(Command::new(&python).arg(&checker).arg("k8s").arg(&dir));
    assert!(ok, "{out}");

    // A copy of base and overlay, with a Sentinel quorum of one.
    let copy = tempfile::tempdir().unwrap();
    let overlay = copy.path().join("sentinel");
    std::fs::create_dir(&overlay).unwrap();
    for file in manifests(&repo().join("deploy/k8s")) {
        std::fs::copy(&file, copy.path().join(file.file_name().unwrap())).unwrap();
    }
    std::fs::copy(
        dir.join("kustomization.yaml"),
        overlay.join("kustomization.yaml"),
    )
    .unwrap();
    for file in manifests(&dir) {
        let text = std::fs::read_to_string(&file)
            .unwrap()
            .replace("${primary##*:} 2", "${primary##*:} 1");
        std::fs::write(overlay.join(file.file_name().unwrap()), text).unwrap();
    }
    let (ok, out) = run(Command::new(&python).arg(&checker).arg("k8s").arg(&overlay));
    assert!(!ok && out.contains("quorum"), "{out}");
}

#[test]
fn alert_rules_parse_and_pass_their_tests() {
    let dir = repo().join("deploy/prometheus");
    let (ok, out) = run(Command::new("promtool")
        .args(["check", "rules"])
        .arg(dir.join("alerts.yml")));
    assert!(ok, "promtool check rules:\n{out}");
    let (ok, out) = run(Command::new("promtool")
        .args(["test", "rules"])
        .arg(dir.join("alerts_test.yml")));
    assert!(ok, "promtool test rules:\n{out}");
    assert!(out.contains("SUCCESS"), "{out}");
}

#[tokio::test]
async fn dashboards_query_only_series_the_service_exports() {
    let python = python();
    let mut server = Server::start(&[("AUTH_MASTER_KEY", MASTER_KEY)]);
    server.wait_live().await;
    // Health (auth_store_up) and a request of each family, so every series exists.
    for path in ["/health", "/health/ready", "/jwks.json", "/scim/v2/Users"] {
        client().get(server.url(path)).send().await.unwrap();
    }
    let scrape = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scrape_file = dir.path().join("scrape.txt");
    let rules = dir.path().join("dashboard-queries.yml");
    std::fs::write(&scrape_file, scrape).unwrap();
    let (ok, out) = run(Command::new(&python)
        .arg(repo().join("scripts/check_ops.py"))
        .arg("dashboards")
        .arg(repo().join("deploy/grafana"))
        .arg(&scrape_file)
        .arg(&rules));
    assert!(ok, "{out}");
    let (ok, out) = run(Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules));
    assert!(ok, "a dashboard query does not parse:\n{out}");

    // The check can fail: a query on a series nobody exports.
    let fake = dir.path().join("grafana");
    std::fs::create_dir(&fake).unwrap();
    std::fs::write(
        fake.join("bad.json"),
        r#"{"panels":[{"title":"x","targets":[{"expr":"rate(auth_nonexistent_total{job=\"$job\"}[5m])"}]}]}"#,
    )
    .unwrap();
    let (ok, out) = run(Command::new(&python)
        .arg(repo().join("scripts/check_ops.py"))
        .arg("dashboards")
        .arg(&fake)
        .arg(&scrape_file)
        .arg(&rules));
    assert!(!ok && out.contains("auth_nonexistent_total"), "{out}");
}

/// What the Dockerfile relies on: the binary, copied alone, serves from an
/// empty directory as a non-root user with nothing but its environment.
#[tokio::test]
async fn the_binary_serves_from_an_empty_directory_as_non_root() {
    let redis = store_redis::testing::TestRedis::start().unwrap_or_else(|e| panic!("{e}"));
    let image = tempfile::tempdir().unwrap();
    let binary = image.path().join("auth-service");
    std::fs::copy(env!("CARGO_BIN_EXE_auth-service"), &binary).unwrap();
    let workdir = image.path().join("home");
    std::fs::create_dir(&workdir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for path in [image.path(), workdir.as_path()] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let port = free_port();
    let root = current_uid() == 0;
    let mut command = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65532", "--regid=65532", "--clear-groups"])
            .arg(&binary);
        c
    } else {
        Command::new(&binary)
    };
    let mut child = command
        .arg("serve")
        .env_clear()
        .env("AUTH_STORE", &redis.url)
        .env("AUTH_MASTER_KEY", MASTER_KEY)
        .env("AUTH_LISTEN", format!("127.0.0.1:{port}"))
        .env("AUTH_SHUTDOWN_DRAIN", "0s")
        .current_dir(&workdir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/health/ready");
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(r) = client().get(&url).send().await
            && r.status() == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().unwrap();
    assert!(ready, "never ready");
    assert!(status.success(), "exit {status:?}");
    assert_eq!(
        std::fs::read_dir(&workdir).unwrap().count(),
        0,
        "nothing written to the working directory"
    );
}

fn current_uid() -> u32 {
    // From /proc, which needs no libc call.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|u| u.parse().ok())
        .unwrap_or(0)
}

#[test]
fn the_dockerfile_copies_the_release_binary_and_runs_as_non_root() {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    assert!(text.contains("cargo build --release --locked -p auth-service"));
    assert!(text.contains("USER 65532:65532"));
    assert!(text.contains(r#"CMD ["serve"]"#));
    assert!(
        !text.contains("ENV AUTH_MASTER_KEY"),
        "no secret baked into the image"
    );
    // Base images are pinned by digest, not by a tag that moves.
    let bases: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(bases.len(), 2);
    for base in bases {
        assert!(base.contains("@sha256:"), "{base}");
    }
}

/// The example's Redis ACL (deploy/k8s/secret.example.yaml) admits
/// everything the service does (Lua scripts, CONFIG GET for doctor) and
/// refuses a client without the password.
#[tokio::test]
async fn the_example_redis_acl_admits_the_service_and_no_one_else() {
    let text = std::fs::read_to_string(repo().join("deploy/k8s/secret.example.yaml")).unwrap();
    let acl: String = text
        .split("users.acl: |")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .map(|l| {
            format!(
                "{}\n",
                l.trim()
                    .replace("REPLACE-WITH-the-redis-password", "s3cret")
            )
        })
        .collect();
    assert!(acl.contains("user default off"), "{acl}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.acl"), &acl).unwrap();
    let port = free_port();
    /// Ends the Redis this test started, also when the test fails.
    struct Reaper(std::process::Child);
    impl Drop for Reaper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let port_text = port.to_string();
    let _redis = Reaper(
        Command::new("redis-server")
            .args(["--port", &port_text, "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "everysec"])
            .args(["--maxmemory", "64mb", "--maxmemory-policy", "noeviction"])
            .arg("--aclfile")
            .arg(dir.path().join("users.acl"))
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/test installs it)"),
    );
    let url = format!("redis://auth-service:s3cret@127.0.0.1:{port}/0");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "redis did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut server = Server::start(&[
        ("AUTH_STORE", url.as_str()),
        ("AUTH_MASTER_KEY", MASTER_KEY),
    ]);
    server.wait_live().await;
    let env = [
        ("AUTH_STORE", url.as_str()),
        ("AUTH_MASTER_KEY", MASTER_KEY),
    ];
    let svc = crate::helpers::service_client(&env, "read");
    let token = crate::helpers::service_token(&server.base, (&svc.0, &svc.1)).await;
    assert!(!token.is_empty());
    let doctor = crate::helpers::cli(&env, &["doctor", "--json"], None);
    let report = String::from_utf8_lossy(&doctor.stdout).into_owned();
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    for check in report["checks"].as_array().unwrap() {
        if ["persistence", "memory", "store", "signing_keys"]
            .contains(&check["name"].as_str().unwrap())
        {
            assert_eq!(check["status"], "ok", "{check}");
        }
    }
    // Without the password, or as the default user: refused.
    assert!(crate::helpers::redis_command(port, "PING").contains("NOAUTH"));
    drop(server);
}
