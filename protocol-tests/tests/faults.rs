//! Network faults between the driver and a real server (testkit), injected
//! by the proxy: cuts mid-query and mid-transaction, blackholes, delays,
//! and a slow link that delivers a large result one byte per write.

mod common;

use std::future::Future;
use std::time::Duration;

use bytes::BytesMut;
use pgline::error::{ErrorKind, RetryClass, SqlState};
use pgline::proto::{BackendMessage, FrameSplitter};
use pgline::{Client, Config};
use pgline_protocol_tests::{Direction, Fault, FaultProxy};

const DEADLINE: Duration = Duration::from_secs(30);

async fn within<F: Future>(what: &str, f: F) -> F::Output {
    common::within(DEADLINE, what, f).await
}

async fn through(proxy: &FaultProxy, extra: &str) -> Client {
    within(
        "connect through the proxy",
        pgline::connect(&common::url_for(proxy.addr().port(), extra)),
    )
    .await
    .expect("connect through the proxy")
}

async fn direct() -> Client {
    within(
        "connect",
        pgline::connect(&common::url_for(common::upstream().port(), "")),
    )
    .await
    .expect("connect to the shared server")
}

async fn count(client: &Client, table: &str) -> i64 {
    let row = client
        .query_one(format!("SELECT count(*) FROM {table}").as_str(), &[])
        .await
        .expect("count rows");
    row.get::<i64>(0).expect("a count")
}

fn assert_cut(err: &pgline::Error, client: &Client) {
    assert!(
        matches!(err.kind(), ErrorKind::Io | ErrorKind::Closed),
        "{:?}: {err}",
        err.kind()
    );
    assert!(client.is_closed(), "{err}");
}

#[tokio::test]
async fn cut_mid_query() {
    let proxy = FaultProxy::start(common::upstream()).await;
    let client = through(&proxy, "").await;
    let (result, ()) = within("a cut query", async {
        tokio::join!(client.query("SELECT pg_sleep(30)", &[]), async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            proxy.cut();
        })
    })
    .await;
    let err = result.expect_err("the query cannot finish");
    assert_cut(&err, &client);
    // It was in flight: the socket's end, with its io::Error, and a
    // statement outside a block that may have run.
    assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
    assert!(
        std::error::Error::source(&err).is_some_and(|s| s.is::<std::io::Error>()),
        "{err:?}"
    );
    assert_eq!(err.retry_class(), RetryClass::OutcomeUnknown, "{err:?}");
    assert_eq!(err.code(), Some(&SqlState::TRANSACTION_RESOLUTION_UNKNOWN));
    // A new connection through the same proxy works.
    let again = through(&proxy, "").await;
    let row = again.query_one("SELECT 41 + 1", &[]).await.unwrap();
    assert_eq!(row.get::<i32>(0).unwrap(), 42);
}

#[tokio::test]
async fn cut_mid_transaction_leaves_nothing_and_keeps_acknowledged_commits() {
    let observer = direct().await;
    observer
        .batch_execute("DROP TABLE IF EXISTS fault_tx; CREATE TABLE fault_tx (id int)")
        .await
        .unwrap();
    let proxy = FaultProxy::start(common::upstream()).await;
    let client = through(&proxy, "&application_name=fault-tx").await;

    // An acknowledged commit.
    let tx = client.transaction().await.unwrap();
    tx.execute("INSERT INTO fault_tx VALUES (1)", &[])
        .await
        .unwrap();
    tx.commit().await.expect("commit acknowledged");

    // A transaction cut before its commit.
    let tx = client.transaction().await.unwrap();
    tx.execute("INSERT INTO fault_tx VALUES (2), (3)", &[])
        .await
        .unwrap();
    proxy.cut();
    let err = within("commit after the cut", tx.commit())
        .await
        .expect_err("the commit cannot be acknowledged");
    assert_cut(&err, &client);
    // Written before the cut was seen, the COMMIT's outcome is unknown;
    // refused after it, the transaction is lost and may run again. Never
    // "not executed" alone: the INSERT before it would be lost.
    let class = err.retry_class();
    assert!(
        matches!(
            class,
            RetryClass::OutcomeUnknown | RetryClass::RetryTransaction
        ),
        "{class:?}: {err:?}"
    );

    common::wait_backend_gone(&observer, "fault-tx", DEADLINE).await;
    let ids: Vec<i32> = observer
        .query("SELECT id FROM fault_tx ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<i32>(0).unwrap())
        .collect();
    assert_eq!(
        ids,
        [1],
        "the acknowledged commit is kept, the cut transaction is not"
    );
}

#[tokio::test]
async fn cut_mid_bulk_insert_leaves_all_rows_or_none() {
    // A large INSERT ... SELECT as the bulk load that is cut (the COPY case
    // is `cut_mid_copy_in_leaves_no_rows`).
    const ROWS: i64 = 300_000;
    let observer = direct().await;
    observer
        .batch_execute("DROP TABLE IF EXISTS fault_bulk; CREATE TABLE fault_bulk (id int)")
        .await
        .unwrap();
    let proxy = FaultProxy::start(common::upstream()).await;
    let client = through(&proxy, "&application_name=fault-bulk").await;
    let sql = format!("INSERT INTO fault_bulk SELECT g FROM generate_series(1, {ROWS}) g");
    let (result, ()) = within("a cut insert", async {
        tokio::join!(client.execute(sql.as_str(), &[]), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            proxy.cut();
        })
    })
    .await;
    common::wait_backend_gone(&observer, "fault-bulk", DEADLINE).await;
    let rows = count(&observer, "fault_bulk").await;
    match result {
        // Acknowledged: every row is there.
        Ok(n) => assert_eq!((n, rows), (ROWS as u64, ROWS)),
        // Not acknowledged: the statement either committed before the cut
        // reached the server, or not at all; never a part of it.
        Err(err) => {
            assert_cut(&err, &client);
            assert!(rows == 0 || rows == ROWS, "{rows} rows: a partial insert");
        }
    }
}

#[tokio::test]
async fn cut_mid_copy_in_leaves_no_rows() {
    let observer = direct().await;
    observer
        .batch_execute(
            "DROP TABLE IF EXISTS fault_copy; CREATE TABLE fault_copy (id int, name text)",
        )
        .await
        .unwrap();
    let proxy = FaultProxy::start(common::upstream()).await;
    let client = through(&proxy, "&application_name=fault-copy").await;
    let mut sink = client
        .copy_in("COPY fault_copy FROM STDIN")
        .await
        .expect("COPY started");
    let chunk: String = (0..10_000).map(|i| format!("{i}\tname {i}\n")).collect();
    // Some data reaches the server, then the link is cut mid-COPY.
    for _ in 0..5 {
        sink.send(chunk.as_bytes())
            .await
            .expect("data before the cut");
    }
    proxy.cut();
    let mut failed = None;
    for _ in 0..50 {
        if let Err(e) = within("send after the cut", sink.send(chunk.as_bytes())).await {
            failed = Some(e);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let err = match failed {
        Some(e) => e,
        None => within("finish after the cut", sink.finish())
            .await
            .expect_err("a cut COPY cannot finish"),
    };
    assert!(
        matches!(err.kind(), ErrorKind::Io | ErrorKind::Closed),
        "{:?}: {err}",
        err.kind()
    );
    common::wait_backend_gone(&observer, "fault-copy", DEADLINE).await;
    assert_eq!(count(&observer, "fault_copy").await, 0, "no partial rows");
    observer
        .batch_execute("DROP TABLE fault_copy")
        .await
        .unwrap();
}

#[tokio::test]
async fn blackhole_is_ended_by_the_query_timeout() {
    let proxy = FaultProxy::start(common::upstream()).await;
    // Keepalives are on, but the proxy's kernel answers the probes: only
    // the driver's own timeout can see a blackhole behind a proxy.
    let client = through(
        &proxy,
        "&keepalives=1&keepalives_idle=1&keepalives_interval=1&keepalives_count=2",
    )
    .await;
    proxy.set(Direction::ClientToServer, Fault::Blackhole);
    proxy.set(Direction::ServerToClient, Fault::Blackhole);
    let err = within(
        "a blackholed query",
        client
            .with_timeout(Duration::from_millis(500))
            .query("SELECT 1", &[]),
    )
    .await
    .expect_err("nothing can answer");
    assert!(err.is_timeout(), "{:?}: {err}", err.kind());
}

#[tokio::test]
async fn blackhole_during_connect_is_ended_by_connect_timeout() {
    let proxy = FaultProxy::start(common::upstream()).await;
    proxy.set(Direction::ServerToClient, Fault::Blackhole);
    let url =
        common::url_for(proxy.addr().port(), "").replace("connect_timeout=5", "connect_timeout=2");
    let err = within("a blackholed connect", pgline::connect(&url))
        .await
        .expect_err("the server never answers");
    assert!(err.is_timeout(), "{:?}: {err}", err.kind());
}

#[tokio::test]
async fn delayed_link_gives_the_same_answers() {
    let proxy = FaultProxy::start(common::upstream()).await;
    proxy.set(
        Direction::ClientToServer,
        Fault::Delay(Duration::from_millis(20)),
    );
    proxy.set(
        Direction::ServerToClient,
        Fault::Delay(Duration::from_millis(20)),
    );
    let client = through(&proxy, "").await;
    let (a, b) = within("pipelined queries on a slow link", async {
        tokio::join!(
            client.query_one("SELECT $1::int4 * 2", &[&21i32]),
            client.query_one("SELECT $1::text || '!'", &[&"hi"])
        )
    })
    .await;
    assert_eq!(a.unwrap().get::<i32>(0).unwrap(), 42);
    assert_eq!(b.unwrap().get::<String>(0).unwrap(), "hi!");
}

const SLOW_ROWS: i32 = 100_000;
const SLOW_SQL: &str = "SELECT g, 'row ' || g, g::float8 / 3 FROM generate_series(1, 100000) g";

async fn fetch_all(client: &Client) -> Vec<(i32, String, f64)> {
    within("a 100,000-row result", client.query(SLOW_SQL, &[]))
        .await
        .expect("the result")
        .iter()
        .map(|r| {
            (
                r.get::<i32>(0).unwrap(),
                r.get::<String>(1).unwrap(),
                r.get::<f64>(2).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn slow_link_one_byte_per_write_decodes_identically() {
    let normal = fetch_all(&direct().await).await;
    assert_eq!(normal.len(), SLOW_ROWS as usize);
    assert_eq!(normal[99_999].1, "row 100000");

    let proxy = FaultProxy::start(common::upstream()).await;
    let client = through(&proxy, "").await;
    proxy.set(Direction::ServerToClient, Fault::OneByteWrites);
    let before = (
        proxy.forwarded(Direction::ServerToClient),
        proxy.writes(Direction::ServerToClient),
    );
    let slow = fetch_all(&client).await;
    let bytes = proxy.forwarded(Direction::ServerToClient) - before.0;
    let writes = proxy.writes(Direction::ServerToClient) - before.1;
    assert_eq!(writes, bytes, "every byte went in its own write");
    assert!(bytes > 1_000_000, "{bytes} bytes");
    assert_eq!(slow, normal);
}

/// Splits `stream` into messages, feeding the splitter `step` bytes at a
/// time, and returns the DataRow bodies.
fn data_rows(stream: &[u8], step: usize) -> Vec<bytes::Bytes> {
    let splitter = FrameSplitter::default();
    let mut buf = BytesMut::new();
    let mut rows = Vec::new();
    for piece in stream.chunks(step) {
        buf.extend_from_slice(piece);
        while let Some(frame) = splitter.split(&mut buf).expect("a valid server stream") {
            if let BackendMessage::DataRow(row) = BackendMessage::parse(frame).expect("decodes") {
                rows.push(row.body().clone());
            }
        }
    }
    assert!(buf.is_empty(), "bytes left over");
    rows
}

#[tokio::test]
async fn recorded_100k_row_stream_decodes_identically_one_byte_per_read() {
    // The server's bytes of a 100,000-row result, recorded by the proxy,
    // fed to the codec one byte per read and all at once.
    let proxy = FaultProxy::start(common::upstream()).await;
    let client = through(&proxy, "").await;
    let rows = fetch_all(&client).await;
    assert_eq!(rows.len(), SLOW_ROWS as usize);
    let stream = proxy.recorded(Direction::ServerToClient);
    let whole = data_rows(&stream, stream.len());
    let byte_by_byte = data_rows(&stream, 1);
    assert_eq!(whole.len(), SLOW_ROWS as usize);
    assert_eq!(byte_by_byte, whole);
}

#[tokio::test]
async fn config_timeouts_are_typed() {
    // A query timeout from the configuration ends a blackholed request too.
    let proxy = FaultProxy::start(common::upstream()).await;
    let mut config: Config = common::url_for(proxy.addr().port(), "").parse().unwrap();
    config.query_timeout(Duration::from_millis(400));
    let client = within("connect", config.connect()).await.unwrap();
    proxy.set(Direction::ServerToClient, Fault::Blackhole);
    let err = within("a blackholed query", client.query("SELECT 1", &[]))
        .await
        .expect_err("nothing answers");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
}
