//! The cluster hook on a real primary and two streaming replicas, read
//! back through `metrics-util`'s debugging recorder: node roles, up, lag
//! and staleness, routing and rejections by reason, a retry by class, and
//! a failover (the primary killed, R1 promoted) with its role changes and
//! failover count. The same run serves the observability example's own
//! HTTP handler (`examples/observability/http.rs`) and times its `/readyz`
//! over HTTP: 503 within 2 s of the kill, 200 within 1 s of the promotion.
//! Numbers are printed (`--nocapture`).
#![cfg(all(feature = "runtime", feature = "metrics"))]

mod cluster_support;
#[allow(dead_code)]
#[path = "../examples/observability/http.rs"]
mod http;
mod recorder_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster_support::{blocking, builder, id, ports, rig, settled_with};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use pgline::cluster::{
    Balancer, Cluster, ClusterError, ClusterEvent, FailoverConfig, FailoverEvent, ReadPreference,
};
use pgline::observe::{Hooks, Metrics, metric_names as n};
use pgline_testkit::StopMode;
use recorder_support::{Series, labels, series};

const INTERVAL: Duration = Duration::from_millis(250);
const SLOW_READ: &str = "SELECT inet_server_port() FROM pg_sleep(1)";

/// The value of one series, or `None` when it does not exist.
fn value(s: &Series, kind: &str, name: &str, pairs: &[(&str, &str)]) -> Option<f64> {
    match s.get(&(kind.to_owned(), name.to_owned(), labels(pairs)))? {
        DebugValue::Counter(c) => Some(*c as f64),
        DebugValue::Gauge(g) => Some(g.into_inner()),
        DebugValue::Histogram(h) => Some(h.len() as f64),
    }
}

/// Serves the example's HTTP handler for `cluster` on a free port.
async fn serve_readyz(cluster: &Cluster) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let ready = http::Readiness::Cluster(cluster.clone(), false);
    tokio::spawn(http::serve(listener, Arc::new(String::new), ready));
    addr
}

/// `GET /readyz`: the status and the body.
async fn readyz(addr: SocketAddr) -> (u16, String) {
    http::get(addr, "/readyz").await.unwrap()
}

/// Polls `GET /readyz` every 5 ms until it answers `status`; returns when
/// that answer arrived, and its body.
async fn readyz_becomes(
    addr: SocketAddr,
    status: u16,
    limit: Duration,
) -> Option<(Instant, String)> {
    let started = Instant::now();
    while started.elapsed() < limit {
        let (got, body) = readyz(addr).await;
        if got == status {
            return Some((Instant::now(), body));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_metrics_and_readiness_follow_a_failover() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this test binary");

    let mut rig = rig();
    let p = ports(&rig);
    let port = |i: usize| p[i].to_string();
    let failover = FailoverConfig {
        primary_wait: Duration::from_secs(1),
        ..FailoverConfig::default()
    };
    let cluster = builder(&rig, &p)
        .monitor_interval(INTERVAL)
        .balancer(Balancer::RoundRobin)
        .failover(failover)
        .retry_once(true)
        .hooks(Hooks::new().all(Metrics::new()))
        .connect()
        .await
        .unwrap();
    settled_with(&cluster, 0, &[1, 2], |t| {
        t.nodes()[1..].iter().all(|n| n.lsn.is_some())
    })
    .await;
    // One more round, so every node's sample follows the election.
    cluster.wait_for_probe(Duration::from_secs(2)).await;
    assert_eq!(cluster.readiness(false).http_status(), 200);
    let http = serve_readyz(&cluster).await;
    let (status, body) = readyz(http).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("{\"ready\":true,\"primary\":0,"), "{body}");

    // Routing: 2 writes to the primary, 4 reads over the two replicas.
    cluster
        .execute("CREATE TABLE obs_cluster (id int)", &[])
        .await
        .unwrap();
    cluster
        .execute("INSERT INTO obs_cluster VALUES (1)", &[])
        .await
        .unwrap();
    for _ in 0..4 {
        cluster
            .route(ReadPreference::ReplicaOnly)
            .query_one("SELECT 1", &[])
            .await
            .unwrap();
    }
    // A retry: a replica read whose backend is terminated while it runs
    // (outcome unknown, read-only: run again on the other replica).
    let read = {
        let cluster = cluster.clone();
        tokio::spawn(async move {
            cluster
                .route(ReadPreference::ReplicaOnly)
                .query_one(SLOW_READ, &[])
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    blocking(|| {
        let sql = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                   WHERE query LIKE 'SELECT inet_server_port() FROM pg_sleep%' \
                   AND pid <> pg_backend_pid()";
        assert!(
            [1, 2]
                .iter()
                .any(|&n| rig.node(n).psql(sql).unwrap() != "0"),
            "the slow read ran on a replica"
        );
    });
    read.await.unwrap().expect("retried on the other replica");
    cluster.wait_for_probe(Duration::from_secs(2)).await;

    let before = series(&snapshotter);
    let node = |i: usize, extra: &[(&'static str, &'static str)]| {
        let mut v = vec![
            (n::SERVER_ADDRESS, "127.0.0.1".to_owned()),
            (n::SERVER_PORT, port(i)),
        ];
        v.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        v
    };
    let get = |s: &Series, kind: &str, name: &str, l: Vec<(&str, String)>| {
        let l: Vec<(&str, &str)> = l.iter().map(|(k, v)| (*k, v.as_str())).collect();
        value(s, kind, name, &l)
    };
    let role = |s: &Series, i: usize, r: &'static str| {
        get(
            s,
            "gauge",
            n::CLUSTER_NODE_ROLE,
            node(i, &[(n::CLUSTER_ROLE, r)]),
        )
    };
    for (i, expected) in [(0, "primary"), (1, "standby"), (2, "standby")] {
        for r in ["primary", "standby", "fenced", "down", "unknown"] {
            let want = f64::from(u8::from(r == expected));
            assert_eq!(role(&before, i, r), Some(want), "node {i} role {r}");
        }
        assert_eq!(
            get(&before, "gauge", n::CLUSTER_NODE_UP, node(i, &[])),
            Some(1.0)
        );
    }
    assert_eq!(
        get(&before, "gauge", n::CLUSTER_NODE_LAG, node(0, &[])),
        Some(0.0)
    );
    assert_eq!(
        get(&before, "gauge", n::CLUSTER_NODE_STALENESS, node(0, &[])),
        Some(0.0)
    );
    let mut lags = Vec::new();
    for i in [1, 2] {
        let lag = get(&before, "gauge", n::CLUSTER_NODE_LAG, node(i, &[])).unwrap();
        let stale = get(&before, "gauge", n::CLUSTER_NODE_STALENESS, node(i, &[])).unwrap();
        assert!(
            lag >= 0.0 && (0.0..5.0).contains(&stale),
            "node {i}: {lag} {stale}"
        );
        lags.push((lag, stale));
    }
    let routed = |s: &Series, i: usize, pref: &'static str, r: &'static str| {
        get(
            s,
            "counter",
            n::CLUSTER_ROUTED,
            node(
                i,
                &[(n::CLUSTER_READ_PREFERENCE, pref), (n::CLUSTER_ROLE, r)],
            ),
        )
        .unwrap_or(0.0)
    };
    assert_eq!(routed(&before, 0, "primary", "primary"), 2.0);
    // 4 reads, the slow read and its retry, over the two replicas.
    let replica_reads = routed(&before, 1, "replica-only", "standby")
        + routed(&before, 2, "replica-only", "standby");
    assert_eq!(replica_reads, 6.0);
    assert_eq!(
        value(
            &before,
            "counter",
            n::RETRIES,
            &[(n::RETRY_CLASS, "outcome_unknown")]
        ),
        Some(1.0)
    );
    let changes = |s: &Series, c: &str| {
        value(s, "counter", n::CLUSTER_CHANGES, &[(n::CLUSTER_CHANGE, c)]).unwrap_or(0.0)
    };
    assert_eq!(
        changes(&before, "primary_elected"),
        1.0,
        "the first election"
    );
    assert_eq!(changes(&before, "primary_lost"), 0.0);
    assert_eq!(
        get(&before, "counter", n::CLUSTER_FAILOVERS, node(0, &[])),
        Some(0.0),
        "no failover yet, but the series exists"
    );
    assert_eq!(
        value(
            &before,
            "counter",
            n::RETRIES,
            &[(n::RETRY_CLASS, "not_executed")]
        ),
        Some(0.0)
    );
    println!(
        "settled: replica lag/staleness {lags:?}; reads per replica {} / {}",
        routed(&before, 1, "replica-only", "standby"),
        routed(&before, 2, "replica-only", "standby")
    );

    // The failover: P killed, a write rejected for want of a primary, R1
    // promoted.
    let mut events = cluster.subscribe();
    let kill_called = Instant::now();
    blocking(|| rig.stop(0, StopMode::Immediate).unwrap());
    let killed = Instant::now();
    let (not_ready, body) = readyz_becomes(http, 503, Duration::from_secs(5))
        .await
        .expect("/readyz turns 503");
    let err = cluster
        .execute("INSERT INTO obs_cluster VALUES (2)", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            ClusterError::of(&err),
            Some(ClusterError::NoEligibleNode { .. })
        ),
        "{err}"
    );
    blocking(|| rig.promote(1).unwrap());
    let promoted = Instant::now();
    let (ready, _) = readyz_becomes(http, 200, Duration::from_secs(5))
        .await
        .expect("/readyz turns 200");
    let elected = loop {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
            Ok(Ok(ClusterEvent::Failover(FailoverEvent::PrimaryElected { node, .. }))) => {
                assert_eq!(node, id(1));
                break Instant::now();
            }
            Ok(Ok(_)) => {}
            other => panic!("no election: {other:?}"),
        }
    };
    let to_503 = not_ready - killed;
    let to_200 = ready.saturating_duration_since(promoted);
    println!(
        "/readyz: 503 {:.1} ms after the immediate stop returned ({:.1} ms after it was \
         called); body {body}",
        to_503.as_secs_f64() * 1e3,
        (not_ready - kill_called).as_secs_f64() * 1e3,
    );
    println!(
        "/readyz: 200 {:.1} ms after pg_promote(R1) returned (PrimaryElected seen {:.1} ms \
         after it); the write in between failed with: {err}",
        to_200.as_secs_f64() * 1e3,
        elected.saturating_duration_since(promoted).as_secs_f64() * 1e3,
    );
    assert!(
        body.starts_with("{\"ready\":false,\"primary\":null,"),
        "{body}"
    );
    assert!(body.contains("\"role\":\"down\""), "{body}");
    assert!(to_503 <= Duration::from_secs(2), "503 after {to_503:?}");
    assert!(to_200 <= Duration::from_secs(1), "200 after {to_200:?}");

    cluster.wait_for_probe(Duration::from_secs(2)).await;
    let after = series(&snapshotter);
    assert_eq!(role(&after, 0, "down"), Some(1.0));
    assert_eq!(role(&after, 0, "primary"), Some(0.0));
    assert_eq!(role(&after, 1, "primary"), Some(1.0));
    assert_eq!(role(&after, 1, "standby"), Some(0.0));
    assert_eq!(
        get(&after, "gauge", n::CLUSTER_NODE_UP, node(0, &[])),
        Some(0.0)
    );
    assert!(
        get(&after, "gauge", n::CLUSTER_NODE_LAG, node(0, &[]))
            .unwrap()
            .is_nan(),
        "a down node's lag is unknown"
    );
    assert_eq!(
        get(&after, "counter", n::CLUSTER_FAILOVERS, node(1, &[])),
        Some(1.0)
    );
    assert_eq!(
        get(&after, "counter", n::CLUSTER_ROLE_CHANGES, node(1, &[])),
        Some(1.0),
        "R1: standby to primary"
    );
    // A snapshot drains the counters: these are the counts since `before`.
    let all: Vec<_> = after
        .iter()
        .filter(|(k, _)| k.1 == n::CLUSTER_CHANGES)
        .map(|(k, v)| (k.2[0].1.clone(), v))
        .collect();
    println!("changes during the failover: {all:?}");
    assert_eq!(changes(&after, "primary_lost"), 1.0);
    assert_eq!(changes(&after, "primary_elected"), 1.0);
    assert_eq!(changes(&after, "no_primary"), 1.0, "primary_wait is 1 s");
    assert!(changes(&after, "node_down") >= 1.0);
    assert_eq!(
        value(
            &after,
            "counter",
            n::CLUSTER_REJECTED,
            &[
                (n::CLUSTER_READ_PREFERENCE, "primary"),
                (n::CLUSTER_REASON, "no_primary")
            ]
        ),
        Some(1.0)
    );
    // Every cluster series is labelled by node, preference, role, reason,
    // change or retry class: nothing else.
    let allowed = [
        n::SERVER_ADDRESS,
        n::SERVER_PORT,
        n::CLUSTER_ROLE,
        n::CLUSTER_READ_PREFERENCE,
        n::CLUSTER_REASON,
        n::CLUSTER_CHANGE,
        n::RETRY_CLASS,
    ];
    let cluster_series: Vec<_> = after
        .keys()
        .filter(|k| k.1.starts_with("pgline.cluster.") || k.1 == n::RETRIES)
        .collect();
    assert!(cluster_series.len() > 20);
    for (_, name, l) in cluster_series {
        assert!(
            l.iter().all(|(k, _)| allowed.contains(&k.as_str())),
            "{name}: {l:?}"
        );
    }
    cluster.close().await;
}
