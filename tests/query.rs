//! Simple and extended queries, parameters, transactions, and what happens
//! when the connection is lost, against a real server.

use std::time::Duration;

use pgline::error::{ErrorKind, RetryClass, SqlState};
use pgline::{Client, SimpleQueryMessage};

async fn connect() -> Client {
    let server = pgline_testkit::shared();
    pgline::connect(&server.url("pgline", Some("pgline-secret"), "pgline"))
        .await
        .expect("connect to the shared test server")
}

/// Guards against hangs: every awaited operation must end in this time.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("operation did not finish within 30 s")
}

#[tokio::test]
async fn simple_query_returns_text_rows_and_counts() {
    let client = connect().await;
    let messages = client
        .simple_query("SELECT 1 AS one, NULL::text AS nothing, 'é' AS accent; SELECT 2")
        .await
        .unwrap();
    assert_eq!(messages.len(), 4);
    let SimpleQueryMessage::Row(row) = &messages[0] else {
        panic!("expected a row, got {messages:?}");
    };
    assert_eq!(row.get(0), Some("1"));
    assert_eq!(row.get("nothing"), None);
    assert_eq!(row.get("accent"), Some("é"));
    assert_eq!(row.columns()[0].name(), "one");
    assert!(matches!(
        messages[1],
        SimpleQueryMessage::CommandComplete(Some(1))
    ));
    let SimpleQueryMessage::Row(row) = &messages[2] else {
        panic!("expected a row");
    };
    assert_eq!(row.get(0), Some("2"));
}

#[tokio::test]
async fn extended_query_with_binary_parameters() {
    let client = connect().await;
    let row = client
        .query_one(
            "SELECT $1::int4 + 1, $2::text || '!', $3::float8 * 2, $4::bool, $5::bytea, $6::int8",
            &[
                &41i32,
                &"hi",
                &1.25f64,
                &true,
                &vec![0u8, 255],
                &None::<i64>,
            ],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<i32>(0).unwrap(), 42);
    assert_eq!(row.get::<&str>(1).unwrap(), "hi!");
    assert_eq!(row.get::<f64>(2).unwrap(), 2.5);
    assert!(row.get::<bool>(3).unwrap());
    assert_eq!(row.get::<&[u8]>(4).unwrap(), &[0, 255]);
    assert_eq!(row.get::<Option<i64>>(5).unwrap(), None);
}

#[tokio::test]
async fn decoding_errors_name_column_and_types() {
    let client = connect().await;
    let row = client
        .query_one("SELECT NULL::int4 AS n, 'x'::text AS t", &[])
        .await
        .unwrap();
    let err = row.get::<i32>("n").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Type);
    assert_eq!(
        err.to_string(),
        "column 0 (\"n\"): NULL cannot be decoded into i32 (column type int4); use Option<i32>"
    );
    let err = row.get::<i32>("t").unwrap_err();
    assert_eq!(
        err.to_string(),
        "column 1 (\"t\"): a text value cannot be decoded into i32"
    );
    let err = row.get::<i32>("missing").unwrap_err();
    assert_eq!(
        err.to_string(),
        "type conversion error: no column \"missing\" in the row (building i32)"
    );
}

#[tokio::test]
async fn prepared_statement_reports_types_and_runs_repeatedly() {
    let client = connect().await;
    let stmt = client
        .prepare("SELECT $1::int8 * 2 AS doubled, $2::text AS label")
        .await
        .unwrap();
    assert_eq!(
        stmt.params(),
        &[pgline::types::Type::INT8, pgline::types::Type::TEXT]
    );
    assert_eq!(stmt.columns()[0].name(), "doubled");
    assert_eq!(stmt.columns()[0].type_(), pgline::types::Type::INT8);
    for i in 0..5i64 {
        let row = client.query_one(&stmt, &[&i, &"x"]).await.unwrap();
        assert_eq!(row.get::<i64>("doubled").unwrap(), i * 2);
    }
    // A wrong Rust type for a prepared parameter is refused before sending.
    let err = client
        .query(&stmt, &[&"not an int", &"x"])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Type);
    // A wrong parameter count too.
    let err = client.query(&stmt, &[&1i64]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Type);
    // The connection is still in step.
    assert_eq!(
        client
            .query_one("SELECT 7", &[])
            .await
            .unwrap()
            .get::<i32>(0)
            .unwrap(),
        7
    );
}

#[tokio::test]
async fn server_errors_carry_every_field_and_leave_the_connection_usable() {
    let client = connect().await;
    client
        .batch_execute(
            "CREATE TEMP TABLE dup (id int4 CONSTRAINT dup_pkey PRIMARY KEY); INSERT INTO dup VALUES (1)",
        )
        .await
        .unwrap();
    let err = client
        .execute("INSERT INTO dup VALUES ($1)", &[&1i32])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Db);
    assert_eq!(err.code(), Some(&SqlState::UNIQUE_VIOLATION));
    let db = err.as_db_error().unwrap();
    assert_eq!(db.constraint(), Some("dup_pkey"));
    assert_eq!(db.table(), Some("dup"));
    assert_eq!(db.detail(), Some("Key (id)=(1) already exists."));
    assert!(db.routine().is_some() && db.file().is_some() && db.line().is_some());

    let err = client.batch_execute("SELEC 1").await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::SYNTAX_ERROR));
    assert_eq!(err.as_db_error().unwrap().position(), Some(1));
    assert_eq!(
        client
            .execute("INSERT INTO dup VALUES (2)", &[])
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn parameter_status_is_tracked() {
    let client = connect().await;
    let version = client.parameter("server_version").unwrap();
    assert!(
        version.starts_with(char::is_numeric),
        "server_version = {version}"
    );
    assert_eq!(client.parameter("client_encoding").as_deref(), Some("UTF8"));
    client
        .batch_execute("SET TimeZone = 'Asia/Tokyo'")
        .await
        .unwrap();
    assert_eq!(client.parameter("TimeZone").as_deref(), Some("Asia/Tokyo"));
    assert!(client.parameter("in_hot_standby").is_some() || version.starts_with("1"));
}

#[tokio::test]
async fn concurrent_requests_on_one_connection_get_their_own_answers() {
    let client = connect().await;
    let mut tasks = Vec::new();
    for i in 0..64i32 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let row = client
                .query_one("SELECT $1::int4 * 3", &[&i])
                .await
                .unwrap();
            (i, row.get::<i32>(0).unwrap())
        }));
    }
    for task in tasks {
        let (i, got) = bounded(task).await.unwrap();
        assert_eq!(got, i * 3);
    }
}

#[tokio::test]
async fn a_dropped_request_does_not_desynchronise_the_connection() {
    let client = connect().await;
    // Start a slow query and abandon it half way.
    let slow = client.query("SELECT pg_sleep(0.3), 'slow'::text", &[]);
    let _ = tokio::time::timeout(Duration::from_millis(50), slow).await;
    // The next request gets its own answer, not the abandoned one's.
    let row = bounded(client.query_one("SELECT 'fast'::text", &[]))
        .await
        .unwrap();
    assert_eq!(row.get::<&str>(0).unwrap(), "fast");
}

#[tokio::test]
async fn a_lost_connection_fails_waiting_requests() {
    let client = connect().await;
    let killer = connect().await;
    let pid = client.backend_pid() as i32;
    let waiting = {
        let client = client.clone();
        tokio::spawn(async move { client.batch_execute("SELECT pg_sleep(20)").await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let killed = killer
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    assert!(killed.get::<bool>(0).unwrap());
    let err = bounded(waiting).await.unwrap().unwrap_err();
    // Either the server's FATAL 57P01 reached the request, or the socket
    // closed first: an I/O error with the socket's error as its source.
    assert_ended_by_the_backends_death(&err);
    // A statement outside a block was sent and got no reply: it may have
    // committed.
    assert_eq!(err.retry_class(), RetryClass::OutcomeUnknown, "{err:?}");
    assert!(err.is_outcome_unknown());
    let err = bounded(client.query("SELECT 1", &[])).await.unwrap_err();
    assert!(err.is_closed(), "{err:?}");
    // Refused without being sent: certainly not executed.
    assert_eq!(err.retry_class(), RetryClass::NotExecuted, "{err:?}");
    assert!(client.is_closed());
}

/// The error of a request in flight when its backend was terminated: the
/// server's `57P01` (kind `Db`), or kind `Io` with the socket's
/// `io::Error` reachable through `source()`.
fn assert_ended_by_the_backends_death(err: &pgline::Error) {
    match err.kind() {
        ErrorKind::Db => assert_eq!(err.code(), Some(&SqlState::ADMIN_SHUTDOWN), "{err:?}"),
        ErrorKind::Io => {
            let mut source = std::error::Error::source(err);
            while let Some(s) = source {
                if s.downcast_ref::<std::io::Error>().is_some() {
                    return;
                }
                source = s.source();
            }
            panic!("no io::Error in the source chain: {err:?}");
        }
        other => panic!("kind {other:?}: {err:?}"),
    }
}

#[tokio::test]
async fn close_terminates_and_later_calls_fail_cleanly() {
    let client = connect().await;
    let other = client.clone();
    bounded(client.close()).await.unwrap();
    assert!(other.is_closed());
    let err = other.batch_execute("SELECT 1").await.unwrap_err();
    assert!(err.is_closed());
}

#[tokio::test]
async fn copy_through_plain_calls_fails_without_hanging() {
    let client = connect().await;
    client
        .batch_execute("CREATE TEMP TABLE c (v int4); INSERT INTO c VALUES (1), (2)")
        .await
        .unwrap();
    // COPY needs a COPY stream: the call says so (the driver fails a COPY
    // FROM STDIN and discards a COPY TO STDOUT's data), and the connection
    // stays in step.
    let err = bounded(client.batch_execute("COPY c FROM STDIN"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err:?}");
    assert!(err.to_string().contains("use Client::copy_in"), "{err}");
    let err = bounded(client.execute("COPY c FROM STDIN", &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err:?}");
    let err = bounded(client.batch_execute("COPY c TO STDOUT"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("use Client::copy_out"), "{err}");
    let n: i64 = bounded(client.query_one("SELECT count(*) FROM c", &[]))
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(n, 2);
}

/// The int4 in the one row `statement` returns.
async fn int4<S: pgline::ToStatement + ?Sized>(
    client: &Client,
    statement: &S,
    params: &pgline::Params<'_>,
) -> i32 {
    let row = bounded(client.query_one(statement, params)).await.unwrap();
    row.get(0).unwrap()
}

/// `query_one` and `query_opt` read the whole reply, however many rows it
/// has, for a prepared statement and for SQL text (cached or unnamed), and
/// the connection runs the next query after each outcome.
#[tokio::test]
async fn single_row_queries_count_the_rows_for_every_kind_of_statement() {
    let cached = connect().await;
    let unnamed = {
        let server = pgline_testkit::shared();
        let mut config: pgline::Config = server
            .url("pgline", Some("pgline-secret"), "pgline")
            .parse()
            .unwrap();
        config.statement_cache_mode(pgline::config::StatementCacheMode::UnnamedOnly);
        config.connect().await.unwrap()
    };
    const ROWS: &str = "SELECT i FROM generate_series(1, $1::int4) i";
    for client in [&cached, &unnamed] {
        let prepared = client.prepare(ROWS).await.unwrap();
        for n in [0i32, 1, 3] {
            let by_statement = bounded(client.query_opt(&prepared, &[&n])).await;
            let by_text = bounded(client.query_opt(ROWS, &[&n])).await;
            for got in [by_statement, by_text] {
                match n {
                    0 => assert!(got.unwrap().is_none()),
                    1 => assert_eq!(got.unwrap().unwrap().get::<i32>(0).unwrap(), 1),
                    _ => {
                        let e = got.unwrap_err();
                        assert_eq!(e.kind(), ErrorKind::Type);
                        assert!(e.to_string().contains("got 3"), "{e}");
                    }
                }
            }
            let one = bounded(client.query_one(&prepared, &[&n])).await;
            match n {
                1 => assert_eq!(one.unwrap().get::<i32>(0).unwrap(), 1),
                _ => assert_eq!(one.unwrap_err().kind(), ErrorKind::Type),
            }
            assert_eq!(int4(client, "SELECT 7::int4", &[]).await, 7);
        }
    }
}

/// A single-row query the server fails reports the server's error, and the
/// transaction status it left is current when the call returns.
#[tokio::test]
async fn a_failing_single_row_query_leaves_the_status_current() {
    let client = connect().await;
    let divide = client.prepare("SELECT 1 / $1::int4").await.unwrap();
    client.batch_execute("BEGIN").await.unwrap();
    let e = bounded(client.query_one(&divide, &[&0i32]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::DIVISION_BY_ZERO), "{e}");
    assert_eq!(
        client.transaction_status(),
        pgline::TransactionStatus::Failed
    );
    client.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(client.transaction_status(), pgline::TransactionStatus::Idle);
    let e = bounded(client.query_opt("SELECT 1 / 0", &[]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::DIVISION_BY_ZERO), "{e}");
    assert_eq!(int4(&client, &divide, &[&1i32]).await, 1);
}

/// `RowStream::next` and `CopyOutStream::next` are inherent methods that
/// also win over `StreamExt::next` when it is in scope; mixing both
/// spellings on one stream reads every item once, in order.
#[tokio::test]
async fn inherent_next_and_stream_ext_next_read_the_same_stream() {
    use futures_util::StreamExt;

    let client = connect().await;
    let mut rows = client
        .query_stream("SELECT i FROM generate_series(1, 6) i", &[])
        .await
        .unwrap();
    let mut seen = Vec::new();
    loop {
        // Alternate: the inherent method, then the trait's.
        let Some(row) = rows.next().await else { break };
        seen.push(row.unwrap().get::<i32>(0).unwrap());
        let Some(row) = StreamExt::next(&mut rows).await else {
            break;
        };
        seen.push(row.unwrap().get::<i32>(0).unwrap());
    }
    assert_eq!(seen, [1, 2, 3, 4, 5, 6]);
    assert_eq!(rows.rows_affected(), Some(6));

    let mut out = client
        .copy_out("COPY (SELECT i FROM generate_series(1, 4) i) TO STDOUT")
        .await
        .unwrap();
    let mut chunks = Vec::new();
    while let Some(chunk) = out.next().await {
        chunks.push(chunk.unwrap());
        if let Some(chunk) = StreamExt::next(&mut out).await {
            chunks.push(chunk.unwrap());
        }
    }
    assert_eq!(chunks.concat(), b"1\n2\n3\n4\n");
}

/// Renders simple-query messages for comparison.
fn render(messages: &[SimpleQueryMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| match m {
            SimpleQueryMessage::Row(row) => format!(
                "row {:?}",
                (0..row.columns().len())
                    .map(|i| row.get(i))
                    .collect::<Vec<_>>()
            ),
            SimpleQueryMessage::CommandComplete(n) => format!("complete {n:?}"),
            other => format!("{other:?}"),
        })
        .collect()
}

/// The streamed simple query yields what `simple_query` gathers, one
/// message at a time; a failing statement is the last item (the ones
/// after it do not run); a stream dropped half-read leaves the connection
/// in step.
#[tokio::test]
async fn simple_query_stream_yields_what_simple_query_gathers() {
    let client = connect().await;
    let sql = "SELECT g, NULL::text FROM generate_series(1, 3) g; ; SELECT 'x' AS x; CREATE TEMP TABLE IF NOT EXISTS ss (v int4)";
    let gathered = client.simple_query(sql).await.unwrap();
    let mut stream = client.simple_query_stream(sql).await.unwrap();
    let mut streamed = Vec::new();
    while let Some(message) = stream.next().await {
        streamed.push(message.unwrap());
    }
    assert_eq!(render(&streamed), render(&gathered));
    assert_eq!(streamed.len(), 7, "{:?}", render(&streamed));

    let mut stream = client
        .simple_query_stream("SELECT 1; SELECT 1/0; INSERT INTO ss VALUES (3)")
        .await
        .unwrap();
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        items.push(item);
    }
    assert_eq!(items.len(), 3);
    assert!(matches!(
        items[1],
        Ok(SimpleQueryMessage::CommandComplete(Some(1)))
    ));
    let err = items[2].as_ref().unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::DIVISION_BY_ZERO));
    let n: i64 = client
        .query_one("SELECT count(*) FROM ss", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(n, 0, "the statement after the error did not run");

    let mut stream = client
        .simple_query_stream("SELECT g FROM generate_series(1, 200000) g")
        .await
        .unwrap();
    for want in 1..=1000 {
        match stream.next().await.unwrap().unwrap() {
            SimpleQueryMessage::Row(row) => assert_eq!(row.get(0), Some(&*want.to_string())),
            other => panic!("expected a row, got {other:?}"),
        }
    }
    drop(stream);
    let one: i32 = bounded(client.query_one("SELECT 1", &[]))
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(one, 1);
}
