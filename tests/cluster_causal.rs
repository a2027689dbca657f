//! Read-your-writes across replicas on a real primary and two streaming
//! replicas: a session's reads see its writes although both replicas apply
//! the log late, the token costs no extra round trip, a read with no
//! caught-up replica and no fallback fails at `ryw_timeout`, and a token
//! handed over as text carries the guarantee to another session; a
//! session's transactions are read back the same way, their token read
//! with the COMMIT at no extra round trip. Numbers are printed
//! (`--nocapture`).

mod cluster_support;

use std::time::{Duration, Instant};

use cluster_support::{
    DelayProxy, RoundTripProxy, blocking, builder, ports, rig, settled, settled_cluster,
};
use pgline::RetryPolicy;
use pgline::cluster::{CausalRoute, CausalToken, Cluster, ClusterError, ReadPreference};
use pgline_testkit::ReplicaSet;

const INTERVAL: Duration = Duration::from_millis(250);

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A settled cluster over a fresh rig reading by `preference` (the
/// primary as fallback only when `fallback`), with `create` run and
/// replayed everywhere, then both replicas applying the log `delay` late.
async fn late_replicas(
    preference: ReadPreference,
    fallback: bool,
    create: &str,
    delay: Duration,
) -> (ReplicaSet, Cluster) {
    let mut rig = rig();
    let cluster = builder(&rig, &ports(&rig))
        .monitor_interval(INTERVAL)
        .read_preference(preference)
        .ryw_fallback_to_primary(fallback)
        .connect()
        .await
        .unwrap();
    settled(&cluster).await;
    cluster.execute(create, &[]).await.unwrap();
    blocking(|| {
        rig.wait_all_replayed().unwrap();
        rig.set_apply_delay(1, delay).unwrap();
        rig.set_apply_delay(2, delay).unwrap();
    });
    (rig, cluster)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_reads_its_own_writes_from_late_replicas() {
    let (_rig, cluster) = late_replicas(
        ReadPreference::ReplicaPreferred,
        true,
        "CREATE TABLE ryw (id bigint)",
        Duration::from_millis(50),
    )
    .await;
    let mut session = cluster.session();
    let (mut misses, mut routes) = (0, [0usize; 3]);
    let mut read_times = Vec::new();
    for i in 0..200i64 {
        let before = session.token();
        session
            .execute("INSERT INTO ryw VALUES ($1)", &[&i])
            .await
            .unwrap();
        assert!(session.token() > before, "the token moved forward");
        let t = Instant::now();
        let (rows, route) = session
            .query("SELECT count(*) FROM ryw WHERE id = $1", &[&i])
            .await
            .unwrap();
        read_times.push(t.elapsed());
        if rows[0].get::<i64>(0).unwrap() != 1 {
            misses += 1;
        }
        routes[match route {
            CausalRoute::KnownReplica => 0,
            CausalRoute::WaitedReplica => 1,
            _ => 2,
        }] += 1;
    }
    // Without the token, the same reads miss (the replicas are 50 ms late).
    let mut plain_misses = 0;
    for i in 200..220i64 {
        cluster
            .execute("INSERT INTO ryw VALUES ($1)", &[&i])
            .await
            .unwrap();
        let n: i64 = cluster
            .route(ReadPreference::ReplicaOnly)
            .query_one("SELECT count(*) FROM ryw WHERE id = $1", &[&i])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        plain_misses += usize::from(n != 1);
    }
    println!(
        "200 insert -> causal read loops, replicas 50 ms late: misses {misses}; \
         read on a known replica {}, after waiting on a replica {}, on the primary {}; \
         causal read median {:?}; token {}; plain replica reads missing their write: {plain_misses}/20",
        routes[0],
        routes[1],
        routes[2],
        median(read_times),
        session.token()
    );
    assert_eq!(misses, 0);
    assert!(
        routes[0] + routes[1] > 100,
        "most reads stayed on replicas: {routes:?}"
    );
    assert!(plain_misses > 0, "the delay is real");
    cluster.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_costs_no_extra_round_trip() {
    let rig = rig();
    let p = ports(&rig);
    let far = DelayProxy::start(p[0], Duration::from_millis(20)).await;
    let cluster = builder(&rig, &[far.port, p[1], p[2]])
        .monitor_interval(INTERVAL)
        .connect()
        .await
        .unwrap();
    settled(&cluster).await;
    cluster
        .execute("CREATE TABLE rt (id bigint)", &[])
        .await
        .unwrap();
    let mut session = cluster.session();
    let (mut plain, mut causal) = (Vec::new(), Vec::new());
    for i in 0..30i64 {
        let t = Instant::now();
        cluster
            .execute("INSERT INTO rt VALUES ($1)", &[&i])
            .await
            .unwrap();
        plain.push(t.elapsed());
        let t = Instant::now();
        session
            .execute("INSERT INTO rt VALUES ($1)", &[&i])
            .await
            .unwrap();
        causal.push(t.elapsed());
    }
    let (plain, causal) = (median(plain), median(causal));
    println!(
        "primary 20 ms away: write median {plain:?} plain, {causal:?} with the token read \
         in the same pipeline (token {})",
        session.token()
    );
    assert!(
        causal < plain + Duration::from_millis(10),
        "no extra 20 ms round trip: {causal:?} vs {plain:?}"
    );
    cluster.close().await;
}

/// A settled cluster whose primary is reached through a round-trip
/// counting proxy, one pooled connection per node (so every request to the
/// primary crosses the one proxied connection).
async fn counted_cluster(rig: &ReplicaSet) -> (RoundTripProxy, Cluster) {
    let p = ports(rig);
    let proxy = RoundTripProxy::start(p[0]).await;
    let cluster = builder(rig, &[proxy.port, p[1], p[2]])
        .monitor_interval(INTERVAL)
        .pool(|pool| {
            pool.max_size(1);
        })
        .connect()
        .await
        .unwrap();
    settled(&cluster).await;
    (proxy, cluster)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_costs_no_extra_round_trip_by_count() {
    let rig = rig();
    let (proxy, cluster) = counted_cluster(&rig).await;
    cluster
        .execute("CREATE TABLE rt_count (id bigint)", &[])
        .await
        .unwrap();
    let mut session = cluster.session();
    // Warm both statement caches, so neither side pays a Parse below.
    for i in 0..3i64 {
        cluster
            .execute("INSERT INTO rt_count VALUES ($1)", &[&i])
            .await
            .unwrap();
        session
            .execute("INSERT INTO rt_count VALUES ($1)", &[&i])
            .await
            .unwrap();
    }
    const WRITES: u64 = 30;
    let start = proxy.trips();
    for i in 0..WRITES as i64 {
        cluster
            .execute("INSERT INTO rt_count VALUES ($1)", &[&i])
            .await
            .unwrap();
    }
    let plain_end = proxy.trips();
    let token_before = session.token();
    for i in 0..WRITES as i64 {
        session
            .execute("INSERT INTO rt_count VALUES ($1)", &[&i])
            .await
            .unwrap();
    }
    let causal_end = proxy.trips();
    let plain = (
        plain_end.rounds - start.rounds,
        plain_end.messages - start.messages,
    );
    let causal = (
        causal_end.rounds - plain_end.rounds,
        causal_end.messages - plain_end.messages,
    );
    println!(
        "{WRITES} writes through a counting proxy: plain {} round trips, {} messages; \
         with the causal token {} round trips, {} messages (token {token_before} -> {})",
        plain.0,
        plain.1,
        causal.0,
        causal.1,
        session.token()
    );
    assert!(session.token() > token_before, "the token moved");
    assert!(plain.0 >= WRITES, "every write is at least one round trip");
    assert!(
        causal.0 <= plain.0,
        "the token adds no round trip: {causal:?} vs {plain:?}"
    );
    assert!(
        causal.1 > plain.1,
        "the token's read is pipelined: more messages, same round trips"
    );
    cluster.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_fallback_a_causal_read_fails_at_ryw_timeout() {
    let (_rig, cluster) = late_replicas(
        ReadPreference::ReplicaPreferred,
        false,
        "CREATE TABLE late (id bigint)",
        Duration::from_secs(3),
    )
    .await;
    let mut session = cluster.session();
    let mut took = Vec::new();
    for i in 0..5i64 {
        session
            .execute("INSERT INTO late VALUES ($1)", &[&i])
            .await
            .unwrap();
        let t = Instant::now();
        let err = session
            .query("SELECT count(*) FROM late WHERE id = $1", &[&i])
            .await
            .unwrap_err();
        let elapsed = t.elapsed();
        match ClusterError::of(&err) {
            Some(ClusterError::NotCaughtUp { token, .. }) => assert_eq!(*token, session.token()),
            other => panic!("not typed: {other:?} ({err})"),
        }
        took.push(elapsed);
    }
    println!("causal reads with no replica caught up, fallback off: failed after {took:?}");
    for t in &took {
        assert!(
            *t >= Duration::from_millis(900) && *t <= Duration::from_millis(1100),
            "1 s ± 0.1 s: {t:?}"
        );
    }
    cluster.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_handed_over_as_text_carries_the_guarantee() {
    let (_rig, cluster) = late_replicas(
        ReadPreference::ReplicaOnly,
        false,
        "CREATE TABLE handed (id bigint)",
        Duration::from_millis(200),
    )
    .await;
    let mut writer = cluster.session();
    writer
        .execute("INSERT INTO handed VALUES (7)", &[])
        .await
        .unwrap();
    let text = writer.token().to_string();
    let mut reader = cluster.session();
    let token: CausalToken = text.parse().unwrap();
    assert!(reader.observe(token));
    let t = Instant::now();
    let (rows, route) = reader
        .query("SELECT count(*) FROM handed WHERE id = 7", &[])
        .await
        .unwrap();
    println!(
        "token {text} handed over; the reader saw the row on a replica ({route:?}) after {:?}",
        t.elapsed()
    );
    assert_eq!(rows[0].get::<i64>(0).unwrap(), 1);
    assert_ne!(route, CausalRoute::Primary);
    cluster.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_reads_what_its_transactions_committed() {
    let (_rig, cluster) = late_replicas(
        ReadPreference::ReplicaPreferred,
        true,
        "CREATE TABLE ryw_tx (id bigint, part int)",
        Duration::from_millis(50),
    )
    .await;
    const LOOPS: i64 = 100;
    let mut session = cluster.session();
    let (mut misses, mut routes) = (0, [0usize; 3]);
    for i in 0..LOOPS {
        let before = session.token();
        let inserted = session
            .transaction(None, async |tx| {
                // Two statements, so the read must see the whole commit.
                let a = tx
                    .execute("INSERT INTO ryw_tx VALUES ($1, 1)", &[&i])
                    .await?;
                let b = tx
                    .execute("INSERT INTO ryw_tx VALUES ($1, 2)", &[&i])
                    .await?;
                Ok(a + b)
            })
            .await
            .unwrap();
        assert_eq!(inserted, 2);
        assert!(session.token() > before, "the token moved past the commit");
        let (rows, route) = session
            .query("SELECT count(*) FROM ryw_tx WHERE id = $1", &[&i])
            .await
            .unwrap();
        if rows[0].get::<i64>(0).unwrap() != 2 {
            misses += 1;
        }
        routes[match route {
            CausalRoute::KnownReplica => 0,
            CausalRoute::WaitedReplica => 1,
            _ => 2,
        }] += 1;
    }
    // A failed transaction commits nothing and leaves the token alone.
    let before = session.token();
    let err = session
        .transaction(None, async |tx| {
            tx.execute("INSERT INTO ryw_tx VALUES (-1, 1)", &[]).await?;
            tx.execute("SELECT 1/0", &[]).await
        })
        .await
        .unwrap_err();
    assert!(err.code().is_some(), "the server's error: {err}");
    assert_eq!(session.token(), before);
    // An error the body swallowed: the COMMIT rolls back, which is an
    // error too.
    let err = session
        .transaction(None, async |tx| {
            let _ = tx.execute("SELECT 1/0", &[]).await;
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("rolled back"), "{err}");
    assert_eq!(session.token(), before);
    // A COMMIT the server refuses (a deferred unique check): its own
    // error, not retried, and the position query behind it never ran.
    cluster
        .execute(
            "CREATE TABLE ryw_deferred (id int UNIQUE DEFERRABLE INITIALLY DEFERRED)",
            &[],
        )
        .await
        .unwrap();
    let err = session
        .transaction_with_retry(None, RetryPolicy::default(), async |tx| {
            tx.execute("INSERT INTO ryw_deferred VALUES (1), (1)", &[])
                .await
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&pgline::error::SqlState::UNIQUE_VIOLATION),
        "{err}"
    );
    assert_eq!(session.token(), before);
    // Without the session, the same transactions read back from a replica
    // miss (the replicas are 50 ms late).
    let mut plain_misses = 0;
    for i in 1000..1020i64 {
        cluster
            .transaction_with_retry(None, RetryPolicy::default(), async |tx| {
                tx.execute("INSERT INTO ryw_tx VALUES ($1, 1)", &[&i]).await
            })
            .await
            .unwrap();
        let n: i64 = cluster
            .route(ReadPreference::ReplicaOnly)
            .query_one("SELECT count(*) FROM ryw_tx WHERE id = $1", &[&i])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        plain_misses += usize::from(n != 1);
    }
    println!(
        "{LOOPS} session transaction -> causal read loops, replicas 50 ms late: misses {misses}; \
         read on a known replica {}, after waiting on a replica {}, on the primary {}; token {}; \
         plain replica reads missing their transaction: {plain_misses}/20",
        routes[0],
        routes[1],
        routes[2],
        session.token()
    );
    assert_eq!(misses, 0);
    assert!(plain_misses > 0, "the delay is real");
    assert!(
        routes[0] + routes[1] > LOOPS as usize / 2,
        "most reads stayed on replicas: {routes:?}"
    );
    cluster.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_transaction_costs_no_extra_round_trip() {
    let rig = rig();
    let (proxy, cluster) = counted_cluster(&rig).await;
    cluster
        .execute("CREATE TABLE rt_tx (id bigint)", &[])
        .await
        .unwrap();
    let once = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    let mut session = cluster.session();
    // Warm the statement cache, so no transaction below pays a Parse.
    for i in 0..3i64 {
        cluster
            .transaction_with_retry(None, once, async |tx| {
                tx.execute("INSERT INTO rt_tx VALUES ($1)", &[&i]).await
            })
            .await
            .unwrap();
        session
            .transaction(None, async |tx| {
                tx.execute("INSERT INTO rt_tx VALUES ($1)", &[&i]).await
            })
            .await
            .unwrap();
    }
    const TXS: u64 = 30;
    let start = proxy.trips();
    for i in 0..TXS as i64 {
        cluster
            .transaction_with_retry(None, once, async |tx| {
                tx.execute("INSERT INTO rt_tx VALUES ($1)", &[&i]).await
            })
            .await
            .unwrap();
    }
    let plain_end = proxy.trips();
    let token_before = session.token();
    for i in 0..TXS as i64 {
        session
            .transaction(None, async |tx| {
                tx.execute("INSERT INTO rt_tx VALUES ($1)", &[&i]).await
            })
            .await
            .unwrap();
    }
    let session_end = proxy.trips();
    let plain = (
        plain_end.rounds - start.rounds,
        plain_end.messages - start.messages,
    );
    let in_session = (
        session_end.rounds - plain_end.rounds,
        session_end.messages - plain_end.messages,
    );
    println!(
        "{TXS} transactions (BEGIN, INSERT, COMMIT) through a counting proxy: outside a \
         session {} round trips, {} messages; in a session, token read with the COMMIT, \
         {} round trips, {} messages (token {token_before} -> {})",
        plain.0,
        plain.1,
        in_session.0,
        in_session.1,
        session.token()
    );
    assert!(session.token() > token_before, "the token moved");
    assert!(
        plain.0 >= 3 * TXS,
        "BEGIN, the insert and COMMIT are a round trip each"
    );
    assert_eq!(
        in_session.0, plain.0,
        "the token adds no round trip: {in_session:?} vs {plain:?}"
    );
    cluster.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_commit_lost_in_flight_is_not_run_again() {
    let rig = rig();
    let cluster = settled_cluster(&rig, INTERVAL).await;
    // A deferred trigger that sleeps: the COMMIT is in flight for 2 s.
    cluster
        .batch_execute(
            "CREATE TABLE slow_commit (id int);
             CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
               'BEGIN PERFORM pg_sleep(2); RETURN NULL; END';
             CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON slow_commit
               DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow();",
        )
        .await
        .unwrap();
    let killer = {
        let cluster = cluster.clone();
        tokio::spawn(async move {
            // The session whose COMMIT (with the position query) is running.
            let started = Instant::now();
            loop {
                let killed: Option<bool> = cluster
                    .primary()
                    .await
                    .unwrap()
                    .query_opt(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE query LIKE 'COMMIT; SELECT%' AND state = 'active'",
                        &[],
                    )
                    .await
                    .unwrap()
                    .map(|row| row.get(0).unwrap());
                if killed == Some(true) {
                    return started.elapsed();
                }
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "no COMMIT seen"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let mut session = cluster.session();
    let before = session.token();
    let mut runs = 0;
    let err = session
        .transaction_with_retry(None, RetryPolicy::default(), async |tx| {
            runs += 1;
            tx.execute("INSERT INTO slow_commit VALUES (1)", &[]).await
        })
        .await
        .unwrap_err();
    let found_after = killer.await.unwrap();
    println!(
        "COMMIT killed in flight (found after {found_after:?}): {} ({:?}), body ran {runs} time(s)",
        err,
        err.retry_class()
    );
    assert!(err.is_outcome_unknown(), "{err} ({:?})", err.retry_class());
    assert_eq!(runs, 1, "an outcome-unknown COMMIT is never run again");
    assert_eq!(session.token(), before);
    cluster.close().await;
}
