//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod drop_points;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pgline_testkit::Server;
use tokio::net::{TcpListener, TcpStream};

/// A config for the shared test server as the `pgline` user.
pub fn shared_config() -> pgline::Config {
    pgline_testkit::shared()
        .url("pgline", Some("pgline-secret"), "pgline")
        .parse()
        .expect("a valid URL")
}

/// A loopback TCP proxy to a server port that counts the connections made
/// through it, to check how many connection attempts a client makes.
pub struct CountingProxy {
    port: u16,
    count: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    pub async fn start(target_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target_port)).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { port, count, task }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn connections(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A loopback port that accepts connections and never answers.
pub struct SilentServer {
    listener: std::net::TcpListener,
}

impl SilentServer {
    pub fn start() -> Self {
        Self {
            listener: std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        }
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().unwrap().port()
    }
}

/// The process's peak resident set size (VmHWM), in KiB.
pub fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The process's current resident set size (VmRSS), in KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Whether the server sees this client's connection as TLS (`pg_stat_ssl`).
pub async fn uses_tls(client: &pgline::Client) -> bool {
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl of this backend")
        .get(0)
        .expect("a boolean")
}

/// The port libpq (`psql`) lands on for the connection string `conninfo`,
/// or `None` when it fails to connect: the reference the host-choice tests
/// compare pgline with. psql comes from `server`'s bin folder, or from
/// `PATH` when that build ships none (the fetched 17/18 builds).
pub fn libpq_port(server: &Server, conninfo: &str) -> Option<u16> {
    let output = server
        .client_command("psql")
        .args([
            "-X",
            "-A",
            "-t",
            "-c",
            "SELECT inet_server_port()",
            conninfo,
        ])
        .output()
        .expect("run psql");
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}
