//! Pipelining on one connection: concurrency, backpressure, explicit
//! batches, streams, cancel safety, and connection loss.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use pgline::error::{ErrorKind, RetryClass, SqlState};
use pgline::{Client, Params};

use support::shared_config as config;

async fn connect() -> Client {
    config().connect().await.expect("connect")
}

/// A statement whose one row arrives only after 200 ms (prepared, so that
/// running it is its only round trip).
async fn prepare_slow(client: &Client) -> pgline::Statement {
    client
        .prepare("SELECT 1::int4 FROM pg_sleep(0.2)")
        .await
        .unwrap()
}

/// Guards against hangs: the operation must end in this time.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(120), f)
        .await
        .expect("operation did not finish within 120 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_queries_on_one_connection() {
    let client = connect().await;
    let before = client.connection_stats();
    let mut tasks = Vec::new();
    for t in 0..50i32 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut calls = FuturesUnordered::new();
            for i in 0..200i32 {
                let client = &client;
                let n = t * 1000 + i;
                calls.push(async move {
                    let row = client.query_one("SELECT $1::int4", &[&n]).await.unwrap();
                    (n, row.get::<i32>(0).unwrap())
                });
            }
            let mut checked = 0;
            while let Some((sent, got)) = calls.next().await {
                assert_eq!(sent, got);
                checked += 1;
            }
            checked
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += bounded(task).await.unwrap();
    }
    assert_eq!(total, 10_000);
    let after = client.connection_stats();
    let requests = after.requests - before.requests;
    let writes = after.socket_writes - before.socket_writes;
    println!(
        "10000 queries: {requests} requests in {writes} socket writes, at most {} in flight",
        after.max_in_flight
    );
    assert!(requests >= 10_000);
    // Pipelined: many requests share each write, and many were in flight.
    assert!(
        writes * 4 < requests,
        "{writes} writes for {requests} requests"
    );
    assert!(
        after.max_in_flight >= 16,
        "max in flight {}",
        after.max_in_flight
    );
}

/// A deep pipeline raises the socket's receive low-water mark, so the kernel
/// holds small replies until several wait. Here the request after the first
/// waits for a lock that another connection releases only once the first
/// reply has been read: the first reply sits under the mark with nothing
/// more to come, and only the stall watch (which lowers the mark when
/// nothing was read for a whole tick) lets it in.
#[tokio::test]
async fn a_reply_under_the_low_water_mark_is_not_held_by_a_waiting_request() {
    const KEY: i64 = 7_310_001;
    // Plain TCP: a TLS session's buffers would hide bytes from the mark's
    // count, so TLS connections never raise one.
    let client = config()
        .ssl_mode(pgline::config::SslMode::Disable)
        .coalesce_replies(true)
        .connect()
        .await
        .expect("connect");
    let holder = connect().await;
    holder
        .query_one("SELECT pg_advisory_lock($1)::text", &[&KEY])
        .await
        .unwrap();
    // Prepared first, so each call's request leaves in the order the calls
    // are first polled (no call waits for a Parse of its own).
    let sleepy = client
        .prepare("SELECT 0::int4 FROM pg_sleep(0.05)")
        .await
        .unwrap();
    let lock = client
        .prepare("SELECT pg_advisory_lock($1)::text")
        .await
        .unwrap();
    let echo = client.prepare("SELECT $1::int4").await.unwrap();
    let before = client.connection_stats();
    let mut calls = FuturesUnordered::new();
    // The first reply comes late enough for the mark to be up by then.
    calls.push(Box::pin(async {
        let row = client.query_one(&sleepy, &[]).await.unwrap();
        (0, row.get::<i32>(0).unwrap())
    })
        as std::pin::Pin<Box<dyn std::future::Future<Output = (i32, i32)>>>);
    calls.push(Box::pin(async {
        client.query_one(&lock, &[&KEY]).await.unwrap();
        (1, 1)
    }));
    for n in 2..200i32 {
        let (client, echo) = (&client, &echo);
        calls.push(Box::pin(async move {
            let row = client.query_one(echo, &[&n]).await.unwrap();
            (n, row.get::<i32>(0).unwrap())
        }));
    }
    // Until the first reply arrives, nothing else can: the lock is held.
    let first = bounded(calls.next()).await.unwrap();
    assert_eq!(first, (0, 0));
    holder
        .query_one("SELECT pg_advisory_unlock($1)::text", &[&KEY])
        .await
        .unwrap();
    let mut answered = 1;
    while let Some((sent, got)) = bounded(calls.next()).await {
        assert_eq!(sent, got);
        answered += 1;
    }
    assert_eq!(answered, 200);
    let after = client.connection_stats();
    println!(
        "low-water marks raised {}, stalls {}",
        after.low_water_raises - before.low_water_raises,
        after.low_water_stalls - before.low_water_stalls
    );
    if cfg!(target_os = "linux") {
        assert!(after.low_water_raises > before.low_water_raises);
        assert!(after.low_water_stalls > before.low_water_stalls);
    }
    client.query_one("SELECT 1::int4", &[]).await.unwrap();
}

/// Runs 200 requests behind a 50 ms sleep (so all are in flight at once)
/// and returns how often the connection raised its low-water mark.
async fn low_water_raises_in_a_deep_pipeline(client: &Client) -> u64 {
    let sleepy = client.prepare("SELECT pg_sleep(0.05)::text").await.unwrap();
    let echo = client.prepare("SELECT $1::int4").await.unwrap();
    let before = client.connection_stats().low_water_raises;
    let mut calls = FuturesUnordered::new();
    calls.push(Box::pin(async {
        client.query_one(&sleepy, &[]).await.unwrap();
        (0, 0)
    })
        as std::pin::Pin<Box<dyn std::future::Future<Output = (i32, i32)>>>);
    for n in 1..200i32 {
        let (client, echo) = (client, &echo);
        calls.push(Box::pin(async move {
            let row = client.query_one(echo, &[&n]).await.unwrap();
            (n, row.get::<i32>(0).unwrap())
        }));
    }
    let mut answered = 0;
    while let Some((sent, got)) = bounded(calls.next()).await {
        assert_eq!(sent, got);
        answered += 1;
    }
    assert_eq!(answered, 200);
    client.connection_stats().low_water_raises - before
}

#[tokio::test]
async fn the_low_water_mark_is_raised_only_when_coalescing_is_asked_for() {
    let mut config = config();
    config.ssl_mode(pgline::config::SslMode::Disable);
    let default = config.connect().await.expect("connect");
    let on = config
        .coalesce_replies(true)
        .connect()
        .await
        .expect("connect");
    let raised_default = low_water_raises_in_a_deep_pipeline(&default).await;
    let raised_on = low_water_raises_in_a_deep_pipeline(&on).await;
    println!("low-water marks raised: {raised_default} by default, {raised_on} when on");
    if cfg!(target_os = "linux") {
        assert!(
            raised_on > 0,
            "coalesce_replies(true) never raised the mark"
        );
    }
    assert_eq!(raised_default, 0);
}

#[tokio::test]
async fn explicit_batch_reports_ran_failed_skipped() {
    let client = connect().await;
    client
        .batch_execute("CREATE TEMP TABLE b (v int4 PRIMARY KEY)")
        .await
        .unwrap();
    let insert = "INSERT INTO b VALUES ($1)";
    let (one, two, four): (&Params, &Params, &Params) = (&[&1i32], &[&2i32], &[&4i32]);

    // One Sync per statement: only the duplicate fails.
    let mut batch = client.batch();
    batch
        .push(insert, one)
        .push(insert, two)
        .push(insert, one)
        .push(insert, four);
    let outcomes = bounded(batch.run_independent()).await.unwrap();
    let kinds: Vec<&str> = outcomes.iter().map(outcome_kind).collect();
    assert_eq!(kinds, ["ran", "ran", "failed", "ran"]);
    if let pgline::StatementOutcome::Failed(e) = &outcomes[2] {
        assert_eq!(e.code(), Some(&SqlState::UNIQUE_VIOLATION));
    }
    let count: i64 = client
        .query_one("SELECT count(*) FROM b", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(count, 3);

    // One Sync for the batch: the failure skips the rest, and what ran is
    // rolled back with it (one implicit transaction).
    client.batch_execute("TRUNCATE b").await.unwrap();
    let (five, six): (&Params, &Params) = (&[&5i32], &[&6i32]);
    let mut batch = client.batch();
    batch
        .push(insert, five)
        .push(insert, five)
        .push(insert, six)
        .push("SELECT 1", &[]);
    let outcomes = bounded(batch.run_atomic()).await.unwrap();
    let kinds: Vec<&str> = outcomes.iter().map(outcome_kind).collect();
    assert_eq!(kinds, ["ran", "failed", "skipped", "skipped"]);
    let count: i64 = client
        .query_one("SELECT count(*) FROM b", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(count, 0);

    // A batch that returns rows.
    let (a, b): (&Params, &Params) = (&[&10i32], &[&20i32]);
    let mut batch = client.batch();
    batch
        .push("SELECT $1::int4 + 1", a)
        .push("SELECT $1::int4 + 2", b);
    let outcomes = batch.run_atomic().await.unwrap();
    let values: Vec<i32> = outcomes
        .iter()
        .map(|o| match o {
            pgline::StatementOutcome::Ran { rows, .. } => rows[0].get(0).unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(values, [11, 22]);
}

#[tokio::test]
async fn batch_statements_return_zero_one_or_many_rows() {
    let client = connect().await;
    let mut batch = client.batch();
    batch
        .push("SELECT 1 WHERE false", &[])
        .push("SELECT 7::int4", &[])
        .push("SELECT i FROM generate_series(1, 3) i", &[]);
    let mut counts = Vec::new();
    let mut values = Vec::new();
    for outcome in batch.run_independent().await.unwrap() {
        let pgline::StatementOutcome::Ran { rows, .. } = outcome else {
            panic!("{outcome:?}");
        };
        counts.push(rows.len());
        let by_ref: Vec<i32> = (&rows).into_iter().map(|r| r.get(0).unwrap()).collect();
        let owned: Vec<i32> = rows.into_iter().map(|r| r.get(0).unwrap()).collect();
        assert_eq!(by_ref, owned);
        values.push(owned);
    }
    assert_eq!(counts, [0, 1, 3]);
    assert_eq!(values, [vec![], vec![7], vec![1, 2, 3]]);
}

/// Owned parameters: a loop pushes 1,000 statements without a second
/// vector of values, mixed with borrowed ones, on the cached (prepared)
/// path and on the unnamed path; every row lands with its own values.
#[tokio::test]
async fn batch_push_owned_sends_each_statement_its_own_values() {
    for cache in [true, false] {
        let url = pgline_testkit::shared().url("pgline", Some("pgline-secret"), "pgline");
        let mut config: pgline::Config = url.parse().unwrap();
        if !cache {
            config.statement_cache_mode(pgline::config::StatementCacheMode::UnnamedOnly);
        }
        let client = config.connect().await.unwrap();
        client
            .batch_execute("CREATE TEMP TABLE owned (id int4, name text, score float8)")
            .await
            .unwrap();
        let insert = "INSERT INTO owned VALUES ($1, $2, $3)";
        let mut batch = pgline::Batch::with_capacity(&client, 1001);
        batch.push(insert, &[&-1i32, &"borrowed", &0.5f64]);
        for i in 0..1000i32 {
            batch.push_owned(insert, (i, format!("item {i}"), f64::from(i) / 4.0));
        }
        assert_eq!(batch.len(), 1001);
        let outcomes = batch.run_atomic().await.unwrap();
        assert!(outcomes.iter().all(pgline::StatementOutcome::ran));
        let rows = client
            .query("SELECT id, name, score FROM owned ORDER BY id", &[])
            .await
            .unwrap();
        assert_eq!(rows.len(), 1001);
        let first: (i32, &str) = (rows[0].get(0).unwrap(), rows[0].get(1).unwrap());
        assert_eq!(first, (-1, "borrowed"));
        for (i, row) in rows[1..].iter().enumerate() {
            let i = i as i32;
            assert_eq!(row.get::<i32>(0).unwrap(), i);
            assert_eq!(row.get::<&str>(1).unwrap(), format!("item {i}"));
            assert_eq!(row.get::<f64>(2).unwrap(), f64::from(i) / 4.0);
        }
    }
}

fn outcome_kind(outcome: &pgline::StatementOutcome) -> &'static str {
    if outcome.ran() {
        "ran"
    } else if outcome.failed() {
        "failed"
    } else if outcome.unknown() {
        "unknown"
    } else if outcome.not_sent() {
        "not sent"
    } else {
        "skipped"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_futures_at_random_points_never_desynchronise() {
    let client = connect().await;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut completed = 0;
    for i in 0..2000i32 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let micros = seed % 300;
        let params: [&(dyn pgline::types::Encode + Sync); 1] = [&i];
        let call = client.query_one("SELECT $1::int4, pg_sleep(0)", &params);
        if tokio::time::timeout(Duration::from_micros(micros), call)
            .await
            .is_ok()
        {
            completed += 1;
        }
        if i % 100 == 0 {
            let check = 1_000_000 + i;
            let row = bounded(client.query_one("SELECT $1::int4", &[&check]))
                .await
                .unwrap();
            assert_eq!(row.get::<i32>(0).unwrap(), check);
        }
    }
    let row = bounded(client.query_one("SELECT 'last'::text", &[]))
        .await
        .unwrap();
    assert_eq!(row.get::<&str>(0).unwrap(), "last");
    println!("{completed} of 2000 queries finished inside their random timeout");

    // Streams dropped half-read.
    for i in 0..50i32 {
        let mut stream = client
            .query_stream("SELECT g FROM generate_series(1, 5000) g", &[])
            .await
            .unwrap();
        for _ in 0..(i * 37 % 1000) {
            stream.next().await.unwrap().unwrap();
        }
        drop(stream);
        let row = bounded(client.query_one("SELECT $1::int4", &[&i]))
            .await
            .unwrap();
        assert_eq!(row.get::<i32>(0).unwrap(), i);
    }
}

/// A caller registered to be woken by the socket that then stops polling
/// (its query future is held, unpolled, while it waits on something else)
/// must not stall other tasks on the same connection: readiness always
/// wakes the driver task too. Run on one thread, where a lost wake-up hangs
/// for good.
#[tokio::test(flavor = "current_thread")]
async fn a_caller_that_stops_polling_does_not_stall_the_others() {
    let client = connect().await;
    // Polled once, so it is sent.
    let statement = prepare_slow(&client).await;
    let slow = client.query(&statement, &[]);
    tokio::pin!(slow);
    let poll_once = |slow: std::pin::Pin<&mut _>| {
        futures_util::FutureExt::now_or_never(slow).map(|_: Result<Vec<pgline::Row>, _>| ())
    };
    assert!(poll_once(slow.as_mut()).is_none(), "replied at once");
    // Another task queues its queries behind it and waits for its reply.
    let other = client.clone();
    let worker = tokio::spawn(async move {
        let mut sum = 0i64;
        for i in 0..50i32 {
            let row = other.query_one("SELECT $1::int4", &[&i]).await.unwrap();
            sum += i64::from(row.get::<i32>(0).unwrap());
        }
        sum
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The slow query's caller asks again (so it is the last one registered
    // with the socket), then waits on the worker without polling it.
    assert!(poll_once(slow.as_mut()).is_none(), "replied before 200 ms");
    assert_eq!(bounded(worker).await.unwrap(), (0..50).sum::<i64>());
    let rows = slow.await.unwrap();
    assert_eq!(rows[0].get::<i32>(0).unwrap(), 1);
}

#[tokio::test]
async fn a_query_timeout_cancels_and_the_connection_stays_usable() {
    let client = connect().await;
    let quick = client.with_timeout(Duration::from_millis(100));
    let started = std::time::Instant::now();
    let err = bounded(quick.query("SELECT pg_sleep(5)", &[]))
        .await
        .unwrap_err();
    println!("timed out after {:?}", started.elapsed());
    assert!(err.is_timeout(), "{err:?}");
    let row = bounded(client.query_one("SELECT 'next'::text", &[]))
        .await
        .unwrap();
    assert_eq!(row.get::<&str>(0).unwrap(), "next");

    // A server-side statement_timeout is reported as the server's error.
    client
        .batch_execute("SET statement_timeout = '50ms'")
        .await
        .unwrap();
    let err = client
        .batch_execute("SELECT pg_sleep(2)")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED));
    assert!(err.to_string().contains("statement timeout"), "{err}");
    client
        .batch_execute("RESET statement_timeout")
        .await
        .unwrap();
}

#[tokio::test]
async fn killing_the_backend_fails_every_request_in_flight() {
    let client = connect().await;
    let killer = connect().await;
    let pid = client.backend_pid() as i32;
    let mut calls = FuturesUnordered::new();
    // The first holds the line; the other 99 queue behind it.
    for i in 0..100i32 {
        let client = client.clone();
        calls.push(tokio::spawn(async move {
            if i == 0 {
                client.batch_execute("SELECT pg_sleep(30)").await
            } else {
                client.query_one("SELECT $1::int4", &[&i]).await.map(|_| ())
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    killer
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    let mut failed = 0;
    bounded(async {
        while let Some(result) = calls.next().await {
            let err = result.unwrap().unwrap_err();
            // The server's FATAL, or the socket's end as an I/O error with
            // its cause; `Closed` (with the same cause) only for a request
            // made once the close was known, which was then not sent.
            match err.kind() {
                ErrorKind::Closed => {
                    assert!(std::error::Error::source(&err).is_some(), "{err:?}");
                    assert_eq!(err.retry_class(), RetryClass::NotExecuted, "{err:?}");
                }
                ErrorKind::Db => assert_eq!(err.code(), Some(&SqlState::ADMIN_SHUTDOWN)),
                ErrorKind::Io => assert!(
                    std::error::Error::source(&err)
                        .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some()),
                    "{err:?}"
                ),
                other => panic!("{other:?}: {err:?}"),
            }
            assert!(
                matches!(
                    err.retry_class(),
                    RetryClass::OutcomeUnknown | RetryClass::NotExecuted
                ),
                "{err:?}"
            );
            failed += 1;
        }
    })
    .await;
    assert_eq!(failed, 100);
    assert!(client.is_closed());
    assert_eq!(
        client.query("SELECT 1", &[]).await.unwrap_err().kind(),
        ErrorKind::Closed
    );
}

#[tokio::test]
async fn notifications_arrive_in_order_while_queries_run() {
    let listener = connect().await;
    let sender = connect().await;
    let mut notifications = listener.notifications().expect("first take");
    assert!(listener.notifications().is_none(), "taken once");
    listener
        .batch_execute("LISTEN pgline_events")
        .await
        .unwrap();
    for i in 0..20 {
        sender
            .execute(
                "SELECT pg_notify('pgline_events', $1)",
                &[&format!("event {i}")],
            )
            .await
            .unwrap();
        // The listener is busy with queries of its own meanwhile.
        listener.query_one("SELECT 1", &[]).await.unwrap();
    }
    for i in 0..20 {
        let n = bounded(notifications.next()).await.expect("a notification");
        assert_eq!(n.channel(), "pgline_events");
        assert_eq!(n.payload(), format!("event {i}"));
        assert_eq!(n.process_id(), sender.backend_pid());
    }
    // The stream ends when the connection closes.
    listener.close().await.unwrap();
    assert!(bounded(notifications.next()).await.is_none());
}

/// A caller that stops polling while a notification stream listens on its
/// connection: the notification, sent after the caller's reply, reaches
/// the stream (readiness wakes the driver task whenever anyone but that
/// caller waits on the connection). Run on one thread, where a lost
/// wake-up hangs for good.
#[tokio::test(flavor = "current_thread")]
async fn a_caller_that_stops_polling_does_not_hold_up_notifications() {
    let listener = connect().await;
    let sender = connect().await;
    let mut notifications = listener.notifications().expect("first take");
    listener.batch_execute("LISTEN pgline_held").await.unwrap();
    let statement = prepare_slow(&listener).await;
    let slow = listener.query(&statement, &[]);
    tokio::pin!(slow);
    // Polled once (with a waker that does nothing) and then left alone
    // while this task waits for the notification.
    let polled = futures_util::FutureExt::now_or_never(slow.as_mut());
    assert!(polled.is_none(), "replied at once");
    sender
        .execute("SELECT pg_notify('pgline_held', 'after the reply')", &[])
        .await
        .unwrap();
    // The server holds the notification until the slow query's reply.
    let n = bounded(notifications.next()).await.expect("a notification");
    assert_eq!(n.payload(), "after the reply");
    let rows = bounded(slow).await.unwrap();
    assert_eq!(rows[0].get::<i32>(0).unwrap(), 1);
}

#[tokio::test]
async fn notices_go_to_the_handler() {
    let client = connect().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    client.on_notice(move |notice| {
        let _ = tx.send(notice.message().to_owned());
    });
    client
        .batch_execute("DO $$ BEGIN RAISE NOTICE 'hello from plpgsql'; END $$")
        .await
        .unwrap();
    assert_eq!(rx.recv().await.as_deref(), Some("hello from plpgsql"));
}

/// The ids stored in `table`, in order.
async fn stored_ids(client: &Client, table: &str) -> Vec<i32> {
    client
        .query(format!("SELECT id FROM {table} ORDER BY id").as_str(), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<i32>(0).unwrap())
        .collect()
}

/// A batch with a Sync per statement that times out part way: the
/// statement answered before keeps its outcome, and the others are
/// unknown, not lost in one error. They are unknown indeed: the cancel
/// stops the slow one, and the one after it still runs.
#[tokio::test]
async fn a_batch_that_times_out_reports_each_statement() {
    let client = connect().await;
    client
        .batch_execute("DROP TABLE IF EXISTS batch_timeout; CREATE TABLE batch_timeout (id int)")
        .await
        .unwrap();
    let quick = client.with_timeout(Duration::from_millis(300));
    let mut batch = quick.batch();
    batch.push("INSERT INTO batch_timeout VALUES (1)", &[]);
    batch.push("SELECT pg_sleep(5)", &[]);
    batch.push("INSERT INTO batch_timeout VALUES (3)", &[]);
    let outcomes = bounded(batch.run_independent())
        .await
        .expect("the statements were queued: each gets an outcome");
    let kinds: Vec<&str> = outcomes.iter().map(outcome_kind).collect();
    assert_eq!(kinds, ["ran", "unknown", "unknown"]);
    for outcome in &outcomes[1..] {
        let e = outcome.error().expect("an unknown outcome says why");
        assert!(e.is_timeout(), "{e:?}");
    }
    // The abandoned request ends on the server: the third statement ran.
    bounded(async {
        while client.pending_requests() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(stored_ids(&client, "batch_timeout").await, [1, 3]);
    client
        .batch_execute("DROP TABLE batch_timeout")
        .await
        .unwrap();
}

/// A one-Sync batch whose backend is terminated before the Sync is
/// answered: nothing of it is reported as run (the implicit transaction
/// never committed), the statement the termination hit failed with it,
/// and no row is stored.
#[tokio::test]
async fn an_atomic_batch_cut_before_its_sync_reports_nothing_as_run() {
    let client = connect().await;
    let observer = connect().await;
    observer
        .batch_execute(
            "DROP TABLE IF EXISTS batch_atomic_cut; CREATE TABLE batch_atomic_cut (id int)",
        )
        .await
        .unwrap();
    let pid = client.backend_pid() as i32;
    let mut batch = client.batch();
    batch.push("INSERT INTO batch_atomic_cut VALUES (1)", &[]);
    batch.push("SELECT pg_sleep(30)", &[]);
    batch.push("INSERT INTO batch_atomic_cut VALUES (3)", &[]);
    let (outcomes, ()) = bounded(async {
        tokio::join!(batch.run_atomic(), async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            observer
                .query_one("SELECT pg_terminate_backend($1)", &[&pid])
                .await
                .unwrap();
        })
    })
    .await;
    let outcomes = outcomes.expect("the statements were queued: each gets an outcome");
    let kinds: Vec<&str> = outcomes.iter().map(outcome_kind).collect();
    assert_eq!(kinds, ["unknown", "failed", "unknown"]);
    let killed = outcomes[1].error().unwrap();
    assert_eq!(killed.code(), Some(&SqlState::ADMIN_SHUTDOWN), "{killed:?}");
    assert!(client.is_closed());
    assert_eq!(
        stored_ids(&observer, "batch_atomic_cut").await,
        [] as [i32; 0]
    );
    observer
        .batch_execute("DROP TABLE batch_atomic_cut")
        .await
        .unwrap();
}

/// From the moment `close()` is called, other clones see the connection as
/// closed: a request made while the close is under way is refused before any
/// of it is written (so it cannot run after the caller was told it failed),
/// and the requests queued before the close are still written.
#[tokio::test(flavor = "current_thread")]
async fn a_request_made_while_closing_is_refused_unsent() {
    let client = connect().await;
    let other = client.clone();
    let marker = format!("pgline_closing_{}", std::process::id());
    let admin = connect().await;
    admin
        .batch_execute(&format!("CREATE TABLE IF NOT EXISTS {marker} (v int)"))
        .await
        .unwrap();
    // Queued before the close: written before Terminate.
    let insert_before = format!("INSERT INTO {marker} VALUES (1)");
    let before = client.execute(insert_before.as_str(), &[]);
    tokio::pin!(before);
    assert!(futures_util::FutureExt::now_or_never(before.as_mut()).is_none());
    let close = client.close();
    tokio::pin!(close);
    // The close is asked for, and the driver has not run since.
    assert!(futures_util::FutureExt::now_or_never(close.as_mut()).is_none());
    assert!(other.is_closed(), "a clone still sees the connection open");
    let refused = other
        .execute(format!("INSERT INTO {marker} VALUES (2)").as_str(), &[])
        .await
        .expect_err("a request after close() was accepted");
    assert_eq!(refused.kind(), ErrorKind::Closed, "{refused}");
    bounded(close).await.unwrap();
    let _ = before.await;
    let rows: Vec<i32> = bounded(admin.query(format!("SELECT v FROM {marker}").as_str(), &[]))
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0).unwrap())
        .collect();
    admin
        .batch_execute(&format!("DROP TABLE {marker}"))
        .await
        .unwrap();
    assert!(!rows.contains(&2), "the refused insert ran: {rows:?}");
}
