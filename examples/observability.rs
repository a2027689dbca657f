//! Observability end to end: a pool with pgline's metrics and span hooks,
//! and a small HTTP server with `/metrics` (Prometheus text), `/healthz`
//! (the process is up) and `/readyz` (200 while the pool can reach its
//! server, else 503 with a JSON body saying why), while a small workload
//! runs.
//!
//! Connects to `DATABASE_URL` when it is set; otherwise starts a throwaway
//! PostgreSQL server (through `pgline-testkit`). Listens on
//! `OBSERVABILITY_ADDR` (default `127.0.0.1:9187`). With `--scrape-once`
//! it runs the workload for a moment, prints one scrape of `/metrics` on
//! stdout and exits (for `promtool check metrics`).
//!
//! ```text
//! cargo run --example observability --features metrics
//! curl -s localhost:9187/metrics; curl -si localhost:9187/readyz
//! cargo run -q --example observability --features metrics -- --scrape-once | promtool check metrics
//! ```
//!
//! Histograms are rendered with OpenTelemetry's suggested buckets
//! ([`DURATION_BUCKETS`]); the exporter is built with default features
//! off: this file serves the text itself.

use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use pgline::observe::metric_names::{self as n, DURATION_BUCKETS};
use pgline::observe::{Hooks, Metrics, Spans};
use pgline::pool::{HealthState, Pool};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The longest request head read before answering 400.
const MAX_REQUEST: usize = 8 * 1024;

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let scrape_once = std::env::args().any(|a| a == "--scrape-once");
    let metrics = install_recorder()?;
    let (url, server) =
        pgline_testkit::database_url_or_start("observe", "observe-secret", "observe")?;
    if server.is_some() {
        eprintln!("DATABASE_URL is not set: started a throwaway PostgreSQL server");
    }
    let hooks = Hooks::new().all(Metrics::new()).all(Spans);
    let mut config: pgline::Config = url.parse()?;
    // Connect attempts are made by the connector, from the config.
    config.hooks(Hooks::new().connect(Metrics::new()).connect(Spans));
    let pool = Pool::builder(config)
        .name("example")
        .max_size(4)
        .min_idle(1)
        .hooks(hooks)
        .connect()
        .await?;
    let addr = std::env::var("OBSERVABILITY_ADDR").unwrap_or_else(|_| "127.0.0.1:9187".into());
    let listener = TcpListener::bind(&addr).await?;
    let addr = listener.local_addr()?;
    eprintln!("serving /metrics, /healthz and /readyz on http://{addr}");
    tokio::spawn(serve(listener, metrics.clone(), pool.clone()));
    let workload = tokio::spawn(workload(pool.clone()));
    if scrape_once {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (status, body) = get(addr, "/metrics").await?;
        if status != 200 {
            return Err(format!("/metrics answered {status}").into());
        }
        print!("{body}");
        workload.abort();
        pool.close(Duration::from_secs(5)).await;
        return Ok(());
    }
    workload.await?;
    Ok(())
}

/// The Prometheus recorder, with explicit buckets for every histogram.
fn install_recorder() -> Result<PrometheusHandle, Box<dyn std::error::Error>> {
    let mut builder = PrometheusBuilder::new().with_recommended_naming(true);
    for name in [
        n::OPERATION_DURATION,
        n::CONNECTION_CREATE_TIME,
        n::CONNECTION_WAIT_TIME,
        n::CONNECTION_USE_TIME,
    ] {
        builder = builder.set_buckets_for_metric(Matcher::Full(name.into()), &DURATION_BUCKETS)?;
    }
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(PrometheusNames(recorder))?;
    Ok(handle)
}

/// Renames what Prometheus's naming rules refuse: a gauge whose name ends
/// in `_count` reads as a histogram's count, so
/// `db.client.connection.count` is exported under its earlier
/// OpenTelemetry name, `db.client.connections.usage`.
#[derive(Debug)]
struct PrometheusNames<R>(R);

const CONNECTION_USAGE: &str = "db.client.connections.usage";

fn renamed(key: &metrics::Key) -> std::borrow::Cow<'_, metrics::Key> {
    if key.name() == n::CONNECTION_COUNT {
        let labels: Vec<metrics::Label> = key.labels().cloned().collect();
        std::borrow::Cow::Owned(metrics::Key::from_parts(CONNECTION_USAGE, labels))
    } else {
        std::borrow::Cow::Borrowed(key)
    }
}

impl<R: metrics::Recorder> metrics::Recorder for PrometheusNames<R> {
    fn describe_counter(
        &self,
        key: metrics::KeyName,
        unit: Option<metrics::Unit>,
        description: metrics::SharedString,
    ) {
        self.0.describe_counter(key, unit, description)
    }
    fn describe_gauge(
        &self,
        key: metrics::KeyName,
        unit: Option<metrics::Unit>,
        description: metrics::SharedString,
    ) {
        let key = if key.as_str() == n::CONNECTION_COUNT {
            metrics::KeyName::from_const_str(CONNECTION_USAGE)
        } else {
            key
        };
        self.0.describe_gauge(key, unit, description)
    }
    fn describe_histogram(
        &self,
        key: metrics::KeyName,
        unit: Option<metrics::Unit>,
        description: metrics::SharedString,
    ) {
        self.0.describe_histogram(key, unit, description)
    }
    fn register_counter(
        &self,
        key: &metrics::Key,
        metadata: &metrics::Metadata<'_>,
    ) -> metrics::Counter {
        self.0.register_counter(key, metadata)
    }
    fn register_gauge(
        &self,
        key: &metrics::Key,
        metadata: &metrics::Metadata<'_>,
    ) -> metrics::Gauge {
        self.0.register_gauge(&renamed(key), metadata)
    }
    fn register_histogram(
        &self,
        key: &metrics::Key,
        metadata: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        self.0.register_histogram(key, metadata)
    }
}

/// Queries, an occasional error, a batch, a COPY and some contention.
async fn workload(pool: Pool) {
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    for round in 0u64.. {
        tick.tick().await;
        let Ok(c) = pool.acquire().await else {
            continue;
        };
        let _ = c.query_one("SELECT $1::int8 * 2", &[&(round as i64)]).await;
        if round % 10 == 0 {
            let _ = c.execute("SELECT 1/0", &[]).await;
        }
        if round % 5 == 0 {
            let mut batch = c.batch();
            batch.push("SELECT 1", &[]);
            batch.push("SELECT 2", &[]);
            let _ = batch.run_atomic().await;
            if let Ok(mut out) = c
                .copy_out("COPY (SELECT generate_series(1, 10)) TO STDOUT")
                .await
            {
                while let Some(Ok(_)) = out.next().await {}
            }
        }
        drop(c);
        // Contention: more concurrent holders than connections.
        let holders: Vec<_> = (0..6)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    if let Ok(c) = pool.acquire().await {
                        let _ = c.execute("SELECT pg_sleep(0.001)", &[]).await;
                    }
                })
            })
            .collect();
        for h in holders {
            let _ = h.await;
        }
    }
}

async fn serve(listener: TcpListener, metrics: PrometheusHandle, pool: Pool) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        let pool = pool.clone();
        tokio::spawn(async move {
            let _ = respond(stream, &metrics, &pool).await;
        });
    }
}

/// Reads one request head and answers it; the connection then closes.
async fn respond(
    mut stream: TcpStream,
    metrics: &PrometheusHandle,
    pool: &Pool,
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
            metrics.run_upkeep();
            let body = metrics.render();
            reply(&mut stream, 200, "text/plain; version=0.0.4", &body).await
        }
        "/healthz" => reply(&mut stream, 200, "text/plain", "ok\n").await,
        "/readyz" => {
            let (status, body) = readiness(pool);
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

/// A GET on this server, for `--scrape-once`.
async fn get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
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
