//! Against PostgreSQL 17 and 18 (fetched by `scripts/fetch-postgres.sh`): protocol 3.2
//! with its 32-byte cancel keys, cancelling through such a key, and direct TLS
//! (`sslnegotiation=direct`), which 17 and 18 accept and 15 refuses with a typed error.
//!
//! A test whose version is missing prints `SKIPPED ...` and passes; CI fetches 17 and
//! 18 and sets `PGLINE_PG_REQUIRED=17,18`, which turns a missing version into a failure.

mod support;

use std::time::Duration;

use pgline::Client;
use pgline::error::{ErrorKind, SqlState};
use pgline_testkit::{AuthMethod, Server, ServerBuilder, pg_major_or_skip};

/// A hang guard, not a timing assertion: every step here takes well under a second.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("operation did not finish within 60 s")
}

/// A TLS server of `major` with a SCRAM user `app`, or `None` (skipped) when that
/// version is not available.
fn server(major: u32, test: &str) -> Option<Server> {
    pg_major_or_skip(major, test)?;
    let server = ServerBuilder::new()
        .pg_major(major)
        .auth(AuthMethod::ScramSha256)
        .tls(true)
        .user("app", "app-secret")
        .start()
        .unwrap_or_else(|err| panic!("PostgreSQL {major} starts: {err}"));
    assert_eq!(server.major_version().unwrap(), major);
    Some(server)
}

fn conninfo(server: &Server, extra: &str) -> String {
    format!(
        "host=localhost port={} user=app password=app-secret dbname=postgres \
         connect_timeout=10 {extra}",
        server.port()
    )
}

/// Runs `pg_sleep(10)` on `client`, cancels it through the client's cancel token once
/// the server shows it running, and checks the caller gets 57014 and the connection
/// stays usable.
async fn cancel_a_sleep(client: &Client, watcher: &Client) {
    let token = client.cancel_token();
    let sleeper = {
        let client = client.clone();
        tokio::spawn(async move { client.batch_execute("SELECT pg_sleep(10)").await })
    };
    let pid = client.backend_pid() as i32;
    let mut running = false;
    for _ in 0..500 {
        let row = watcher
            .query_one(
                "SELECT count(*)::int4 FROM pg_stat_activity \
                 WHERE pid = $1 AND query LIKE '%pg_sleep%' AND state = 'active'",
                &[&pid],
            )
            .await
            .unwrap();
        if row.get::<i32>(0).unwrap() == 1 {
            running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(running, "pg_sleep never showed up in pg_stat_activity");
    bounded(token.cancel_query()).await.unwrap();
    let err = bounded(sleeper).await.unwrap().unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    let row = client.query_one("SELECT 'after'::text", &[]).await.unwrap();
    assert_eq!(row.get::<&str>(0).unwrap(), "after");
}

#[tokio::test]
async fn protocol_3_2_on_18_has_a_32_byte_cancel_key_that_cancels() {
    let Some(server) = server(
        18,
        "protocol_3_2_on_18_has_a_32_byte_cancel_key_that_cancels",
    ) else {
        return;
    };
    let client = bounded(pgline::connect(&conninfo(
        &server,
        "sslmode=disable max_protocol_version=3.2",
    )))
    .await
    .unwrap();
    assert_eq!(client.protocol_version(), (3, 2));
    assert_eq!(client.cancel_token().secret_key_len(), 32);
    assert_eq!(client.cancel_token().process_id(), client.backend_pid());

    // The default stays 3.0, with the old 4-byte key.
    let watcher = pgline::connect(&conninfo(&server, "sslmode=disable"))
        .await
        .unwrap();
    assert_eq!(watcher.protocol_version(), (3, 0));
    assert_eq!(watcher.cancel_token().secret_key_len(), 4);

    cancel_a_sleep(&client, &watcher).await;
}

#[tokio::test]
async fn protocol_3_2_cancel_over_direct_tls_on_18() {
    let Some(server) = server(18, "protocol_3_2_cancel_over_direct_tls_on_18") else {
        return;
    };
    let client = bounded(pgline::connect(&conninfo(
        &server,
        "sslmode=require sslnegotiation=direct max_protocol_version=3.2",
    )))
    .await
    .unwrap();
    assert!(support::uses_tls(&client).await);
    assert_eq!(client.protocol_version(), (3, 2));
    assert_eq!(client.cancel_token().secret_key_len(), 32);
    let watcher = pgline::connect(&conninfo(&server, "sslmode=require"))
        .await
        .unwrap();
    cancel_a_sleep(&client, &watcher).await;
}

#[tokio::test]
async fn protocol_3_2_asked_of_17_falls_back_to_3_0() {
    let Some(server) = server(17, "protocol_3_2_asked_of_17_falls_back_to_3_0") else {
        return;
    };
    let client = bounded(pgline::connect(&conninfo(
        &server,
        "sslmode=disable max_protocol_version=3.2",
    )))
    .await
    .unwrap();
    assert_eq!(client.protocol_version(), (3, 0));
    assert_eq!(client.cancel_token().secret_key_len(), 4);
    let err = bounded(pgline::connect(&conninfo(
        &server,
        "sslmode=disable min_protocol_version=3.2 max_protocol_version=3.2",
    )))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
}

/// `sslnegotiation=direct` against `major`: a TLS session from the first byte.
async fn direct_tls_works(major: u32, test: &str) {
    let Some(server) = server(major, test) else {
        return;
    };
    let client = bounded(pgline::connect(&conninfo(
        &server,
        "sslmode=require sslnegotiation=direct",
    )))
    .await
    .unwrap_or_else(|err| panic!("direct TLS to PostgreSQL {major}: {err}"));
    assert!(support::uses_tls(&client).await);
    let row = client
        .query_one("SELECT current_setting('server_version_num')::int4", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<i32>(0).unwrap() / 10_000, major as i32);
}

#[tokio::test]
async fn direct_tls_succeeds_on_17() {
    direct_tls_works(17, "direct_tls_succeeds_on_17").await;
}

#[tokio::test]
async fn direct_tls_succeeds_on_18() {
    direct_tls_works(18, "direct_tls_succeeds_on_18").await;
}

#[tokio::test]
async fn direct_tls_fails_cleanly_on_15() {
    let Some(server) = server(15, "direct_tls_fails_cleanly_on_15") else {
        return;
    };
    // PostgreSQL 15 reads the TLS ClientHello as a startup packet and closes the
    // connection; the client must report that as a typed error, not hang.
    let err = bounded(pgline::connect(&conninfo(
        &server,
        "sslmode=require sslnegotiation=direct",
    )))
    .await
    .unwrap_err();
    eprintln!("direct TLS to PostgreSQL 15: {err}");
    assert!(
        matches!(err.kind(), ErrorKind::Tls | ErrorKind::Io),
        "expected a TLS or I/O error, got {err:?}"
    );
    // The same server takes the classic SSLRequest.
    let client = bounded(pgline::connect(&conninfo(&server, "sslmode=require")))
        .await
        .unwrap();
    assert!(support::uses_tls(&client).await);
}
