//! The retry invariant, through the fault proxy to a real server
//! (testkit): 2,000 inserts of client-generated ids into a table with no
//! unique key, the link cut at seeded random points (before a request,
//! with the request lost on its way, with its reply lost — COMMIT's
//! included), retried only as `Error::retry_class` says is safe. Afterwards
//! the table agrees with what every insert was told: done has exactly one
//! row, not executed (and given up) has none, outcome unknown has zero or
//! one, and no id has two.

mod common;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use pgline::error::{RetryClass, SqlState};
use pgline::{Client, Error};
use pgline_protocol_tests::{Direction, Fault, FaultProxy};
use tokio::task::JoinHandle;

const INSERTS: i32 = 2000;
/// The generator's seed; `RETRY_INVARIANT_SEED` replays another run.
const SEED: u64 = 0x5eed_0018;
/// Percent of attempts that get a fault.
const FAULT_PERCENT: u64 = 35;
/// Percent of retryable failures the test gives up on instead of retrying,
/// so that "not executed" is checked on its own too.
const GIVE_UP_PERCENT: u64 = 20;
const APP: &str = "retry_invariant";
const DEADLINE: Duration = Duration::from_secs(30);

async fn within<F: Future>(what: &str, f: F) -> F::Output {
    common::within(DEADLINE, what, f).await
}

/// SplitMix64: seeded, so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
}

/// How an insert runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One INSERT, committing on its own.
    Autocommit,
    /// BEGIN; INSERT; COMMIT through `Client::transaction`.
    Transaction,
    /// The same as plain SQL text through `batch_execute`.
    SqlTransaction,
}

impl Shape {
    fn steps(self) -> u64 {
        match self {
            Self::Autocommit => 1,
            Self::Transaction | Self::SqlTransaction => 3,
        }
    }
}

/// Where the link is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Cut just before the step's request is sent.
    Before,
    /// The step's request is dropped on its way, then the link is cut.
    LoseRequest,
    /// The step's reply is dropped (the server ran it), then the link is
    /// cut.
    LoseReply,
}

#[derive(Debug, Clone, Copy)]
struct Plan {
    step: u64,
    cut: Cut,
    delay: Duration,
}

fn plan(rng: &mut Rng, shape: Shape) -> Plan {
    Plan {
        step: rng.below(shape.steps()),
        cut: [Cut::Before, Cut::LoseRequest, Cut::LoseReply][rng.below(3) as usize],
        delay: Duration::from_micros(rng.below(8_000)),
    }
}

/// Arms `plan`'s fault: a cut now, or a blackhole and a task that lifts it
/// and cuts after the plan's delay (the caller waits for that task before
/// connecting again).
fn arm(proxy: &Arc<FaultProxy>, plan: Plan) -> Option<JoinHandle<()>> {
    let direction = match plan.cut {
        Cut::Before => {
            proxy.cut();
            return None;
        }
        Cut::LoseRequest => Direction::ClientToServer,
        Cut::LoseReply => Direction::ServerToClient,
    };
    proxy.set(direction, Fault::Blackhole);
    let proxy = proxy.clone();
    Some(tokio::spawn(async move {
        tokio::time::sleep(plan.delay).await;
        // What the blackhole read is gone; nothing more flows before the cut.
        proxy.set(direction, Fault::Pass);
        proxy.cut();
    }))
}

const INSERT: &str = "INSERT INTO retry_invariant (id) VALUES ($1)";

/// One attempt at inserting `id`, with `plan`'s fault armed before its step.
async fn attempt(
    client: &Client,
    proxy: &Arc<FaultProxy>,
    shape: Shape,
    id: i32,
    plan: Option<Plan>,
    cutter: &mut Option<JoinHandle<()>>,
) -> Result<(), Error> {
    let mut step = 0;
    let mut before_step = || {
        if let Some(plan) = plan.filter(|p| p.step == step) {
            *cutter = arm(proxy, plan);
        }
        step += 1;
    };
    match shape {
        Shape::Autocommit => {
            before_step();
            client.execute(INSERT, &[&id]).await.map(drop)
        }
        Shape::Transaction => {
            before_step();
            let tx = client.transaction().await?;
            before_step();
            tx.execute(INSERT, &[&id]).await?;
            before_step();
            tx.commit().await
        }
        Shape::SqlTransaction => {
            before_step();
            client.batch_execute("BEGIN").await?;
            before_step();
            client.execute(INSERT, &[&id]).await?;
            before_step();
            client.batch_execute("COMMIT").await
        }
    }
}

/// What an insert was told in the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Told {
    Done,
    /// A retryable failure the test did not retry.
    GaveUp(RetryClass),
    Unknown,
}

/// A direct connection to the upstream server (no proxy, so no fault),
/// with `table (id int NOT NULL)` made empty: it counts what was inserted.
async fn observer_with_table(table: &str) -> Client {
    let observer = within(
        "connect the observer",
        pgline::connect(&common::url_for(common::upstream().port(), "")),
    )
    .await
    .expect("observer");
    observer
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int NOT NULL)"
        ))
        .await
        .unwrap();
    observer
}

async fn connect(proxy: &FaultProxy) -> Client {
    let url = common::url_for(proxy.addr().port(), &format!("&application_name={APP}"));
    loop {
        match within("connect", pgline::connect(&url)).await {
            Ok(client) => return client,
            // A connect cut by a late fault: nothing ran.
            Err(e) => assert_eq!(e.retry_class(), RetryClass::NotExecuted, "{e:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_by_class_never_duplicate_or_lose_an_insert() {
    let seed = std::env::var("RETRY_INVARIANT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    let mut rng = Rng(seed);
    let observer = observer_with_table("retry_invariant").await;
    let proxy = Arc::new(FaultProxy::start(common::upstream()).await);
    let mut client = connect(&proxy).await;
    let mut told = BTreeMap::new();
    // Errors seen, by shape, the step the fault was armed before, and class.
    let mut seen: BTreeMap<(&str, &str, String), u32> = BTreeMap::new();
    let mut retried_then_done = 0;
    let started = std::time::Instant::now();
    for id in 0..INSERTS {
        let shape =
            [Shape::Autocommit, Shape::Transaction, Shape::SqlTransaction][rng.below(3) as usize];
        let mut attempts = 0;
        let outcome = loop {
            attempts += 1;
            if client.is_closed() {
                client = connect(&proxy).await;
            }
            // Faults on the first attempts only, so every insert ends.
            let plan = (attempts <= 3 && rng.percent(FAULT_PERCENT)).then(|| plan(&mut rng, shape));
            let mut cutter = None;
            let result = within(
                "an insert attempt",
                attempt(&client, &proxy, shape, id, plan, &mut cutter),
            )
            .await;
            if let Some(cutter) = cutter {
                cutter.await.expect("the cutter task");
            }
            let error = match result {
                Ok(()) => {
                    if attempts > 1 {
                        retried_then_done += 1;
                    }
                    break Told::Done;
                }
                Err(error) => error,
            };
            let class = error.retry_class();
            let name = match shape {
                Shape::Autocommit => "autocommit",
                Shape::Transaction | Shape::SqlTransaction => "transaction",
            };
            let step = match (shape, plan.map(|p| p.step)) {
                // The previous attempt's cut landed after it had finished
                // (the proxy may pass a few more reads before it closes).
                (_, None) => "(late)",
                (Shape::Autocommit, Some(_)) => "INSERT",
                (_, Some(0)) => "BEGIN",
                (_, Some(1)) => "INSERT",
                (_, Some(_)) => "COMMIT",
            };
            // In a transaction only a COMMIT that left can be unknown: a
            // block lost before it is always safe to run again.
            assert!(
                shape == Shape::Autocommit
                    || class != RetryClass::OutcomeUnknown
                    || step == "COMMIT",
                "insert {id} ({shape:?}) cut before {step}: {error:?}"
            );
            *seen.entry((name, step, format!("{class:?}"))).or_default() += 1;
            match class {
                // A statement that did not run, or a transaction lost before
                // its COMMIT left: all of it again (the connection is gone,
                // so a lone statement of a transaction cannot be redone).
                RetryClass::NotExecuted | RetryClass::RetryTransaction => {
                    if rng.percent(GIVE_UP_PERCENT) {
                        break Told::GaveUp(class);
                    }
                }
                RetryClass::OutcomeUnknown => {
                    // 08007 unless the server said something of its own.
                    if error.as_db_error().is_none() {
                        assert_eq!(
                            error.code(),
                            Some(&SqlState::TRANSACTION_RESOLUTION_UNKNOWN),
                            "{error:?}"
                        );
                    }
                    break Told::Unknown;
                }
                other => panic!("insert {id} ({shape:?}): {other:?}: {error:?}"),
            }
        };
        told.insert(id, outcome);
    }
    let elapsed = started.elapsed();
    drop(client);
    // Every session the proxy cut has ended (and rolled back what it had
    // not committed) before the table is read.
    common::wait_backend_gone(&observer, APP, DEADLINE).await;

    let rows: BTreeMap<i32, i64> = observer
        .query("SELECT id, count(*) FROM retry_invariant GROUP BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<i32>(0).unwrap(), r.get::<i64>(1).unwrap()))
        .collect();
    let mut finals: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for (&id, &outcome) in &told {
        let stored = rows.get(&id).copied().unwrap_or(0);
        let entry = finals.entry(format!("{outcome:?}")).or_default();
        entry.0 += 1;
        if stored > 0 {
            entry.1 += 1;
        }
        match outcome {
            Told::Done => assert_eq!(stored, 1, "insert {id} was done"),
            Told::GaveUp(class) => {
                assert_eq!(stored, 0, "insert {id} was {class:?} and not retried")
            }
            Told::Unknown => assert!(stored <= 1, "insert {id} (unknown) has {stored} rows"),
        }
    }
    assert!(
        rows.keys().all(|id| told.contains_key(id)),
        "a row of an id never inserted"
    );
    println!("seed {seed:#x}: {INSERTS} inserts in {elapsed:?}");
    println!("errors seen (shape, step cut, class): count");
    for ((shape, step, class), n) in &seen {
        println!("  {shape:<11} {step:<7} {class:<16} {n}");
    }
    println!("final outcome: inserts, of them with a row");
    for (outcome, (n, stored)) in &finals {
        println!("  {outcome:<24} {n:>5} {stored:>5}");
    }
    println!("done after at least one retry: {retried_then_done}");
    // The run exercised every class the test can meet.
    for class in [
        RetryClass::NotExecuted,
        RetryClass::RetryTransaction,
        RetryClass::OutcomeUnknown,
    ] {
        assert!(
            seen.keys().any(|(_, _, c)| *c == format!("{class:?}")),
            "no {class:?} in {seen:?}"
        );
    }
    assert!(retried_then_done > 0);
    observer
        .batch_execute("DROP TABLE retry_invariant")
        .await
        .unwrap();
}

/// `Client::transaction_with_retry` runs a transaction again only when it
/// certainly did not commit: a COMMIT whose reply is lost is returned as
/// outcome unknown and never run again, and a connection lost inside the
/// body is returned too (there is no connection left to run it on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_helper_never_runs_an_unknown_commit_again() {
    const HELPER_APP: &str = "retry_helper";
    let observer = observer_with_table("retry_helper").await;
    let proxy = Arc::new(FaultProxy::start(common::upstream()).await);
    let url = common::url_for(
        proxy.addr().port(),
        &format!("&application_name={HELPER_APP}"),
    );
    let policy = pgline::RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };

    // The COMMIT after the body loses its reply, then the link is cut.
    let client = within("connect", pgline::connect(&url)).await.unwrap();
    let mut calls = 0;
    let mut cutter = None;
    let result = within(
        "the helper",
        client.transaction_with_retry(None, policy, async |tx| {
            calls += 1;
            tx.execute("INSERT INTO retry_helper (id) VALUES (1)", &[])
                .await?;
            cutter = arm(
                &proxy,
                Plan {
                    step: 0,
                    cut: Cut::LoseReply,
                    delay: Duration::from_millis(200),
                },
            );
            Ok(())
        }),
    )
    .await;
    if let Some(cutter) = cutter {
        cutter.await.unwrap();
    }
    let err = result.expect_err("the COMMIT's reply was lost");
    println!("lost COMMIT: {:?}: {err}", err.retry_class());
    assert_eq!(err.retry_class(), RetryClass::OutcomeUnknown, "{err:?}");
    assert_eq!(calls, 1, "an unknown COMMIT was run again");

    // The link is cut inside the body: the error is returned, not retried.
    let client = within("connect", pgline::connect(&url)).await.unwrap();
    let mut calls = 0;
    let result = within(
        "the helper",
        client.transaction_with_retry(None, policy, async |tx| {
            calls += 1;
            arm(
                &proxy,
                Plan {
                    step: 0,
                    cut: Cut::Before,
                    delay: Duration::ZERO,
                },
            );
            tx.execute("INSERT INTO retry_helper (id) VALUES (2)", &[])
                .await
                .map(drop)
        }),
    )
    .await;
    let err = result.expect_err("the link was cut");
    println!("cut in the body: {:?}: {err}", err.retry_class());
    assert_eq!(calls, 1, "run again on a dead connection");
    assert!(client.is_closed());

    common::wait_backend_gone(&observer, HELPER_APP, DEADLINE).await;
    let rows = observer
        .query("SELECT id FROM retry_helper", &[])
        .await
        .unwrap();
    let ids: Vec<i32> = rows.iter().map(|r| r.get(0).unwrap()).collect();
    println!("rows after: {ids:?}");
    // The unknown COMMIT may have landed; the cut transaction did not.
    assert!(ids.iter().all(|&id| id == 1) && ids.len() <= 1, "{ids:?}");
    observer
        .batch_execute("DROP TABLE retry_helper")
        .await
        .unwrap();
}
