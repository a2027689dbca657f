//! Choosing among hosts, at the message level.
//!
//! Against a real PostgreSQL 15 (through the recording proxy): the role
//! comes with the startup parameters, so `target_session_attrs=read-write`
//! sends exactly the messages `any` sends. Against scripted servers that do
//! not report their role (as servers before 14 do): libpq's check queries,
//! what their answers and failures do, and which startup errors move on to
//! the next host.

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use pgline::error::{ErrorKind, SqlState};
use pgline_protocol_tests::{Direction, FakeServer, FaultProxy, Script, wire};
use tokio::net::TcpListener;

const DEADLINE: Duration = Duration::from_secs(30);

async fn within<F: Future>(what: &str, f: F) -> F::Output {
    common::within(DEADLINE, what, f).await
}

/// The frontend messages of one whole connection through `proxy` (connect,
/// then close), as tags: `.` for the untagged startup messages.
async fn frontend_tags(proxy: &FaultProxy, attrs: &str) -> String {
    proxy.clear_recorded();
    let url = format!(
        "postgres://{}:{}@127.0.0.1:{}/{}?sslmode=disable&target_session_attrs={attrs}",
        pgline_testkit::SHARED_USER,
        pgline_testkit::SHARED_PASSWORD,
        proxy.addr().port(),
        pgline_testkit::SHARED_DATABASE,
    );
    let client = within("connect through the proxy", pgline::connect(&url))
        .await
        .expect("connect through the proxy");
    let role = client.server_role();
    assert_eq!(role.in_hot_standby, Some(false), "PostgreSQL 15 reports it");
    assert_eq!(role.default_transaction_read_only, Some(false));
    within("close", client.close()).await.unwrap();
    // The proxy records what it reads; wait until it has read the Terminate.
    let began = Instant::now();
    loop {
        let messages = wire::split_frontend(&proxy.recorded(Direction::ClientToServer));
        if messages.last().is_some_and(|m| m.tag == b'X') {
            return messages
                .iter()
                .map(|m| if m.tag == 0 { '.' } else { char::from(m.tag) })
                .collect();
        }
        assert!(began.elapsed() < DEADLINE, "no Terminate through the proxy");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn choosing_a_read_write_host_costs_no_message_on_postgresql_15() {
    let proxy = FaultProxy::start(common::upstream()).await;
    let any = frontend_tags(&proxy, "any").await;
    let read_write = frontend_tags(&proxy, "read-write").await;
    let primary = frontend_tags(&proxy, "primary").await;
    println!(
        "frontend messages per connection: any {} ({any}), read-write {} ({read_write}), primary {} ({primary})",
        any.len(),
        read_write.len(),
        primary.len()
    );
    assert!(any.starts_with('.') && any.ends_with('X'), "{any}");
    assert_eq!(read_write, any);
    assert_eq!(primary, any);
    assert!(!read_write.contains('Q'), "no check query: {read_write}");
}

/// AuthenticationOk, the parameters of a server that reports no role, and
/// ReadyForQuery.
fn quiet_handshake(script: Script) -> Script {
    script.handshake()
}

/// A successful startup that reports both role parameters.
fn reporting_handshake(in_hot_standby: &str, read_only: &str) -> Script {
    Script::new().read_startup().send(wire::auth_ok()).send(
        [
            wire::parameter_status("in_hot_standby", in_hot_standby),
            wire::parameter_status("default_transaction_read_only", read_only),
            wire::startup_tail(),
        ]
        .concat(),
    )
}

/// The reply to a simple query returning one text column and these rows.
fn one_column_reply(column: &str, rows: &[Option<&str>]) -> Vec<u8> {
    let mut out = wire::text_columns(&[column]);
    for row in rows {
        out.extend(wire::data_row(&[row.map(str::as_bytes)]));
    }
    out.extend(wire::command_complete(&format!("SELECT {}", rows.len())));
    out.extend(wire::ready_idle());
    out
}

fn url(servers: &[u16], attrs: &str) -> String {
    let hosts = vec!["127.0.0.1"; servers.len()].join(",");
    let ports: Vec<String> = servers.iter().map(u16::to_string).collect();
    format!(
        "host={hosts} port={} user=app dbname=db sslmode=disable connect_timeout=5 \
         target_session_attrs={attrs}",
        ports.join(",")
    )
}

/// The query text of the transcript's only Query message.
fn query_text(transcript: &pgline_protocol_tests::Transcript) -> String {
    let queries: Vec<_> = transcript
        .messages
        .iter()
        .filter(|m| m.tag == b'Q')
        .collect();
    assert_eq!(queries.len(), 1, "{}", transcript.tags());
    let body = &queries[0].body;
    String::from_utf8_lossy(body.strip_suffix(&[0]).unwrap_or(body)).into_owned()
}

#[tokio::test]
async fn an_unreported_role_is_asked_with_libpqs_queries() {
    // (attrs, the query libpq sends, the answer, accepted?)
    let cases = [
        ("read-write", "SHOW transaction_read_only", "on", false),
        ("read-write", "SHOW transaction_read_only", "off", true),
        ("read-only", "SHOW transaction_read_only", "on", true),
        ("read-only", "SHOW transaction_read_only", "off", false),
        (
            "primary",
            "SELECT pg_catalog.pg_is_in_recovery()",
            "t",
            false,
        ),
        (
            "primary",
            "SELECT pg_catalog.pg_is_in_recovery()",
            "f",
            true,
        ),
        (
            "standby",
            "SELECT pg_catalog.pg_is_in_recovery()",
            "t",
            true,
        ),
        (
            "standby",
            "SELECT pg_catalog.pg_is_in_recovery()",
            "f",
            false,
        ),
    ];
    for (attrs, sql, answer, accepted) in cases {
        let reply = one_column_reply("x", &[Some(answer)]);
        let server = FakeServer::start(
            quiet_handshake(Script::new())
                .expect(b'Q')
                .send(reply)
                .stall(),
        )
        .await;
        let result = within(attrs, pgline::connect(&url(&[server.addr().port()], attrs))).await;
        match (&result, accepted) {
            (Ok(_), true) => {}
            (Err(e), false) => {
                assert_eq!(e.kind(), ErrorKind::Io, "{attrs} {answer}: {e}");
            }
            _ => panic!("{attrs} answered {answer}: {result:?}"),
        }
        drop(result);
        let transcript = server.finish().await.unwrap();
        assert_eq!(query_text(&transcript), sql, "{attrs}");
        if !accepted {
            assert!(
                transcript.tags().ends_with("QX"),
                "rejected politely: {}",
                transcript.tags()
            );
        }
    }
}

#[tokio::test]
async fn prefer_standby_takes_a_primary_on_its_second_pass() {
    // Pass one asks the (quiet) server and rejects it; pass two connects
    // again and takes it without asking.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let serve = tokio::spawn(async move {
        let mut first = Vec::new();
        for round in 0..2 {
            let (mut stream, _) = listener.accept().await.unwrap();
            let startup = wire::read_untagged(&mut stream).await.unwrap().unwrap();
            assert!(startup.request_code().is_some());
            use tokio::io::AsyncWriteExt;
            stream.write_all(&wire::auth_ok()).await.unwrap();
            stream.write_all(&wire::startup_tail()).await.unwrap();
            let mut tags = Vec::new();
            if round == 0 {
                let q = wire::read_tagged(&mut stream).await.unwrap().unwrap();
                tags.push(q.tag);
                stream
                    .write_all(&one_column_reply("pg_is_in_recovery", &[Some("f")]))
                    .await
                    .unwrap();
            }
            while let Ok(Some(m)) = wire::read_tagged(&mut stream).await {
                tags.push(m.tag);
            }
            first.push(String::from_utf8(tags).unwrap());
        }
        first
    });
    let client = within("connect", pgline::connect(&url(&[port], "prefer-standby")))
        .await
        .unwrap();
    client.close().await.unwrap();
    let rounds = within("the server", serve).await.unwrap();
    assert_eq!(rounds, ["QX", "X"]);
}

#[tokio::test]
async fn a_failed_or_empty_check_rejects_the_host_and_the_next_one_is_tried() {
    let failing = [
        [
            wire::error_response("42501", "permission denied"),
            wire::ready_idle(),
        ]
        .concat(),
        one_column_reply("transaction_read_only", &[]),
    ];
    for reply in failing {
        let first = FakeServer::start(
            quiet_handshake(Script::new())
                .expect(b'Q')
                .send(reply)
                .stall(),
        )
        .await;
        let second = FakeServer::start(reporting_handshake("off", "off").stall()).await;
        let ports = [first.addr().port(), second.addr().port()];
        let client = within("connect", pgline::connect(&url(&ports, "read-write")))
            .await
            .unwrap();
        assert_eq!(client.endpoint().port, ports[1]);
        client.close().await.unwrap();
        assert!(first.finish().await.unwrap().tags().ends_with("QX"));
        // Reported roles: no question asked of the second server.
        assert_eq!(second.finish().await.unwrap().tags(), ".X");
    }
}

/// A listener that must not be connected to.
async fn untouched() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// Whether someone connected to `listener` (connects complete in the
/// kernel's backlog, so one made before this call is already there).
async fn was_connected(listener: &TcpListener) -> bool {
    tokio::time::timeout(Duration::from_millis(200), listener.accept())
        .await
        .is_ok()
}

#[tokio::test]
async fn cannot_connect_now_moves_on_and_other_startup_errors_stop() {
    // 57P03: the next host is tried.
    let starting = FakeServer::start(
        Script::new()
            .read_startup()
            .send(wire::error_fields(
                b'E',
                "FATAL",
                "57P03",
                "the database system is starting up",
            ))
            .close(),
    )
    .await;
    let ready = FakeServer::start(reporting_handshake("off", "off").stall()).await;
    let ports = [starting.addr().port(), ready.addr().port()];
    let client = within("connect", pgline::connect(&url(&ports, "any")))
        .await
        .unwrap();
    assert_eq!(client.endpoint().port, ports[1]);
    client.close().await.unwrap();
    starting.finish().await.unwrap();
    ready.finish().await.unwrap();

    // Any other FATAL at startup ends the connect there.
    for code in ["28P01", "3D000", "53300"] {
        let refusing = FakeServer::start(
            Script::new()
                .read_startup()
                .send(wire::error_fields(b'E', "FATAL", code, "no"))
                .close(),
        )
        .await;
        let (listener, next) = untouched().await;
        let err = within(
            "connect",
            pgline::connect(&url(&[refusing.addr().port(), next], "any")),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), Some(&SqlState::from_code(code)), "{err}");
        assert!(
            !was_connected(&listener).await,
            "{code}: the next host was tried"
        );
        refusing.finish().await.unwrap();
    }

    // The connection dropping during the check query ends it too.
    let dropping = FakeServer::start(quiet_handshake(Script::new()).expect(b'Q').close()).await;
    let (listener, next) = untouched().await;
    let err = within(
        "connect",
        pgline::connect(&url(&[dropping.addr().port(), next], "read-write")),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Io | ErrorKind::Closed),
        "{err:?}"
    );
    assert!(!was_connected(&listener).await, "the next host was tried");
    dropping.finish().await.unwrap();
}
