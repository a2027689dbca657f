//! The observability example's HTTP side: `/metrics`, `/healthz` and
//! `/readyz` on a minimal HTTP/1.1 responder (one request per connection).
//!
//! Owns what `/readyz` reports ([`Readiness`]) and the responder. Kept in a
//! file of its own so that `tests/observe_readyz.rs` serves the very same
//! handler over HTTP while it kills a rig's primary.

use std::sync::Arc;

use pgline::cluster::Cluster;
use pgline::pool::{HealthState, Pool};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The longest request head read before answering 400.
const MAX_REQUEST: usize = 8 * 1024;

/// Renders `/metrics` (Prometheus text).
pub type RenderMetrics = Arc<dyn Fn() -> String + Send + Sync>;

/// What `/readyz` reports on.
#[derive(Clone)]
pub enum Readiness {
    /// The pool's health.
    Pool(Pool),
    /// [`Cluster::readiness`]; `true` for a read-only service.
    Cluster(Cluster, bool),
}

/// Answers every connection `listener` accepts, each on a task of its own.
pub async fn serve(listener: TcpListener, metrics: RenderMetrics, ready: Readiness) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let _ = respond(stream, &metrics, &ready).await;
        });
    }
}

/// Reads one request head and answers it; the connection then closes.
async fn respond(
    mut stream: TcpStream,
    metrics: &RenderMetrics,
    ready: &Readiness,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() + n > MAX_REQUEST {
            return reply(&mut stream, 400, "text/plain", "bad request\n").await;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if method != "GET" {
        return reply(&mut stream, 405, "text/plain", "only GET\n").await;
    }
    match path {
        "/metrics" => {
            let body = metrics();
            reply(&mut stream, 200, "text/plain; version=0.0.4", &body).await
        }
        "/healthz" => reply(&mut stream, 200, "text/plain", "ok\n").await,
        "/readyz" => {
            let (status, body) = match ready {
                Readiness::Pool(pool) => readiness(pool),
                Readiness::Cluster(cluster, read_only) => {
                    let r = cluster.readiness(*read_only);
                    (r.http_status(), r.to_json() + "\n")
                }
            };
            reply(&mut stream, status, "application/json", &body).await
        }
        _ => reply(&mut stream, 404, "text/plain", "not found\n").await,
    }
}

/// 200 while the pool is open and its connects succeed; else 503. The
/// body names the pool, its health and its figures.
fn readiness(pool: &Pool) -> (u16, String) {
    let health = pool.health();
    let stats = pool.stats();
    let ready = !pool.is_closed() && health == HealthState::Healthy;
    let body = format!(
        "{{\"ready\":{ready},\"nodes\":[{{\"pool\":\"example\",\"health\":\"{health}\",\
\"size\":{},\"idle\":{},\"in_use\":{},\"waiters\":{}}}]}}\n",
        stats.size, stats.idle, stats.in_use, stats.waiters
    );
    (if ready { 200 } else { 503 }, body)
}

async fn reply(stream: &mut TcpStream, status: u16, kind: &str, body: &str) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

/// A GET on this server (`--scrape-once`, and the readiness test): the
/// status and the body.
pub async fn get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}
