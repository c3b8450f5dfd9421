//! A private `redis-server` for tests: started on a free loopback port in a
//! temporary directory, killed when dropped. When `AUTH_TEST_REDIS_URL` is set,
//! that server is used instead and nothing is started. [`TestSentinel`] is a
//! primary, a replica and three Sentinels, always private. [`TestCluster`]
//! is a Redis Cluster made with `redis-cli --cluster create`, or the one
//! `AUTH_TEST_REDIS_CLUSTER_URL` names.
//!
//! There is no silent skip: if neither works, [`TestRedis::start`] fails with
//! a message saying how to get Redis.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A store configuration for tests of `url`: a key prefix no other test
/// uses, a 5 s timeout, no replica acknowledgements, no Sentinel
/// credentials. Change what a test needs with `..config(url)`.
pub fn config(url: &str) -> crate::RedisConfig {
    crate::RedisConfig {
        url: url.to_owned(),
        prefix: TestRedis::unique_prefix(),
        timeout: Duration::from_secs(5),
        min_replicas_ack: 0,
        sentinel_auth: crate::SentinelAuth::default(),
    }
}

/// A Redis server for one test (or one test binary).
#[derive(Debug)]
pub struct TestRedis {
    pub url: String,
    pub port: u16,
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
    /// Further `redis-server` arguments, kept for a restart.
    extra: Vec<String>,
}

impl TestRedis {
    /// Starts a private server, or uses `AUTH_TEST_REDIS_URL`.
    pub fn start() -> Result<Self, String> {
        if let Ok(url) = std::env::var("AUTH_TEST_REDIS_URL") {
            return Ok(Self {
                url,
                port: 0,
                child: None,
                dir: None,
                extra: Vec::new(),
            });
        }
        Self::start_private(&[])
    }

    /// Starts a private server with `extra` arguments (e.g. `--replicaof`),
    /// whatever `AUTH_TEST_REDIS_URL` says.
    pub fn start_private(extra: &[&str]) -> Result<Self, String> {
        let port = free_port()?;
        let dir =
            tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let mut redis = Self {
            url: format!("redis://127.0.0.1:{port}/0"),
            port,
            child: None,
            dir: Some(dir),
            extra: extra.iter().map(|a| (*a).to_owned()).collect(),
        };
        redis.spawn()?;
        Ok(redis)
    }

    /// Starts the server process (again) on the same port and directory,
    /// with append-only persistence as docs/operations.md recommends
    /// (`appendfsync everysec`), and waits until it answers.
    pub fn spawn(&mut self) -> Result<(), String> {
        let dir = self
            .dir
            .as_ref()
            .ok_or("an external Redis cannot be restarted")?;
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "everysec"])
            // As deploy/k8s/redis.yaml: bounded, and never evicting.
            .args(["--maxmemory", "256mb", "--maxmemory-policy", "noeviction"])
            .args(&self.extra)
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start redis-server ({e}): install it (apt-get install redis-server) \
                     or set AUTH_TEST_REDIS_URL"
                )
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if ping(self.port) {
                return Ok(());
            }
            // Exited (its port was taken meanwhile): say so now.
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(format!(
                    "redis-server on port {} exited: {status}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "redis-server on port {} did not answer within 10 s",
            self.port
        ))
    }

    /// Kills the server process (SIGKILL), keeping its data directory.
    /// The server's process id, for signals (`kill -STOP`); `None` for an
    /// external Redis.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(std::process::Child::id)
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A key prefix no other test uses, so tests can share one server.
    pub fn unique_prefix() -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!(
            "test-{}-{}-{}:",
            std::process::id(),
            nanos,
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One primary, one replica and three Sentinels watching them (quorum 2),
/// each a private process on a free loopback port, killed when dropped.
/// The Sentinels call the primary down after 1 s and fail over within 3 s.
#[derive(Debug)]
pub struct TestSentinel {
    /// `redis+sentinel://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/auth/0`.
    pub url: String,
    pub service: String,
    pub nodes: Vec<TestRedis>,
    pub sentinel_ports: Vec<u16>,
    sentinels: Vec<Child>,
    dir: tempfile::TempDir,
}

impl TestSentinel {
    pub fn start() -> Result<Self, String> {
        let service = "auth".to_owned();
        let primary = TestRedis::start_private(&[])?;
        let replica =
            TestRedis::start_private(&["--replicaof", "127.0.0.1", &primary.port.to_string()])?;
        let dir =
            tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let mut sentinels = Vec::new();
        let mut sentinel_ports = Vec::new();
        for i in 0..3 {
            let port = free_port()?;
            let conf = dir.path().join(format!("sentinel-{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\ndir {}\n\
                     sentinel monitor {service} 127.0.0.1 {} 2\n\
                     sentinel down-after-milliseconds {service} 1000\n\
                     sentinel failover-timeout {service} 3000\n\
                     sentinel parallel-syncs {service} 1\n\
                     sentinel known-replica {service} 127.0.0.1 {}\n",
                    dir.path().display(),
                    primary.port,
                    replica.port
                ),
            )
            .map_err(|e| format!("cannot write the Sentinel configuration: {e}"))?;
            let child = Command::new("redis-server")
                .arg(&conf)
                .arg("--sentinel")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start redis-server --sentinel ({e})"))?;
            sentinels.push(child);
            sentinel_ports.push(port);
        }
        let hosts: Vec<String> = sentinel_ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let sentinel = Self {
            url: format!("redis+sentinel://{}/{service}/0", hosts.join(",")),
            service,
            nodes: vec![primary, replica],
            sentinel_ports,
            sentinels,
            dir,
        };
        // Ready when every Sentinel names the primary ([`Self::wait_replica`]
        // waits for what a failover needs as well).
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let ready = sentinel
                .sentinel_ports
                .iter()
                .all(|port| sentinel.primary_port_at(*port) == Some(sentinel.nodes[0].port));
            if ready {
                return Ok(sentinel);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err("the Sentinels did not name the primary within 15 s".into())
    }

    /// Waits until the replica is in sync and every Sentinel knows it, so
    /// that a failover has somewhere to go. The Sentinels are told of the
    /// replica in their configuration (`known-replica`) rather than left to
    /// find it in the primary's INFO, which takes up to 10 s. At most 20 s.
    pub fn wait_replica(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let synced = command(self.nodes[1].port, &["INFO", "replication"])
                .is_some_and(|info| info.contains("master_link_status:up"));
            let known = self.sentinel_ports.iter().all(|port| {
                command(*port, &["SENTINEL", "REPLICAS", &self.service])
                    .is_some_and(|reply| reply.contains(&self.nodes[1].port.to_string()))
            });
            if synced && known {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("the replica was not in sync and known to every Sentinel within 20 s".into())
    }

    /// The port of the primary the Sentinel at `port` names.
    pub fn primary_port_at(&self, port: u16) -> Option<u16> {
        let reply = command(
            port,
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", &self.service],
        )?;
        reply.lines().rev().find_map(|l| l.trim().parse().ok())
    }

    /// Asks the Sentinels to fail over now (no node is harmed) and waits
    /// until they name the other node (at most 15 s). Returns its port.
    pub fn failover(&self) -> Result<u16, String> {
        let before = self.primary_port_at(self.sentinel_ports[0]);
        command(
            self.sentinel_ports[0],
            &["SENTINEL", "FAILOVER", &self.service],
        )
        .ok_or("SENTINEL FAILOVER got no answer")?;
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let now = self.primary_port_at(self.sentinel_ports[0]);
            if now.is_some() && now != before {
                return now.ok_or_else(String::new);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("the Sentinels did not fail over within 15 s".into())
    }
}

impl Drop for TestSentinel {
    fn drop(&mut self) {
        for child in &mut self.sentinels {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = &self.dir;
    }
}

/// A Redis Cluster of private `redis-server --cluster-enabled yes`
/// processes on free loopback ports, killed when dropped. A node is called
/// failed after 1 s (`cluster-node-timeout`), so a replica takes over
/// within about 2 s.
#[derive(Debug)]
pub struct TestCluster {
    /// `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,…` (every node a seed).
    pub url: String,
    /// The primaries first, then the replicas, as created.
    pub nodes: Vec<TestRedis>,
}

impl TestCluster {
    /// A cluster of `primaries`, each with `replicas` replicas; with
    /// `AUTH_TEST_REDIS_CLUSTER_URL`, that cluster (no nodes to harm).
    pub fn start(primaries: usize, replicas: usize) -> Result<Self, String> {
        if let Ok(url) = std::env::var("AUTH_TEST_REDIS_CLUSTER_URL") {
            return Ok(Self {
                url,
                nodes: Vec::new(),
            });
        }
        Self::start_private(primaries, replicas)
    }

    /// A private cluster, whatever the environment says.
    pub fn start_private(primaries: usize, replicas: usize) -> Result<Self, String> {
        let mut nodes = Vec::new();
        for _ in 0..primaries * (1 + replicas) {
            nodes.push(cluster_node()?);
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| {
                format!("cannot run redis-cli --cluster create ({e}): install redis-tools")
            })?;
        if !created.status.success() {
            return Err(format!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&created.stderr)
            ));
        }
        let cluster = Self {
            url: format!("redis+cluster://{}", addresses.join(",")),
            nodes,
        };
        cluster.wait_ok(Duration::from_secs(20))?;
        Ok(cluster)
    }

    /// Waits until every live node says `cluster_state:ok` and knows every
    /// slot, and every live replica is in sync with its primary.
    pub fn wait_ok(&self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let ok = self.nodes.iter().filter(|n| n.child.is_some()).all(|n| {
                let clustered = command(n.port, &["CLUSTER", "INFO"]).is_some_and(|info| {
                    info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384")
                });
                let synced = command(n.port, &["INFO", "replication"]).is_some_and(|info| {
                    info.contains("role:master") || info.contains("master_link_status:up")
                });
                clustered && synced
            });
            if ok {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("the cluster was not ok within {within:?}"))
    }

    /// The port of the node that serves `slot` as primary now, as the live
    /// node at `ask` sees it.
    pub fn primary_of_slot(&self, slot: u16) -> Option<u16> {
        let ask = self.nodes.iter().find(|n| n.child.is_some())?;
        let nodes = command_full(ask.port, &["CLUSTER", "NODES"])?;
        nodes.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if !fields.get(2)?.contains("master") || fields.get(2)?.contains("fail") {
                return None;
            }
            let serves = fields[8..].iter().any(|range| {
                let mut bounds = range.split('-');
                let low: Option<u16> = bounds.next().and_then(|b| b.parse().ok());
                let high: Option<u16> = bounds.next().and_then(|b| b.parse().ok()).or(low);
                matches!((low, high), (Some(l), Some(h)) if l <= slot && slot <= h)
            });
            let port = fields.get(1)?.split(['@', ':']).nth(1)?.parse().ok()?;
            serves.then_some(port)
        })
    }
}

/// One cluster node. A node listens on its port and on port + 10000 (the
/// cluster bus); another test may take either between the choice and the
/// bind, so a node that does not start is tried again on other ports.
fn cluster_node() -> Result<TestRedis, String> {
    let mut last = String::new();
    for _ in 0..5 {
        let port = free_port()?;
        if port > 55_000 || TcpListener::bind(("127.0.0.1", port + 10_000)).is_err() {
            continue;
        }
        let dir =
            tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let mut node = TestRedis {
            url: format!("redis://127.0.0.1:{port}/0"),
            port,
            child: None,
            dir: Some(dir),
            extra: [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "1000",
                // As docs/deployment.md: a failed primary's slots fail,
                // the others keep serving.
                "--cluster-require-full-coverage",
                "no",
            ]
            .iter()
            .map(|a| (*a).to_owned())
            .collect(),
        };
        match node.spawn() {
            Ok(()) => return Ok(node),
            Err(e) => last = e,
        }
    }
    Err(format!("no cluster node started on free ports: {last}"))
}

/// A connection to `port` (reads time out after 1 s) that has sent `args`
/// as one RESP command.
fn send(port: u16, args: &[&str]) -> Option<std::net::TcpStream> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(1000)))
        .ok()?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes()).ok()?;
    Some(stream)
}

/// Like [`command`], but reads until the peer has sent the whole bulk
/// reply (`CLUSTER NODES` outgrows one read).
fn command_full(port: u16, args: &[&str]) -> Option<String> {
    use std::io::Read;
    let mut stream = send(port, args)?;
    let mut reply = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = stream.read(&mut buffer).ok()?;
        reply.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&reply);
        let (header, body) = text.split_once("\r\n")?;
        let wanted: usize = header.strip_prefix('$')?.parse().ok()?;
        if body.len() >= wanted || n == 0 {
            return Some(body.chars().take(wanted).collect());
        }
    }
}

/// Sends one command (RESP) to the Redis or Sentinel at `port` and returns
/// the raw reply, or `None` when nothing answers within 1 s.
fn command(port: u16, args: &[&str]) -> Option<String> {
    use std::io::Read;
    let mut stream = send(port, args)?;
    let mut buffer = [0u8; 4096];
    let n = stream.read(&mut buffer).ok()?;
    Some(String::from_utf8_lossy(&buffer[..n]).into_owned())
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}
