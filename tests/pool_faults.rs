//! Faults against dedicated servers: backends terminated under the pool,
//! the server stopped (acquires fail fast, health goes down) and restarted
//! (the same pool recovers).
#![cfg(feature = "runtime")]

mod pool_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use pgline::error::{ErrorKind, RetryClass, SqlState};
use pgline::pool::{Backoff, HealthState, Pool, PoolEvent};
use pgline_testkit::ServerBuilder;
use pool_support::{backends, bounded, config_for, eventually, server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_backends_are_replaced_by_fresh_connections() {
    let s = ServerBuilder::new().start().unwrap();
    let pool = Pool::builder(config_for(&s, "pool_term"))
        .max_size(3)
        .min_idle(3)
        .health_check_interval(None)
        .connect()
        .await
        .unwrap();
    let mut old = HashSet::new();
    // Handles on the three connections, to see when their clients have
    // noticed the terminations (the server's side ends first).
    let watchers: Vec<pgline::Client> = {
        let held = [
            pool.acquire().await.unwrap(),
            pool.acquire().await.unwrap(),
            pool.acquire().await.unwrap(),
        ];
        for c in &held {
            old.insert(c.backend_pid());
        }
        held.iter().map(|c| (**c).clone()).collect()
    };
    assert_eq!(old.len(), 3);
    let killed = s
        .psql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = 'pool_term'",
        )
        .unwrap();
    assert_eq!(killed, "3");
    eventually("terminated backends gone", || {
        backends(&s, "pool_term") == 0
    })
    .await;
    eventually("the clients see their connections closed", || {
        watchers.iter().all(|c| c.is_closed())
    })
    .await;

    for i in 0..20i32 {
        let row = bounded(pool.query_one("SELECT pg_backend_pid(), $1::int4", &[&i]))
            .await
            .unwrap_or_else(|e| panic!("query {i} after the terminations failed: {e}"));
        assert_eq!(row.get::<i32>(1).unwrap(), i);
        let pid = row.get::<i32>(0).unwrap() as u32;
        assert!(!old.contains(&pid), "query {i} ran on a terminated backend");
    }
    let stats = pool.stats();
    assert_eq!(stats.closed.broken, 3, "{stats:?}");
    assert!(stats.created >= 4, "{stats:?}");
    assert_eq!(pool.health(), HealthState::Healthy);
    pool.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_server_brings_the_pool_down_and_a_restart_brings_it_back() {
    let mut s = ServerBuilder::new().start().unwrap();
    let pool = Pool::builder(config_for(&s, "pool_down"))
        .max_size(4)
        .min_idle(2)
        .acquire_timeout(Duration::from_secs(20))
        .maintenance_interval(Duration::from_millis(20))
        .backoff(Backoff {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(200),
            down_after: 3,
        })
        .connect()
        .await
        .unwrap();
    let mut events = pool.subscribe();
    pool.query_one("SELECT 1", &[]).await.unwrap();

    s.stop().unwrap();
    // The idle connections are dead; the acquire finds that out, tries a
    // fresh connection and fails with the connect error, well before the
    // 20 s acquire timeout. An idle connection whose task has not read the
    // server's EOF yet (a loaded machine) can still be handed out once: its
    // first query fails and it is not kept.
    let started = Instant::now();
    let mut handed_out_dead = 0;
    let err = loop {
        match bounded(pool.acquire()).await {
            Ok(conn) => {
                handed_out_dead += 1;
                assert!(handed_out_dead <= 2, "more than the 2 idle connections");
                conn.query_one("SELECT 1", &[]).await.unwrap_err();
            }
            Err(err) => break err,
        }
    };
    assert!(!err.is_timeout(), "{err}");
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));

    eventually("health goes down", || pool.health() == HealthState::Down).await;
    let err = bounded(pool.acquire()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(!err.is_timeout(), "{err}");
    assert!(pool.stats().connect_failures >= 3);

    s.restart().unwrap();
    eventually("health back to healthy", || {
        pool.health() == HealthState::Healthy
    })
    .await;
    let row = bounded(pool.query_one("SELECT 41 + 1", &[])).await.unwrap();
    assert_eq!(row.get::<i32>(0).unwrap(), 42);
    eventually("min_idle refilled", || pool.stats().idle >= 2).await;

    let mut seen = Vec::new();
    let mut connect_failures = Vec::new();
    while let Ok(event) = events.try_recv() {
        match event {
            PoolEvent::Health(change) => seen.push(change.to),
            PoolEvent::ConnectFailed { error, .. } => {
                // The socket's io::Error itself, not its text; or, for a
                // connect that reached the server while it was shutting
                // down or starting up, the server's own FATAL: 57P03, or
                // 57P01 when the shutdown caught the backend mid-startup.
                let io = std::error::Error::source(&*error)
                    .and_then(|s| s.downcast_ref::<std::io::Error>())
                    .map(std::io::Error::kind);
                let shutting_down = [SqlState::CANNOT_CONNECT_NOW, SqlState::ADMIN_SHUTDOWN]
                    .iter()
                    .any(|code| error.code() == Some(code));
                assert!(io.is_some() || shutting_down, "{error:?}");
                assert_eq!(error.retry_class(), RetryClass::NotExecuted, "{error:?}");
                connect_failures.push(error.kind());
            }
            _ => {}
        }
    }
    assert!(seen.contains(&HealthState::Down), "{seen:?}");
    // The events carry the connect's typed error: a refused socket is Io
    // (a connect during the shutdown is the server's Db 57P03, above).
    assert!(
        connect_failures.contains(&ErrorKind::Io),
        "{connect_failures:?}"
    );
    assert!(
        connect_failures
            .iter()
            .all(|k| matches!(k, ErrorKind::Io | ErrorKind::Db)),
        "{connect_failures:?}"
    );
    assert_eq!(seen.last(), Some(&HealthState::Healthy), "{seen:?}");
    assert!(pool.stats().closed.broken >= 1);
    pool.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_checks_replace_dead_idle_connections_without_traffic() {
    let s = ServerBuilder::new().start().unwrap();
    let pool = Pool::builder(config_for(&s, "pool_bg_check"))
        .max_size(4)
        .min_idle(2)
        .health_check_interval(Some(Duration::from_millis(50)))
        .maintenance_interval(Duration::from_millis(20))
        .connect()
        .await
        .unwrap();
    let before: HashSet<String> = s
        .psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'pool_bg_check'")
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(before.len(), 2);
    s.psql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'pool_bg_check'",
    )
    .unwrap();
    // No acquire: the background task finds the dead connections (closed by
    // the server, or failing the round trip) and opens replacements.
    eventually("dead idle connections replaced", || {
        let stats = pool.stats();
        stats.closed.broken + stats.closed.health_check >= 2 && stats.idle == 2
    })
    .await;
    eventually("two fresh backends", || {
        let now: HashSet<String> = s
            .psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'pool_bg_check'")
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        now.len() == 2 && now.is_disjoint(&before)
    })
    .await;
    assert_eq!(pool.stats().acquires, 0);
    assert_eq!(pool.stats().created, 4);
    pool.close(Duration::from_secs(5)).await;
}

/// A server error at connect reaches the pool's watchers as the same typed
/// error the acquire gets: kind `Db`, the server's `DbError` reachable
/// (code 3D000), not its text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_failed_events_carry_the_servers_typed_error() {
    let mut config = config_for(server(), "pool_event_db");
    config.dbname("no_such_database");
    let pool = Pool::builder(config)
        .max_size(1)
        .min_idle(0)
        .acquire_timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    let mut events = pool.subscribe();
    let err = bounded(pool.acquire()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Db, "{err:?}");
    assert_eq!(err.code(), Some(&SqlState::INVALID_CATALOG_NAME), "{err:?}");
    let event_error = loop {
        match events.try_recv() {
            Ok(PoolEvent::ConnectFailed { error, .. }) => break error,
            Ok(_) => {}
            Err(e) => panic!("no ConnectFailed event: {e:?}"),
        }
    };
    assert_eq!(event_error.kind(), ErrorKind::Db, "{event_error:?}");
    let db = event_error
        .as_db_error()
        .expect("the server's DbError itself");
    assert_eq!(db.code(), &SqlState::INVALID_CATALOG_NAME);
    assert_eq!(Some(db.message()), err.as_db_error().map(|d| d.message()));
    assert_eq!(event_error.to_string(), err.to_string());
    assert_eq!(event_error.retry_class(), RetryClass::NotRetryable);
    pool.close(Duration::from_secs(5)).await;
}
