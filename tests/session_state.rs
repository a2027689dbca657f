//! Session parameters pgline relies on, changed by SQL on a real server:
//! a value pgline cannot honour ends the connection with an error naming
//! it; one it does not rely on is accepted.

use std::error::Error as _;
use std::time::Duration;

use pgline::Client;
use pgline::error::ErrorKind;
use pgline::proto::session::UnsupportedParameter;

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
async fn set_client_encoding_mid_session_closes_the_connection() {
    let client = connect().await;
    assert_eq!(client.parameter("client_encoding").as_deref(), Some("UTF8"));
    let err = bounded(client.batch_execute("SET client_encoding = 'LATIN1'"))
        .await
        .expect_err("pgline cannot read LATIN1 text");
    eprintln!("{:?}: {err}", err.kind());
    assert_eq!(err.kind(), ErrorKind::Closed, "{err:?}");
    assert!(
        err.to_string().contains("client_encoding = \"LATIN1\""),
        "{err}"
    );
    let cause = err
        .source()
        .and_then(|e| e.downcast_ref::<UnsupportedParameter>())
        .expect("the typed cause");
    assert_eq!(
        (cause.name, cause.value.as_str()),
        ("client_encoding", "LATIN1")
    );
    assert!(client.is_closed());
    let next = bounded(client.query_one("SELECT 1", &[]))
        .await
        .expect_err("the connection is closed");
    assert_eq!(next.kind(), ErrorKind::Closed);
}

#[tokio::test]
async fn set_standard_conforming_strings_off_closes_the_connection() {
    let client = connect().await;
    let err = bounded(client.simple_query("SET standard_conforming_strings = off"))
        .await
        .expect_err("pgline's literals rely on it");
    assert_eq!(err.kind(), ErrorKind::Closed, "{err:?}");
    assert!(
        err.to_string()
            .contains("standard_conforming_strings = \"off\""),
        "{err}"
    );
    assert!(client.is_closed());
}

#[tokio::test]
async fn set_date_style_keeps_the_connection() {
    let client = connect().await;
    bounded(client.batch_execute("SET DateStyle = 'German, DMY'"))
        .await
        .expect("DateStyle is not relied on");
    assert_eq!(
        client.parameter("DateStyle").as_deref(),
        Some("German, DMY")
    );
    // Binary dates are unaffected; the text form is the server's.
    let row = bounded(client.query_one(
        "SELECT '2026-12-02'::date = $1, '2026-12-02'::date::text",
        &[&pgline::types::PgDate::from_ymd(2026, 12, 2).unwrap()],
    ))
    .await
    .unwrap();
    assert!(row.get::<bool>(0).unwrap());
    assert_eq!(row.get::<&str>(1).unwrap(), "02.12.2026");
    assert!(!client.is_closed());
}

#[tokio::test]
async fn reset_all_and_discard_all_keep_the_connection() {
    // The startup packet's client_encoding is the session's reset value:
    // resetting everything reports UTF8 again, which is fine.
    let client = connect().await;
    for sql in [
        "SET DateStyle = 'SQL, DMY'; RESET ALL",
        "SET client_encoding = 'UTF8'",
        "DISCARD ALL",
    ] {
        bounded(client.batch_execute(sql))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(client.parameter("client_encoding").as_deref(), Some("UTF8"));
        let v: i32 = bounded(client.query_one("SELECT 5", &[]))
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(v, 5, "{sql}");
    }
    assert!(!client.is_closed());
}
