//! A connection lost under a request, through the fault proxy to a real
//! server (testkit): what a batch reports about each of its statements when
//! the link is cut part way, and what a timed-out request does to a
//! connection whose server stopped answering.

mod common;

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use pgline::error::{CancelOutcome, ErrorKind, SqlState};
use pgline::pool::CloseReason;
use pgline::{Client, Config, Pool, StatementOutcome};
use pgline_protocol_tests::{Direction, Fault, FaultProxy};

const DEADLINE: Duration = Duration::from_secs(60);

async fn within<F: Future>(what: &str, f: F) -> F::Output {
    common::within(DEADLINE, what, f).await
}

async fn connect(port: u16, extra: &str) -> Client {
    within("connect", pgline::connect(&common::url_for(port, extra)))
        .await
        .expect("connect")
}

/// Statements per batch, and how many batches are cut.
const STATEMENTS: i32 = 100;
const ROUNDS: i32 = 50;
/// Each statement carries this much text, so a batch (6.4 MiB) is more
/// than the sockets between the driver and the server hold: a cut early
/// in the batch leaves statements the driver never wrote.
const PAD: usize = 64 * 1024;
/// Statements whose id is a multiple of this fail (a CHECK constraint).
const FAILING: i32 = 17;

/// What a statement's outcome says, for the checks below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Ran,
    Failed,
    Unknown,
    NotSent,
}

fn class(outcome: &StatementOutcome) -> Class {
    match outcome {
        StatementOutcome::Ran { .. } => Class::Ran,
        StatementOutcome::Failed(_) => Class::Failed,
        StatementOutcome::Unknown(_) => Class::Unknown,
        StatementOutcome::NotSent(_) => Class::NotSent,
        other => panic!("a Sync per statement cannot give {other:?}"),
    }
}

/// A batch of 100 inserts, a Sync after each, cut by the proxy at a point
/// that moves through the batch from round to round. Every statement gets
/// an outcome, and they agree with the table once the server has ended the
/// session: every statement reported as run has its row, every one not
/// sent or failed has none, and the rows stored are those of the ones
/// that ran plus some of the unknown ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_cut_part_way_reports_each_statement() {
    let observer = connect(common::upstream().port(), "").await;
    observer
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS lost_batch;
             CREATE TABLE lost_batch (id int PRIMARY KEY CHECK (id % {FAILING} <> 0))"
        ))
        .await
        .unwrap();
    let proxy = FaultProxy::start(common::upstream()).await;
    let pad = "x".repeat(PAD);
    let batch_bytes = (STATEMENTS as u64) * (PAD as u64);
    let mut totals = [0usize; 4];
    let mut unknown_stored = 0;
    let mut cut_before_the_end = 0;
    for round in 0..ROUNDS {
        let app = format!("lost-batch-{round}");
        let client = connect(proxy.addr().port(), &format!("&application_name={app}")).await;
        // The link to the server is slowed so the driver's bytes back up
        // behind it, as they would behind a slow network.
        proxy.set(
            Direction::ClientToServer,
            Fault::Delay(Duration::from_millis(1)),
        );
        let ids: Vec<i32> = (0..STATEMENTS).map(|i| round * 1000 + i).collect();
        let params: Vec<[&(dyn pgline::types::Encode + Sync); 2]> = ids
            .iter()
            .map(|id| [id as &(dyn pgline::types::Encode + Sync), &pad])
            .collect();
        let mut batch = client.batch();
        for p in &params {
            batch.push(
                "INSERT INTO lost_batch (id) SELECT $1::int4 WHERE length($2::text) > 0",
                p,
            );
        }
        // Cut once the proxy has passed on this much of the batch: from 1%
        // to 99%, in an order that is not monotonic.
        let percent = 1 + (round as u64 * 37) % 99;
        let threshold = batch_bytes * percent / 100;
        let start = proxy.forwarded(Direction::ClientToServer);
        let done = std::sync::atomic::AtomicBool::new(false);
        let (outcomes, cut_early) = within("a cut batch", async {
            tokio::join!(
                async {
                    let outcomes = batch.run_independent().await;
                    done.store(true, std::sync::atomic::Ordering::Relaxed);
                    outcomes
                },
                async {
                    while proxy.forwarded(Direction::ClientToServer) - start < threshold {
                        if done.load(std::sync::atomic::Ordering::Relaxed) {
                            return false;
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    proxy.cut();
                    true
                }
            )
        })
        .await;
        proxy.set(Direction::ClientToServer, Fault::Pass);
        let outcomes = outcomes.expect("statements were queued: each gets an outcome");
        assert_eq!(outcomes.len(), STATEMENTS as usize);
        let left_open = outcomes.iter().any(|o| o.unknown() || o.not_sent());
        // A cut that came just after the batch's last reply leaves nothing
        // open; one that came before it ends the connection.
        assert!(left_open <= cut_early, "round {round}: open without a cut");
        if left_open {
            assert!(client.is_closed(), "round {round}: the cut went unseen");
        }
        cut_before_the_end += usize::from(left_open);
        drop(client);
        common::wait_backend_gone(&observer, &app, DEADLINE).await;

        let stored: BTreeSet<i32> = observer
            .query(
                "SELECT id FROM lost_batch WHERE id >= $1 AND id < $2",
                &[&(round * 1000), &(round * 1000 + STATEMENTS)],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<i32>(0).unwrap())
            .collect();
        let classes: Vec<Class> = outcomes.iter().map(class).collect();
        // Answered statements come first, then the unknown ones, then the
        // ones never sent: the order they were written in.
        let rank = |c: &Class| match c {
            Class::Ran | Class::Failed => 0,
            Class::Unknown => 1,
            Class::NotSent => 2,
        };
        assert!(
            classes.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])),
            "round {round}: outcomes out of order: {classes:?}"
        );
        let of = |wanted: Class| -> BTreeSet<i32> {
            ids.iter()
                .zip(&classes)
                .filter(|(_, c)| **c == wanted)
                .map(|(id, _)| *id)
                .collect()
        };
        let (ran, failed, unknown, not_sent) = (
            of(Class::Ran),
            of(Class::Failed),
            of(Class::Unknown),
            of(Class::NotSent),
        );
        assert!(
            ran.is_subset(&stored),
            "round {round}: a run statement lost"
        );
        assert!(
            stored.difference(&ran).all(|id| unknown.contains(id)),
            "round {round}: rows of statements reported as not run: {:?}",
            stored.difference(&ran).collect::<Vec<_>>()
        );
        assert!(
            stored.is_disjoint(&not_sent),
            "round {round}: a statement reported as not sent ran"
        );
        assert!(stored.is_disjoint(&failed));
        for (outcome, id) in outcomes.iter().zip(&ids) {
            match outcome {
                StatementOutcome::Failed(e) => {
                    assert_eq!(id % FAILING, 0, "round {round}: {id} failed: {e}");
                    assert_eq!(e.code(), Some(&SqlState::CHECK_VIOLATION), "{e}");
                }
                StatementOutcome::Ran { rows_affected, .. } => {
                    assert_ne!(id % FAILING, 0);
                    assert_eq!(*rows_affected, Some(1));
                }
                StatementOutcome::Unknown(e) | StatementOutcome::NotSent(e) => {
                    assert!(
                        matches!(e.kind(), ErrorKind::Io | ErrorKind::Closed),
                        "round {round}: {:?}: {e}",
                        e.kind()
                    );
                }
                _ => unreachable!(),
            }
        }
        let span = |set: &BTreeSet<i32>| match (set.first(), set.last()) {
            (Some(a), Some(b)) => format!(
                "{}..={} ({})",
                a - round * 1000,
                b - round * 1000,
                set.len()
            ),
            _ => "none".to_owned(),
        };
        let stored_unknown: Vec<i32> = unknown
            .intersection(&stored)
            .map(|id| id - round * 1000)
            .collect();
        println!(
            "round {round:2}, cut at {percent:2}%: answered {} ({} failed), \
             unknown {} (stored: {stored_unknown:?}), not sent {}",
            span(&ran.union(&failed).copied().collect()),
            failed.len(),
            span(&unknown),
            span(&not_sent),
        );
        unknown_stored += stored_unknown.len();
        for (total, set) in totals.iter_mut().zip([&ran, &failed, &unknown, &not_sent]) {
            *total += set.len();
        }
    }
    println!(
        "{ROUNDS} batches of {STATEMENTS}, {cut_before_the_end} cut before their end: \
         ran {}, failed {}, unknown {} ({unknown_stored} of them stored), not sent {}",
        totals[0], totals[1], totals[2], totals[3]
    );
    assert!(
        totals.iter().all(|&n| n > 0),
        "every outcome must be exercised: ran, failed, unknown, not sent = {totals:?}"
    );
    observer
        .batch_execute("DROP TABLE lost_batch")
        .await
        .unwrap();
}

/// The query timeout of the dead-connection tests.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// Blackholes both directions: the server stops answering, without a FIN,
/// and a cancel request (which goes to the same host and port, so through
/// the proxy) never reaches it either.
fn blackhole(proxy: &FaultProxy) {
    proxy.set(Direction::ClientToServer, Fault::Blackhole);
    proxy.set(Direction::ServerToClient, Fault::Blackhole);
}

fn heal(proxy: &FaultProxy) {
    proxy.set(Direction::ClientToServer, Fault::Pass);
    proxy.set(Direction::ServerToClient, Fault::Pass);
}

/// A timeout error whose cancel could not be delivered; returns why not.
fn cancel_not_delivered(err: &pgline::Error) -> &pgline::Error {
    assert!(err.is_timeout(), "{:?}: {err}", err.kind());
    match err.cancel_outcome() {
        Some(CancelOutcome::NotDelivered(why)) => {
            assert!(
                err.to_string().contains("could not be delivered"),
                "the message hides the failed cancel: {err}"
            );
            why
        }
        other => panic!("the cancel cannot have been delivered: {other:?} ({err})"),
    }
}

/// A blackholed server and a 2 s query timeout: the call times out and says
/// its cancel did not get through, the connection is then closed, and the
/// next call fails at once instead of waiting its own timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_whose_cancel_is_lost_closes_the_connection() {
    let proxy = FaultProxy::start(common::upstream()).await;
    let client = connect(proxy.addr().port(), "")
        .await
        .with_timeout(QUERY_TIMEOUT);
    assert_eq!(
        client
            .query_one("SELECT 1", &[])
            .await
            .unwrap()
            .get::<i32>(0)
            .unwrap(),
        1
    );
    blackhole(&proxy);
    let started = std::time::Instant::now();
    let err = within("a blackholed query", client.query_one("SELECT 2", &[]))
        .await
        .expect_err("nothing answers");
    let first = started.elapsed();
    let why = cancel_not_delivered(&err);
    println!("first call: {first:?}: {err} (cancel: {:?})", why.kind());
    assert!(first >= QUERY_TIMEOUT, "{first:?}");
    assert!(client.is_closed(), "the dead connection is still open");

    let started = std::time::Instant::now();
    let err = within(
        "a call on the closed connection",
        client.query_one("SELECT 3", &[]),
    )
    .await
    .expect_err("the connection is closed");
    let next = started.elapsed();
    println!("next call: {next:?}: {err}");
    assert!(err.is_closed(), "{:?}: {err}", err.kind());
    assert!(
        err.to_string().contains("cancel"),
        "the reason is lost: {err}"
    );
    assert!(
        next < Duration::from_millis(100),
        "the next call waited {next:?} on a closed connection"
    );
}

/// A pool whose connection's server stopped answering: the timed-out call
/// closes it, the pool counts it as broken and the next checkout gets a
/// fresh connection that works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_replaces_a_connection_whose_cancel_was_lost() {
    let proxy = FaultProxy::start(common::upstream()).await;
    let mut config: Config = common::url_for(proxy.addr().port(), "").parse().unwrap();
    config.query_timeout(QUERY_TIMEOUT);
    let pool = within("the pool", Pool::builder(config).max_size(1).connect())
        .await
        .expect("a pool");
    let first = within("a checkout", pool.acquire()).await.unwrap();
    let dead_pid = first.client().backend_pid();
    blackhole(&proxy);
    let err = within(
        "a blackholed query",
        first.client().query_one("SELECT 1", &[]),
    )
    .await
    .expect_err("nothing answers");
    cancel_not_delivered(&err);
    assert!(first.client().is_closed());
    drop(first);

    heal(&proxy);
    let second = within("a checkout after the loss", pool.acquire())
        .await
        .expect("a fresh connection");
    assert_ne!(
        second.client().backend_pid(),
        dead_pid,
        "the dead one came back"
    );
    assert!(!second.client().is_closed());
    let row = second
        .client()
        .query_one("SELECT 40 + 2", &[])
        .await
        .expect("the fresh connection works");
    assert_eq!(row.get::<i32>(0).unwrap(), 42);
    let stats = pool.stats();
    assert_eq!(stats.closed.get(CloseReason::Broken), 1, "{stats:?}");
    assert_eq!(stats.created, 2, "{stats:?}");
}

/// Where the cancel does get through, the timeout says so and the
/// connection stays usable, as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_whose_cancel_is_delivered_keeps_the_connection() {
    let proxy = FaultProxy::start(common::upstream()).await;
    let client = connect(proxy.addr().port(), "").await;
    let quick = client.with_timeout(Duration::from_millis(300));
    let err = within("a slow query", quick.query("SELECT pg_sleep(30)", &[]))
        .await
        .expect_err("it cannot finish in time");
    assert!(err.is_timeout(), "{:?}: {err}", err.kind());
    assert!(
        matches!(err.cancel_outcome(), Some(CancelOutcome::Delivered)),
        "{err}"
    );
    assert!(!client.is_closed());
    let row = within("the next query", client.query_one("SELECT 7", &[]))
        .await
        .expect("the connection stays usable");
    assert_eq!(row.get::<i32>(0).unwrap(), 7);
}
