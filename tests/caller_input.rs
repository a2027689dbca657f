//! Arguments the caller passes that cannot be sent as given get
//! `ErrorKind::InvalidInput` with a message saying why, nothing reaches
//! the server, and the connection stays usable. Against a real server.

use std::time::Duration;

use pgline::config::StatementCacheMode;
use pgline::error::ErrorKind;
use pgline::{Client, Config};

fn url() -> String {
    pgline_testkit::shared().url("pgline", Some("pgline-secret"), "pgline")
}

async fn connect() -> Client {
    pgline::connect(&url())
        .await
        .expect("connect to the shared test server")
}

/// Guards against hangs: every awaited operation must end in this time.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("operation did not finish within 30 s")
}

/// The connection answers correctly and is idle.
async fn assert_usable(client: &Client, case: &str) {
    let v: i32 = bounded(client.query_one("SELECT 41 + 1", &[]))
        .await
        .unwrap_or_else(|e| panic!("{case}: connection unusable afterwards: {e}"))
        .get(0)
        .unwrap();
    assert_eq!(v, 42, "{case}");
    assert_eq!(
        client.transaction_status(),
        pgline::TransactionStatus::Idle,
        "{case}"
    );
}

fn assert_nul_error(result: Result<(), pgline::Error>, case: &str) {
    let err = result.expect_err(case);
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{case}: {err:?}");
    assert!(err.to_string().contains("NUL byte"), "{case}: {err}");
}

#[tokio::test]
async fn nul_in_sql_is_invalid_input_at_every_entry_point() {
    const SQL: &str = "SELECT 1 -- \0";
    let named = connect().await;
    let mut config: Config = url().parse().unwrap();
    config.statement_cache_mode(StatementCacheMode::UnnamedOnly);
    let unnamed = config.connect().await.unwrap();
    let mut cases = 0;
    for (client, mode) in [(&named, "named"), (&unnamed, "unnamed")] {
        let checks: Vec<(&str, Result<(), pgline::Error>)> = vec![
            ("query", client.query(SQL, &[]).await.map(drop)),
            ("query_one", client.query_one(SQL, &[]).await.map(drop)),
            ("query_opt", client.query_opt(SQL, &[]).await.map(drop)),
            ("execute", client.execute(SQL, &[]).await.map(drop)),
            (
                "query_stream",
                client.query_stream(SQL, &[]).await.map(drop),
            ),
            ("prepare", client.prepare(SQL).await.map(drop)),
            (
                "prepare_typed",
                client
                    .prepare_typed(SQL, &[pgline::types::Type::INT4])
                    .await
                    .map(drop),
            ),
            ("simple_query", client.simple_query(SQL).await.map(drop)),
            ("batch_execute", client.batch_execute(SQL).await),
            ("copy_in", client.copy_in(SQL).await.map(drop)),
            ("copy_out", client.copy_out(SQL).await.map(drop)),
            (
                "batch run_independent",
                async {
                    let mut batch = client.batch();
                    batch.push("SELECT 1", &[]).push(SQL, &[]);
                    batch.run_independent().await.map(drop)
                }
                .await,
            ),
            (
                "batch run_atomic",
                async {
                    let mut batch = client.batch();
                    batch.push(SQL, &[]);
                    batch.run_atomic().await.map(drop)
                }
                .await,
            ),
            (
                "snapshot id",
                client
                    .build_transaction()
                    .isolation_level(pgline::IsolationLevel::RepeatableRead)
                    .snapshot("00000003-\0")
                    .start()
                    .await
                    .map(drop),
            ),
            (
                "savepoint name",
                async {
                    let tx = client.transaction().await?;
                    let result = tx.savepoint("sp\0").await.map(drop);
                    tx.rollback().await?;
                    result
                }
                .await,
            ),
        ];
        for (name, result) in checks {
            let case = format!("{name} ({mode} statements)");
            assert_nul_error(result, &case);
            assert_usable(client, &case).await;
            cases += 1;
        }
    }
    println!("entry points checked: {cases}");
}

#[tokio::test]
async fn copy_through_a_query_call_says_to_use_the_copy_api() {
    let named = connect().await;
    let mut config: Config = url().parse().unwrap();
    config.statement_cache_mode(StatementCacheMode::UnnamedOnly);
    let unnamed = config.connect().await.unwrap();
    let mut cases = 0;
    for (client, mode) in [(&named, "named"), (&unnamed, "unnamed")] {
        client
            .batch_execute(
                "CREATE TEMP TABLE copy_target (x int4); INSERT INTO copy_target VALUES (7)",
            )
            .await
            .unwrap();
        // Recognised before anything is sent, and (the `U&` spelling, which
        // the check does not parse) refused when the server starts the COPY.
        for (sql, api) in [
            ("COPY copy_target FROM STDIN", "copy_in"),
            ("COPY copy_target TO STDOUT", "copy_out"),
            ("COPY (SELECT 1) TO STDOUT (FORMAT binary)", "copy_out"),
            ("COPY U&\"copy_target\" FROM STDIN", "copy_in"),
            ("COPY U&\"copy_target\" TO STDOUT", "copy_out"),
        ] {
            let calls: Vec<(&str, Result<(), pgline::Error>)> = vec![
                ("query", bounded(client.query(sql, &[])).await.map(drop)),
                (
                    "query_one",
                    bounded(client.query_one(sql, &[])).await.map(drop),
                ),
                (
                    "query_opt",
                    bounded(client.query_opt(sql, &[])).await.map(drop),
                ),
                ("execute", bounded(client.execute(sql, &[])).await.map(drop)),
                (
                    "query_stream",
                    bounded(async {
                        let mut stream = client.query_stream(sql, &[]).await?;
                        while let Some(row) = stream.next().await {
                            row?;
                        }
                        Ok(())
                    })
                    .await,
                ),
                (
                    "prepared query",
                    bounded(async {
                        let stmt = client.prepare(sql).await?;
                        client.query(&stmt, &[]).await.map(drop)
                    })
                    .await,
                ),
                (
                    "simple_query",
                    bounded(client.simple_query(sql)).await.map(drop),
                ),
                ("batch_execute", bounded(client.batch_execute(sql)).await),
            ];
            for (call, result) in calls {
                let case = format!("{call} of {sql:?} ({mode} statements)");
                let err = result.expect_err(&case);
                assert_eq!(err.kind(), ErrorKind::InvalidInput, "{case}: {err:?}");
                assert!(err.code().is_none(), "{case}: {err:?}");
                let text = err.to_string();
                assert!(
                    text.contains(&format!("use Client::{api}")),
                    "{case}: {text}"
                );
                let sent = sql.contains("U&");
                assert_eq!(!sent, text.contains("nothing was sent"), "{case}: {text}");
                assert_usable(client, &case).await;
                cases += 1;
            }
        }
        // Nothing was stored, and the table still holds its row.
        let n: i64 = client
            .query_one("SELECT count(*) FROM copy_target", &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(n, 1, "{mode}");
    }
    println!("COPY calls checked: {cases}");
}

#[tokio::test]
async fn copy_with_requests_pipelined_behind_it_leaves_them_answered() {
    // Once a COPY FROM STDIN has started, the server ends the session on
    // any message but COPY data, Flush or Sync: the requests pipelined
    // behind it would take the connection down with them. Unnamed
    // statements: the COPY's Parse/Bind/Execute leave at once, and the
    // requests after it follow in the same turn, before any reply.
    let mut config: Config = url().parse().unwrap();
    config.statement_cache_mode(StatementCacheMode::UnnamedOnly);
    let client = config.connect().await.unwrap();
    client
        .batch_execute("CREATE TEMP TABLE piped (x int4)")
        .await
        .unwrap();
    for sql in ["COPY piped FROM STDIN", "COPY piped TO STDOUT"] {
        let (copy, two, three, four) = bounded(async {
            tokio::join!(
                client.query(sql, &[]),
                client.query_one("SELECT 2", &[]),
                client.simple_query("SELECT 3"),
                client.batch_execute(sql),
            )
        })
        .await;
        assert_eq!(copy.unwrap_err().kind(), ErrorKind::InvalidInput, "{sql}");
        assert_eq!(four.unwrap_err().kind(), ErrorKind::InvalidInput, "{sql}");
        assert_eq!(two.unwrap().get::<i32>(0).unwrap(), 2, "{sql}");
        assert_eq!(three.unwrap().len(), 2, "{sql}");
        assert_usable(&client, sql).await;
    }
}

#[tokio::test]
async fn copy_in_a_batch_is_refused_before_anything_runs() {
    let named = connect().await;
    let mut config: Config = url().parse().unwrap();
    config.statement_cache_mode(StatementCacheMode::UnnamedOnly);
    let unnamed = config.connect().await.unwrap();
    for (client, mode) in [(&named, "named"), (&unnamed, "unnamed")] {
        client
            .batch_execute("CREATE TEMP TABLE batched (x int4)")
            .await
            .unwrap();
        for atomic in [false, true] {
            let mut batch = client.batch();
            batch
                .push("INSERT INTO batched VALUES (1)", &[])
                .push("COPY batched FROM STDIN", &[])
                .push("SELECT 2", &[]);
            let result = if atomic {
                bounded(batch.run_atomic()).await
            } else {
                bounded(batch.run_independent()).await
            };
            let case = format!("{mode}, atomic {atomic}");
            let err = result.expect_err(&case);
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{case}: {err:?}");
            assert!(
                err.to_string().contains("use Client::copy_in"),
                "{case}: {err}"
            );
            assert_usable(client, &case).await;
        }
        let n: i64 = client
            .query_one("SELECT count(*) FROM batched", &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(n, 0, "{mode}: nothing of the batch ran");
    }
}
