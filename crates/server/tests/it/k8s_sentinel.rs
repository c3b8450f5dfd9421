//! The Sentinel variant of the Kubernetes manifests (deploy/k8s/sentinel):
//! its Redis and Sentinel configuration and start scripts, taken from the
//! ConfigMap, with the example Secret's ACL, run as three "pods" on
//! loopback. The service signs in as the manifests say, survives the
//! primary's death with `AUTH_REDIS_MIN_REPLICAS_ACK=1`, and the old primary
//! restarted by its script comes back as a replica.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{TestApp, free_port};
use crate::ops_kit::python;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Writes each `data` entry of the ConfigMap or `stringData` entry of the
/// Secret named `name` in `manifest` to a file in `dir`.
fn extract(manifest: &str, kind: &str, name: &str, dir: &Path) {
    let script = "import sys, yaml, os\n\
        path, kind, name, out = sys.argv[1:]\n\
        for doc in yaml.safe_load_all(open(path)):\n\
        \x20   if doc and doc['kind'] == kind and doc['metadata']['name'] == name:\n\
        \x20       for key, value in (doc.get('data') or doc.get('stringData')).items():\n\
        \x20           open(os.path.join(out, key), 'w').write(value)\n\
        \x20       sys.exit(0)\n\
        sys.exit('not found')\n";
    let status = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(repo().join(manifest))
        .args([kind, name])
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success(), "{kind} {name} in {manifest}");
}

/// One "pod": the ports its Redis and Sentinel listen on and its data.
struct Pod {
    redis: u16,
    sentinel: u16,
    data: tempfile::TempDir,
}

struct Pods {
    pods: Vec<Pod>,
    config: tempfile::TempDir,
    secrets: tempfile::TempDir,
    children: Vec<Child>,
}

impl Pods {
    /// Runs `script` of the ConfigMap as pod `i` would, with the
    /// addresses of loopback in place of the pods' DNS names.
    fn start(&mut self, i: usize, script: &str) -> u32 {
        let sentinels: Vec<String> = self
            .pods
            .iter()
            .map(|p| format!("127.0.0.1:{}", p.sentinel))
            .collect();
        let pod = &self.pods[i];
        let child = Command::new("sh")
            .arg(self.config.path().join(script))
            .env("CONFIG", self.config.path())
            .env("SECRETS", self.secrets.path())
            .env("DATA", pod.data.path())
            .env("SENTINELS", sentinels.join(" "))
            .env("FIRST", format!("127.0.0.1:{}", self.pods[0].redis))
            .env("ANNOUNCE", "127.0.0.1")
            .env("REDIS_PORT", pod.redis.to_string())
            .env("SENTINEL_PORT", pod.sentinel.to_string())
            .env("DOWN_AFTER_MS", "1000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("sh {script}: {e}"));
        let pid = child.id();
        self.children.push(child);
        pid
    }

    fn secret(&self, key: &str) -> String {
        std::fs::read_to_string(self.secrets.path().join(key))
            .unwrap()
            .trim()
            .to_owned()
    }
}

impl Drop for Pods {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `redis-cli` against a port, as `user` (or the default user) with
/// `password`: its output.
fn cli(port: u16, user: Option<&str>, password: &str, args: &[&str]) -> String {
    let mut command = Command::new("redis-cli");
    command
        .args(["-p", &port.to_string()])
        .env("REDISCLI_AUTH", password);
    if let Some(user) = user {
        command.args(["--user", user]);
    }
    let output = command.args(args).output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn the_sentinel_manifests_configuration_fails_over_on_loopback() {
    let manifest = "deploy/k8s/sentinel/redis-sentinel.yaml";
    let mut pods = Pods {
        pods: (0..3)
            .map(|_| Pod {
                redis: free_port(),
                sentinel: free_port(),
                data: tempfile::tempdir().unwrap(),
            })
            .collect(),
        config: tempfile::tempdir().unwrap(),
        secrets: tempfile::tempdir().unwrap(),
        children: Vec::new(),
    };
    extract(
        manifest,
        "ConfigMap",
        "redis-sentinel-config",
        pods.config.path(),
    );
    extract(
        "deploy/k8s/sentinel/secret.example.yaml",
        "Secret",
        "redis-sentinel-secrets",
        pods.secrets.path(),
    );
    let redis_pids: Vec<u32> = (0..3).map(|i| pods.start(i, "start-redis.sh")).collect();
    for i in 0..3 {
        pods.start(i, "start-sentinel.sh");
    }
    let sentinel_password = pods.secret("sentinel-password");
    let ports: Vec<(u16, u16)> = pods.pods.iter().map(|p| (p.redis, p.sentinel)).collect();
    let primary_at = |sentinel: u16| {
        cli(
            sentinel,
            None,
            &sentinel_password,
            &["sentinel", "get-master-addr-by-name", "auth"],
        )
        .lines()
        .nth(1)
        .and_then(|p| p.trim().parse::<u16>().ok())
    };
    // Pod 0 starts as the primary, the others replicate it (signed in as
    // `replica`), and every Sentinel (signed in as `sentinel`) knows both
    // replicas and the other two Sentinels.
    wait_for(
        "the Sentinels agree on pod 0",
        Duration::from_secs(20),
        || {
            ports.iter().all(|&(_, s)| {
                let primary = cli(s, None, &sentinel_password, &["sentinel", "master", "auth"]);
                primary_at(s) == Some(ports[0].0)
                    && primary.contains("num-slaves\n2")
                    && primary.contains("num-other-sentinels\n2")
            })
        },
    );

    let user_password = {
        let acl = pods.secret("users.acl");
        let line = acl
            .lines()
            .find(|l| l.starts_with("user auth-service "))
            .unwrap()
            .to_owned();
        line.split_whitespace()
            .find_map(|w| w.strip_prefix('>'))
            .unwrap()
            .to_owned()
    };
    let url = format!(
        "redis+sentinel://auth-service:{user_password}@{}/auth/0",
        ports
            .iter()
            .map(|&(_, s)| format!("127.0.0.1:{s}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let app = TestApp::start(&[
        ("AUTH_STORE", &url),
        ("AUTH_REDIS_SENTINEL_PASSWORD", &sentinel_password),
        ("AUTH_REDIS_MIN_REPLICAS_ACK", "1"),
    ])
    .await;
    let ready = app.server.get_json("/health/ready").await;
    assert_eq!(ready["status"], "ready", "{ready}");
    // A durable write, acknowledged by a replica through the ACL.
    let svc = app.client("read");
    assert!(app.token(&svc, None).await["access_token"].is_string());

    // The primary dies: the Sentinels promote a replica, and the service
    // issues tokens for the client it registered before.
    let status = Command::new("kill")
        .args(["-9", &redis_pids[0].to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    loop {
        let code = app.token_status(&svc).await;
        assert!(code == 200 || code == 503, "{code}");
        if code == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no token 15 s after the primary died"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let promoted = primary_at(ports[1].1).unwrap();
    assert_ne!(promoted, ports[0].0);
    // A new durable write needs the remaining replica's acknowledgement.
    let after = app.client("read");
    assert!(app.token(&after, None).await["access_token"].is_string());

    // Pod 0's Redis restarts (its container restarted): the script asks the
    // Sentinels and it comes back as a replica of the new primary, from its
    // first answer on; never a second primary that takes writes until the
    // Sentinels notice it.
    pods.start(0, "start-redis.sh");
    let monitor_password = pods.secret("monitor-password");
    let info = |port| {
        cli(
            port,
            Some("sentinel"),
            &monitor_password,
            &["info", "replication"],
        )
    };
    wait_for("pod 0's Redis answering", Duration::from_secs(10), || {
        info(ports[0].0).contains("role:")
    });
    // A replica of one of the other pods: the one promoted, or, if the
    // Sentinels failed over once more meanwhile (a loaded machine can make
    // them), the next; never a primary itself.
    let replica_of = |text: &str| {
        text.contains("role:slave")
            .then(|| {
                text.lines()
                    .find_map(|l| l.strip_prefix("master_port:"))
                    .and_then(|p| p.trim().parse::<u16>().ok())
            })
            .flatten()
    };
    let first = info(ports[0].0);
    assert!(
        replica_of(&first).is_some_and(|p| p != ports[0].0 && ports.iter().any(|&(r, _)| r == p)),
        "pod 0 came back as: {first}"
    );
    // The link comes up after a full resynchronisation: the new primary
    // may first be serving pod 2's (diskless, after a 5 s delay), and a
    // Sentinel's REPLICAOF on seeing pod 0 again restarts it. On a loaded
    // 2-core CI machine that took longer than 20 s once, and once the
    // Sentinels failed over a second time meanwhile, so pod 0 must end up
    // replicating whichever pod the Sentinels name as primary now; the
    // deadline is generous and a timeout shows both sides' state.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let replica = info(ports[0].0);
        let current = primary_at(ports[1].1).unwrap_or(promoted);
        if current != ports[0].0
            && replica_of(&replica) == Some(current)
            && replica.contains("master_link_status:up")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the old primary replicating the current one ({current}) within 60 s; pod 0:\n{replica}\nprimary:\n{}",
            info(current)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
