//! Staleness on a real primary and two streaming replicas: the bound of a
//! caught-up replica while the primary is idle, `max_staleness` keeping a
//! delayed replica out of reads, and a paused replica leaving the eligible
//! set in time and coming back; threshold crossings as events and as what
//! a cluster hook is told. Numbers are printed (`--nocapture`).

mod cluster_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cluster_support::{blocking, builder, id, ports, rig, settled_with};
use pgline::cluster::{
    Cluster, ClusterEvent, Crossing, ReadPolicy, ReadPreference, Staleness, select,
};
use pgline::observe::{ClusterChange, ClusterHook, Hooks};

/// A threshold crossing: which threshold, the node's index, and whether it
/// went above.
type Crossed = (&'static str, usize, bool);

/// A cluster hook that records the threshold crossings it is told of.
#[derive(Clone, Default)]
struct CrossingHook(Arc<Mutex<Vec<Crossed>>>);

impl ClusterHook for CrossingHook {
    fn cluster_change(&self, change: &ClusterChange<'_>) {
        let crossed = match *change {
            ClusterChange::LagThreshold { node, above, .. } => ("lag", node.index, above),
            ClusterChange::StalenessThreshold { node, above, .. } => {
                ("staleness", node.index, above)
            }
            _ => return,
        };
        self.0.lock().unwrap().push(crossed);
    }
}

/// The same crossing as an event says it.
fn crossed(event: &ClusterEvent) -> Option<Crossed> {
    match *event {
        ClusterEvent::LagThresholdCrossed { node, crossing, .. } => {
            Some(("lag", node.index(), crossing == Crossing::Above))
        }
        ClusterEvent::StalenessThresholdCrossed { node, crossing, .. } => {
            Some(("staleness", node.index(), crossing == Crossing::Above))
        }
        _ => None,
    }
}

/// A task that inserts `clock_timestamp()` into `stamps` every 50 ms
/// through the cluster (to the primary) until `stop` is set.
fn writer(cluster: &Cluster, stop: &Arc<AtomicBool>) -> tokio::task::JoinHandle<usize> {
    let cluster = cluster.clone();
    let stop = Arc::clone(stop);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_millis(50));
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            ticks.tick().await;
            cluster
                .execute("INSERT INTO stamps VALUES (clock_timestamp())", &[])
                .await
                .unwrap();
            n += 1;
        }
        n
    })
}

const AGE_SQL: &str =
    "SELECT (extract(epoch FROM clock_timestamp() - max(ts)) * 1000)::float8 FROM stamps";

/// What node `i` serves, read on it directly: the age of its newest stamp
/// in ms.
async fn newest_stamp_age(cluster: &Cluster, i: usize) -> f64 {
    cluster
        .get_node(id(i))
        .await
        .unwrap()
        .query_one(AGE_SQL, &[])
        .await
        .unwrap()
        .get(0)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caught_up_replicas_stay_within_one_interval_while_the_primary_is_idle() {
    let rig = rig();
    let interval = Duration::from_secs(1);
    let cluster = builder(&rig, &ports(&rig))
        .monitor_interval(interval)
        .connect()
        .await
        .unwrap();
    settled_with(&cluster, 0, &[1, 2], |t| !t.samples().is_empty()).await;
    blocking(|| rig.wait_all_replayed().unwrap());
    // 10 s of an idle primary, the bound read every 20 ms. A background
    // record (xl_running_xacts) moves the primary's position now and then;
    // the replicas are not caught up until their next probe, so the window
    // restarts when the primary's sampled position moves.
    let mut start = Instant::now();
    let mut lsn = cluster.topology().samples().latest().unwrap().lsn;
    let mut worst = [Duration::ZERO; 2];
    let mut restarts = 0;
    while start.elapsed() < Duration::from_secs(10) {
        let topo = cluster.topology();
        let now = Instant::now();
        let latest = topo.samples().latest().unwrap().lsn;
        if latest != lsn {
            lsn = latest;
            restarts += 1;
            start = now;
            worst = [Duration::ZERO; 2];
            tokio::time::sleep(2 * interval).await;
            continue;
        }
        for r in 1..=2 {
            match topo.staleness(id(r), now) {
                Staleness::AtMost(bound) => worst[r - 1] = worst[r - 1].max(bound),
                other => panic!("R{r}: {other:?}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let topo = cluster.topology();
    let rtt = [0, 1, 2].map(|i| topo.node(id(i)).unwrap().rtt.estimate().unwrap());
    let round_trip = rtt.into_iter().max().unwrap();
    println!(
        "idle 10 s (window restarts {restarts}): worst bound R1 {:?} R2 {:?}; \
         interval {interval:?}, probe RTT P {:?} R1 {:?} R2 {:?}",
        worst[0], worst[1], rtt[0], rtt[1], rtt[2]
    );
    // The bound is interval + one probe round trip; the timer that
    // paces the probes runs on a shared 2-core box, where a loaded run was
    // seen 24.7 ms late (with 2.0 ms RTT), so a tenth of the interval of
    // scheduling slack on top: still far below a second interval.
    let bound = interval + round_trip + interval / 10;
    for (r, w) in worst.iter().enumerate() {
        assert!(*w <= bound, "R{}: {w:?} > {bound:?}", r + 1);
        assert!(
            *w >= interval / 2,
            "R{}: the bound ages between probes",
            r + 1
        );
    }
    cluster.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_staleness_keeps_a_delayed_replica_out_of_reads() {
    let mut rig = rig();
    let interval = Duration::from_millis(250);
    let max_staleness = Duration::from_secs(1);
    let hook = CrossingHook::default();
    let cluster = builder(&rig, &ports(&rig))
        .monitor_interval(interval)
        .lag_threshold_bytes(Some(1024))
        .staleness_threshold(Some(Duration::from_secs(2)))
        .hooks(Hooks::new().cluster(hook.clone()))
        .connect()
        .await
        .unwrap();
    settled_with(&cluster, 0, &[1, 2], |t| !t.samples().is_empty()).await;
    let mut events = cluster.subscribe();
    cluster
        .execute("CREATE TABLE stamps (ts timestamptz)", &[])
        .await
        .unwrap();
    cluster
        .execute("INSERT INTO stamps VALUES (clock_timestamp())", &[])
        .await
        .unwrap();
    blocking(|| {
        rig.wait_all_replayed().unwrap();
        rig.set_apply_delay(2, Duration::from_secs(3)).unwrap();
    });
    let stop = Arc::new(AtomicBool::new(false));
    let writes = writer(&cluster, &stop);
    // Let R2 fall 3 s behind, as it would in steady state.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let policy = ReadPreference::ReplicaPreferred.with_max_staleness(max_staleness);
    let mut per_node = [0usize; 3];
    let mut ages = Vec::with_capacity(500);
    for _ in 0..500 {
        let conn = cluster.get(policy).await.unwrap();
        let age: f64 = conn.query_one(AGE_SQL, &[]).await.unwrap().get(0).unwrap();
        per_node[conn.node().index()] += 1;
        ages.push(age);
        drop(conn);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Without the bound, what R2 serves.
    let r2_age: f64 = newest_stamp_age(&cluster, 2).await;
    stop.store(true, Ordering::Relaxed);
    let written = writes.await.unwrap();
    ages.sort_by(f64::total_cmp);
    // A read is older than 1 s when it misses a stamp committed more than
    // 1 s ago; stamps are 50 ms apart, so its newest stamp is then older
    // than 1.05 s.
    let too_old = ages.iter().filter(|&&a| a > 1050.0).count();
    let staleness = |i| cluster.staleness(id(i));
    println!(
        "{written} stamps written; 500 reads with max_staleness 1 s: P {} R1 {} R2 {}; \
         newest-stamp age p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; older than 1 s: {too_old}; \
         R2 read directly: {r2_age:.0} ms old; bounds now R1 {:?} R2 {:?}",
        per_node[0],
        per_node[1],
        per_node[2],
        ages[250],
        ages[495],
        ages[499],
        staleness(1),
        staleness(2),
    );
    // Threshold events: R2 crossed both thresholds; R1 no staleness one.
    let mut crossings = Vec::new();
    while let Ok(e) = events.try_recv() {
        match e {
            ClusterEvent::LagThresholdCrossed { .. }
            | ClusterEvent::StalenessThresholdCrossed { .. } => crossings.push(e),
            _ => {}
        }
    }
    println!("threshold events (lag 1 kB, staleness 2 s): {crossings:?}");
    // The hook is told of every crossing, in the events' order; it hears
    // from the start, the subscription only since the table was made.
    let told = hook.0.lock().unwrap().clone();
    let published: Vec<Crossed> = crossings.iter().filter_map(crossed).collect();
    println!("the cluster hook was told: {told:?}");
    assert!(told.ends_with(&published), "{told:?} vs {published:?}");
    assert!(told.contains(&("lag", 2, true)), "{told:?}");
    assert!(told.contains(&("staleness", 2, true)), "{told:?}");
    assert!(
        !told
            .iter()
            .any(|&(what, node, _)| what == "staleness" && node == 1)
    );
    assert!(crossings.iter().any(|e| matches!(
        e,
        ClusterEvent::StalenessThresholdCrossed { node, crossing: Crossing::Above, .. } if *node == id(2)
    )));
    assert!(crossings.iter().any(|e| matches!(
        e,
        ClusterEvent::LagThresholdCrossed { node, crossing: Crossing::Above, .. } if *node == id(2)
    )));
    assert!(!crossings.iter().any(|e| matches!(
        e,
        ClusterEvent::StalenessThresholdCrossed { node, .. } if *node == id(1)
    )));
    assert_eq!(too_old, 0);
    assert_eq!(per_node[2], 0, "R2 is 3 s behind");
    assert!(r2_age > 2000.0, "R2 really lags: {r2_age} ms");
    cluster.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_replica_leaves_before_its_bound_and_comes_back() {
    let mut rig = rig();
    let interval = Duration::from_millis(250);
    let max_staleness = Duration::from_secs(1);
    let cluster = builder(&rig, &ports(&rig))
        .monitor_interval(interval)
        .connect()
        .await
        .unwrap();
    settled_with(&cluster, 0, &[1, 2], |t| !t.samples().is_empty()).await;
    cluster
        .execute("CREATE TABLE stamps (ts timestamptz)", &[])
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writes = writer(&cluster, &stop);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let policy: ReadPolicy = ReadPreference::ReplicaOnly.with_max_staleness(max_staleness);
    let eligible = |cluster: &Cluster| {
        let mut out = Vec::new();
        let _ = select::eligible(&cluster.topology(), &policy, Instant::now(), &mut out);
        out.iter().any(|c| c.node == id(1))
    };
    assert!(eligible(&cluster), "R1 eligible before the pause");

    let before_pause = Instant::now();
    blocking(|| rig.pause_replay(1).unwrap());
    let paused = Instant::now();
    while eligible(&cluster) {
        assert!(paused.elapsed() < Duration::from_secs(5), "R1 never left");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let left = Instant::now();
    // What R1 serves at that moment: the age of its newest stamp.
    let age: f64 = newest_stamp_age(&cluster, 1).await;
    println!(
        "pause_replay took {:?}; R1 left the eligible set {:?} after it returned \
         ({:?} after it was called); R1's newest stamp then {age:.0} ms old",
        paused - before_pause,
        left - paused,
        left - before_pause,
    );
    // Replay stopped after `before_pause` and before `paused`: its true
    // staleness reaches 1 s no earlier than `before_pause + 1 s`.
    assert!(left <= paused + max_staleness, "left in time");
    assert!(
        age <= 1000.0 + 50.0 + 50.0,
        "left before serving data older than the bound (+ one stamp period, + the read)"
    );

    let before_resume = Instant::now();
    blocking(|| rig.resume_replay(1).unwrap());
    let resumed = Instant::now();
    while !eligible(&cluster) {
        assert!(
            resumed.elapsed() < Duration::from_secs(5),
            "R1 never came back"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let back = resumed.elapsed();
    println!(
        "resume_replay took {:?}; R1 back {back:?} after it returned (3 intervals = {:?})",
        resumed - before_resume,
        3 * interval
    );
    assert!(back <= 3 * interval, "back within 3 intervals: {back:?}");
    stop.store(true, Ordering::Relaxed);
    writes.await.unwrap();
    cluster.close().await;
}
