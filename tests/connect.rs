//! Connection establishment: unix sockets, timeouts, refused ports, protocol
//! version negotiation, multi-host fallback, and cancellation.

mod support;

use std::time::Duration;

use pgline::error::{ErrorKind, SqlState};
use support::SilentServer;

fn shared() -> &'static pgline_testkit::Server {
    pgline_testkit::shared()
}

fn tcp_conninfo(extra: &str) -> String {
    let s = shared();
    format!(
        "host={} port={} user=pgline password=pgline-secret dbname=pgline {extra}",
        s.host(),
        s.port()
    )
}

/// Guards against hangs: the operation must end in this time.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("operation did not finish within 60 s")
}

#[tokio::test]
async fn unix_socket_connection() {
    let s = shared();
    let conninfo = format!(
        "host={} port={} user={} dbname=postgres",
        s.socket_dir().display(),
        s.port(),
        s.superuser()
    );
    let client = pgline::connect(&conninfo).await.unwrap();
    let row = client
        .query_one("SELECT inet_client_addr() IS NULL", &[])
        .await
        .unwrap();
    assert!(
        row.get::<bool>(0).unwrap(),
        "a unix socket has no client address"
    );
}

#[tokio::test]
async fn connect_timeout_ends_a_silent_server() {
    let silent = SilentServer::start();
    let conninfo = format!(
        "host=127.0.0.1 port={} user=x dbname=x sslmode=disable connect_timeout=2",
        silent.port()
    );
    let err = bounded(pgline::connect(&conninfo)).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "timeout: connecting to 127.0.0.1:{} timed out after 2s (connect_timeout)",
            silent.port()
        )
    );
}

#[tokio::test]
async fn refused_port_is_an_io_error_naming_host_and_port() {
    // Bind then drop a listener so the port is very likely closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conninfo = format!("host=127.0.0.1 port={port} user=x dbname=x sslmode=disable");
    let err = bounded(pgline::connect(&conninfo)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("connection to 127.0.0.1:{port} failed: ")),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");
}

#[tokio::test]
async fn multi_host_falls_through_to_a_working_host() {
    let silent = SilentServer::start();
    let s = shared();
    let conninfo = format!(
        "host=127.0.0.1,{} port={},{} user=pgline password=pgline-secret dbname=pgline \
         connect_timeout=2",
        s.host(),
        silent.port(),
        s.port()
    );
    let client = bounded(pgline::connect(&conninfo)).await.unwrap();
    assert_eq!(
        client
            .query_one("SELECT 5", &[])
            .await
            .unwrap()
            .get::<i32>(0)
            .unwrap(),
        5
    );
}

#[tokio::test]
async fn protocol_3_2_negotiates_down_to_3_0_on_postgresql_15() {
    let client = pgline::connect(&tcp_conninfo("max_protocol_version=3.2"))
        .await
        .unwrap();
    let version: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int4", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    if version < 180000 {
        assert_eq!(client.protocol_version(), (3, 0));
    } else {
        assert_eq!(client.protocol_version(), (3, 2));
    }
    assert_eq!(
        client
            .query_one("SELECT 1", &[])
            .await
            .unwrap()
            .get::<i32>(0)
            .unwrap(),
        1
    );
    // Cancel still works with the negotiated key length.
    assert_ne!(client.backend_pid(), 0);
}

#[tokio::test]
async fn min_protocol_3_2_fails_clearly_on_postgresql_15() {
    let result = pgline::connect(&tcp_conninfo(
        "min_protocol_version=3.2 max_protocol_version=3.2",
    ))
    .await;
    let version = shared()
        .psql("SHOW server_version_num")
        .unwrap()
        .trim()
        .parse::<u32>()
        .unwrap();
    if version >= 180000 {
        result.unwrap();
        return;
    }
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err:?}");
    assert!(
        err.to_string()
            .contains("server supports protocol version 3.0 only, below min_protocol_version 3.2"),
        "{err}"
    );
}

#[tokio::test]
async fn cancel_interrupts_a_running_query() {
    let client = pgline::connect(&tcp_conninfo("")).await.unwrap();
    let token = client.cancel_token();
    let sleeper = {
        let client = client.clone();
        tokio::spawn(async move { client.batch_execute("SELECT pg_sleep(10)").await })
    };
    // Wait until the sleep is running, seen from another connection.
    let watcher = pgline::connect(&tcp_conninfo("")).await.unwrap();
    let pid = client.backend_pid() as i32;
    for _ in 0..200 {
        let row = watcher
            .query_one(
                "SELECT count(*)::int4 FROM pg_stat_activity WHERE pid = $1 AND query LIKE '%pg_sleep%' AND state = 'active'",
                &[&pid],
            )
            .await
            .unwrap();
        if row.get::<i32>(0).unwrap() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    token.cancel_query().await.unwrap();
    let err = bounded(sleeper).await.unwrap().unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    // The connection stays usable.
    let row = client.query_one("SELECT 'after'::text", &[]).await.unwrap();
    assert_eq!(row.get::<&str>(0).unwrap(), "after");
}

#[tokio::test]
async fn cancel_over_tls() {
    let client = pgline::connect(&tcp_conninfo("sslmode=require"))
        .await
        .unwrap();
    assert!(support::uses_tls(&client).await);
    let token = client.cancel_token();
    let sleeper = {
        let client = client.clone();
        tokio::spawn(async move { client.batch_execute("SELECT pg_sleep(10)").await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    token.cancel_query().await.unwrap();
    let err = bounded(sleeper).await.unwrap().unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
}

#[tokio::test]
async fn bad_conninfo_is_a_config_error_naming_the_option() {
    let err = pgline::connect("host=localhost sslmode=maybe")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("sslmode"), "{err}");
    let err = pgline::connect("host=localhost frobnicate=1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("frobnicate"), "{err}");
}
