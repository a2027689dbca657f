//! A `Cluster` over a primary and its replicas: routing by read
//! preference, staleness-bounded reads, and a role change learned live.
//!
//! Connects to the hosts of `CLUSTER_URL` (e.g.
//! `postgres://me@db1,db2,db3/app`) when it is set, and then only shows
//! routing and staleness; otherwise starts a throwaway primary with two
//! streaming replicas (through `pgline-testkit`), adds a replica that
//! applies the log 2 s late, promotes a replica, and removes it all at the
//! end.
//!
//! ```text
//! cargo run --example replicas
//! CLUSTER_URL=postgres://me@db1,db2,db3/app cargo run --example replicas
//! ```

use std::time::{Duration, Instant};

use pgline::cluster::{Balancer, Cluster, NodeId, ReadPreference, Role, Staleness};
use pgline_testkit::{ReplicaSet, ReplicaSetBuilder, StopMode};

const INTERVAL: Duration = Duration::from_millis(250);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (conninfo, mut rig) = match std::env::var("CLUSTER_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let rig = ReplicaSetBuilder::new().replicas(2).start()?;
            println!(
                "CLUSTER_URL is not set: started a primary and 2 replicas in {:?}",
                rig.startup_time()
            );
            let user = rig.primary().server().superuser().to_owned();
            (
                rig.multi_host_key_value(&[0, 1, 2], &user, None, "postgres"),
                Some(rig),
            )
        }
    };
    let cluster = Cluster::builder(conninfo.parse()?)
        .monitor_interval(INTERVAL)
        .balancer(Balancer::RoundRobin)
        .read_preference(ReadPreference::ReplicaPreferred)
        .connect()
        .await?;
    let mut events = cluster.subscribe();
    wait_for_roles(&cluster).await;
    show_topology(&cluster);

    routing(&cluster).await?;
    staleness(&cluster, rig.as_mut()).await?;
    if let Some(rig) = rig.as_mut() {
        role_change(&cluster, rig).await?;
    }
    println!("\nevents:");
    while let Ok(event) = events.try_recv() {
        println!("  {event:?}");
    }
    cluster.close().await;
    println!("closed");
    Ok(())
}

async fn wait_for_roles(cluster: &Cluster) {
    let started = Instant::now();
    while cluster.topology().primary().is_none() && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // One more round so every replica has a position.
    cluster.wait_for_probe(2 * INTERVAL).await;
}

fn show_topology(cluster: &Cluster) {
    let topo = cluster.topology();
    println!(
        "\n{:<5} {:<8} {:<4} {:>12} {:>10} {:>14}",
        "node", "role", "up", "lag bytes", "rtt", "staleness"
    );
    for id in topo.ids() {
        let node = topo.node(id).expect("listed");
        let staleness = match cluster.staleness(id) {
            Staleness::AtMost(d) => format!("<= {d:.0?}"),
            other => format!("{other:?}"),
        };
        println!(
            "{:<5} {:<8} {:<4} {:>12} {:>10} {:>14}",
            id.to_string(),
            node.role.to_string(),
            node.up,
            topo.lag_bytes(id).map_or("-".into(), |b| b.to_string()),
            node.rtt
                .estimate()
                .map_or("-".into(), |d| format!("{d:.1?}")),
            if Some(id) == topo.primary() {
                "0 (primary)".into()
            } else {
                staleness
            },
        );
    }
}

async fn routing(cluster: &Cluster) -> Result<(), pgline::Error> {
    println!("\n30 reads per preference (round-robin), where they ran:");
    for preference in ReadPreference::ALL {
        let mut counts = vec![0; cluster.len()];
        for _ in 0..30 {
            let conn = cluster.get(preference).await?;
            conn.query_one("SELECT 1", &[]).await?;
            counts[conn.node().index()] += 1;
        }
        println!("  {:<18} {counts:?}", preference.name());
    }
    Ok(())
}

async fn staleness(
    cluster: &Cluster,
    rig: Option<&mut ReplicaSet>,
) -> Result<(), Box<dyn std::error::Error>> {
    cluster
        .batch_execute(
            "DROP TABLE IF EXISTS replicas_demo; CREATE TABLE replicas_demo (ts timestamptz)",
        )
        .await?;
    let delayed = cluster.len() > 2 && rig.is_some();
    if let Some(rig) = rig {
        rig.wait_all_replayed()?;
        rig.set_apply_delay(2, Duration::from_secs(2))?;
        println!("\nnode 2 now applies the log 2 s late");
    }
    // Write for 3 s, then read with a 1 s bound.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        cluster
            .execute("INSERT INTO replicas_demo VALUES (clock_timestamp())", &[])
            .await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    show_topology(cluster);
    let policy = ReadPreference::ReplicaPreferred.with_max_staleness(Duration::from_secs(1));
    let mut counts = vec![0; cluster.len()];
    let mut worst: f64 = 0.0;
    for _ in 0..50 {
        let conn = cluster.get(policy).await?;
        let age: f64 = conn
            .query_one(
                "SELECT (extract(epoch FROM clock_timestamp() - max(ts)) * 1000)::float8 FROM replicas_demo",
                &[],
            )
            .await?
            .get(0)?;
        worst = worst.max(age);
        counts[conn.node().index()] += 1;
    }
    println!(
        "50 reads, replica-preferred with max_staleness 1 s: {counts:?}; newest row at most {worst:.0} ms old{}",
        if delayed { " (node 2 left out)" } else { "" }
    );
    Ok(())
}

async fn role_change(
    cluster: &Cluster,
    rig: &mut ReplicaSet,
) -> Result<(), Box<dyn std::error::Error>> {
    rig.set_apply_delay(2, Duration::ZERO)?;
    rig.wait_all_replayed()?;
    println!("\nstopping the primary (immediate) and promoting node 1");
    rig.stop(0, StopMode::Immediate)?;
    let started = Instant::now();
    rig.promote(1)?;
    let promoted = started.elapsed();
    loop {
        match cluster.primary().await {
            Ok(conn) => {
                conn.execute("INSERT INTO replicas_demo VALUES (clock_timestamp())", &[])
                    .await?;
                println!(
                    "pg_promote returned after {promoted:?}; first write on {} {:?} after the stop",
                    conn.node(),
                    started.elapsed()
                );
                break;
            }
            Err(e) => println!("  write waiting: {e}"),
        }
    }
    let topo = cluster.topology();
    assert_eq!(topo.primary(), Some(NodeId::new(1)));
    assert_eq!(
        topo.node(NodeId::new(1)).map(|n| n.role),
        Some(Role::Primary)
    );
    show_topology(cluster);
    Ok(())
}
