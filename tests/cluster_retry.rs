//! The opt-in retry of the cluster's query helpers on a real primary and
//! two streaming replicas: a read whose backend is terminated while it runs
//! is run again, once, on the other replica; without the option it fails;
//! a write whose backend is terminated is never run again. Numbers are
//! printed (`--nocapture`).

mod cluster_support;

use std::time::{Duration, Instant};

use cluster_support::{blocking, builder, ports, rig, settled};
use pgline::cluster::{Balancer, Cluster, ReadPreference};
use pgline_testkit::ReplicaSet;

const INTERVAL: Duration = Duration::from_millis(250);
const SLOW_READ: &str = "SELECT inet_server_port() FROM pg_sleep(1)";

/// Terminates, on the first of `nodes` where one runs, the backends running
/// `pattern`; returns that node.
fn terminate(rig: &ReplicaSet, nodes: &[usize], pattern: &str) -> Option<usize> {
    let sql = format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE query LIKE '{pattern}%' AND pid <> pg_backend_pid()"
    );
    nodes
        .iter()
        .copied()
        .find(|&n| rig.node(n).psql(&sql).unwrap() != "0")
}

async fn slow_read_with_kill(
    rig: &ReplicaSet,
    cluster: &Cluster,
) -> (Result<i32, pgline::Error>, usize, Duration) {
    let task = {
        let cluster = cluster.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let port = cluster
                .route(ReadPreference::ReplicaOnly)
                .query_one(SLOW_READ, &[])
                .await
                .map(|row| row.get::<i32>(0).unwrap());
            (port, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = blocking(|| terminate(rig, &[1, 2], "SELECT inet_server_port() FROM pg_sleep"))
        .expect("the read ran on a replica");
    let (result, took) = task.await.unwrap();
    (result, killed, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_read_runs_again_once_on_the_other_replica() {
    let rig = rig();
    let p = ports(&rig);
    let with_retry = builder(&rig, &p)
        .monitor_interval(INTERVAL)
        .balancer(Balancer::RoundRobin)
        .retry_once(true)
        .connect()
        .await
        .unwrap();
    settled(&with_retry).await;
    let (result, killed, took) = slow_read_with_kill(&rig, &with_retry).await;
    let port = result.expect("retried");
    let other = if killed == 1 { 2 } else { 1 };
    println!(
        "retry on: the read was killed on node {killed}, ran again on port {port} \
         (node {other} is {}), {took:?} in all; retries {}",
        p[other],
        with_retry.stats().retries
    );
    assert_eq!(port, i32::from(p[other]), "the other replica");
    assert_eq!(with_retry.stats().retries, 1);
    with_retry.close().await;

    let without = builder(&rig, &p)
        .monitor_interval(INTERVAL)
        .balancer(Balancer::RoundRobin)
        .connect()
        .await
        .unwrap();
    settled(&without).await;
    let (result, killed, took) = slow_read_with_kill(&rig, &without).await;
    let err = result.expect_err("no retry without the option");
    println!("retry off: the read killed on node {killed} failed after {took:?}: {err}");
    assert_eq!(without.stats().retries, 0);
    without.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_with_an_unknown_outcome_is_never_run_again() {
    let rig = rig();
    let cluster = builder(&rig, &ports(&rig))
        .monitor_interval(INTERVAL)
        .retry_once(true)
        .connect()
        .await
        .unwrap();
    settled(&cluster).await;
    cluster
        .execute("CREATE TABLE once (id int)", &[])
        .await
        .unwrap();
    let task = {
        let cluster = cluster.clone();
        tokio::spawn(async move {
            cluster
                .execute("INSERT INTO once SELECT 1 FROM pg_sleep(1)", &[])
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = blocking(|| terminate(&rig, &[0], "INSERT INTO once"));
    assert_eq!(killed, Some(0));
    let err = task.await.unwrap().expect_err("the write was killed");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rows: i64 = cluster
        .query_one("SELECT count(*) FROM once", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    println!(
        "write killed while running: {err}; retries {}; rows {rows}",
        cluster.stats().retries
    );
    assert_eq!(cluster.stats().retries, 0);
    assert_eq!(rows, 0, "not run a second time");
    cluster.close().await;
}
