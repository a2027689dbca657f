//! Failover on a real primary and two streaming replicas, through a
//! `Cluster`: the primary is killed under 200 writer tasks and 20 reader
//! tasks, the test promotes R1 and repoints R2, and the cluster elects R1,
//! moves the writes there, loses no acknowledged write (P replicates to
//! R1 synchronously, without which no client could promise that) and
//! duplicates none, while reads keep working; the old primary, rejoined as
//! a standby, comes back as a replica. The timeline of the run is printed
//! (`--nocapture`).

mod cluster_support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cluster_support::{blocking, builder, id, ports, rig, settled, settled_cluster};
use pgline::cluster::{ClusterEvent, FailoverEvent, ReadPreference, select};
use pgline_testkit::StopMode;

const INTERVAL: Duration = Duration::from_millis(250);
const WRITERS: u64 = 200;
const READERS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_killed_under_load_then_promoted_loses_and_duplicates_nothing() {
    let mut rig = rig();
    let cluster = builder(&rig, &ports(&rig))
        .monitor_interval(INTERVAL)
        .pool(|p| {
            p.max_size(32);
        })
        .connect()
        .await
        .unwrap();
    settled(&cluster).await;
    // A write acknowledged by P can be on R1 after P is lost only if P
    // waited for R1 before acknowledging it: under asynchronous
    // replication a commit acknowledged just before the kill may never
    // have left P, and no client can bring it back. P waits for R1 (the
    // node promoted below); R1 names no synchronous standby, so once
    // promoted its own commits do not wait.
    blocking(|| rig.set_synchronous(1).unwrap());
    cluster
        .execute(
            "CREATE TABLE fo (id bigint, at timestamptz DEFAULT clock_timestamp())",
            &[],
        )
        .await
        .unwrap();
    blocking(|| rig.wait_all_replayed().unwrap());
    let t0 = Instant::now();
    // Events timestamped as they arrive, by a task of their own (the test
    // task blocks in the rig's controls).
    let log = Arc::new(Mutex::new(Vec::<(Instant, ClusterEvent)>::new()));
    let collector = {
        let (mut events, log) = (cluster.subscribe(), Arc::clone(&log));
        tokio::spawn(async move {
            while let Ok(e) = events.recv().await {
                log.lock().unwrap().push((Instant::now(), e));
            }
        })
    };
    let stop = Arc::new(AtomicBool::new(false));
    // Acknowledged writes: (id, node, when acknowledged).
    let acked = Arc::new(Mutex::new(Vec::<(i64, usize, Instant)>::new()));
    let failed_writes = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (cluster, stop, acked, failed) = (
            cluster.clone(),
            Arc::clone(&stop),
            Arc::clone(&acked),
            Arc::clone(&failed_writes),
        );
        writers.push(tokio::spawn(async move {
            let mut n = 0i64;
            while !stop.load(Ordering::Relaxed) {
                // Client-generated ids, no unique key: a duplicate would
                // show as two rows.
                let row_id = (w as i64) << 32 | n;
                n += 1;
                let written = match cluster.primary().await {
                    Ok(conn) => conn
                        .execute("INSERT INTO fo (id) VALUES ($1)", &[&row_id])
                        .await
                        .map(|_| conn.node().index()),
                    Err(e) => Err(e),
                };
                match written {
                    Ok(node) => acked.lock().unwrap().push((row_id, node, Instant::now())),
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    let reads_ok = Arc::new(AtomicU64::new(0));
    let reads_failed = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let (cluster, stop, ok, failed) = (
            cluster.clone(),
            Arc::clone(&stop),
            Arc::clone(&reads_ok),
            Arc::clone(&reads_failed),
        );
        readers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match cluster
                    .route(ReadPreference::ReplicaPreferred)
                    .query_one("SELECT count(*) FROM fo", &[])
                    .await
                {
                    Ok(_) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => failed.lock().unwrap().push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_kill = acked.lock().unwrap().len();

    let killed = Instant::now();
    blocking(|| rig.stop(0, StopMode::Immediate).unwrap());
    blocking(|| rig.promote(1).unwrap());
    let promoted = Instant::now();
    blocking(|| rig.repoint(2, 1).unwrap());
    let repointed = Instant::now();

    // PrimaryElected for R1.
    let elected = loop {
        let found = log.lock().unwrap().iter().find_map(|(at, e)| match e {
            ClusterEvent::Failover(FailoverEvent::PrimaryElected { node, timeline })
                if *node == id(1) =>
            {
                Some((*at, *timeline))
            }
            _ => None,
        });
        if let Some(found) = found {
            break found;
        }
        assert!(promoted.elapsed() < Duration::from_secs(10), "no election");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    // The first write acknowledged by R1.
    let first_write = loop {
        if let Some(at) = acked
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, node, _)| *node == 1)
            .map(|(_, _, at)| *at)
            .min()
        {
            break at;
        }
        assert!(
            promoted.elapsed() < Duration::from_secs(10),
            "no write after the promotion"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    for r in readers {
        r.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let acked_ids: HashSet<i64> = acked.iter().map(|(i, _, _)| *i).collect();
    assert_eq!(acked_ids.len(), acked.len(), "ids are unique per attempt");

    // Everything acknowledged is on the new primary, once.
    let on_r1: Vec<i64> = cluster
        .primary()
        .await
        .unwrap()
        .query("SELECT id FROM fo", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<i64>(0).unwrap())
        .collect();
    let on_r1_set: HashSet<i64> = on_r1.iter().copied().collect();
    let duplicates = on_r1.len() - on_r1_set.len();
    let lost = acked_ids.difference(&on_r1_set).count();
    let reads_failed = reads_failed.lock().unwrap().clone();
    let ms = |a: Instant, b: Instant| a.saturating_duration_since(b);
    // Milliseconds of `a` after `b`, negative when before.
    let signed = |a: Instant, b: Instant| {
        if a >= b {
            (a - b).as_secs_f64() * 1e3
        } else {
            -((b - a).as_secs_f64() * 1e3)
        }
    };
    println!("timeline (from the start of the load):");
    println!("  {:>8.1} ms P killed (immediate)", signed(killed, t0));
    println!("  {:>8.1} ms pg_promote(R1) returned", signed(promoted, t0));
    println!("  {:>8.1} ms R2 repointed to R1", signed(repointed, t0));
    println!(
        "  {:>8.1} ms PrimaryElected(R1, timeline {}): {:.1} ms after pg_promote returned",
        signed(elected.0, t0),
        elected.1,
        signed(elected.0, promoted)
    );
    println!(
        "  {:>8.1} ms first write acknowledged by R1: {:.1} ms after the event",
        signed(first_write, t0),
        signed(first_write, elected.0)
    );
    println!(
        "writes acknowledged {} ({} before the kill), failed {}; rows on R1 {}; lost {lost}; \
         duplicated {duplicates}; reads ok {}, failed {}",
        acked.len(),
        before_kill,
        failed_writes.load(Ordering::Relaxed),
        on_r1.len(),
        reads_ok.load(Ordering::Relaxed),
        reads_failed.len()
    );
    for e in reads_failed.iter().take(5) {
        println!("  read failure: {e}");
    }
    for (row_id, node, at) in acked
        .iter()
        .filter(|(i, _, _)| !on_r1_set.contains(i))
        .take(5)
    {
        println!(
            "  lost: id {row_id:#x}, acknowledged by node {node} {:.1} ms after the kill",
            signed(*at, killed)
        );
    }
    assert!(
        ms(elected.0, promoted) <= Duration::from_secs(1),
        "elected within 1 s"
    );
    assert!(
        signed(first_write, elected.0) <= 2000.0,
        "first write within 2 s of the election"
    );
    assert_eq!(lost, 0, "every acknowledged write is on the new primary");
    assert_eq!(duplicates, 0, "no row written twice");
    assert!(
        reads_failed.is_empty(),
        "reads never failed while a replica was up"
    );

    // The old primary rejoins as R1's standby and comes back as a replica.
    // That needs pg_rewind or pg_basebackup of the server's own version:
    // the fetched 17/18 builds ship neither, and Debian's 15 refuses newer
    // servers.
    let bin = rig.node(0).server().bin_dir();
    if !bin.join("pg_rewind").is_file() || !bin.join("pg_basebackup").is_file() {
        collector.abort();
        eprintln!(
            "SKIPPED primary_killed_under_load (the rejoin step): no pg_rewind or \
             pg_basebackup in {}",
            bin.display()
        );
        cluster.close().await;
        return;
    }
    let method = blocking(|| rig.rejoin(0, 1).unwrap());
    let rejoined = Instant::now();
    let policy = ReadPreference::ReplicaOnly.into();
    loop {
        let mut out = Vec::new();
        let _ = select::eligible(&cluster.topology(), &policy, Instant::now(), &mut out);
        if out.iter().any(|c| c.node == id(0)) {
            break;
        }
        assert!(
            rejoined.elapsed() < Duration::from_secs(10),
            "P never came back"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let back = rejoined.elapsed();
    collector.abort();
    let seen: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .map(|(at, e)| format!("{:.1} ms {e:?}", signed(*at, t0)))
        .collect();
    println!(
        "old primary rejoined ({method:?}); a replica again {back:?} after rejoin returned \
         (2 intervals = {:?}); events:\n  {}",
        2 * INTERVAL,
        seen.join("\n  ")
    );
    assert!(back <= 2 * INTERVAL, "within 2 monitor intervals");
    cluster.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_reruns_whole_on_the_new_primary() {
    let mut rig = rig();
    let cluster = settled_cluster(&rig, INTERVAL).await;
    cluster
        .execute("CREATE TABLE tx (id int, node int)", &[])
        .await
        .unwrap();
    blocking(|| rig.wait_all_replayed().unwrap());
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let mut started_tx = Some(started_tx);
    // The rig's controls block: they run on a blocking thread, once the
    // body has started; the transaction runs on this task (an async
    // closure's future is not `Send` for every lifetime, so it is not
    // spawned).
    let killer = tokio::task::spawn_blocking(move || {
        started_rx.blocking_recv().unwrap();
        rig.stop(0, StopMode::Immediate).unwrap();
        rig.promote(1).unwrap();
        rig
    });
    let t = Instant::now();
    let done = cluster
        .transaction_with_retry(None, pgline::RetryPolicy::default(), async |tx| {
            tx.execute("INSERT INTO tx SELECT 1, inet_server_port()", &[])
                .await?;
            if let Some(s) = started_tx.take() {
                let _ = s.send(());
                // The primary dies while this runs.
                tx.batch_execute("SELECT pg_sleep(5)").await?;
            }
            Ok(())
        })
        .await;
    let took = t.elapsed();
    let rig = killer.await.unwrap();
    let done = done.expect("the transaction committed on the new primary");
    let rows: Vec<(i32, i32)> = cluster
        .primary()
        .await
        .unwrap()
        .query("SELECT id, node FROM tx", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
        .collect();
    println!(
        "transaction with the primary killed mid-body: committed after {} attempts, {took:?}; \
         rows on R1 {rows:?} (R1 port {})",
        done.attempts,
        ports(&rig)[1]
    );
    assert_eq!(done.attempts, 2);
    assert_eq!(
        rows,
        vec![(1, i32::from(ports(&rig)[1]))],
        "one row, from the rerun on R1"
    );
    cluster.close().await;
}
