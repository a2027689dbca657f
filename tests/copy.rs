//! COPY IN and COPY OUT against a real server: text, CSV and binary,
//! failures, and what the connection looks like afterwards.

use std::time::Duration;

use bytes::{BufMut, BytesMut};
use pgline::error::{ErrorKind, SqlState};
use pgline::types::{Decode, Encode, IsNull, Type, TypeError};
use pgline::{BinaryCopyInWriter, BinaryCopyOutReader, Client};

mod support;

const ROWS: i32 = 1_000_000;

async fn connect() -> Client {
    let client =
        pgline::connect(&pgline_testkit::shared().url("pgline", Some("pgline-secret"), "pgline"))
            .await
            .expect("connect");
    client.batch_execute("SET TimeZone = 'UTC'").await.unwrap();
    client
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(300), f)
        .await
        .expect("operation did not finish within 300 s")
}

/// Row `i` as (id, name, timestamp text); the timestamp is `i` seconds into
/// January 2024, UTC.
fn row_text(i: i32) -> (i32, String, String) {
    let secs = i % (28 * 86_400);
    let (day, rest) = (secs / 86_400 + 1, secs % 86_400);
    let ts = format!(
        "2024-01-{day:02} {:02}:{:02}:{:02}+00",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    );
    (i, format!("name {i}, \"quoted\""), ts)
}

/// Microseconds since 2000-01-01 for `row_text(i)`'s timestamp.
fn row_micros(i: i32) -> i64 {
    const JAN_2024: i64 = 757_382_400; // 2024-01-01 00:00:00 UTC in seconds since 2000
    (JAN_2024 + i64::from(i % (28 * 86_400))) * 1_000_000
}

/// A timestamptz as microseconds since 2000-01-01 (the wire format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Micros(i64);

impl Encode for Micros {
    fn preferred_type(&self) -> Type {
        Type::TIMESTAMPTZ
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::TIMESTAMPTZ
    }
    fn encode(&self, _: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        out.put_i64(self.0);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for Micros {
    fn accepts(ty: Type) -> bool {
        ty == Type::TIMESTAMPTZ
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        let bytes: [u8; 8] = raw.try_into().map_err(|_| TypeError::InvalidValue {
            pg: ty,
            reason: "timestamptz is 8 bytes",
        })?;
        Ok(Self(i64::from_be_bytes(bytes)))
    }
}

async fn fresh_table(client: &Client, name: &str) {
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {name}; CREATE TABLE {name} (id int4, name text, at timestamptz)"
        ))
        .await
        .unwrap();
}

async fn count(client: &Client, table: &str) -> i64 {
    client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
        .unwrap()
}

fn csv_field(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[tokio::test]
async fn a_million_rows_in_text_csv_and_binary_round_trip() {
    let client = connect().await;

    // Text format.
    fresh_table(&client, "copy_text").await;
    let mut sink = client.copy_in("COPY copy_text FROM STDIN").await.unwrap();
    let progress = sink.progress();
    let mut chunk = String::new();
    for i in 0..ROWS {
        let (id, name, ts) = row_text(i);
        chunk.push_str(&format!("{id}\t{name}\t{ts}\n"));
        if chunk.len() > 100_000 {
            sink.send(chunk.as_bytes()).await.unwrap();
            chunk.clear();
        }
    }
    sink.send(chunk.as_bytes()).await.unwrap();
    assert!(progress.borrow().bytes > 0);
    assert_eq!(bounded(sink.finish()).await.unwrap(), ROWS as u64);
    let mut out = client
        .copy_out("COPY (SELECT * FROM copy_text ORDER BY id) TO STDOUT")
        .await
        .unwrap();
    let mut i = 0;
    while let Some(line) = bounded(out.next()).await {
        let (id, name, ts) = row_text(i);
        assert_eq!(
            line.unwrap(),
            format!("{id}\t{name}\t{ts}\n").as_bytes(),
            "row {i}"
        );
        i += 1;
    }
    assert_eq!(i, ROWS);
    assert_eq!(out.rows_affected(), Some(ROWS as u64));

    // CSV format.
    fresh_table(&client, "copy_csv").await;
    let mut sink = client
        .copy_in("COPY copy_csv FROM STDIN (FORMAT csv)")
        .await
        .unwrap();
    let mut chunk = String::new();
    for i in 0..ROWS {
        let (id, name, ts) = row_text(i);
        chunk.push_str(&format!("{id},{},{ts}\n", csv_field(&name)));
        if chunk.len() > 100_000 {
            sink.send(chunk.as_bytes()).await.unwrap();
            chunk.clear();
        }
    }
    sink.send(chunk.as_bytes()).await.unwrap();
    assert_eq!(bounded(sink.finish()).await.unwrap(), ROWS as u64);
    let mut out = client
        .copy_out(
            "COPY (SELECT * FROM copy_csv ORDER BY id) TO STDOUT (FORMAT csv, FORCE_QUOTE (name))",
        )
        .await
        .unwrap();
    let mut i = 0;
    while let Some(line) = bounded(out.next()).await {
        let (id, name, ts) = row_text(i);
        let expected = format!("{id},{},{ts}\n", csv_field(&name));
        assert_eq!(line.unwrap(), expected.as_bytes(), "row {i}");
        i += 1;
    }
    assert_eq!(i, ROWS);

    // Binary format, through the typed writer and reader.
    fresh_table(&client, "copy_bin").await;
    let types = [Type::INT4, Type::TEXT, Type::TIMESTAMPTZ];
    let sink = client
        .copy_in("COPY copy_bin FROM STDIN (FORMAT binary)")
        .await
        .unwrap();
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    for i in 0..ROWS {
        let (id, name, _) = row_text(i);
        writer
            .write(&[&id, &name, &Micros(row_micros(i))])
            .await
            .unwrap();
    }
    assert_eq!(bounded(writer.finish()).await.unwrap(), ROWS as u64);
    // The server agrees with the text form of what was sent.
    let same: i64 = client
        .query_one(
            "SELECT count(*) FROM copy_bin b JOIN copy_text t USING (id) \
             WHERE b.name = t.name AND b.at = t.at",
            &[],
        )
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(same, i64::from(ROWS));
    let out = client
        .copy_out("COPY (SELECT * FROM copy_bin ORDER BY id) TO STDOUT (FORMAT binary)")
        .await
        .unwrap();
    let mut reader = BinaryCopyOutReader::new(out, &types);
    let mut i = 0;
    while let Some(row) = bounded(reader.next()).await {
        let row = row.unwrap();
        let (id, name, _) = row_text(i);
        assert_eq!(row.get::<i32>(0).unwrap(), id);
        assert_eq!(row.get::<&str>(1).unwrap(), name);
        assert_eq!(row.get::<Micros>(2).unwrap(), Micros(row_micros(i)));
        i += 1;
    }
    assert_eq!(i, ROWS);
    client
        .batch_execute("DROP TABLE copy_text, copy_csv, copy_bin")
        .await
        .unwrap();
}

#[tokio::test]
async fn dropping_the_sink_or_a_failing_stream_commits_nothing() {
    let client = connect().await;
    fresh_table(&client, "copy_drop").await;
    {
        let mut sink = client.copy_in("COPY copy_drop FROM STDIN").await.unwrap();
        sink.send(b"1\ta\t2024-01-01 00:00:00+00\n").await.unwrap();
        // dropped without finish
    }
    assert_eq!(count(&client, "copy_drop").await, 0);

    let mut sink = client.copy_in("COPY copy_drop FROM STDIN").await.unwrap();
    let chunks: Vec<Result<&'static [u8], std::io::Error>> = vec![
        Ok(b"1\ta\t2024-01-01 00:00:00+00\n"),
        Ok(b"2\tb\t2024-01-01 00:00:00+00\n"),
        Err(std::io::Error::other("the source went away")),
    ];
    let stream = futures_util::stream::iter(chunks);
    let err = sink.send_stream(stream).await.unwrap_err();
    assert!(err.to_string().contains("the source went away"), "{err}");
    drop(sink);
    assert_eq!(count(&client, "copy_drop").await, 0);

    // An explicit abort, then the connection runs the next query.
    let mut sink = client.copy_in("COPY copy_drop FROM STDIN").await.unwrap();
    sink.send(b"3\tc\t2024-01-01 00:00:00+00\n").await.unwrap();
    sink.abort("changed my mind").await.unwrap();
    assert_eq!(count(&client, "copy_drop").await, 0);
    let v: i32 = client
        .query_one("SELECT 5", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(v, 5);
}

#[tokio::test]
async fn bad_csv_names_the_line_and_leaves_the_table_empty() {
    let client = connect().await;
    fresh_table(&client, "copy_bad").await;
    let mut sink = client
        .copy_in("COPY copy_bad FROM STDIN (FORMAT csv)")
        .await
        .unwrap();
    let mut chunk = String::new();
    let mut early_error = None;
    for i in 1..=600_000 {
        if i == 500_000 {
            chunk.push_str("not-a-number,x,2024-01-01 00:00:00+00\n");
        } else {
            chunk.push_str(&format!("{i},x,2024-01-01 00:00:00+00\n"));
        }
        if chunk.len() > 65_536 {
            if let Err(e) = sink.send(chunk.as_bytes()).await {
                early_error = Some(e);
                break;
            }
            chunk.clear();
        }
    }
    let err = match early_error {
        Some(e) => e,
        None => {
            let _ = sink.send(chunk.as_bytes()).await;
            bounded(sink.finish()).await.unwrap_err()
        }
    };
    assert_eq!(
        err.code(),
        Some(&SqlState::INVALID_TEXT_REPRESENTATION),
        "{err:?}"
    );
    let context = err
        .as_db_error()
        .and_then(|d| d.where_())
        .unwrap_or_default();
    assert!(context.contains("line 500000"), "context: {context}");
    assert_eq!(count(&client, "copy_bad").await, 0);
}

#[tokio::test]
async fn requests_from_other_tasks_wait_for_the_copy_and_keep_their_order() {
    let client = connect().await;
    fresh_table(&client, "copy_order").await;
    let mut sink = client.copy_in("COPY copy_order FROM STDIN").await.unwrap();
    sink.send(b"1\ta\t2024-01-01 00:00:00+00\n").await.unwrap();
    // Issued while the COPY owns the input: sent after CopyDone.
    let other = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .query_one("SELECT count(*) FROM copy_order", &[])
                .await
                .map(|r| r.get::<i64>(0).unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    sink.send(b"2\tb\t2024-01-01 00:00:00+00\n").await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), 2);
    // It ran after the COPY committed, so it sees both rows.
    assert_eq!(bounded(other).await.unwrap().unwrap(), 2);
}

#[tokio::test]
async fn copy_in_from_a_reader_and_copy_out_to_a_reader() {
    let client = connect().await;
    fresh_table(&client, "copy_io").await;
    let data: Vec<u8> = (0..10_000)
        .flat_map(|i| format!("{i}\tn{i}\t2024-01-01 00:00:00+00\n").into_bytes())
        .collect();
    let mut sink = client.copy_in("COPY copy_io FROM STDIN").await.unwrap();
    let sent = sink.send_from(&data[..]).await.unwrap();
    assert_eq!(sent, data.len() as u64);
    assert_eq!(sink.finish().await.unwrap(), 10_000);
    let out = client
        .copy_out("COPY (SELECT * FROM copy_io ORDER BY id) TO STDOUT")
        .await
        .unwrap();
    let mut reader = out.into_reader();
    let mut back = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut back)
        .await
        .unwrap();
    assert_eq!(back, data);
}

/// `next_borrowed` lends the same chunks `next` hands out, mixed in any
/// order, counts them into the progress, ends with the stream, and leaves
/// the connection usable; an error after the data ends it too.
#[tokio::test]
async fn borrowed_chunks_are_the_chunks_next_yields() {
    let client = connect().await;
    let sql = "COPY (SELECT i, i::text, 'x' || i FROM generate_series(1, 50000) i) TO STDOUT";
    let mut owned = client.copy_out(sql).await.unwrap();
    let mut expected: Vec<Vec<u8>> = Vec::new();
    while let Some(chunk) = bounded(owned.next()).await {
        expected.push(chunk.unwrap().to_vec());
    }
    assert_eq!(expected.len(), 50_000);

    let mut out = client.copy_out(sql).await.unwrap();
    let mut got: Vec<Vec<u8>> = Vec::new();
    loop {
        // Every third chunk through `next`, the rest lent.
        let chunk = if got.len() % 3 == 2 {
            bounded(out.next()).await.map(|c| c.map(|b| b.to_vec()))
        } else {
            bounded(out.next_borrowed())
                .await
                .map(|c| c.map(<[u8]>::to_vec))
        };
        match chunk {
            Some(chunk) => got.push(chunk.unwrap()),
            None => break,
        }
    }
    assert!(got == expected, "the lent chunks differ from next's");
    assert_eq!(out.rows_affected(), Some(50_000));
    assert_eq!(out.progress().borrow().rows, 50_000);
    assert!(bounded(out.next_borrowed()).await.is_none());

    // A failure after some data: the error ends the stream.
    let mut failing = client
        .copy_out("COPY (SELECT 1 / (5000 - i) FROM generate_series(1, 10000) i) TO STDOUT")
        .await
        .unwrap();
    let mut rows = 0;
    let err = loop {
        match bounded(failing.next_borrowed()).await {
            Some(Ok(_)) => rows += 1,
            Some(Err(e)) => break e,
            None => panic!("the division by zero must fail the COPY"),
        }
    };
    assert_eq!(err.code(), Some(&SqlState::DIVISION_BY_ZERO), "{err}");
    assert!(rows < 5_000);
    assert!(bounded(failing.next_borrowed()).await.is_none());
    drop(failing);
    let v: i32 = client
        .query_one("SELECT 7", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(v, 7);
}

#[tokio::test]
async fn copy_errors_before_the_data_are_reported() {
    let client = connect().await;
    let err = client
        .copy_in("COPY no_such_table FROM STDIN")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_TABLE));
    let err = client.copy_in("SELECT 1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    let err = client.copy_out("SELECT 1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    // The connection is fine afterwards.
    let v: i32 = client
        .query_one("SELECT 9", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(v, 9);
}

#[tokio::test]
async fn parallel_copy_in_over_four_connections() {
    let clients = [
        connect().await,
        connect().await,
        connect().await,
        connect().await,
    ];
    fresh_table(&clients[0], "copy_par").await;
    let data: Vec<u8> = (0..200_000)
        .flat_map(|i| format!("{i}\tn{i}\t2024-01-01 00:00:00+00\n").into_bytes())
        .collect();
    let rows = bounded(pgline::copy_in_parallel(
        &clients,
        "COPY copy_par FROM STDIN",
        &data[..],
    ))
    .await
    .unwrap();
    assert_eq!(rows, 200_000);
    let row = clients[0]
        .query_one(
            "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM copy_par",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<i64>(0).unwrap(), 200_000);
    assert_eq!(row.get::<i64>(1).unwrap(), 200_000);
    assert_eq!(
        (row.get::<i32>(2).unwrap(), row.get::<i32>(3).unwrap()),
        (0, 199_999)
    );
    clients[0]
        .batch_execute("DROP TABLE copy_par")
        .await
        .unwrap();
}

#[tokio::test]
async fn parallel_readers_share_one_exported_snapshot() {
    let exporter = connect().await;
    let writer = connect().await;
    let readers = [connect().await, connect().await];
    fresh_table(&exporter, "copy_snap").await;
    exporter
        .batch_execute(
            "INSERT INTO copy_snap SELECT g, 'x', now() FROM generate_series(1, 10000) g",
        )
        .await
        .unwrap();
    let snapshot = exporter.export_snapshot().await.unwrap();
    // Changes committed after the export are not seen by the readers.
    writer
        .batch_execute(
            "INSERT INTO copy_snap SELECT g, 'late', now() FROM generate_series(10001, 15000) g",
        )
        .await
        .unwrap();
    let mut total = 0;
    for (k, reader) in readers.iter().enumerate() {
        let tx = reader
            .build_transaction()
            .snapshot(snapshot.id())
            .start()
            .await
            .unwrap();
        let mut out = tx
            .copy_out(&format!(
                "COPY (SELECT id FROM copy_snap WHERE id % 2 = {k}) TO STDOUT"
            ))
            .await
            .unwrap();
        while let Some(line) = out.next().await {
            line.unwrap();
            total += 1;
        }
        tx.commit().await.unwrap();
    }
    assert_eq!(
        total, 10_000,
        "both readers saw the snapshot, not the later rows"
    );
    snapshot.release().await.unwrap();
    assert_eq!(count(&exporter, "copy_snap").await, 15_000);
    exporter
        .batch_execute("DROP TABLE copy_snap")
        .await
        .unwrap();
}

/// The COPY's last bytes can be left in the TLS session when the kernel's
/// buffer is full: the wake that says the socket is writable again may come
/// while the caller waits for the COPY's reply, and the flush must still
/// happen. A statement trigger holds the server back (on an advisory lock
/// another connection holds) until the client has filled the socket, so the
/// COPY's tail and its CopyDone are written on writable wakes that the
/// caller, waiting in `finish`, is woken by first. Whether a round's last
/// write leaves bytes in the session depends on how much room the kernel
/// had at that moment: against a driver that skipped the flush, this test
/// hung in 2 of 9 runs (and `bad_csv_names_the_line…` in 4 of 150).
#[tokio::test]
async fn copy_in_over_tls_ends_after_the_socket_was_full() {
    let url = pgline_testkit::shared().url("pgline", Some("pgline-secret"), "pgline");
    let client = pgline::connect(&format!("{url}?sslmode=require"))
        .await
        .expect("connect over TLS");
    assert!(
        support::uses_tls(&client).await,
        "this test is about flushing a TLS session"
    );
    fresh_table(&client, "copy_tls_full").await;
    client
        .batch_execute(
            "CREATE OR REPLACE FUNCTION copy_tls_gate() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN NULL; END $$; \
             CREATE TRIGGER gate BEFORE INSERT ON copy_tls_full \
             FOR EACH STATEMENT EXECUTE FUNCTION copy_tls_gate()",
        )
        .await
        .unwrap();
    let holder = connect().await;
    // 32 MB: more than the kernel's buffers on both ends of the loopback.
    let rows = 800_000u64;
    let data: Vec<u8> = (0..rows)
        .flat_map(|i| format!("{i}\tname {i}\t2024-01-01 00:00:00+00\n").into_bytes())
        .collect();
    for round in 1..=5u64 {
        holder
            .batch_execute("SELECT pg_advisory_lock(4242)")
            .await
            .unwrap();
        let release = {
            let holder = holder.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                holder
                    .batch_execute("SELECT pg_advisory_unlock(4242)")
                    .await
                    .unwrap();
            })
        };
        let mut sink = client
            .copy_in("COPY copy_tls_full FROM STDIN")
            .await
            .unwrap();
        for piece in data.chunks(1 << 20) {
            bounded(sink.send(piece)).await.unwrap();
        }
        let copied = tokio::time::timeout(Duration::from_secs(60), sink.finish())
            .await
            .unwrap_or_else(|_| panic!("round {round}: the COPY never ended"))
            .unwrap();
        release.await.unwrap();
        assert_eq!(copied, rows, "round {round}");
        assert_eq!(count(&client, "copy_tls_full").await, (round * rows) as i64);
    }
}
