//! Cancel safety: every public async operation that writes to the
//! connection is dropped at each of its await points in turn, and the
//! connection is checked after each drop.
//!
//! How the drop points are reached (`support/drop_points.rs`): the
//! operation's future is polled by hand, each poll after the wake that
//! the previous poll's pending result promised, so poll `n` takes it one
//! await point further than poll `n - 1` (a reply arrived, room was made,
//! a lock was released). For N = 0, 1, 2, … the future is dropped right
//! after poll N (before the server answered the step it waits for), and
//! again after poll N and its wake (the answer arrived but was not read),
//! until it completes within N polls. Each operation runs on a fresh
//! connection, and the future holds every step from the first byte to the
//! result: for `commit`, the `BEGIN` and the statements before it are part
//! of the same future, so the later N are the commit's own await points.
//!
//! After each drop, on that connection:
//!
//! (a) a query answers correctly (within a bound: a wedged connection
//!     fails here), and the operation itself then runs again to its end
//!     with the right result (a statement half-prepared, a COPY left open
//!     or a lock kept would fail it);
//! (b) the server reports the session `idle` in `pg_stat_activity` (by
//!     backend pid, from a second connection; polled with a bound, since a
//!     ROLLBACK or CopyFail queued by the drop may still be on its way);
//! (c) a marker row written right after the drop, with autocommit, is
//!     still there once the client is closed (checked from the second
//!     connection): a session left inside a transaction would lose it.
//!
//! Every operation is covered four times: with the default settings;
//! with a 2 KiB write buffer and one request in flight, where callers wait
//! for room far more often (inside COPY IN's sends, the binary writer) and
//! so reach those await points too; with SQL text run as the unnamed
//! statement (no statement cache); and with one request in flight, held
//! by another task's short query as the operation starts, so that it first
//! waits for its place in the pipeline. The cancel request is dropped while a
//! query runs on the connection; a cancel whose bytes left before the drop
//! is given a second to end that query before another cancel is sent, so
//! that it cannot land on a later query.
//!
//! The count of (operation, drop point) pairs covered is printed. It
//! depends a little on how the server's replies fall into socket reads, so
//! it varies from run to run by a few.
//!
//! The tests after it reach, one at a time, points the loop cannot: a
//! commit or rollback waiting for a full pipeline, a savepoint's opening
//! (checked inside its transaction), a failed start, a COPY `send` and a
//! binary `write` waiting for room with data gathered before them, and a
//! runtime shutting down under a start.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use pgline::config::StatementCacheMode;
use pgline::error::SqlState;
use pgline::types::Type;
use pgline::{
    BinaryCopyInWriter, BinaryCopyOutReader, Client, Config, IsolationLevel, RetryPolicy,
    SimpleQueryMessage,
};
use pgline_testkit::{Server, ServerBuilder};
use support::drop_points::{DropPoint, Outcome, When, poll_then_drop};
use tokio::io::AsyncReadExt;

/// How long a step may wait before the connection counts as hung.
const LIMIT: Duration = Duration::from_secs(20);
/// Rows in `source` (COPY OUT, streamed queries) and per COPY IN.
const ROWS: i32 = 3000;
/// Operations covered at once (each on its own connections).
const CONCURRENCY: usize = 4;
/// An operation that needs more polls than this is reported as a failure
/// rather than looped on.
const MAX_POLLS: usize = 5000;

type Failure = Box<dyn std::error::Error + Send + Sync>;
type Res = Result<(), Failure>;
type OpFuture<'a> = Pin<Box<dyn Future<Output = Res> + 'a>>;

/// State the operations share.
struct Ctx {
    /// A snapshot exported by a transaction kept open for the whole test.
    snapshot: String,
}

#[derive(Clone, Copy)]
enum Kind {
    /// The future is the operation on the connection under test.
    Plain(for<'a> fn(&'a Client, &'a Ctx, i64) -> OpFuture<'a>),
    /// A cancel request for a query running on the connection under test.
    Cancel,
}

#[derive(Clone, Copy)]
struct Operation {
    name: &'static str,
    kind: Kind,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| ServerBuilder::new().start().expect("start a server"))
}

fn url() -> String {
    server().url("postgres", None, "postgres")
}

async fn connect() -> Client {
    pgline::connect(&url()).await.expect("connect")
}

/// How the connection under test is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    /// The defaults.
    Default,
    /// A 2 KiB write buffer and one request in flight: callers wait for
    /// room and for the pipeline far more often, so those await points
    /// (inside COPY IN's sends, the binary writer, large requests) are
    /// reached too.
    Tight,
    /// SQL text runs as the unnamed statement (no statement cache), as
    /// behind a transaction-pooling proxy.
    Unnamed,
    /// One request in flight, held by another task's short query when the
    /// operation starts: its first request waits for the place in the
    /// pipeline, so that await point (and a place granted to a future
    /// dropped before it took it) is covered too.
    Gated,
}

async fn connect_with(setup: Setup) -> Client {
    match setup {
        Setup::Default => connect().await,
        Setup::Tight => {
            let mut config: Config = url().parse().expect("config");
            config.max_write_buffer(2 * 1024).max_in_flight(1);
            config.connect().await.expect("connect")
        }
        Setup::Unnamed => {
            let mut config: Config = url().parse().expect("config");
            config.statement_cache_mode(StatementCacheMode::UnnamedOnly);
            config.connect().await.expect("connect")
        }
        Setup::Gated => {
            let mut config: Config = url().parse().expect("config");
            config.max_in_flight(1);
            config.connect().await.expect("connect")
        }
    }
}

fn next_id() -> i64 {
    static NEXT: AtomicI64 = AtomicI64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn fail(message: String) -> Failure {
    message.into()
}

fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Res {
    if got == want {
        Ok(())
    } else {
        Err(fail(format!("{what}: got {got:?}, expected {want:?}")))
    }
}

/// `ROWS` lines of text COPY data for `run`, in chunks of about 16 KiB.
fn text_chunks(run: i64, csv: bool) -> Vec<Vec<u8>> {
    let mut chunks = vec![Vec::new()];
    for id in 1..=ROWS {
        let line = if csv {
            format!("{run},{id},\"name, number {id}\"\n")
        } else {
            format!("{run}\t{id}\tname number {id}\n")
        };
        let last = chunks.last_mut().expect("one chunk");
        last.extend_from_slice(line.as_bytes());
        if last.len() >= 16 * 1024 {
            chunks.push(Vec::new());
        }
    }
    chunks
}

/// `ROWS` rows of COPY BINARY data for `run`, header and trailer included.
fn binary_data(run: i64) -> Vec<u8> {
    let mut out = BytesMut::new();
    out.put_slice(b"PGCOPY\n\xff\r\n\0");
    out.put_i32(0);
    out.put_i32(0);
    for id in 1..=ROWS {
        let name = format!("name number {id}");
        out.put_i16(3);
        out.put_i32(8);
        out.put_i64(run);
        out.put_i32(4);
        out.put_i32(id);
        out.put_i32(name.len() as i32);
        out.put_slice(name.as_bytes());
    }
    out.put_i16(-1);
    out.to_vec()
}

/// Defines the operations: each body is an `async` block over `c` (the
/// client), `x` (the shared [`Ctx`]) and `run` (a number unique to this
/// run, tagging what it writes).
macro_rules! operations {
    ($( $name:literal => |$c:ident, $x:ident, $run:ident| $body:block )*) => {
        vec![$(
            Operation {
                name: $name,
                kind: Kind::Plain({
                    #[allow(unused_variables)]
                    fn run<'a>($c: &'a Client, $x: &'a Ctx, $run: i64) -> OpFuture<'a> {
                        Box::pin(async move $body)
                    }
                    run
                }),
            },
        )*]
    };
}

fn operations() -> Vec<Operation> {
    let mut ops = operations! {
        "query (statement cache)" => |c, x, run| {
            let rows = c
                .query("SELECT id, name FROM source WHERE id <= $1 ORDER BY id", &[&ROWS])
                .await?;
            expect_eq("rows", rows.len(), ROWS as usize)?;
            expect_eq("last id", rows[rows.len() - 1].get::<i32>(0)?, ROWS)
        }
        "query of a prepared statement" => |c, x, run| {
            let stmt = c.prepare("SELECT id FROM source WHERE id <= $1").await?;
            let rows = c.query(&stmt, &[&10i32]).await?;
            expect_eq("rows", rows.len(), 10)
        }
        "query_one" => |c, x, run| {
            let row = c.query_one("SELECT $1::int8 * 2", &[&run]).await?;
            expect_eq("value", row.get::<i64>(0)?, run * 2)
        }
        "query_opt" => |c, x, run| {
            let none = c.query_opt("SELECT id FROM source WHERE id = $1", &[&-1i32]).await?;
            expect_eq("no row", none.is_none(), true)?;
            let some = c.query_opt("SELECT id FROM source WHERE id = $1", &[&7i32]).await?;
            expect_eq("row", some.map(|r| r.get::<i32>(0).ok()), Some(Some(7)))
        }
        "query_opt of text with a cast" => |c, x, run| {
            let row = c.query_opt("SELECT $1::text || 'x'", &[&"a"]).await?;
            expect_eq("row", row.map(|r| r.get::<String>(0).ok()), Some(Some("ax".to_owned())))
        }
        "query_stream" => |c, x, run| {
            let mut stream = c
                .query_stream("SELECT id, name FROM source ORDER BY id", &[])
                .await?;
            let mut n = 0;
            while let Some(row) = stream.next().await {
                row?;
                n += 1;
            }
            expect_eq("rows", n, ROWS)
        }
        "execute" => |c, x, run| {
            let n = c
                .execute("INSERT INTO items (run, id, name) VALUES ($1, 1, 'execute')", &[&run])
                .await?;
            expect_eq("rows affected", n, 1)
        }
        "prepare" => |c, x, run| {
            let stmt = c.prepare("SELECT $1::int4 + 1").await?;
            let row = c.query_one(&stmt, &[&41i32]).await?;
            expect_eq("value", row.get::<i32>(0)?, 42)
        }
        "prepare_typed" => |c, x, run| {
            let stmt = c.prepare_typed("SELECT $1", &[Type::INT8]).await?;
            let row = c.query_one(&stmt, &[&run]).await?;
            expect_eq("value", row.get::<i64>(0)?, run)
        }
        "lookup_type" => |c, x, run| {
            let info = c.lookup_type("int4").await?;
            expect_eq("oid", info.ty, Type::INT4)
        }
        "simple_query" => |c, x, run| {
            let messages = c.simple_query("SELECT 1; SELECT 2, 3").await?;
            let rows = messages
                .iter()
                .filter(|m| matches!(m, SimpleQueryMessage::Row(_)))
                .count();
            expect_eq("rows", rows, 2)
        }
        "batch_execute" => |c, x, run| {
            c.batch_execute(&format!(
                "INSERT INTO items (run, id, name) VALUES ({run}, 1, 'a'); \
                 INSERT INTO items (run, id, name) VALUES ({run}, 2, 'b')"
            ))
            .await?;
            Ok(())
        }
        "batch, a Sync per statement" => |c, x, run| {
            let (one, two) = (1i32, 2i32);
            let p1: [&(dyn pgline::types::Encode + Sync); 2] = [&run, &one];
            let p2: [&(dyn pgline::types::Encode + Sync); 2] = [&run, &two];
            let mut batch = c.batch();
            batch.push("INSERT INTO items (run, id, name) VALUES ($1, $2, 'batch')", &p1);
            batch.push("SELECT $1::int8 + $2", &p2);
            batch.push("INSERT INTO items (run, id, name) VALUES ($1, $2, 'batch')", &p2);
            let outcomes = batch.run_independent().await?;
            expect_eq("statements run", outcomes.iter().filter(|o| o.ran()).count(), 3)
        }
        "batch, one Sync" => |c, x, run| {
            let (one, two) = (1i32, 2i32);
            let p1: [&(dyn pgline::types::Encode + Sync); 2] = [&run, &one];
            let p2: [&(dyn pgline::types::Encode + Sync); 2] = [&run, &two];
            let mut batch = c.batch();
            batch.push("INSERT INTO items (run, id, name) VALUES ($1, $2, 'batch')", &p1);
            batch.push("SELECT $1::int8 + $2", &p2);
            batch.push("INSERT INTO items (run, id, name) VALUES ($1, $2, 'batch')", &p2);
            let outcomes = batch.run_atomic().await?;
            expect_eq("statements run", outcomes.iter().filter(|o| o.ran()).count(), 3)
        }
        "transaction: start, statement, commit" => |c, x, run| {
            let tx = c.transaction().await?;
            tx.execute("INSERT INTO items (run, id, name) VALUES ($1, 1, 'tx')", &[&run]).await?;
            tx.commit().await?;
            Ok(())
        }
        "transaction: start, statement, rollback" => |c, x, run| {
            let tx = c.transaction().await?;
            tx.execute("INSERT INTO items (run, id, name) VALUES ($1, 1, 'tx')", &[&run]).await?;
            tx.rollback().await?;
            Ok(())
        }
        "transaction: serializable, read only, deferrable" => |c, x, run| {
            let tx = c
                .build_transaction()
                .isolation_level(IsolationLevel::Serializable)
                .read_only(true)
                .deferrable(true)
                .start()
                .await?;
            let row = tx.query_one("SELECT current_setting('transaction_isolation')", &[]).await?;
            expect_eq("isolation", row.get::<String>(0)?, "serializable".to_owned())?;
            tx.commit().await?;
            Ok(())
        }
        "transaction: read committed, read write, not deferrable" => |c, x, run| {
            let tx = c
                .build_transaction()
                .isolation_level(IsolationLevel::ReadCommitted)
                .read_only(false)
                .deferrable(false)
                .start()
                .await?;
            tx.execute("INSERT INTO items (run, id, name) VALUES ($1, 1, 'tx')", &[&run]).await?;
            tx.commit().await?;
            Ok(())
        }
        "transaction: repeatable read" => |c, x, run| {
            let tx = c
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .start()
                .await?;
            tx.commit().await?;
            Ok(())
        }
        "transaction: read uncommitted, read only" => |c, x, run| {
            let tx = c
                .build_transaction()
                .isolation_level(IsolationLevel::ReadUncommitted)
                .read_only(true)
                .start()
                .await?;
            tx.rollback().await?;
            Ok(())
        }
        "transaction: imported snapshot" => |c, x, run| {
            let tx = c.build_transaction().snapshot(&x.snapshot).start().await?;
            tx.query_one("SELECT 1", &[]).await?;
            tx.commit().await?;
            Ok(())
        }
        "export_snapshot and release" => |c, x, run| {
            let exported = c.export_snapshot().await?;
            expect_eq("snapshot id", exported.id().is_empty(), false)?;
            exported.release().await?;
            Ok(())
        }
        "transaction_with_retry" => |c, x, run| {
            let done = c
                .transaction_with_retry(
                    Some(IsolationLevel::Serializable),
                    RetryPolicy::default(),
                    async |tx| {
                        tx.execute("INSERT INTO items (run, id, name) VALUES ($1, 1, 'retry')", &[&run])
                            .await
                    },
                )
                .await?;
            expect_eq("rows", done.value, 1)
        }
        "savepoint: nested transaction, released" => |c, x, run| {
            let tx = c.transaction().await?;
            let sp = tx.transaction().await?;
            sp.execute("INSERT INTO items (run, id, name) VALUES ($1, 1, 'sp')", &[&run]).await?;
            sp.commit().await?;
            tx.commit().await?;
            Ok(())
        }
        "savepoint: named, rolled back to" => |c, x, run| {
            let tx = c.transaction().await?;
            let sp = tx.savepoint("a \"quoted\" name").await?;
            sp.execute("INSERT INTO items (run, id, name) VALUES ($1, 1, 'sp')", &[&run]).await?;
            sp.rollback().await?;
            let inner = tx.transaction().await?;
            let deeper = inner.transaction().await?;
            deeper.rollback().await?;
            inner.commit().await?;
            tx.commit().await?;
            Ok(())
        }
        "COPY IN text" => |c, x, run| {
            let mut sink = c.copy_in("COPY items (run, id, name) FROM STDIN").await?;
            for chunk in text_chunks(run, false) {
                sink.send(chunk).await?;
            }
            expect_eq("rows", sink.finish().await?, ROWS as u64)
        }
        "COPY IN CSV, small writes" => |c, x, run| {
            let mut sink = c
                .copy_in("COPY items (run, id, name) FROM STDIN (FORMAT csv)")
                .await?;
            for chunk in text_chunks(run, true) {
                for line in chunk.split_inclusive(|b| *b == b'\n') {
                    sink.send(line).await?;
                }
            }
            expect_eq("rows", sink.finish().await?, ROWS as u64)
        }
        "COPY IN binary, raw bytes" => |c, x, run| {
            let mut sink = c
                .copy_in("COPY items (run, id, name) FROM STDIN (FORMAT binary)")
                .await?;
            for chunk in binary_data(run).chunks(20 * 1024) {
                sink.send(chunk).await?;
            }
            expect_eq("rows", sink.finish().await?, ROWS as u64)
        }
        "COPY IN binary writer" => |c, x, run| {
            let sink = c
                .copy_in("COPY items (run, id, name) FROM STDIN (FORMAT binary)")
                .await?;
            let mut writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::INT4, Type::TEXT]);
            for id in 1..=ROWS {
                let name = format!("name number {id} {}", "x".repeat(40));
                writer.write(&[&run, &id, &name]).await?;
            }
            expect_eq("rows", writer.finish().await?, ROWS as u64)
        }
        "COPY IN from an AsyncRead" => |c, x, run| {
            let data = text_chunks(run, false).concat();
            let mut sink = c.copy_in("COPY items (run, id, name) FROM STDIN").await?;
            sink.send_from(&data[..]).await?;
            expect_eq("rows", sink.finish().await?, ROWS as u64)
        }
        "COPY IN from a Stream" => |c, x, run| {
            let chunks = text_chunks(run, false);
            let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
            let mut sink = c.copy_in("COPY items (run, id, name) FROM STDIN").await?;
            sink.send_stream(stream).await?;
            expect_eq("rows", sink.finish().await?, ROWS as u64)
        }
        "COPY IN aborted" => |c, x, run| {
            let mut sink = c.copy_in("COPY items (run, id, name) FROM STDIN").await?;
            sink.send(&text_chunks(run, false)[0]).await?;
            sink.abort("the test aborts it").await?;
            Ok(())
        }
        "copy_in_parallel" => |c, x, run| {
            let data = text_chunks(run, false).concat();
            let rows = pgline::copy_in_parallel(
                std::slice::from_ref(c),
                "COPY items (run, id, name) FROM STDIN",
                &data[..],
            )
            .await?;
            expect_eq("rows", rows, ROWS as u64)
        }
        "COPY OUT text" => |c, x, run| {
            let mut stream = c.copy_out("COPY (SELECT id, name FROM source ORDER BY id) TO STDOUT").await?;
            let mut n = 0;
            while let Some(chunk) = stream.next().await {
                chunk?;
                n += 1;
            }
            expect_eq("rows", n, ROWS)
        }
        "COPY OUT CSV, as AsyncRead" => |c, x, run| {
            let stream = c
                .copy_out("COPY (SELECT id, name FROM source ORDER BY id) TO STDOUT (FORMAT csv)")
                .await?;
            let mut text = String::new();
            stream.into_reader().read_to_string(&mut text).await?;
            expect_eq("lines", text.lines().count(), ROWS as usize)
        }
        "COPY OUT binary, raw bytes" => |c, x, run| {
            let mut stream = c
                .copy_out("COPY (SELECT id, name FROM source ORDER BY id) TO STDOUT (FORMAT binary)")
                .await?;
            let mut bytes = 0;
            while let Some(chunk) = stream.next().await {
                bytes += chunk?.len();
            }
            expect_eq("some data", bytes > 0, true)
        }
        "COPY OUT binary reader" => |c, x, run| {
            let stream = c
                .copy_out("COPY (SELECT id, name FROM source ORDER BY id) TO STDOUT (FORMAT binary)")
                .await?;
            let mut reader = BinaryCopyOutReader::new(stream, &[Type::INT4, Type::TEXT]);
            let mut last = 0;
            while let Some(row) = reader.next().await {
                last = row?.get::<i32>(0)?;
            }
            expect_eq("last id", last, ROWS)
        }
    };
    ops.push(Operation {
        name: "cancel_query",
        kind: Kind::Cancel,
    });
    ops
}

/// Waits until the server reports session `pid` in `state`.
async fn wait_for_state(observer: &Client, pid: i32, state: &str) -> Result<(), String> {
    let deadline = Instant::now() + LIMIT;
    loop {
        let row = observer
            .query_opt("SELECT state FROM pg_stat_activity WHERE pid = $1", &[&pid])
            .await
            .map_err(|e| format!("pg_stat_activity: {e}"))?;
        let seen: Option<String> = match row {
            Some(row) => row.get(0).map_err(|e| e.to_string())?,
            None => None,
        };
        if seen.as_deref() == Some(state) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the server reports the session as {seen:?}, not {state:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    f: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(LIMIT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {LIMIT:?} (wedged)")),
    }
}

/// The cancel operation: a cancel request for a query running on `client`,
/// dropped at `point`. Returns whether it completed.
async fn cancel_at(client: &Client, observer: &Client, point: DropPoint) -> Result<bool, String> {
    let pid = client.backend_pid() as i32;
    let sleeper = client.clone();
    let mut sleeping =
        tokio::spawn(async move { sleeper.batch_execute("SELECT pg_sleep(60)").await });
    wait_for_state(observer, pid, "active").await?;
    let token = client.cancel_token();
    let completed = match poll_then_drop(token.cancel_query(), point, LIMIT).await {
        Outcome::Completed(result) => {
            result.map_err(|e| format!("the cancel failed: {e}"))?;
            true
        }
        Outcome::Dropped => false,
        Outcome::Stuck { after_polls } => {
            return Err(format!(
                "hung: not woken within {LIMIT:?} after poll {after_polls}"
            ));
        }
    };
    // A cancel whose bytes left before the drop still reaches the server:
    // give it a moment to end the query, so it cannot land on a later one.
    // Else cancel it again, until one gets through.
    let mut ended = tokio::time::timeout(Duration::from_secs(1), &mut sleeping).await;
    while ended.is_err() {
        bounded("a second cancel", token.cancel_query()).await?;
        ended = tokio::time::timeout(LIMIT, &mut sleeping).await;
    }
    match ended {
        Ok(Ok(Err(e))) if e.code() == Some(&SqlState::QUERY_CANCELED) => Ok(completed),
        other => Err(format!("the cancelled query ended with {other:?}")),
    }
}

/// One (operation, drop point) pair: a fresh connection, the operation
/// dropped at `point`, then the checks. Returns whether the operation
/// completed before the drop point.
async fn pair(
    op: Operation,
    setup: Setup,
    ctx: &Ctx,
    observer: &Client,
    point: DropPoint,
) -> Result<bool, String> {
    let client = connect_with(setup).await;
    let result = drop_and_check(op, setup, ctx, &client, observer, point).await;
    if result.is_err() {
        let _ = tokio::time::timeout(LIMIT, client.abort()).await;
    }
    result
}

async fn drop_and_check(
    op: Operation,
    setup: Setup,
    ctx: &Ctx,
    client: &Client,
    observer: &Client,
    point: DropPoint,
) -> Result<bool, String> {
    let pid = client.backend_pid() as i32;
    let run = next_id();
    let completed = match op.kind {
        Kind::Plain(run_op) => {
            let holder = if setup == Setup::Gated {
                let other = client.clone();
                let holder =
                    tokio::spawn(async move { other.batch_execute("SELECT pg_sleep(0.02)").await });
                until_pending(client, 1).await;
                Some(holder)
            } else {
                None
            };
            let outcome = poll_then_drop(run_op(client, ctx, run), point, LIMIT).await;
            if let Some(holder) = holder {
                match tokio::time::timeout(LIMIT, holder).await {
                    Ok(Ok(Ok(()))) => {}
                    other => return Err(format!("the query holding the pipeline: {other:?}")),
                }
            }
            match outcome {
                Outcome::Completed(result) => {
                    result.map_err(|e| format!("the operation failed: {e}"))?;
                    true
                }
                Outcome::Dropped => false,
                Outcome::Stuck { after_polls } => {
                    return Err(format!(
                        "hung: not woken within {LIMIT:?} after poll {after_polls}"
                    ));
                }
            }
        }
        Kind::Cancel => cancel_at(client, observer, point).await?,
    };
    // (a) The connection answers a query correctly.
    let row = bounded(
        "(a) a query after the drop",
        client.query_one("SELECT $1::int8 + 1", &[&run]),
    )
    .await?;
    let value: i64 = row.get(0).map_err(|e| e.to_string())?;
    if value != run + 1 {
        return Err(format!(
            "(a) a query after the drop returned {value}, not {}",
            run + 1
        ));
    }
    // (b) The session is idle on the server.
    wait_for_state(observer, pid, "idle")
        .await
        .map_err(|e| format!("(b) after the drop: {e}"))?;
    // (c) A marker written now survives the client's close.
    let marker = run;
    bounded(
        "(c) the marker write",
        client.execute("INSERT INTO marker (id) VALUES ($1)", &[&marker]),
    )
    .await?;
    // (a) The operation itself runs again, to its end.
    match op.kind {
        Kind::Plain(run_op) => {
            let again = next_id();
            match tokio::time::timeout(LIMIT, run_op(client, ctx, again)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(format!("(a) the operation run again failed: {e}")),
                Err(_) => return Err(format!("(a) the operation run again hung for {LIMIT:?}")),
            }
            let _ = observer
                .execute("DELETE FROM items WHERE run = $1", &[&again])
                .await;
        }
        Kind::Cancel => {
            bounded(
                "(a) a cancel on the idle session",
                client.cancel_token().cancel_query(),
            )
            .await?
        }
    }
    wait_for_state(observer, pid, "idle")
        .await
        .map_err(|e| format!("(b) after the operation ran again: {e}"))?;
    bounded("closing the client", client.close()).await?;
    let stored: i64 = observer
        .query_one("SELECT count(*) FROM marker WHERE id = $1", &[&marker])
        .await
        .and_then(|row| row.get(0))
        .map_err(|e| e.to_string())?;
    if stored != 1 {
        return Err("(c) the marker written after the drop was lost at close".to_owned());
    }
    let _ = observer
        .execute("DELETE FROM items WHERE run = $1", &[&run])
        .await;
    Ok(completed)
}

/// Every drop point of one operation. Returns the pairs covered and the
/// failures.
async fn cover(op: Operation, setup: Setup, ctx: &Ctx, observer: &Client) -> (usize, Vec<String>) {
    let mut pairs = 0;
    let mut failures = Vec::new();
    'points: for polls in 0..=MAX_POLLS {
        for when in [When::AfterPoll, When::AfterWake] {
            if polls == 0 && when == When::AfterWake {
                continue;
            }
            let point = DropPoint { polls, when };
            match pair(op, setup, ctx, observer, point).await {
                Ok(true) => break 'points,
                Ok(false) => pairs += 1,
                Err(e) => {
                    pairs += 1;
                    failures.push(format!("{} ({setup:?}), {point}: {e}", op.name));
                    if e.starts_with("the operation failed") {
                        break 'points;
                    }
                }
            }
        }
        if polls == MAX_POLLS {
            failures.push(format!(
                "{} ({setup:?}): not done after {MAX_POLLS} polls",
                op.name
            ));
        }
    }
    (pairs, failures)
}

async fn prepare_tables(observer: &Client) {
    observer
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS marker, items, source;
             CREATE TABLE marker (id int8 PRIMARY KEY);
             CREATE TABLE items (run int8, id int4, name text);
             CREATE TABLE source AS
               SELECT g AS id, 'name number ' || g AS name FROM generate_series(1, {ROWS}) g;"
        ))
        .await
        .expect("create the tables");
}

#[tokio::test]
async fn every_operation_survives_a_drop_at_every_await_point() {
    use futures_util::StreamExt;

    let observer = connect().await;
    prepare_tables(&observer).await;
    let exporter = connect().await;
    let exported = exporter.export_snapshot().await.expect("export a snapshot");
    let ctx = Ctx {
        snapshot: exported.id().to_owned(),
    };
    let started = Instant::now();
    let ops = operations();
    let n_ops = ops.len();
    let runs = [Setup::Default, Setup::Tight, Setup::Unnamed, Setup::Gated]
        .into_iter()
        .flat_map(|setup| ops.iter().map(move |op| (*op, setup)));
    let results: Vec<(Operation, Setup, usize, Vec<String>)> = futures_util::stream::iter(runs)
        .map(|(op, setup)| {
            let (ctx, observer) = (&ctx, &observer);
            async move {
                let (pairs, failures) = cover(op, setup, ctx, observer).await;
                (op, setup, pairs, failures)
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    for (op, setup, pairs, _) in &results {
        println!("  {} ({setup:?}): {pairs} drop points", op.name);
    }
    let pairs: usize = results.iter().map(|r| r.2).sum();
    let failures: Vec<&String> = results.iter().flat_map(|r| &r.3).collect();
    println!(
        "cancel safety: {pairs} (operation, drop point) pairs covered, {n_ops} operations \
         in four setups, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {pairs} pairs failed:\n{}",
        failures.len(),
        failures
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    exported.release().await.expect("release the snapshot");
}

/// A client whose pipeline holds one request, and whose write buffer makes
/// every caller wait while anything is queued and not yet taken by the
/// connection's driver.
async fn connect_narrow() -> Client {
    let mut config: Config = url().parse().expect("config");
    config.max_in_flight(1).max_write_buffer(1);
    config.connect().await.expect("connect")
}

/// Waits (yielding to the runtime) until `client` has `n` requests
/// unanswered.
async fn until_pending(client: &Client, n: usize) {
    let deadline = Instant::now() + LIMIT;
    while client.pending_requests() != n {
        assert!(Instant::now() < deadline, "the request was never queued");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// `commit` and `rollback` take over the duty of ending the transaction
/// only once their statement is queued: dropped while they wait for room
/// in a full pipeline, the transaction is rolled back, not left open.
#[tokio::test]
async fn an_end_dropped_while_the_pipeline_is_full_leaves_no_transaction_open() {
    let observer = connect().await;
    let client = connect_narrow().await;
    let pid = client.backend_pid() as i32;
    for commit in [true, false] {
        let tx = client.transaction().await.expect("begin");
        // Another request holds the only place in the pipeline.
        let other = client.clone();
        let holder = tokio::spawn(async move { other.batch_execute("SELECT pg_sleep(0.2)").await });
        until_pending(&client, 1).await;
        let first_poll = DropPoint {
            polls: 1,
            when: When::AfterPoll,
        };
        let outcome = if commit {
            poll_then_drop(tx.commit(), first_poll, LIMIT)
                .await
                .map_completed()
        } else {
            poll_then_drop(tx.rollback(), first_poll, LIMIT)
                .await
                .map_completed()
        };
        assert!(
            matches!(outcome, Outcome::Dropped),
            "the end did not wait for the pipeline: {outcome:?}"
        );
        holder.await.expect("join").expect("the other request");
        let what = if commit { "commit" } else { "rollback" };
        wait_for_state(&observer, pid, "idle")
            .await
            .unwrap_or_else(|e| panic!("a dropped {what}: {e}"));
        client.query_one("SELECT 1", &[]).await.expect("a query");
    }
}

/// A savepoint whose opening was dropped is rolled back to and released:
/// releasing it afterwards finds no such savepoint, at every drop point.
#[tokio::test]
async fn an_abandoned_savepoint_is_rolled_back_and_released() {
    let client = connect().await;
    for polls in 0.. {
        let tx = client.transaction().await.expect("begin");
        let point = DropPoint {
            polls,
            when: When::AfterPoll,
        };
        let completed = match poll_then_drop(tx.savepoint("abandoned"), point, LIMIT).await {
            // Dropped at once: its own rollback to the savepoint.
            Outcome::Completed(savepoint) => {
                drop(savepoint.expect("savepoint"));
                true
            }
            Outcome::Dropped => false,
            Outcome::Stuck { after_polls } => panic!("hung after poll {after_polls}"),
        };
        let error = tx
            .batch_execute("RELEASE SAVEPOINT abandoned")
            .await
            .expect_err("the abandoned savepoint still exists");
        assert_eq!(
            error.code(),
            Some(&SqlState::INVALID_SAVEPOINT_SPECIFICATION),
            "{point}: {error}"
        );
        tx.rollback().await.expect("rollback");
        if completed {
            break;
        }
    }
}

/// A transaction whose opening fails (here an unknown snapshot, after the
/// BEGIN succeeded) is not left open, aborted, on the session.
#[tokio::test]
async fn a_transaction_whose_start_fails_is_not_left_open() {
    let observer = connect().await;
    let client = connect().await;
    let error = client
        .build_transaction()
        .snapshot("00000003-00000002-1")
        .start()
        .await
        .expect_err("an unknown snapshot");
    assert!(error.code().is_some(), "{error}");
    let row = client
        .query_one("SELECT 41 + 1", &[])
        .await
        .expect("a query after the failed start");
    assert_eq!(row.get::<i32>(0).expect("int4"), 42);
    wait_for_state(&observer, client.backend_pid() as i32, "idle")
        .await
        .expect("idle after the failed start");
}

/// A COPY IN `send` dropped while it waits for room has taken nothing out
/// of the sink: data gathered by earlier sends is still sent.
#[tokio::test]
async fn a_dropped_copy_send_keeps_what_earlier_sends_gathered() {
    let client = connect_narrow().await;
    client
        .batch_execute("CREATE TEMP TABLE kept (id int4)")
        .await
        .expect("table");
    let lines = |ids: std::ops::RangeInclusive<i32>| -> Vec<u8> {
        ids.flat_map(|id| format!("{id}\n").into_bytes()).collect()
    };
    let mut sink = client.copy_in("COPY kept FROM STDIN").await.expect("copy");
    // Framed straight into the write buffer (8 KiB or more); the driver
    // has not run since, so it is still queued there.
    sink.send(lines(1..=2000)).await.expect("send");
    // Small: gathered in the sink.
    sink.send(b"2001\n").await.expect("send");
    let first_poll = DropPoint {
        polls: 1,
        when: When::AfterPoll,
    };
    let outcome = poll_then_drop(sink.send(lines(2002..=4000)), first_poll, LIMIT).await;
    assert!(
        matches!(outcome, Outcome::Dropped),
        "the send did not wait for room: {outcome:?}"
    );
    assert_eq!(sink.finish().await.expect("finish"), 2001);
    let row = client
        .query_one("SELECT count(DISTINCT id), max(id) FROM kept", &[])
        .await
        .expect("count");
    assert_eq!(row.get::<i64>(0).expect("count"), 2001);
    assert_eq!(row.get::<i32>(1).expect("max"), 2001);
}

/// Binary writer rows whose `write` was dropped while waiting for room are
/// not written, and the rows written before them are kept: a caller that
/// writes the dropped row again stores every row exactly once.
#[tokio::test]
async fn dropped_binary_writes_lose_and_duplicate_nothing() {
    let client = connect_narrow().await;
    client
        .batch_execute("CREATE TEMP TABLE written (id int4, pad text)")
        .await
        .expect("table");
    let sink = client
        .copy_in("COPY written FROM STDIN (FORMAT binary)")
        .await
        .expect("copy");
    let mut writer = BinaryCopyInWriter::new(sink, &[Type::INT4, Type::TEXT]);
    let pad = "p".repeat(100);
    let total = 5000;
    let first_poll = DropPoint {
        polls: 1,
        when: When::AfterPoll,
    };
    let (mut id, mut dropped) = (1, 0);
    while id <= total {
        match poll_then_drop(writer.write(&[&id, &pad]), first_poll, LIMIT).await {
            Outcome::Completed(result) => {
                result.expect("write");
                id += 1;
            }
            Outcome::Dropped => {
                dropped += 1;
                assert!(dropped < 100_000, "the writer never got room");
                // Lets the driver take the buffer before the row is
                // written again.
                tokio::task::yield_now().await;
            }
            Outcome::Stuck { after_polls } => panic!("hung after poll {after_polls}"),
        }
    }
    assert!(
        dropped > 0,
        "no write waited for room: the point was not reached"
    );
    assert_eq!(writer.finish().await.expect("finish"), total as u64);
    let row = client
        .query_one("SELECT count(*), count(DISTINCT id) FROM written", &[])
        .await
        .expect("count");
    assert_eq!(row.get::<i64>(0).expect("count"), i64::from(total));
    assert_eq!(row.get::<i64>(1).expect("distinct"), i64::from(total));
}

/// The guards need no live runtime: a transaction start and a COPY IN
/// start dropped because their runtime shuts down (their task dropped
/// with it, the connection's driver task too) leave no session behind on
/// the server, and nothing panics on the way.
#[test]
fn starts_dropped_by_a_runtime_shutting_down_leave_nothing_open() {
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    };
    let checker = runtime();
    let observer = checker.block_on(connect());
    checker.block_on(prepare_shutdown_table(&observer));
    for copy in [false, true] {
        let doomed = runtime();
        let client = doomed.block_on(connect());
        let pid = client.backend_pid() as i32;
        doomed.spawn(async move {
            if copy {
                let _sink = client.copy_in("COPY shutdown_items FROM STDIN").await;
            } else {
                let _tx = client.transaction().await;
            }
            std::future::pending::<()>().await;
        });
        // One turn: the task queues its BEGIN or COPY and waits for the
        // answer.
        doomed.block_on(tokio::task::yield_now());
        drop(doomed);
        checker.block_on(async {
            let deadline = Instant::now() + LIMIT;
            loop {
                let row = observer
                    .query_opt("SELECT state FROM pg_stat_activity WHERE pid = $1", &[&pid])
                    .await
                    .expect("pg_stat_activity");
                if row.is_none() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the session outlived its runtime: {:?}",
                    row.map(|r| r.get::<Option<String>>(0))
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
    }
}

async fn prepare_shutdown_table(observer: &Client) {
    observer
        .batch_execute("CREATE TABLE IF NOT EXISTS shutdown_items (id int4)")
        .await
        .expect("table");
}

/// The futures of the operations that own what they queue (guards held
/// across their awaits) can still be spawned on a multi-thread runtime.
#[test]
fn the_guarded_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    async fn futures(client: &Client) {
        send(&client.transaction());
        send(&client.build_transaction().start());
        send(&client.copy_in("COPY t FROM STDIN"));
        send(&client.prepare("SELECT 1"));
        send(&client.query("SELECT 1", &[]));
        let tx = client.transaction().await.expect("begin");
        send(&tx.transaction());
        send(&tx.savepoint("s"));
        send(&tx.commit());
        let tx = client.transaction().await.expect("begin");
        send(&tx.rollback());
    }
    // Checked when it compiles; never run.
    let _ = futures;
}
