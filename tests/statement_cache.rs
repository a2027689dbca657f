//! The per-connection prepared-statement cache against a real server.

use pgline::config::StatementCacheMode;
use pgline::error::SqlState;
use pgline::{Client, Config, StatementCacheStats};

fn config() -> Config {
    pgline_testkit::shared()
        .url("pgline", Some("pgline-secret"), "pgline")
        .parse()
        .expect("a valid URL")
}

async fn server_statements(client: &Client) -> Vec<String> {
    client
        .simple_query("SELECT statement FROM pg_prepared_statements ORDER BY prepare_time, name")
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            pgline::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .collect()
}

fn counts(s: StatementCacheStats) -> (u64, u64, u64, usize) {
    (s.hits, s.misses, s.evictions, s.len)
}

#[tokio::test]
async fn scripted_workload_counts_hits_misses_and_evictions() {
    let mut config = config();
    config.statement_cache_capacity(2);
    let client = config.connect().await.unwrap();
    let (a, b, c) = ("SELECT 1::int4", "SELECT 2::int4", "SELECT 3::int4");
    // a miss, a hit, b miss, b hit, a hit: 3 hits, 2 misses, no eviction.
    for sql in [a, a, b, b, a] {
        client.query_one(sql, &[]).await.unwrap();
    }
    assert_eq!(counts(client.statement_cache_stats()), (3, 2, 0, 2));
    // c evicts b (least recently used); b then evicts a; a evicts c.
    for sql in [c, b, a] {
        client.query_one(sql, &[]).await.unwrap();
    }
    assert_eq!(counts(client.statement_cache_stats()), (3, 5, 3, 2));
    // The evicted statements were closed on the server: two remain.
    let on_server = server_statements(&client).await;
    assert_eq!(on_server, [b, a], "{on_server:?}");
}

#[tokio::test]
async fn three_alternating_statements_with_capacity_two() {
    let mut config = config();
    config.statement_cache_capacity(2);
    let client = config.connect().await.unwrap();
    let sqls = ["SELECT 10::int4", "SELECT 20::int4", "SELECT 30::int4"];
    for round in 0..10 {
        for (i, sql) in sqls.iter().enumerate() {
            let v: i32 = client.query_one(*sql, &[]).await.unwrap().get(0).unwrap();
            assert_eq!(v, (i as i32 + 1) * 10, "round {round}");
        }
    }
    let stats = client.statement_cache_stats();
    // Each lookup misses with LRU order a, b, c, a, b, c, ...
    assert_eq!((stats.hits, stats.misses, stats.evictions), (0, 30, 28));
    let on_server = server_statements(&client).await;
    assert!(on_server.len() <= 2, "{on_server:?}");
}

#[tokio::test]
async fn schema_change_is_retried_outside_and_reported_inside_a_transaction() {
    let client = config().connect().await.unwrap();
    client
        .batch_execute("CREATE TEMP TABLE evolve (a int4); INSERT INTO evolve VALUES (1)")
        .await
        .unwrap();
    let first = client.query_one("SELECT * FROM evolve", &[]).await.unwrap();
    assert_eq!(first.len(), 1);
    client
        .batch_execute("ALTER TABLE evolve ADD COLUMN b text DEFAULT 'x'")
        .await
        .unwrap();
    // Outside a transaction: re-prepared and retried transparently.
    let second = client.query_one("SELECT * FROM evolve", &[]).await.unwrap();
    assert_eq!(second.len(), 2);
    assert_eq!(second.get::<&str>("b").unwrap(), "x");
    assert_eq!(client.statement_cache_stats().invalidations, 1);

    // Inside a transaction: the error is reported (the transaction is
    // aborted anyway) and the entry dropped.
    client
        .batch_execute("ALTER TABLE evolve ADD COLUMN c int4 DEFAULT 7")
        .await
        .unwrap();
    let tx = client.transaction().await.unwrap();
    let err = tx.query_one("SELECT * FROM evolve", &[]).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(&SqlState::FEATURE_NOT_SUPPORTED),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("cached plan must not change result type")
    );
    tx.rollback().await.unwrap();
    assert_eq!(client.statement_cache_stats().invalidations, 2);
    let third = client.query_one("SELECT * FROM evolve", &[]).await.unwrap();
    assert_eq!(third.get::<i32>("c").unwrap(), 7);
}

#[tokio::test]
async fn a_statement_dropped_on_the_server_is_prepared_again() {
    let client = config().connect().await.unwrap();
    client.query_one("SELECT 41::int4 + 1", &[]).await.unwrap();
    // DEALLOCATE ALL through the driver clears the cache.
    client.batch_execute("DEALLOCATE ALL").await.unwrap();
    assert_eq!(client.statement_cache_stats().len, 0);
    let v: i32 = client
        .query_one("SELECT 41::int4 + 1", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(v, 42);
    // DISCARD ALL too.
    client.batch_execute("DISCARD ALL").await.unwrap();
    assert_eq!(client.statement_cache_stats().len, 0);
    assert!(server_statements(&client).await.is_empty());
}

#[tokio::test]
async fn unnamed_only_mode_keeps_nothing_on_the_server() {
    let mut config = config();
    config.statement_cache_mode(StatementCacheMode::UnnamedOnly);
    let client = config.connect().await.unwrap();
    for i in 0..20i32 {
        let v: i32 = client
            .query_one("SELECT $1::int4 * 2", &[&i])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(v, i * 2);
    }
    assert!(server_statements(&client).await.is_empty());
    assert_eq!(client.statement_cache_stats().misses, 0);
}

#[tokio::test]
async fn capacity_zero_disables_the_cache() {
    let mut config = config();
    config.statement_cache_capacity(0);
    let client = config.connect().await.unwrap();
    for _ in 0..3 {
        client.query_one("SELECT 1", &[]).await.unwrap();
    }
    assert!(server_statements(&client).await.is_empty());
}

#[tokio::test]
async fn dropped_user_statements_are_closed_on_the_server() {
    let mut config = config();
    config.statement_cache_capacity(0);
    let client = config.connect().await.unwrap();
    let stmt = client.prepare("SELECT $1::int4").await.unwrap();
    assert_eq!(server_statements(&client).await.len(), 1);
    drop(stmt);
    // The Close rides along with the next request.
    assert!(server_statements(&client).await.is_empty());
}
