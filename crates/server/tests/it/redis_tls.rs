//! `rediss://`: the Redis store over TLS. The server trusts the test CA the
//! way an operator would make it trust a private CA: `SSL_CERT_FILE`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{MASTER_KEY, Server, client, free_port};

struct TlsRedis {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA (`ca.pem`) and a server certificate it signs for `localhost` and
/// 127.0.0.1 (`cert.pem`, `key.pem`) in `d`: webpki refuses a CA
/// certificate used as the server's own.
pub fn make_certs(d: &std::path::Path) {
    std::fs::write(
        d.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for args in [
        vec!["req", "-x509"]
            .into_iter()
            .chain(ec)
            .chain([
                "-subj",
                "/CN=test-ca",
                "-days",
                "1",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ])
            .collect::<Vec<_>>(),
        vec!["req"]
            .into_iter()
            .chain(ec)
            .chain([
                "-subj",
                "/CN=localhost",
                "-keyout",
                "key.pem",
                "-out",
                "leaf.csr",
            ])
            .collect(),
        vec![
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "san.ext",
            "-out",
            "cert.pem",
        ],
    ] {
        let status = Command::new("openssl")
            .args(&args)
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl is needed to make test certificates");
        assert!(status.success(), "openssl {args:?}");
    }
}

fn start_tls_redis() -> TlsRedis {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_certs(d);
    let (cert, key) = (d.join("cert.pem"), d.join("key.pem"));
    let port = free_port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "no", "--tls-auth-clients", "no"])
        .arg("--tls-cert-file")
        .arg(&cert)
        .arg("--tls-key-file")
        .arg(&key)
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "TLS redis-server did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    TlsRedis { child, port, dir }
}

#[tokio::test]
async fn rediss_store_is_ready_over_tls() {
    let redis = start_tls_redis();
    let url = format!("rediss://localhost:{}/0", redis.port);
    let ca = redis.dir.path().join("ca.pem");
    let mut server = Server::start(&[
        ("AUTH_STORE", url.as_str()),
        ("AUTH_MASTER_KEY", MASTER_KEY),
        ("SSL_CERT_FILE", ca.to_str().unwrap()),
    ]);
    server.wait_live().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = client()
            .get(server.url("/health/ready"))
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not ready over TLS: {}",
            response.text().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
