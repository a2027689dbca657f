//! Through a real PgBouncer (Debian's package, started by testkit in front of a
//! throwaway server): transaction pooling with 2 server connections shared by 50 client
//! connections, in both statement cache modes; cancelling through PgBouncer; session
//! pooling. Skipped with a printed reason when `pgbouncer` is not installed.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use pgline::config::{Config, StatementCacheMode};
use pgline::error::SqlState;
use pgline_testkit::{AuthMethod, PgBouncer, PgBouncerBuilder, PoolMode, Server, ServerBuilder};

const TASKS: i32 = 50;
const QUERIES: i32 = 200;

/// A hang guard, not a timing assertion.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(120), f)
        .await
        .expect("operation did not finish within 120 s")
}

fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// A server with user `app`, and a PgBouncer in `mode` with a pool of 2 in front of it;
/// `None` (skipped) when pgbouncer is not installed.
fn rig(mode: PoolMode, test: &str, settings: &[(&str, &str)]) -> Option<(Server, PgBouncer)> {
    if let Err(err) = pgline_testkit::pgbouncer_binary() {
        skip(test, &err.to_string().replace('\n', " "));
        return None;
    }
    let server = ServerBuilder::new()
        .auth(AuthMethod::ScramSha256)
        .user("app", "app-secret")
        .setting("max_connections", "20")
        .start()
        .expect("start a test server");
    let mut builder = PgBouncerBuilder::new(&server)
        .pool_mode(mode)
        .pool_size(2)
        .user("app", "app-secret");
    for (name, value) in settings {
        builder = builder.setting(name, value);
    }
    let bouncer = builder.start().expect("start pgbouncer");
    Some((server, bouncer))
}

fn config(bouncer: &PgBouncer, mode: StatementCacheMode) -> Config {
    let mut config: Config = bouncer
        .key_value("app", Some("app-secret"), "postgres")
        .parse()
        .unwrap();
    config.statement_cache_mode(mode);
    config
}

/// What the load run saw.
#[derive(Debug, Default)]
struct Tally {
    correct: u64,
    wrong: u64,
    errors: BTreeMap<String, u64>,
    /// Errors whose message does not name `StatementCacheMode::UnnamedOnly`.
    unexplained: u64,
    first_error: Option<String>,
}

/// 50 tasks, each with its own connection through PgBouncer, each running 200
/// `SELECT $1::int4 * 2, $2::int4` with values only it uses, and checking the answers.
async fn load(bouncer: &PgBouncer, mode: StatementCacheMode, own_sql: bool) -> Tally {
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let config = config(bouncer, mode);
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let client = config.connect().await.expect("connect through pgbouncer");
            let sql = if own_sql {
                format!("SELECT $1::int4 * 2, $2::int4 * 0 + {task}")
            } else {
                "SELECT $1::int4 * 2, $2::int4".to_owned()
            };
            for i in 0..QUERIES {
                let value = task * 10_000 + i;
                match client.query_one(sql.as_str(), &[&value, &task]).await {
                    Ok(row) => {
                        let doubled: i32 = row.get(0).unwrap();
                        let who: i32 = row.get(1).unwrap();
                        if doubled == value * 2 && who == task {
                            tally.correct += 1;
                        } else {
                            tally.wrong += 1;
                        }
                    }
                    Err(err) => {
                        let code = err
                            .code()
                            .map_or_else(|| format!("{:?}", err.kind()), |c| c.code().to_owned());
                        *tally.errors.entry(code).or_default() += 1;
                        if !err.to_string().contains("StatementCacheMode::UnnamedOnly") {
                            tally.unexplained += 1;
                        }
                        tally.first_error.get_or_insert_with(|| err.to_string());
                    }
                }
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for task in tasks {
        let tally = task.await.unwrap();
        total.correct += tally.correct;
        total.wrong += tally.wrong;
        total.unexplained += tally.unexplained;
        for (code, n) in tally.errors {
            *total.errors.entry(code).or_default() += n;
        }
        if total.first_error.is_none() {
            total.first_error = tally.first_error;
        }
    }
    total
}

/// Client backends of user `app` on the server right now.
fn app_backends(server: &Server) -> i64 {
    server
        .psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'")
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_mode_unnamed_statements_give_every_task_its_own_answers() {
    let test = "transaction_mode_unnamed_statements_give_every_task_its_own_answers";
    let Some((server, bouncer)) = rig(PoolMode::Transaction, test, &[]) else {
        return;
    };
    let tally = bounded(load(&bouncer, StatementCacheMode::UnnamedOnly, true)).await;
    eprintln!("pgbouncer transaction mode, UnnamedOnly: {tally:?}");
    assert_eq!(tally.correct, (TASKS * QUERIES) as u64, "{tally:?}");
    assert_eq!(tally.wrong, 0);
    assert!(tally.errors.is_empty(), "{tally:?}");
    let backends = app_backends(&server);
    assert!(
        (1..=2).contains(&backends),
        "{backends} server connections for app"
    );
}

/// The default named-statement cache cannot work through transaction pooling: a
/// statement prepared on one server connection is missing on the other (26000). It
/// does not recover from that by itself (the statement may be missing again on the
/// next try, and a connection cannot see which server session it will get); every such
/// error must say which mode to use instead, and no query may run another client's
/// statement (names carry a per-connection random tag).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_mode_named_statements_fail_naming_the_mode_to_use() {
    let test = "transaction_mode_named_statements_fail_naming_the_mode_to_use";
    let Some((_server, bouncer)) = rig(PoolMode::Transaction, test, &[]) else {
        return;
    };
    for own_sql in [false, true] {
        let tally = bounded(load(&bouncer, StatementCacheMode::Named, own_sql)).await;
        eprintln!("pgbouncer transaction mode, Named, own SQL per task {own_sql}: {tally:?}");
        let failed: u64 = tally.errors.values().sum();
        assert_eq!(
            tally.correct + tally.wrong + failed,
            (TASKS * QUERIES) as u64
        );
        assert!(
            failed > 0,
            "no clash in {tally:?}: the test no longer shows the problem"
        );
        // 42P05 (a name taken by another client) cannot happen with tagged names.
        assert!(tally.errors.keys().all(|code| code == "26000"), "{tally:?}");
        assert_eq!(tally.unexplained, 0, "{tally:?}");
        // Statement names are unique per connection, so a statement that is not
        // where this connection left it fails; it never runs another client's.
        assert_eq!(
            tally.wrong, 0,
            "answers from another client's statement: {tally:?}"
        );
    }
}

/// PgBouncer 1.21 and later track protocol-level prepared statements themselves when
/// `max_prepared_statements` is set; the named cache then works in transaction mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_mode_named_statements_with_max_prepared_statements() {
    let test = "transaction_mode_named_statements_with_max_prepared_statements";
    match pgline_testkit::pgbouncer_version() {
        Ok(version) if version >= (1, 21) => {}
        Ok((major, minor)) => {
            skip(
                test,
                &format!("PgBouncer {major}.{minor} has no max_prepared_statements (1.21+)"),
            );
            return;
        }
        Err(err) => {
            skip(test, &err.to_string().replace('\n', " "));
            return;
        }
    }
    let Some((_server, bouncer)) = rig(
        PoolMode::Transaction,
        test,
        &[("max_prepared_statements", "100")],
    ) else {
        return;
    };
    let tally = bounded(load(&bouncer, StatementCacheMode::Named, true)).await;
    eprintln!("pgbouncer transaction mode, Named, max_prepared_statements=100: {tally:?}");
    assert_eq!(tally.correct, (TASKS * QUERIES) as u64, "{tally:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_through_pgbouncer() {
    let test = "cancel_through_pgbouncer";
    let Some((server, bouncer)) = rig(PoolMode::Transaction, test, &[]) else {
        return;
    };
    let client = config(&bouncer, StatementCacheMode::UnnamedOnly)
        .connect()
        .await
        .unwrap();
    let token = client.cancel_token();
    assert_ne!(
        token.secret_key_len(),
        0,
        "PgBouncer hands out its own cancel key"
    );
    let sleeper = {
        let client = client.clone();
        tokio::spawn(async move { client.batch_execute("SELECT pg_sleep(10)").await })
    };
    // Wait until the server runs the sleep (seen over the superuser's socket).
    let mut running = false;
    for _ in 0..500 {
        let n = server
            .psql(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE query = 'SELECT pg_sleep(10)' AND state = 'active'",
            )
            .unwrap();
        if n == "1" {
            running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(running, "pg_sleep never started on the server");
    bounded(token.cancel_query()).await.unwrap();
    let err = bounded(sleeper).await.unwrap().unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    let row = client.query_one("SELECT 'after'::text", &[]).await.unwrap();
    assert_eq!(row.get::<&str>(0).unwrap(), "after");
}

/// Session pooling gives each client its own server session for as long as it is
/// connected: named statements, session settings and temporary tables all work, and a
/// third client waits for one of the 2 server connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_mode_works() {
    let test = "session_mode_works";
    let Some((server, bouncer)) = rig(PoolMode::Session, test, &[]) else {
        return;
    };
    let a = config(&bouncer, StatementCacheMode::Named)
        .connect()
        .await
        .unwrap();
    let b = config(&bouncer, StatementCacheMode::Named)
        .connect()
        .await
        .unwrap();
    a.batch_execute("SET application_name = 'client-a'; CREATE TEMP TABLE t (v int4)")
        .await
        .unwrap();
    b.batch_execute("SET application_name = 'client-b'; CREATE TEMP TABLE t (v int4)")
        .await
        .unwrap();
    for i in 0..200i32 {
        for (client, who) in [(&a, 1i32), (&b, 2i32)] {
            client
                .execute(
                    "INSERT INTO t VALUES ($1::int4 * 10 + $2::int4)",
                    &[&i, &who],
                )
                .await
                .unwrap();
        }
    }
    for (client, who, name) in [(&a, 1i32, "client-a"), (&b, 2, "client-b")] {
        let row = client
            .query_one(
                "SELECT count(*)::int4, sum(v % 10)::int4, current_setting('application_name') FROM t",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<i32>(0).unwrap(), 200);
        assert_eq!(row.get::<i32>(1).unwrap(), 200 * who);
        assert_eq!(row.get::<&str>(2).unwrap(), name);
        assert!(client.statement_cache_stats().hits >= 199);
    }
    assert_eq!(app_backends(&server), 2);
    // A third client gets a server connection once one of the first two leaves.
    let third = tokio::spawn({
        let config = config(&bouncer, StatementCacheMode::Named);
        async move {
            let c = config.connect().await?;
            c.query_one("SELECT to_regclass('pg_temp.t') IS NULL", &[])
                .await
                .map(|row| row.get::<bool>(0).unwrap())
        }
    });
    a.close().await.unwrap();
    let fresh_session = bounded(third).await.unwrap().unwrap();
    assert!(
        fresh_session,
        "the third client saw the first one's temporary table"
    );
}
