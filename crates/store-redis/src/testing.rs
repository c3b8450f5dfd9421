//! A private `redis-server` for tests: started on a free loopback port in a
//! temporary directory, killed when dropped. When `AUTH_TEST_REDIS_URL` is set,
//! that server is used instead and nothing is started.
//!
//! There is no silent skip: if neither works, [`TestRedis::start`] fails with
//! a message saying how to get Redis.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A Redis server for one test (or one test binary).
#[derive(Debug)]
pub struct TestRedis {
    pub url: String,
    pub port: u16,
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
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
            });
        }
        let port = free_port()?;
        let dir =
            tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let mut redis = Self {
            url: format!("redis://127.0.0.1:{port}/0"),
            port,
            child: None,
            dir: Some(dir),
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
