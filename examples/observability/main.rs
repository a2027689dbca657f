//! Observability end to end: a pool with pgline's metrics and span hooks,
//! and a small HTTP server with `/metrics` (Prometheus text), `/healthz`
//! (the process is up) and `/readyz` (200 while the pool can reach its
//! server, else 503 with a JSON body saying why), while a small workload
//! runs.
//!
//! Connects to `DATABASE_URL` when it is set; otherwise starts a throwaway
//! PostgreSQL server (through `pgline-testkit`). With `--rig`, it runs over
//! a primary and two replicas instead (`CLUSTER_URL`, a multi-host
//! connection string, or a throwaway rig): a [`Cluster`] with the same
//! hooks adds the `pgline.cluster.*` metrics, and `/readyz` answers
//! [`Cluster::readiness`]: 200 while a primary is elected (with
//! `--read-only`, while a replica is eligible), else 503 with the nodes,
//! their roles and lag as JSON. Listens on
//! `OBSERVABILITY_ADDR` (default `127.0.0.1:9187`). With `--scrape-once`
//! it runs the workload for a moment, prints one scrape of `/metrics` on
//! stdout and exits (for `promtool check metrics`).
//!
//! ```text
//! cargo run --example observability --features metrics
//! curl -s localhost:9187/metrics; curl -si localhost:9187/readyz
//! cargo run --example observability --features metrics -- --rig
//! cargo run -q --example observability --features metrics -- --scrape-once | promtool check metrics
//! ```
//!
//! Histograms are rendered with OpenTelemetry's suggested buckets
//! ([`DURATION_BUCKETS`]); the exporter is built with default features
//! off: this file serves the text itself.

use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use pgline::cluster::{Cluster, ReadPreference};
use pgline::observe::metric_names::{self as n, DURATION_BUCKETS};
use pgline::observe::{Hooks, Metrics, Spans};
use pgline::pool::Pool;
use pgline_testkit::{ReplicaSet, ReplicaSetBuilder};
use tokio::net::TcpListener;

mod http;

use http::{Readiness, get, serve};

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    let scrape_once = flag("--scrape-once");
    let metrics = install_recorder()?;
    let hooks = Hooks::new().all(Metrics::new()).all(Spans);
    // Connect attempts are made by the connector, from the config.
    let connect_hooks = Hooks::new().connect(Metrics::new()).connect(Spans);
    let mut _rig: Option<ReplicaSet> = None;
    let cluster = if flag("--rig") {
        let conninfo = match std::env::var("CLUSTER_URL") {
            Ok(url) => url,
            Err(_) => {
                let rig = ReplicaSetBuilder::new().replicas(2).start()?;
                eprintln!("CLUSTER_URL is not set: started a primary and 2 replicas");
                let user = rig.primary().server().superuser().to_owned();
                let conninfo = rig.multi_host_key_value(&[0, 1, 2], &user, None, "postgres");
                _rig = Some(rig);
                conninfo
            }
        };
        let mut config: pgline::Config = conninfo.parse()?;
        config.hooks(connect_hooks.clone());
        let cluster = Cluster::builder(config)
            .monitor_interval(Duration::from_millis(250))
            .read_preference(ReadPreference::ReplicaPreferred)
            .retry_once(true)
            .hooks(hooks.clone())
            .connect()
            .await?;
        Some((cluster, flag("--read-only")))
    } else {
        None
    };
    // The pool's server: DATABASE_URL, else the rig's primary, else a
    // throwaway server.
    let rig_primary = _rig.as_ref().map(|rig| {
        let user = rig.primary().server().superuser().to_owned();
        rig.node(0).url(&user, None, "postgres")
    });
    let (url, _server) = match (std::env::var("DATABASE_URL"), rig_primary) {
        (Err(_), Some(url)) => (url, None),
        _ => pgline_testkit::database_url_or_start("observe", "observe-secret", "observe")?,
    };
    if _server.is_some() {
        eprintln!("DATABASE_URL is not set: started a throwaway PostgreSQL server");
    }
    let mut config: pgline::Config = url.parse()?;
    config.hooks(connect_hooks);
    let pool = Pool::builder(config)
        .name("example")
        .max_size(4)
        .min_idle(1)
        .hooks(hooks)
        .connect()
        .await?;
    let ready = match &cluster {
        Some((cluster, read_only)) => Readiness::Cluster(cluster.clone(), *read_only),
        None => Readiness::Pool(pool.clone()),
    };
    let addr = std::env::var("OBSERVABILITY_ADDR").unwrap_or_else(|_| "127.0.0.1:9187".into());
    let listener = TcpListener::bind(&addr).await?;
    let addr = listener.local_addr()?;
    eprintln!("serving /metrics, /healthz and /readyz on http://{addr}");
    let render = {
        let metrics = metrics.clone();
        std::sync::Arc::new(move || {
            metrics.run_upkeep();
            metrics.render()
        })
    };
    tokio::spawn(serve(listener, render, ready));
    let workload = tokio::spawn(workload(pool.clone()));
    if let Some((cluster, _)) = &cluster {
        tokio::spawn(cluster_workload(cluster.clone()));
    }
    if scrape_once {
        tokio::time::sleep(Duration::from_millis(if cluster.is_some() {
            1500
        } else {
            500
        }))
        .await;
        let (status, body) = get(addr, "/metrics").await?;
        if status != 200 {
            return Err(format!("/metrics answered {status}").into());
        }
        print!("{body}");
        workload.abort();
        pool.close(Duration::from_secs(5)).await;
        if let Some((cluster, _)) = cluster {
            cluster.close().await;
        }
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

/// A write and a read through the cluster every 50 ms.
async fn cluster_workload(cluster: Cluster) {
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tick.tick().await;
        let _ = cluster.execute("SELECT 1", &[]).await;
        let _ = cluster.query_one("SELECT 1", &[]).await;
    }
}
