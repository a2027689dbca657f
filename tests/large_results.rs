//! Large replies read with fewer wakeups (`Config::coalesce_large_results`):
//! every row arrives, in order, whether the result ends, pauses or is a
//! COPY OUT; a batch with a Sync per statement is read under its own bound;
//! the next query on the connection is answered; and the setting turns the
//! mark off.

mod support;

use std::time::{Duration, Instant};

use pgline::config::SslMode;
use pgline::{Client, ConnectionStats, SimpleQueryMessage, StatementOutcome};

use support::shared_config;

/// Rows of about 250 bytes, some 50 MB.
const ROWS: i64 = 200_000;

/// The mark only matters, and is only raised, while the client reads
/// faster than the server writes (otherwise it never waits on the socket):
/// each row costs the server an md5 over a few hundred bytes, which keeps
/// it slower than even an unoptimised client, and the result lasts well
/// over `LARGE_RESULT_AFTER`.
const SLOW_COLUMN: &str = "md5(repeat(i::text, 60))";

/// The tests here run one at a time, so that each stream has a core.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Guards against hangs: the operation must end in this time.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(120), f)
        .await
        .expect("operation did not finish within 120 s")
}

/// A plain TCP connection (only plain TCP takes a mark), with large-result
/// coalescing `on` or off.
async fn connect(on: bool) -> Client {
    let mut config = shared_config();
    config.ssl_mode(SslMode::Disable).coalesce_large_results(on);
    config.connect().await.expect("connect")
}

/// `ROWS` rows numbered from 1, with a pause of the server of `pause_s`
/// seconds before row `pause_at` (0: none).
fn rows_sql(pause_at: i64, pause_s: f64) -> String {
    format!(
        "SELECT i, repeat('x', 200), \
                CASE WHEN i = {pause_at} THEN pg_sleep({pause_s})::text END, {SLOW_COLUMN} \
         FROM generate_series(1, {ROWS}) i"
    )
}

/// What a streamed result held: rows, whether they came in order, and the
/// longest wait between two of them.
#[derive(Debug)]
struct Read {
    rows: i64,
    in_order: bool,
    longest_gap: Duration,
}

async fn stream(client: &Client, sql: &str) -> Read {
    let mut stream = client.simple_query_stream(sql).await.unwrap();
    let mut read = Read {
        rows: 0,
        in_order: true,
        longest_gap: Duration::ZERO,
    };
    let mut last = Instant::now();
    while let Some(message) = stream.next().await {
        if let SimpleQueryMessage::Row(row) = message.unwrap() {
            let i: i64 = row.get(0).unwrap().parse().unwrap();
            assert_eq!(row.get(1).map(str::len), Some(200));
            assert_eq!(row.get(3).map(str::len), Some(32));
            read.rows += 1;
            read.in_order &= i == read.rows;
            read.longest_gap = read.longest_gap.max(last.elapsed());
            last = Instant::now();
        }
    }
    read
}

/// The connection answers its next query.
async fn answers(client: &Client) {
    let row = bounded(client.query_one("SELECT 41 + 1", &[]))
        .await
        .unwrap();
    assert_eq!(row.get::<i32>(0).unwrap(), 42);
}

/// The mark was raised since `before` (on Linux, where plain TCP takes
/// one), and the stall watch lowered it no more often than it was raised.
fn raised_since(client: &Client, before: &ConnectionStats, what: &str) {
    let after = client.connection_stats();
    let raises = after.low_water_raises - before.low_water_raises;
    let stalls = after.low_water_stalls - before.low_water_stalls;
    println!(
        "{what}: mark raised {raises} times, lowered by the stall watch {stalls} times, \
         {} socket reads",
        after.socket_reads - before.socket_reads
    );
    if cfg!(target_os = "linux") {
        assert!(raises >= 1, "the mark was never raised");
    }
    assert!(stalls <= raises, "{stalls} stalls for {raises} raises");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_result_arrives_whole_with_the_mark_raised_and_its_end_let_in() {
    let _one = ONE_AT_A_TIME.lock().await;
    let client = connect(true).await;
    let before = client.connection_stats();
    let started = Instant::now();
    let read = bounded(stream(&client, &rows_sql(0, 0.0))).await;
    let took = started.elapsed();
    assert_eq!(read.rows, ROWS);
    assert!(read.in_order);
    answers(&client).await;
    raised_since(&client, &before, &format!("{ROWS} rows in {took:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_copy_out_arrives_whole_with_the_mark_raised() {
    let _one = ONE_AT_A_TIME.lock().await;
    let client = connect(true).await;
    let before = client.connection_stats();
    let sql = format!(
        "COPY (SELECT i, repeat('x', 200), {SLOW_COLUMN} FROM generate_series(1, {ROWS}) i) \
         TO STDOUT"
    );
    let mut out = bounded(client.copy_out(&sql)).await.unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = bounded(out.next()).await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    let lines: Vec<&[u8]> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len() as i64, ROWS);
    let prefix_of = |n: usize| format!("{n}\t{}\t", "x".repeat(200));
    for (n, line) in lines.iter().enumerate() {
        let prefix = prefix_of(n + 1);
        assert!(line.starts_with(prefix.as_bytes()), "line {}", n + 1);
        assert_eq!(line.len(), prefix.len() + 32, "line {}", n + 1);
    }
    answers(&client).await;
    raised_since(&client, &before, &format!("COPY OUT of {ROWS} rows"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_in_the_middle_of_a_large_result_loses_and_holds_up_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    let client = connect(true).await;
    let before = client.connection_stats();
    // The server stops for 300 ms three quarters of the way in, with the
    // mark raised; the bytes it sent before are let in by the stall watch
    // or by the bytes after them, and nothing is lost or reordered.
    let read = bounded(stream(&client, &rows_sql(ROWS * 3 / 4, 0.3))).await;
    assert_eq!(read.rows, ROWS);
    assert!(read.in_order);
    // The pause happened (the client may have been a little behind).
    assert!(read.longest_gap >= Duration::from_millis(100), "{read:?}");
    answers(&client).await;
    let after = client.connection_stats();
    println!(
        "longest gap between rows {:?}; mark raised {} times, stalls {}",
        read.longest_gap,
        after.low_water_raises - before.low_water_raises,
        after.low_water_stalls - before.low_water_stalls
    );
}

/// A batch of `n` statements with a Sync each; each row is checked.
async fn batch_of(client: &Client, n: i32) {
    let mut batch = pgline::Batch::with_capacity(client, n as usize);
    for i in 0..n {
        batch.push_owned("SELECT $1::int4, md5(repeat($1::text, 100))", (i,));
    }
    let outcomes = bounded(batch.run_independent()).await.unwrap();
    assert_eq!(outcomes.len(), n as usize);
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            StatementOutcome::Ran { rows, .. } => {
                assert_eq!(rows.len(), 1, "statement {i}");
                assert_eq!(rows[0].get::<i32>(0).unwrap(), i as i32);
            }
            other => panic!("statement {i}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_a_sync_each_is_read_under_its_own_bound() {
    let _one = ONE_AT_A_TIME.lock().await;
    let client = connect(true).await;
    let before = client.connection_stats();
    batch_of(&client, 2_000).await;
    answers(&client).await;
    raised_since(&client, &before, "2,000 statements");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turned_off_the_mark_is_never_raised() {
    let _one = ONE_AT_A_TIME.lock().await;
    let client = connect(false).await;
    let read = bounded(stream(&client, &rows_sql(0, 0.0))).await;
    assert_eq!(read.rows, ROWS);
    assert!(read.in_order);
    answers(&client).await;
    batch_of(&client, 2_000).await;
    let stats = client.connection_stats();
    assert_eq!(stats.low_water_raises, 0);
    assert_eq!(stats.low_water_stalls, 0);
}
