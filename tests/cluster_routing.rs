//! A `Cluster` over a real primary and two streaming replicas: routing by
//! each read preference, the settings the pure core refuses, the typed
//! error of `ReplicaOnly` with no replica and its timing, zones, and the
//! least-in-flight and latency-aware balancers under load and latency.
//! Counts and timings are printed (`--nocapture`).

mod cluster_support;

use std::time::{Duration, Instant};

use cluster_support::{
    DelayProxy, blocking, builder, id, ports, rig, settled, settled_cluster, settled_with,
};
use pgline::cluster::{Balancer, Cluster, ClusterError, NoEligibleNode, ReadPreference};
use pgline::error::ErrorKind;
use pgline_testkit::StopMode;

const INTERVAL: Duration = Duration::from_millis(250);

/// Waits until the monitor has seen `primary` as primary and every node in
/// `standbys` as an up standby.
/// Runs `n` reads through `preference` and counts where they landed.
/// Node `i` of every cluster here is node `i` of the rig, through a proxy
/// or not; `rig_ports` are the servers' own ports.
async fn spread(
    cluster: &Cluster,
    rig_ports: &[u16],
    preference: ReadPreference,
    n: usize,
) -> [usize; 3] {
    let mut counts = [0; 3];
    for _ in 0..n {
        let conn = cluster.route(preference).get().await.unwrap();
        let port: i32 = conn
            .query_one("SELECT inet_server_port()", &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        let node = rig_ports
            .iter()
            .position(|&p| i32::from(p) == port)
            .expect("a cluster port");
        assert_eq!(node, conn.node().index(), "the checkout names its node");
        counts[node] += 1;
    }
    counts
}

/// `n` reads through `preference` by `tasks` concurrent tasks, so nodes
/// carry requests in flight; counts where they landed.
async fn spread_concurrent(
    cluster: &Cluster,
    rig_ports: &[u16],
    preference: ReadPreference,
    n: usize,
    tasks: usize,
) -> [usize; 3] {
    let mut set = tokio::task::JoinSet::new();
    for t in 0..tasks {
        let cluster = cluster.clone();
        let rig_ports = rig_ports.to_vec();
        let share = n / tasks + usize::from(t < n % tasks);
        set.spawn(async move { spread(&cluster, &rig_ports, preference, share).await });
    }
    let mut counts = [0; 3];
    while let Some(part) = set.join_next().await {
        for (c, p) in counts.iter_mut().zip(part.unwrap()) {
            *c += p;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_preference_routes_to_its_nodes() {
    let rig = rig();
    let rp = ports(&rig);
    let cluster = builder(&rig, &ports(&rig))
        .balancer(Balancer::RoundRobin)
        .monitor_interval(INTERVAL)
        .connect()
        .await
        .unwrap();
    settled(&cluster).await;
    println!("{:<18} {:>4} {:>4} {:>4}", "preference", "P", "R1", "R2");
    for preference in ReadPreference::ALL {
        let counts = spread(&cluster, &rp, preference, 60).await;
        println!(
            "{:<18} {:>4} {:>4} {:>4}",
            preference.name(),
            counts[0],
            counts[1],
            counts[2]
        );
        match preference {
            ReadPreference::Primary | ReadPreference::PrimaryPreferred => {
                assert_eq!(counts, [60, 0, 0], "{preference}");
            }
            ReadPreference::ReplicaPreferred | ReadPreference::ReplicaOnly => {
                // Round-robin over the two replicas: exact to one.
                assert_eq!(counts, [0, 30, 30], "{preference}");
            }
            _ => assert_eq!(counts, [20, 20, 20], "{preference}"),
        }
    }
    // The helpers: reads by the cluster's policy (Primary by default),
    // writes always to the primary.
    cluster
        .execute("CREATE TABLE routed (id int)", &[])
        .await
        .unwrap();
    let in_recovery: bool = cluster
        .route(ReadPreference::ReplicaOnly)
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert!(in_recovery);
    let stats = cluster.stats();
    println!("stats: {stats:?}");
    assert_eq!(stats.primary_checkouts_on_standby, 0);
    assert_eq!(stats.checkouts.iter().sum::<u64>(), 60 * 5 + 2);
    cluster.close().await;
    assert!(cluster.is_closed());
    let err = cluster.primary().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_settings_are_config_errors() {
    let rig = rig();
    let mut b = builder(&rig, &ports(&rig));
    b.monitor_interval(Duration::from_millis(100));
    let err = b.connect().await.unwrap_err();
    println!("monitor_interval 100 ms: {err}");
    assert_eq!(err.kind(), ErrorKind::Config);

    let mut b = builder(&rig, &ports(&rig));
    b.max_staleness(Some(Duration::from_secs(10)));
    let err = b.connect().await.unwrap_err();
    println!("max_staleness with primary: {err}");
    assert_eq!(err.kind(), ErrorKind::Config);

    let cluster = builder(&rig, &ports(&rig)).connect().await.unwrap();
    for (policy, what) in [
        (
            ReadPreference::Primary.with_max_staleness(Duration::from_secs(10)),
            "with primary",
        ),
        (
            ReadPreference::ReplicaOnly.with_max_staleness(Duration::from_secs(2)),
            "below 3 intervals",
        ),
    ] {
        let started = Instant::now();
        let err = cluster.get(policy).await.unwrap_err();
        println!("per call, {what}: {err} (after {:?})", started.elapsed());
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "refused at once"
        );
    }
    cluster.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_only_without_replicas_fails_typed_within_the_selection_timeout() {
    let mut rig = rig();
    let cluster = settled_cluster(&rig, INTERVAL).await;
    blocking(|| {
        rig.stop(1, StopMode::Fast).unwrap();
        rig.stop(2, StopMode::Fast).unwrap();
    });
    // The monitor notices within a probe or two.
    let started = Instant::now();
    while cluster.topology().nodes()[1..].iter().any(|n| n.up) {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("replicas seen down {:?} after the stop", started.elapsed());
    for timeout in [Duration::from_secs(2), Duration::from_millis(500)] {
        let cluster = if timeout == Duration::from_secs(2) {
            cluster.clone()
        } else {
            let c = builder(&rig, &ports(&rig))
                .monitor_interval(INTERVAL)
                .selection_timeout(timeout)
                .connect()
                .await
                .unwrap();
            settled_with(&c, 0, &[], |_| true).await;
            c
        };
        let started = Instant::now();
        let err = cluster.replica().await.unwrap_err();
        let took = started.elapsed();
        println!("selection_timeout {timeout:?}: failed after {took:?}: {err}");
        assert_eq!(err.kind(), ErrorKind::Timeout);
        match ClusterError::of(&err) {
            Some(ClusterError::NoEligibleNode {
                reason, preference, ..
            }) => {
                assert_eq!(*reason, NoEligibleNode::NoReplica);
                assert_eq!(*preference, ReadPreference::ReplicaOnly);
            }
            other => panic!("not a typed cluster error: {other:?}"),
        }
        assert!(took >= timeout, "waited the whole timeout");
        assert!(took < timeout + Duration::from_millis(500), "{took:?}");
        // The primary still serves the preferences that allow it.
        let conn = cluster.get(ReadPreference::ReplicaPreferred).await.unwrap();
        assert_eq!(conn.node(), id(0));
    }
    cluster.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_zone_reads_never_cross_while_it_has_a_node() {
    let mut rig = rig();
    let rp = ports(&rig);
    let p = ports(&rig);
    // Zone a: R1, direct. Zone b: P and R2, 20 ms away.
    let far_p = DelayProxy::start(p[0], Duration::from_millis(20)).await;
    let far_r2 = DelayProxy::start(p[2], Duration::from_millis(20)).await;
    let cluster = builder(&rig, &[far_p.port, p[1], far_r2.port])
        .monitor_interval(INTERVAL)
        .balancer(Balancer::RoundRobin)
        .host_zone(0, "b")
        .host_zone(1, "a")
        .host_zone(2, "b")
        .local_zone("a")
        .connect()
        .await
        .unwrap();
    settled(&cluster).await;
    for preference in [ReadPreference::Nearest, ReadPreference::ReplicaPreferred] {
        let counts = spread(&cluster, &rp, preference, 100).await;
        println!(
            "{preference}, zone a up: P {} R1 {} R2 {}",
            counts[0], counts[1], counts[2]
        );
        assert_eq!(counts, [0, 100, 0], "{preference} stayed in zone a");
    }
    let rtt = |i: usize| cluster.topology().node(id(i)).unwrap().rtt.estimate();
    println!("probe RTT: P {:?} R1 {:?} R2 {:?}", rtt(0), rtt(1), rtt(2));
    blocking(|| rig.stop(1, StopMode::Fast).unwrap());
    let started = Instant::now();
    while cluster.topology().node(id(1)).unwrap().up {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (preference, expected) in [
        (ReadPreference::Nearest, [50, 0, 50]),
        (ReadPreference::ReplicaPreferred, [0, 0, 100]),
    ] {
        let counts = spread(&cluster, &rp, preference, 100).await;
        println!(
            "{preference}, zone a down: P {} R1 {} R2 {}",
            counts[0], counts[1], counts[2]
        );
        assert_eq!(counts, expected, "{preference} crossed to zone b");
    }
    cluster.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_in_flight_avoids_a_loaded_replica() {
    let rig = rig();
    let rp = ports(&rig);
    let cluster = builder(&rig, &ports(&rig))
        .monitor_interval(INTERVAL)
        .balancer(Balancer::LeastInFlight)
        .pool(|p| {
            p.max_size(16);
        })
        .connect()
        .await
        .unwrap();
    settled(&cluster).await;
    let mut sleepers = Vec::new();
    for _ in 0..8 {
        let conn = cluster.get_node(id(1)).await.unwrap();
        sleepers.push(tokio::spawn(async move {
            conn.batch_execute("SELECT pg_sleep(2)").await.unwrap();
        }));
    }
    let started = Instant::now();
    let counts = spread(&cluster, &rp, ReadPreference::ReplicaOnly, 100).await;
    println!(
        "8 x pg_sleep(2) on R1; 100 short reads in {:?}: R1 {} R2 {}",
        started.elapsed(),
        counts[1],
        counts[2]
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "reads ran while R1 was loaded"
    );
    assert!(counts[2] >= 95, "{counts:?}");
    for s in sleepers {
        s.await.unwrap();
    }
    cluster.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_aware_moves_reads_off_a_slow_replica() {
    let rig = rig();
    let rp = ports(&rig);
    let p = ports(&rig);
    let r1 = DelayProxy::start(p[1], Duration::ZERO).await;
    let cluster = builder(&rig, &[p[0], r1.port, p[2]])
        .monitor_interval(INTERVAL)
        .balancer(Balancer::LatencyAware {
            window: Duration::from_millis(15),
        })
        .connect()
        .await
        .unwrap();
    settled(&cluster).await;
    let before = spread_concurrent(&cluster, &rp, ReadPreference::ReplicaOnly, 100, 4).await;
    let rtt = |i: usize| cluster.topology().node(id(i)).unwrap().rtt;
    // Four readers at once: in-flight counts differ, and the power of two
    // choices spreads them over both replicas while both are in the window.
    println!(
        "no added latency (RTT R1 {:?}, R2 {:?}): R1 {} R2 {}",
        rtt(1).estimate(),
        rtt(2).estimate(),
        before[1],
        before[2]
    );
    assert_eq!(before[1] + before[2], 100);
    assert!(before[1] > 0 && before[2] > 0, "both used: {before:?}");

    r1.set_delay(Duration::from_millis(50));
    let samples_before = rtt(1).samples();
    // Reads go on while the estimate moves; 20 reads per probe interval.
    let after_20 = loop {
        let samples = rtt(1).samples() - samples_before;
        if samples >= 20 {
            break spread_concurrent(&cluster, &rp, ReadPreference::ReplicaOnly, 100, 4).await;
        }
        let counts = spread_concurrent(&cluster, &rp, ReadPreference::ReplicaOnly, 20, 4).await;
        println!(
            "after {samples:>2} samples (R1 RTT {:?}): R1 {} R2 {}",
            rtt(1).estimate(),
            counts[1],
            counts[2]
        );
        tokio::time::sleep(INTERVAL).await;
    };
    let after = after_20;
    println!(
        "+50 ms on R1, after 20 samples: R1 {} R2 {}",
        after[1], after[2]
    );
    assert!(after[2] >= 90, "{after:?}");
    cluster.close().await;
}
