//! Bad input from a scripted fake server: every case ends within its
//! deadline with a typed error (or a usable connection where the protocol
//! allows), never a panic or a hang. The list of cases and their outcomes is
//! in `protocol-tests/README.md`.

mod common;

use std::future::Future;
use std::time::Duration;

use pgline::error::{ErrorKind, RetryClass};
use pgline::{Client, Config, Error, SimpleQueryMessage};
use pgline_protocol_tests::wire::{self, header, message};
use pgline_protocol_tests::{FakeServer, Script};

/// Every call under test must end in this time.
const DEADLINE: Duration = Duration::from_secs(10);

async fn within<F: Future>(what: &str, f: F) -> F::Output {
    common::within(DEADLINE, what, f).await
}

/// Connects to `server`, with the statement cache off so that every
/// extended query is one Parse/Bind/Describe/Execute/Sync round.
async fn connect(server: &FakeServer, params: &str) -> Result<Client, Error> {
    let url = if params.is_empty() {
        server.url()
    } else {
        server.url_with(params)
    };
    let mut config: Config = url.parse().expect("fake server URL");
    config.statement_cache_capacity(0);
    within("connect", config.connect()).await
}

/// Plays `script` and expects connecting to fail with one of `kinds`.
async fn connect_fails(script: Script, params: &str, kinds: &[ErrorKind]) -> Error {
    let server = FakeServer::start(script).await;
    let err = connect(&server, params)
        .await
        .expect_err("connecting must fail");
    eprintln!("outcome: {:?}: {err}", err.kind());
    assert!(
        kinds.contains(&err.kind()),
        "got {:?} ({err}), expected one of {kinds:?}",
        err.kind()
    );
    drop(server.finish().await);
    err
}

/// Plays a handshake followed by `after`, and returns the server and a
/// connected client.
async fn connected(after: impl FnOnce(Script) -> Script) -> (FakeServer, Client) {
    let server = FakeServer::start(after(Script::new().handshake())).await;
    let client = connect(&server, "").await.expect("handshake succeeds");
    (server, client)
}

/// Expects `result` to be an error of one of `kinds` and the client to be
/// marked closed.
fn broken<T: std::fmt::Debug>(client: &Client, result: Result<T, Error>, kinds: &[ErrorKind]) {
    let err = result.expect_err("the call must fail");
    eprintln!("outcome: {:?}: {err}", err.kind());
    assert!(
        kinds.contains(&err.kind()),
        "got {:?} ({err}), expected one of {kinds:?}",
        err.kind()
    );
    assert!(
        client.is_closed(),
        "the connection must be marked broken after: {err}"
    );
}

const BROKEN: &[ErrorKind] = &[ErrorKind::Protocol, ErrorKind::Closed, ErrorKind::Io];
const PROTOCOL: &[ErrorKind] = &[ErrorKind::Protocol];

/// A fatal protocol violation seen while a request is in flight: the
/// request fails with the protocol error, kind `Protocol` (the connection
/// is closed because of it), and is not retryable.
fn protocol_broken<T: std::fmt::Debug>(client: &Client, result: Result<T, Error>) {
    let err = result.expect_err("the call must fail");
    eprintln!("outcome: {:?}: {err}", err.kind());
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err:?}");
    assert_eq!(err.retry_class(), RetryClass::NotRetryable, "{err:?}");
    assert!(err.to_string().contains("protocol error"), "{err}");
    assert!(
        client.is_closed(),
        "the connection must be marked broken after: {err}"
    );
}

/// A protocol violation inside a well-framed response: the request fails
/// with a protocol error, the rest of the response is read up to
/// ReadyForQuery, and the connection stays usable.
async fn protocol_error_then_usable<T: std::fmt::Debug>(client: &Client, result: Result<T, Error>) {
    let err = result.expect_err("the call must fail");
    eprintln!("outcome: {:?}: {err} (then usable)", err.kind());
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert!(!client.is_closed(), "{err}");
    let rows = within("the next query", client.simple_query("SELECT 7"))
        .await
        .expect("the connection is still usable");
    assert!(matches!(&rows[0], SimpleQueryMessage::Row(r) if r.get(0) == Some("7")));
}

/// The answer to `SELECT 7` that the usable cases send after the bad one.
fn select_seven(s: Script) -> Script {
    s.expect(b'Q')
        .send(wire::text_columns(&["x"]))
        .send(wire::data_row(&[Some(b"7")]))
        .send(wire::command_complete("SELECT 1"))
        .send(wire::ready_idle())
}

// ---- startup phase ------------------------------------------------------

#[tokio::test]
async fn startup_truncated_message_then_close() {
    let script = Script::new()
        .read_startup()
        .send(&b"R\0\0\0\x08\0\0"[..])
        .close();
    connect_fails(script, "", BROKEN).await;
}

#[tokio::test]
async fn startup_length_field_zero() {
    let script = Script::new().read_startup().send(header(b'R', 0)).stall();
    connect_fails(script, "", PROTOCOL).await;
}

#[tokio::test]
async fn startup_length_field_three() {
    let script = Script::new().read_startup().send(header(b'R', 3)).stall();
    connect_fails(script, "", PROTOCOL).await;
}

#[tokio::test]
async fn startup_length_field_over_the_limit() {
    // The body is never sent: the client must refuse the length itself,
    // not wait for (or allocate) 2 GiB.
    let script = Script::new()
        .read_startup()
        .send(header(b'R', 0x7fff_ffff))
        .stall();
    connect_fails(script, "", PROTOCOL).await;
}

#[tokio::test]
async fn startup_unknown_message_type() {
    let script = Script::new()
        .read_startup()
        .send(wire::auth_ok())
        .send(message(b'!', b"what"))
        .stall();
    connect_fails(script, "", PROTOCOL).await;
}

#[tokio::test]
async fn startup_data_row_instead_of_authentication() {
    let script = Script::new()
        .read_startup()
        .send(wire::data_row(&[Some(b"1")]))
        .stall();
    connect_fails(script, "", PROTOCOL).await;
}

#[tokio::test]
async fn unsupported_authentication_method_gssapi() {
    let script = Script::new()
        .read_startup()
        .send(wire::auth(7, &[]))
        .stall();
    connect_fails(script, "", &[ErrorKind::Auth]).await;
}

#[tokio::test]
async fn unknown_authentication_code() {
    let script = Script::new()
        .read_startup()
        .send(wire::auth(99, &[]))
        .stall();
    connect_fails(script, "", &[ErrorKind::Protocol, ErrorKind::Auth]).await;
}

/// A SCRAM script: SASL offered, the client's first message read, then
/// `server_first` built from the client's nonce, and what follows.
fn scram(server_first: impl FnOnce(&str) -> String + Send + 'static) -> Script {
    Script::new()
        .read_startup()
        .send(wire::auth_sasl(&["SCRAM-SHA-256"]))
        .expect(b'p')
        .send_with(move |t| {
            let nonce = t.scram_client_nonce().expect("client nonce");
            wire::auth_sasl_continue(server_first(&nonce).as_bytes())
        })
}

const PASSWORD: &str = "password=secret";

#[tokio::test]
async fn scram_server_nonce_does_not_extend_the_clients() {
    let script = scram(|_| "r=0123456789abcdefghijklmnop,s=c2FsdA==,i=4096".into()).stall();
    connect_fails(script, PASSWORD, &[ErrorKind::Auth]).await;
}

#[tokio::test]
async fn scram_iteration_count_zero() {
    let script = scram(|n| format!("r={n}server,s=c2FsdA==,i=0")).stall();
    connect_fails(script, PASSWORD, &[ErrorKind::Auth]).await;
}

#[tokio::test]
async fn scram_iteration_count_one_billion() {
    // Refused before any key derivation: 10^9 PBKDF2 rounds would take
    // minutes, far beyond the deadline.
    let script = scram(|n| format!("r={n}server,s=c2FsdA==,i=1000000000")).stall();
    connect_fails(script, PASSWORD, &[ErrorKind::Auth]).await;
}

#[tokio::test]
async fn scram_bad_server_signature() {
    let script = scram(|n| format!("r={n}server,s=c2FsdA==,i=16"))
        .expect(b'p')
        .send(wire::auth_sasl_final(
            b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ))
        .stall();
    connect_fails(script, PASSWORD, &[ErrorKind::Auth]).await;
}

#[tokio::test]
async fn scram_authentication_ok_without_server_final() {
    // Skipping SASLFinal would skip the server's proof of the password.
    let script = scram(|n| format!("r={n}server,s=c2FsdA==,i=16"))
        .expect(b'p')
        .send(wire::auth_ok())
        .send(wire::startup_tail())
        .stall();
    connect_fails(script, PASSWORD, &[ErrorKind::Auth, ErrorKind::Protocol]).await;
}

#[tokio::test]
async fn negotiate_protocol_version_is_accepted_and_the_connection_works() {
    let server = FakeServer::start(
        Script::new()
            .read_startup()
            .send(wire::negotiate_protocol_version(0x0003_0000, &[]))
            .send(wire::auth_ok())
            .send(wire::startup_tail())
            .expect(b'Q')
            .send(wire::text_columns(&["x"]))
            .send(wire::data_row(&[Some(b"ok")]))
            .send(wire::command_complete("SELECT 1"))
            .send(wire::ready_idle())
            .stall(),
    )
    .await;
    let client = connect(&server, "max_protocol_version=3.2")
        .await
        .expect("connects");
    assert_eq!(client.protocol_version(), (3, 0));
    let rows = within("query", client.simple_query("SELECT 'ok'"))
        .await
        .unwrap();
    assert!(matches!(&rows[0], SimpleQueryMessage::Row(r) if r.get(0) == Some("ok")));
    assert!(!client.is_closed());
}

#[tokio::test]
async fn negotiate_protocol_version_below_the_minimum() {
    let script = Script::new()
        .read_startup()
        .send(wire::negotiate_protocol_version(0x0003_0000, &[]))
        .stall();
    connect_fails(
        script,
        "min_protocol_version=3.2&max_protocol_version=3.2",
        &[ErrorKind::Protocol, ErrorKind::Config],
    )
    .await;
}

#[tokio::test]
async fn error_response_during_startup() {
    let script = Script::new()
        .read_startup()
        .send(wire::auth(3, &[]))
        .expect(b'p')
        .send(wire::error_fields(
            b'E',
            "FATAL",
            "28P01",
            "password authentication failed for user \"app\"",
        ))
        .close();
    let err = connect_fails(script, PASSWORD, &[ErrorKind::Db]).await;
    assert_eq!(err.code().map(|c| c.code()), Some("28P01"));
}

#[tokio::test]
async fn startup_parameter_status_with_invalid_utf8() {
    let script = Script::new()
        .read_startup()
        .send(wire::auth_ok())
        .send(message(b'S', b"server_version\0\xff\xfe\0"))
        .send(wire::startup_tail())
        .stall();
    connect_fails(script, "", PROTOCOL).await;
}

#[tokio::test]
async fn startup_parameter_status_without_nul_terminator() {
    let script = Script::new()
        .read_startup()
        .send(wire::auth_ok())
        .send(message(b'S', b"server_version\x0017.0"))
        .send(wire::startup_tail())
        .stall();
    connect_fails(script, "", PROTOCOL).await;
}

#[tokio::test]
async fn server_closes_during_startup() {
    let script = Script::new().read_startup().send(wire::auth_ok()).close();
    let err = connect_fails(script, "", BROKEN).await;
    // Callers tell a lost socket from a protocol fault by its io::Error.
    let io = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    assert_eq!(io, Some(std::io::ErrorKind::UnexpectedEof), "{err:?}");
}

#[tokio::test]
async fn server_stops_answering_during_startup() {
    // connect_timeout=2 (1 would be raised to 2, as libpq does).
    let script = Script::new().read_startup().stall();
    let err = connect_fails(script, "connect_timeout=2", &[ErrorKind::Timeout]).await;
    assert!(err.is_timeout());
}

// ---- query phase ---------------------------------------------------------

#[tokio::test]
async fn query_truncated_message_then_close() {
    let row = wire::data_row(&[Some(b"12345678")]);
    let (server, client) = connected(|s| {
        s.expect(b'Q')
            .send(wire::text_columns(&["x"]))
            .send(row[..7].to_vec())
            .close()
    })
    .await;
    let result = within("query", client.simple_query("SELECT 1")).await;
    broken(&client, result, BROKEN);
    server.finish().await.unwrap();
}

#[tokio::test]
async fn query_length_field_zero() {
    let (server, client) = connected(|s| s.expect(b'Q').send(header(b'D', 0)).stall()).await;
    let result = within("query", client.simple_query("SELECT 1")).await;
    protocol_broken(&client, result);
    drop(client);
    server.finish().await.unwrap();
}

#[tokio::test]
async fn query_length_field_three() {
    let (server, client) = connected(|s| s.expect(b'Q').send(header(b'C', 3)).stall()).await;
    let result = within("query", client.simple_query("SELECT 1")).await;
    protocol_broken(&client, result);
    drop(client);
    server.finish().await.unwrap();
}

#[tokio::test]
async fn query_length_field_over_the_limit() {
    let (server, client) =
        connected(|s| s.expect(b'Q').send(header(b'D', 0x7fff_fff0)).stall()).await;
    let result = within("query", client.simple_query("SELECT 1")).await;
    protocol_broken(&client, result);
    drop(client);
    server.finish().await.unwrap();
}

#[tokio::test]
async fn query_unknown_message_type() {
    let (server, client) =
        connected(|s| s.expect(b'Q').send(message(b'!', b"\x01\x02")).stall()).await;
    let result = within("query", client.simple_query("SELECT 1")).await;
    protocol_broken(&client, result);
    drop(client);
    server.finish().await.unwrap();
}

/// Garbage from the server with three requests in flight: each request
/// the close ended reports `Protocol` with the decoder's `ProtoError` as its
/// source and is not retryable; a request made afterwards is `Closed`,
/// carries the same cause, and was not sent (so it may go elsewhere).
#[tokio::test]
async fn garbage_fails_every_request_in_flight_as_protocol_not_retryable() {
    let (server, client) = connected(|s| {
        s.expect_sync()
            .send(header(b'C', 3))
            .send(&b"garbage"[..])
            .stall()
    })
    .await;
    let (a, b, c) = within("pipelined queries", async {
        tokio::join!(
            client.query("SELECT 1", &[]),
            client.query("SELECT 2", &[]),
            client.execute("INSERT INTO t VALUES (3)", &[]),
        )
    })
    .await;
    for (name, result) in [
        ("first", a.map(drop)),
        ("second", b.map(drop)),
        ("third", c.map(drop)),
    ] {
        let err = result.expect_err(name);
        eprintln!("{name}: {:?} {:?}: {err}", err.kind(), err.retry_class());
        assert_eq!(err.kind(), ErrorKind::Protocol, "{name}: {err:?}");
        assert_eq!(
            err.retry_class(),
            RetryClass::NotRetryable,
            "{name}: {err:?}"
        );
        assert!(!err.is_transient() && !err.is_outcome_unknown(), "{name}");
        let proto = std::error::Error::source(&err)
            .and_then(|s| s.downcast_ref::<pgline::proto::ProtoError>());
        assert!(proto.is_some(), "{name}: the typed cause: {err:?}");
    }
    assert!(client.is_closed());
    let later = within("a later query", client.query("SELECT 4", &[]))
        .await
        .expect_err("the connection is closed");
    assert_eq!(later.kind(), ErrorKind::Closed, "{later:?}");
    assert_eq!(later.retry_class(), RetryClass::NotExecuted, "{later:?}");
    assert!(
        std::error::Error::source(&later)
            .and_then(|s| s.downcast_ref::<pgline::proto::ProtoError>())
            .is_some(),
        "{later:?}"
    );
    drop(client);
    server.finish().await.unwrap();
}

#[tokio::test]
async fn data_row_before_row_description() {
    let (server, client) = connected(|s| {
        s.expect(b'Q')
            .send(wire::data_row(&[Some(b"1")]))
            .send(wire::command_complete("SELECT 1"))
            .send(wire::ready_idle())
            .then(select_seven)
            .stall()
    })
    .await;
    let result = within("query", client.simple_query("SELECT 1")).await;
    protocol_error_then_usable(&client, result).await;
    drop(client);
    server.finish().await.unwrap();
}

#[tokio::test]
async fn data_row_with_the_wrong_field_count() {
    let (server, client) = connected(|s| {
        s.expect(b'Q')
            .send(wire::text_columns(&["x"]))
            .send(wire::data_row(&[Some(b"1"), Some(b"2")]))
            .send(wire::command_complete("SELECT 1"))
            .send(wire::ready_idle())
            .then(select_seven)
            .stall()
    })
    .await;
    let result = within("query", client.simple_query("SELECT 1")).await;
    protocol_error_then_usable(&client, result).await;
    drop(client);
    server.finish().await.unwrap();
}

/// A simple-query row whose values are valid UTF-8 only in part, behind a
/// NULL and a 200-byte value (so the row's length words are not ASCII and
/// every value is checked on its own).
fn text_row_with_an_invalid_value(s: Script) -> Script {
    let long = [b'a'; 200];
    s.expect(b'Q')
        .send(wire::text_columns(&["a", "b", "c", "d"]))
        .send(wire::data_row(&[
            None,
            Some(&long),
            Some("é".as_bytes()),
            Some(b"\xff\xfe"),
        ]))
        .send(wire::command_complete("SELECT 1"))
        .send(wire::ready_idle())
}

#[tokio::test]
async fn data_row_with_an_invalid_utf8_text_value() {
    let (server, client) =
        connected(|s| text_row_with_an_invalid_value(s).then(select_seven).stall()).await;
    let result = within("query", client.simple_query("SELECT 1")).await;
    protocol_error_then_usable(&client, result).await;
    drop(client);
    server.finish().await.unwrap();
}

#[tokio::test]
async fn streamed_data_row_with_an_invalid_utf8_text_value() {
    let (server, client) =
        connected(|s| text_row_with_an_invalid_value(s).then(select_seven).stall()).await;
    let mut stream = within("query", client.simple_query_stream("SELECT 1"))
        .await
        .expect("the query is sent");
    let result = within("the row", stream.next())
        .await
        .expect("an item: the error");
    assert!(
        within("after the error", stream.next()).await.is_none(),
        "the error ends the stream"
    );
    drop(stream);
    protocol_error_then_usable(&client, result).await;
    drop(client);
    server.finish().await.unwrap();
}

#[tokio::test]
async fn extended_data_row_with_the_wrong_field_count() {
    let (server, client) = connected(|s| {
        s.expect_sync()
            .send(wire::parse_complete())
            .send(wire::bind_complete())
            .send(wire::row_description(&[("x", 23, 1)]))
            .send(wire::data_row(&[Some(&[0, 0, 0, 1]), Some(&[0, 0, 0, 2])]))
            .send(wire::command_complete("SELECT 1"))
            .send(wire::ready_idle())
            .then(select_seven)
            .stall()
    })
    .await;
    let result = within("query", client.query("SELECT 1", &[])).await;
    protocol_error_then_usable(&client, result).await;
    drop(client);
    server.finish().await.unwrap();
}

#[tokio::test]
async fn ready_for_query_in_the_middle_of_a_pipeline() {
    // Two requests in flight; the server answers with a bare ReadyForQuery
    // (no ParseComplete/BindComplete/rows), then with one whole response.
    // The stream is out of step with the requests: both must fail and the
    // connection must be closed; no request may take another's rows.
    let (server, client) = connected(|s| {
        s.expect_sync()
            .send(wire::ready_idle())
            .send(wire::parse_complete())
            .send(wire::bind_complete())
            .send(wire::row_description(&[("x", 23, 1)]))
            .send(wire::data_row(&[Some(&[0, 0, 0, 1])]))
            .send(wire::command_complete("SELECT 1"))
            .send(wire::ready_idle())
            .stall()
    })
    .await;
    let (a, b) = within("pipelined queries", async {
        tokio::join!(client.query("SELECT 1", &[]), client.query("SELECT 2", &[]))
    })
    .await;
    protocol_broken(&client, a);
    let err = b.expect_err("the second request must not take the first one's rows");
    assert!(BROKEN.contains(&err.kind()), "{:?}: {err}", err.kind());
    drop(client);
    server.finish().await.unwrap();
}

#[tokio::test]
async fn command_complete_with_an_unparsable_tag() {
    let (server, client) = connected(|s| {
        s.expect_sync()
            .send(wire::parse_complete())
            .send(wire::bind_complete())
            .send(message(b'n', &[]))
            .send(wire::command_complete("UPDATE banana"))
            .send(wire::ready_idle())
            .stall()
    })
    .await;
    let result = within("execute", client.execute("UPDATE t SET x = 1", &[])).await;
    protocol_broken(&client, result);
    drop(client);
    server.finish().await.unwrap();
}

#[tokio::test]
async fn command_complete_without_nul_terminator() {
    let (server, client) = connected(|s| {
        s.expect(b'Q')
            .send(message(b'C', b"SELECT 0"))
            .send(wire::ready_idle())
            .stall()
    })
    .await;
    let result = within("query", client.simple_query("SELECT")).await;
    protocol_broken(&client, result);
    drop(client);
    server.finish().await.unwrap();
}

#[tokio::test]
async fn row_description_with_an_invalid_utf8_name() {
    let mut body = vec![0, 1];
    body.extend_from_slice(b"\xff\xfe\0");
    body.extend_from_slice(&[
        0, 0, 0, 0, 0, 0, 0, 0, 0, 25, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0,
    ]);
    let (server, client) = connected(|s| {
        s.expect(b'Q')
            .send(message(b'T', &body))
            .send(wire::command_complete("SELECT 0"))
            .send(wire::ready_idle())
            .stall()
    })
    .await;
    let result = within("query", client.simple_query("SELECT")).await;
    protocol_broken(&client, result);
    drop(client);
    server.finish().await.unwrap();
}

#[tokio::test]
async fn server_closes_mid_message() {
    let (server, client) = connected(|s| {
        s.expect(b'Q')
            .send(wire::text_columns(&["x"]))
            .send(header(b'D', 100))
            .send(&b"\0\x01"[..])
            .close()
    })
    .await;
    let result = within("query", client.simple_query("SELECT 1")).await;
    broken(&client, result, BROKEN);
    server.finish().await.unwrap();
}

#[tokio::test]
async fn server_stops_answering_a_query() {
    let (server, client) = connected(|s| s.expect(b'Q').stall()).await;
    let err = within(
        "query with a timeout",
        client
            .with_timeout(Duration::from_millis(300))
            .simple_query("SELECT pg_sleep(1000)"),
    )
    .await
    .expect_err("the timeout must end the call");
    assert!(err.is_timeout(), "{:?}: {err}", err.kind());
    assert_eq!(err.kind(), ErrorKind::Timeout);
    // What happens to the socket afterwards is the next two cases.
    drop((client, server));
}

#[tokio::test]
async fn dropping_the_client_after_a_timeout_releases_the_connection() {
    let (server, client) = connected(|s| s.expect(b'Q').stall()).await;
    let err = within(
        "query with a timeout",
        client
            .with_timeout(Duration::from_millis(300))
            .simple_query("SELECT pg_sleep(1000)"),
    )
    .await
    .expect_err("the timeout must end the call");
    assert!(err.is_timeout());
    drop(client);
    // The stall step ends when the client closes its socket.
    server
        .finish()
        .await
        .expect("the socket is closed once the client is dropped");
}

#[tokio::test]
async fn close_ends_when_the_server_stops_answering() {
    let (server, client) = connected(|s| s.expect(b'Q').stall()).await;
    let err = within(
        "query with a timeout",
        client
            .with_timeout(Duration::from_millis(300))
            .simple_query("SELECT pg_sleep(1000)"),
    )
    .await
    .expect_err("the timeout must end the call");
    assert!(err.is_timeout());
    within(
        "close",
        client.with_timeout(Duration::from_millis(300)).close(),
    )
    .await
    .ok();
    assert!(client.is_closed());
    drop(client);
    server.finish().await.unwrap();
}

// ---- cases where the connection stays usable ------------------------------

#[tokio::test]
async fn error_response_to_a_query_keeps_the_connection_usable() {
    let (server, client) = connected(|s| {
        s.expect(b'Q')
            .send(wire::error_response(
                "42P01",
                "relation \"nope\" does not exist",
            ))
            .send(wire::ready_idle())
            .expect(b'Q')
            .send(wire::text_columns(&["x"]))
            .send(wire::data_row(&[Some(b"7")]))
            .send(wire::command_complete("SELECT 1"))
            .send(wire::ready_idle())
            .stall()
    })
    .await;
    let err = within("query", client.simple_query("SELECT * FROM nope"))
        .await
        .expect_err("the server's error");
    assert_eq!(err.kind(), ErrorKind::Db);
    assert_eq!(err.code().map(|c| c.code()), Some("42P01"));
    assert!(!client.is_closed());
    let rows = within("second query", client.simple_query("SELECT 7"))
        .await
        .unwrap();
    assert!(matches!(&rows[0], SimpleQueryMessage::Row(r) if r.get(0) == Some("7")));
    drop(client);
    server.finish().await.unwrap();
}

#[tokio::test]
async fn notices_and_parameter_status_mid_query_are_accepted() {
    let (server, client) = connected(|s| {
        s.expect(b'Q')
            .send(wire::error_fields(b'N', "NOTICE", "00000", "just saying"))
            .send(wire::parameter_status("application_name", "changed"))
            .send(wire::text_columns(&["x"]))
            .send(wire::data_row(&[None]))
            .send(wire::command_complete("SELECT 1"))
            .send(wire::ready_idle())
            .stall()
    })
    .await;
    let rows = within("query", client.simple_query("SELECT NULL"))
        .await
        .unwrap();
    assert!(matches!(&rows[0], SimpleQueryMessage::Row(r) if r.get(0).is_none()));
    assert_eq!(
        client.parameter("application_name").as_deref(),
        Some("changed")
    );
    assert!(!client.is_closed());
    drop(client);
    server.finish().await.unwrap();
}

#[tokio::test]
async fn ssl_request_answered_n_falls_back_to_plain_text_with_sslmode_prefer() {
    let server = FakeServer::start(Script::new().handshake().then(select_seven).stall()).await;
    let client = connect(&server, "sslmode=prefer").await.expect("connects");
    let rows = within("query", client.simple_query("SELECT 7"))
        .await
        .unwrap();
    assert!(matches!(&rows[0], SimpleQueryMessage::Row(r) if r.get(0) == Some("7")));
    within("close", client.close()).await.unwrap();
    assert!(client.is_closed());
    let transcript = server.finish().await.unwrap();
    // SSLRequest, StartupMessage, Query, Terminate.
    assert_eq!(transcript.tags(), "..QX");
    assert_eq!(
        transcript.messages[0].request_code(),
        Some(pgline_protocol_tests::fake_server::SSL_REQUEST_CODE)
    );
}

/// An answer to SSLRequest other than `S` or `N` (`E` from a server that
/// does not know the request, or any other byte) is a protocol error whose
/// source is proto's typed error, under every sslmode that sends the
/// request; nothing after the byte is read.
#[tokio::test]
async fn ssl_request_answered_with_another_byte_is_a_protocol_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for answer in [b'E', b'X', 0u8] {
        for mode in ["prefer", "require"] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let server = tokio::spawn(async move {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut request = [0u8; 8];
                socket.read_exact(&mut request).await.unwrap();
                assert_eq!(
                    &request[4..],
                    &80_877_103u32.to_be_bytes(),
                    "not SSLRequest"
                );
                // The byte, then what a TLS-stripping attacker would inject.
                socket.write_all(&[answer]).await.unwrap();
                let _ = socket.write_all(b"Z\0\0\0\x05I").await;
                let mut rest = Vec::new();
                let _ = socket.read_to_end(&mut rest).await;
                rest
            });
            let url = format!("postgres://u@127.0.0.1:{port}/d?sslmode={mode}&connect_timeout=5");
            let config: Config = url.parse().unwrap();
            let err = within("connect", config.connect())
                .await
                .expect_err("connecting must fail");
            assert_eq!(
                err.kind(),
                ErrorKind::Protocol,
                "{answer:#04x} {mode}: {err}"
            );
            let source = std::error::Error::source(&err).expect("a source");
            assert!(
                source.downcast_ref::<pgline::proto::ProtoError>().is_some(),
                "{answer:#04x} {mode}: source {source:?}"
            );
            let rest = within("server", server).await.unwrap();
            assert!(
                rest.is_empty(),
                "the client went on after the answer: {rest:?}"
            );
        }
    }
}
