//! What the driver relies on the server to keep, checked against a fake
//! server that does not keep it: the outcome of protocol negotiation, and
//! the session parameters the codecs depend on (`client_encoding`,
//! `integer_datetimes`, `standard_conforming_strings`), at startup and
//! when they change mid-session. A value pgline cannot honour ends the
//! connection with an error naming the parameter and the value; one it
//! does not rely on (`DateStyle`) is accepted.

mod common;

use std::error::Error as _;
use std::future::Future;
use std::time::Duration;

use pgline::error::ErrorKind;
use pgline::proto::session::UnsupportedParameter;
use pgline::{Client, Config, Error, SimpleQueryMessage};
use pgline_protocol_tests::wire;
use pgline_protocol_tests::{FakeServer, Script};

/// Every call under test must end in this time.
const DEADLINE: Duration = Duration::from_secs(10);

/// The parameters pgline relies on, each with a value it cannot honour.
const UNHONOURABLE: [(&str, &str); 3] = [
    ("client_encoding", "LATIN1"),
    ("integer_datetimes", "off"),
    ("standard_conforming_strings", "off"),
];

async fn within<F: Future>(what: &str, f: F) -> F::Output {
    common::within(DEADLINE, what, f).await
}

async fn connect(server: &FakeServer, params: &str) -> Result<Client, Error> {
    let url = if params.is_empty() {
        server.url()
    } else {
        server.url_with(params)
    };
    let config: Config = url.parse().expect("fake server URL");
    within("connect", config.connect()).await
}

/// The startup tail of a server reporting `name = value` among the usual
/// parameters (after the usual value, so it replaces it).
fn tail_with(name: &str, value: &str) -> Vec<u8> {
    [
        wire::parameter_status("server_version", "17.0"),
        wire::parameter_status("client_encoding", "UTF8"),
        wire::parameter_status("DateStyle", "ISO, MDY"),
        wire::parameter_status("integer_datetimes", "on"),
        wire::parameter_status("standard_conforming_strings", "on"),
        wire::parameter_status(name, value),
        wire::backend_key(4242, 0x0102_0304),
        wire::ready_idle(),
    ]
    .concat()
}

/// The error names the parameter and the value, and carries them typed.
fn assert_names(err: &Error, name: &str, value: &str) {
    let text = err.to_string();
    assert!(
        text.contains(&format!("{name} = \"{value}\"")),
        "{name}: the error does not name the parameter and value: {text}"
    );
    let mut source = err.source();
    let mut cause = None;
    while let Some(e) = source {
        if let Some(found) = e.downcast_ref::<UnsupportedParameter>() {
            cause = Some(found);
            break;
        }
        source = e.source();
    }
    let cause = cause
        .unwrap_or_else(|| panic!("{name}: no UnsupportedParameter in the sources of {err:?}"));
    assert_eq!((cause.name, cause.value.as_str()), (name, value));
}

#[tokio::test]
async fn an_unhonourable_parameter_at_startup_fails_the_connect() {
    for (name, value) in UNHONOURABLE {
        let server = FakeServer::start(
            Script::new()
                .read_startup()
                .send(wire::auth_ok())
                .send(tail_with(name, value))
                .stall(),
        )
        .await;
        let err = connect(&server, "")
            .await
            .expect_err("connecting must fail");
        eprintln!("{name} = {value}: {:?}: {err}", err.kind());
        assert_eq!(err.kind(), ErrorKind::Protocol, "{name}: {err:?}");
        assert_names(&err, name, value);
        drop(server.finish().await);
    }
}

/// A handshake, then `query` answered by the server with `name = value`
/// before the command's completion, as after `SET name = value`.
fn changed_mid_session(name: &str, value: &str) -> Script {
    Script::new()
        .handshake()
        .expect(b'Q')
        .send(
            [
                wire::parameter_status(name, value),
                wire::command_complete("SET"),
                wire::ready_idle(),
            ]
            .concat(),
        )
        .stall()
}

#[tokio::test]
async fn an_unhonourable_parameter_mid_session_closes_the_connection() {
    for (name, value) in UNHONOURABLE {
        let server = FakeServer::start(changed_mid_session(name, value)).await;
        let client = connect(&server, "").await.expect("handshake succeeds");
        let err = within("SET", client.batch_execute("SET x = 1"))
            .await
            .expect_err("the SET that changed it must fail");
        eprintln!("{name} = {value}: {:?}: {err}", err.kind());
        assert_eq!(err.kind(), ErrorKind::Closed, "{name}: {err:?}");
        assert_names(&err, name, value);
        assert!(client.is_closed(), "{name}: the connection must be closed");
        // The next call fails at once, with the same cause.
        let next = within("next query", client.simple_query("SELECT 1"))
            .await
            .expect_err("the connection is closed");
        assert_eq!(next.kind(), ErrorKind::Closed);
        assert_names(&next, name, value);
        drop(client);
        drop(server.finish().await);
    }
}

#[tokio::test]
async fn replies_before_the_change_are_delivered() {
    // Two requests in flight; the first one's reply is complete before the
    // ParameterStatus that ends the connection, in the same read.
    let server = FakeServer::start(
        Script::new()
            .handshake()
            .expect(b'Q')
            .expect(b'Q')
            .send(
                [
                    wire::text_columns(&["x"]),
                    wire::data_row(&[Some(b"before")]),
                    wire::command_complete("SELECT 1"),
                    wire::ready_idle(),
                    wire::parameter_status("client_encoding", "SQL_ASCII"),
                    wire::command_complete("SET"),
                    wire::ready_idle(),
                ]
                .concat(),
            )
            .stall(),
    )
    .await;
    let client = connect(&server, "").await.expect("handshake succeeds");
    let (first, second) = within(
        "both requests",
        futures_join(
            client.simple_query("SELECT 'before'"),
            client.batch_execute("SET client_encoding = 'SQL_ASCII'"),
        ),
    )
    .await;
    let rows = first.expect("the first request was answered before the change");
    assert!(matches!(&rows[0], SimpleQueryMessage::Row(r) if r.get(0) == Some("before")));
    let err = second.expect_err("the SET fails");
    assert_names(&err, "client_encoding", "SQL_ASCII");
    assert!(client.is_closed());
    drop(client);
    drop(server.finish().await);
}

#[tokio::test]
async fn date_style_is_not_relied_on_and_may_change() {
    // At startup and mid-session: the connection keeps working.
    let server = FakeServer::start(
        Script::new()
            .read_startup()
            .send(wire::auth_ok())
            .send(tail_with("DateStyle", "German, DMY"))
            .expect(b'Q')
            .send(
                [
                    wire::parameter_status("DateStyle", "SQL, DMY"),
                    wire::command_complete("SET"),
                    wire::ready_idle(),
                ]
                .concat(),
            )
            .expect(b'Q')
            .send(
                [
                    wire::text_columns(&["d"]),
                    wire::data_row(&[Some(b"02/12/2026")]),
                    wire::command_complete("SELECT 1"),
                    wire::ready_idle(),
                ]
                .concat(),
            )
            .stall(),
    )
    .await;
    let client = connect(&server, "").await.expect("handshake succeeds");
    assert_eq!(
        client.parameter("DateStyle").as_deref(),
        Some("German, DMY")
    );
    within("SET", client.batch_execute("SET DateStyle = 'SQL, DMY'"))
        .await
        .expect("DateStyle may change");
    assert_eq!(client.parameter("DateStyle").as_deref(), Some("SQL, DMY"));
    let rows = within("query", client.simple_query("SELECT current_date"))
        .await
        .expect("the connection still works");
    assert!(matches!(&rows[0], SimpleQueryMessage::Row(r) if r.get(0) == Some("02/12/2026")));
    assert!(!client.is_closed());
    drop(client);
    drop(server.finish().await);
}

/// Plays a NegotiateProtocolVersion after the StartupMessage and expects
/// connecting to fail with a protocol error containing `expected`.
async fn negotiation_fails(npv: Vec<u8>, params: &str, expected: &str) {
    let server = FakeServer::start(
        Script::new()
            .read_startup()
            .send(npv)
            .send(wire::auth_ok())
            .send(wire::startup_tail())
            .stall(),
    )
    .await;
    let err = connect(&server, params)
        .await
        .expect_err("connecting must fail");
    eprintln!("{:?}: {err}", err.kind());
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err:?}");
    assert!(err.to_string().contains(expected), "{err}");
    drop(server.finish().await);
}

#[tokio::test]
async fn negotiation_may_only_lower_the_version_asked_for() {
    // Asked for 3.0 (the default), offered 3.2.
    negotiation_fails(
        wire::negotiate_protocol_version(0x0003_0002, &[]),
        "",
        "offers protocol 3.2, above the 3.0 requested",
    )
    .await;
    // Asked for 3.2, offered 3.3.
    negotiation_fails(
        wire::negotiate_protocol_version(0x0003_0003, &[]),
        "max_protocol_version=3.2",
        "offers protocol 3.3, above the 3.2 requested",
    )
    .await;
    // An option the client never sent.
    negotiation_fails(
        wire::negotiate_protocol_version(0x0003_0000, &["_pq_.compression"]),
        "max_protocol_version=3.2",
        "rejects protocol option \"_pq_.compression\", which the client did not send",
    )
    .await;
    // Nothing negotiated: asked 3.0, told 3.0.
    negotiation_fails(
        wire::negotiate_protocol_version(0x0003_0000, &[]),
        "",
        "neither lowers the protocol version nor rejects an option",
    )
    .await;
}

#[tokio::test]
async fn a_long_cancel_key_under_protocol_3_0_fails_the_connect() {
    let mut key = 4242u32.to_be_bytes().to_vec();
    key.extend_from_slice(&[7; 32]);
    let server = FakeServer::start(
        Script::new()
            .read_startup()
            .send(wire::auth_ok())
            .send(
                [
                    wire::parameter_status("client_encoding", "UTF8"),
                    wire::message(b'K', &key),
                    wire::ready_idle(),
                ]
                .concat(),
            )
            .stall(),
    )
    .await;
    let err = connect(&server, "")
        .await
        .expect_err("connecting must fail");
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err:?}");
    assert!(
        err.to_string()
            .contains("32-byte secret key; protocol 3.0 allows 4 bytes only"),
        "{err}"
    );
    drop(server.finish().await);
}

/// Runs two futures concurrently on this task.
async fn futures_join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    tokio::join!(a, b)
}
