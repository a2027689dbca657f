//! pgline's own connection-string keywords (`pgline_query_timeout`,
//! `pgline_statement_cache_capacity`, `pgline_statement_cache_mode`) take
//! effect on a real connection, from a URL and from a key=value string.

use std::time::Duration;

use pgline::Client;

/// Guards against hangs: every awaited operation must end in this time.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("operation did not finish within 30 s")
}

fn url(extra: &str) -> String {
    let base = pgline_testkit::shared().url("pgline", Some("pgline-secret"), "pgline");
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{extra}")
}

fn key_value(extra: &str) -> String {
    let base = pgline_testkit::shared().key_value("pgline", Some("pgline-secret"), "pgline");
    format!("{base} {extra}")
}

async fn run_twice(client: &Client) {
    for _ in 0..2 {
        let v: i32 = bounded(client.query_one("SELECT $1::int4 + 1", &[&1i32]))
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(v, 2);
    }
}

#[tokio::test]
async fn query_timeout_from_a_connection_string_fires() {
    for conninfo in [
        url("pgline_query_timeout=200ms"),
        key_value("pgline_query_timeout=200"),
    ] {
        let client = pgline::connect(&conninfo).await.unwrap();
        let err = bounded(client.batch_execute("SELECT pg_sleep(20)"))
            .await
            .expect_err("the query timeout fires");
        assert!(err.is_timeout(), "{conninfo}: {err:?}");
    }
    // Without the keyword there is no timeout.
    let client = pgline::connect(&url("")).await.unwrap();
    bounded(client.batch_execute("SELECT pg_sleep(0.3)"))
        .await
        .unwrap();
}

#[tokio::test]
async fn statement_cache_settings_from_a_connection_string_apply() {
    // Named cache of the given capacity: the second run is a hit.
    let client = pgline::connect(&url("pgline_statement_cache_capacity=7"))
        .await
        .unwrap();
    run_twice(&client).await;
    let stats = client.statement_cache_stats();
    assert_eq!(
        (stats.capacity, stats.len, stats.hits),
        (7, 1, 1),
        "{stats:?}"
    );
    // Unnamed only, and a disabled cache: nothing is kept.
    for conninfo in [
        url("pgline_statement_cache_mode=unnamed"),
        key_value("pgline_statement_cache_capacity=0"),
    ] {
        let client = pgline::connect(&conninfo).await.unwrap();
        run_twice(&client).await;
        let stats = client.statement_cache_stats();
        assert_eq!((stats.len, stats.hits), (0, 0), "{conninfo}: {stats:?}");
        let prepared: i64 =
            bounded(client.query_one("SELECT count(*) FROM pg_prepared_statements", &[]))
                .await
                .unwrap()
                .get(0)
                .unwrap();
        assert_eq!(prepared, 0, "{conninfo}");
    }
}

#[tokio::test]
async fn a_bad_value_fails_the_connect_with_a_config_error() {
    let err = pgline::connect(&url("pgline_query_timeout=soon"))
        .await
        .expect_err("bad value");
    assert_eq!(err.kind(), pgline::error::ErrorKind::Config, "{err:?}");
    assert!(err.to_string().contains("pgline_query_timeout"), "{err}");
}
