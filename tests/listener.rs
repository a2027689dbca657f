//! LISTEN/NOTIFY that users can rely on, against a real server: the
//! listener reconnects and listens again after its connection is killed,
//! and a connection's notification buffer is bounded, counting what it
//! drops.

use std::collections::BTreeSet;
use std::time::Duration;

use pgline::error::{ErrorKind, SqlState};
use pgline::{Client, Config, Listener, ListenerEvent, Notifications};

/// A connection the server ended (terminate or shutdown): its FATAL 57P01
/// as a `Db` error, or the socket's end as `Io`, or, once the end was
/// known, `Closed`.
fn assert_session_ended(cause: &pgline::Error) {
    match cause.kind() {
        ErrorKind::Db => assert_eq!(cause.code(), Some(&SqlState::ADMIN_SHUTDOWN), "{cause}"),
        ErrorKind::Io | ErrorKind::Closed => {}
        other => panic!("cause of kind {other:?}: {cause}"),
    }
}

fn url() -> String {
    pgline_testkit::shared().url("pgline", Some("pgline-secret"), "pgline")
}

async fn connect() -> Client {
    pgline::connect(&url()).await.expect("connect")
}

/// The next listener event, failing the test after 30 s instead of hanging.
async fn next_event(listener: &mut Listener) -> ListenerEvent {
    tokio::time::timeout(Duration::from_secs(30), listener.recv())
        .await
        .expect("an event within 30 s")
        .expect("recv")
}

/// The server kills the listener's connection 3 times during a run of
/// 1,000 notifications on two channels, each batch sent once the listener
/// reported that it listens again: every notification is delivered exactly
/// once, and each reconnect is reported with the server's reason.
#[tokio::test]
async fn killed_three_times_during_1000_notifications_delivers_every_one() {
    const TOTAL: usize = 1000;
    const KILLS: usize = 3;
    let per_phase = TOTAL / (KILLS + 1);
    let config: Config = url().parse().unwrap();
    let mut listener = Listener::connect(&config).await.unwrap();
    listener
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(200))
        .max_reconnect_attempts(Some(50));
    let channels = ["events", "Other \"Chan\""];
    for c in channels {
        listener.listen(c).await.unwrap();
    }
    let sender = connect().await;

    let mut delivered = BTreeSet::new();
    let mut reconnects = Vec::new();
    for phase in 0..=KILLS {
        for i in phase * per_phase..(phase + 1) * per_phase {
            sender
                .execute(
                    "SELECT pg_notify($1, $2)",
                    &[&channels[i % 2], &i.to_string()],
                )
                .await
                .unwrap();
        }
        let mut got = 0;
        while got < per_phase {
            match next_event(&mut listener).await {
                ListenerEvent::Notification(n) => {
                    let i: usize = n.payload().parse().unwrap();
                    assert_eq!(n.channel(), channels[i % 2]);
                    assert!(delivered.insert(i), "notification {i} delivered twice");
                    got += 1;
                }
                other => panic!("unexpected event before the kill: {other:?}"),
            }
        }
        if phase == KILLS {
            break;
        }
        let old_pid = listener.backend_pid().expect("connected");
        let killed: bool = sender
            .query_one("SELECT pg_terminate_backend($1)", &[&(old_pid as i32)])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert!(killed);
        match next_event(&mut listener).await {
            ListenerEvent::Reconnected(r) => {
                assert_ne!(r.backend_pid, old_pid);
                assert_eq!(Some(r.backend_pid), listener.backend_pid());
                reconnects.push(r);
            }
            other => panic!("expected a reconnect after the kill, got {other:?}"),
        }
        // The next phase's notifications on both channels show that the
        // new session listens to both again.
    }

    println!(
        "delivered {} of {TOTAL} notifications; reconnects reported: {} (listener count {}); dropped {}",
        delivered.len(),
        reconnects.len(),
        listener.reconnects(),
        listener.dropped()
    );
    for r in &reconnects {
        println!(
            "  reconnect #{} after {} attempt(s), new pid {}: {}",
            r.reconnects, r.attempts, r.backend_pid, r.cause
        );
    }
    assert_eq!(delivered, (0..TOTAL).collect::<BTreeSet<_>>());
    assert_eq!(reconnects.len(), KILLS);
    assert_eq!(listener.reconnects(), KILLS as u64);
    assert_eq!(listener.dropped(), 0);
    for (k, r) in reconnects.iter().enumerate() {
        assert_eq!(r.reconnects, k as u64 + 1);
        // pg_terminate_backend: FATAL 57P01 admin_shutdown, or the socket's end.
        assert_session_ended(&r.cause);
    }
    let channels_now: Vec<&str> = listener.channels().collect();
    assert_eq!(channels_now, ["Other \"Chan\"", "events"]);
}

/// A listener that unlistens stops receiving that channel, and one that
/// listens while its connection is down listens once it is back.
#[tokio::test]
async fn listen_while_disconnected_takes_effect_on_reconnect() {
    let config: Config = url().parse().unwrap();
    let mut listener = Listener::connect(&config).await.unwrap();
    listener.reconnect_backoff(Duration::from_millis(10), Duration::from_millis(100));
    listener.listen("a").await.unwrap();
    let sender = connect().await;
    let pid = listener.backend_pid().unwrap();
    sender
        .execute("SELECT pg_terminate_backend($1)", &[&(pid as i32)])
        .await
        .unwrap();
    // Wait until the backend is gone, so the LISTEN below meets a dead
    // connection (answered by the FATAL 57P01, or refused as closed).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let alive: i64 = sender
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                &[&(pid as i32)],
            )
            .await
            .unwrap()
            .get(0)
            .unwrap();
        if alive == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "backend {pid} still alive"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The loss is seen only when recv runs; until then LISTEN on the dead
    // connection is recorded for the reconnect.
    listener.listen("b").await.unwrap();
    assert!(matches!(
        next_event(&mut listener).await,
        ListenerEvent::Reconnected(_)
    ));
    listener.unlisten("a").await.unwrap();
    sender
        .batch_execute("NOTIFY a, 'not heard'; NOTIFY b, 'heard'")
        .await
        .unwrap();
    match next_event(&mut listener).await {
        ListenerEvent::Notification(n) => {
            assert_eq!((n.channel(), n.payload()), ("b", "heard"));
        }
        other => panic!("expected the notification on b, got {other:?}"),
    }
}

/// More notifications than the buffer holds arrive while nobody reads:
/// the buffer keeps the first `CAPACITY`, drops the newer ones and counts
/// them, and the connection goes on answering queries meanwhile.
#[tokio::test]
async fn a_full_buffer_drops_the_newest_and_counts_them() {
    let extra = 100usize;
    let total = Notifications::CAPACITY + extra;
    let listener = connect().await;
    listener.batch_execute("LISTEN overflow").await.unwrap();
    let mut stream = listener.notifications().unwrap();
    let sender = connect().await;
    // One transaction: the notifications are delivered at its commit.
    sender
        .execute(
            "SELECT count(pg_notify('overflow', g::text)) FROM generate_series(1, $1) g",
            &[&(total as i32)],
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while stream.dropped() < extra as u64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "dropped only {} after 30 s",
            stream.dropped()
        );
        // Queries on the listening connection are not held up by the full buffer.
        let one: i32 = listener
            .query_one("SELECT 1", &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(one, 1);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut received = Vec::new();
    while received.len() < Notifications::CAPACITY {
        let n = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("buffered notification")
            .expect("stream open");
        received.push(n.payload().parse::<usize>().unwrap());
    }
    // The oldest were kept, in order.
    assert_eq!(received, (1..=Notifications::CAPACITY).collect::<Vec<_>>());
    assert_eq!(stream.dropped(), extra as u64);
    println!(
        "sent {total}, buffered {}, dropped {}",
        received.len(),
        stream.dropped()
    );
    // Nothing more is buffered, and new notifications flow again.
    sender
        .batch_execute("NOTIFY overflow, 'after'")
        .await
        .unwrap();
    let n = tokio::time::timeout(Duration::from_secs(30), stream.next())
        .await
        .expect("the next notification")
        .unwrap();
    assert_eq!(n.payload(), "after");
}

/// A server that stays down: `recv` gives up with the connect error after
/// the configured attempts (no hang), keeps the channels, and once the
/// server is back the next `recv` reconnects, reports why the old
/// connection ended, and notifications flow on the same channel.
#[tokio::test]
async fn a_server_that_stays_down_fails_recv_after_the_attempts_and_recovers() {
    let mut server = pgline_testkit::ServerBuilder::new().start().unwrap();
    let config: Config = server.url("postgres", None, "postgres").parse().unwrap();
    let mut listener = Listener::connect(&config).await.unwrap();
    listener
        .reconnect_backoff(Duration::from_millis(5), Duration::from_millis(20))
        .max_reconnect_attempts(Some(3));
    listener.listen("back").await.unwrap();

    server.stop().unwrap();
    let err = tokio::time::timeout(Duration::from_secs(30), listener.recv())
        .await
        .expect("recv gives up within 30 s")
        .expect_err("the server is down");
    println!("gave up after 3 attempts: {err}");
    assert_eq!(listener.backend_pid(), None);
    assert_eq!(listener.reconnects(), 0);
    assert_eq!(listener.channels().collect::<Vec<_>>(), ["back"]);

    server.restart().unwrap();
    match next_event(&mut listener).await {
        ListenerEvent::Reconnected(r) => {
            assert_eq!(r.reconnects, 1);
            assert_eq!(
                r.attempts, 1,
                "the failures before the Err are not counted again"
            );
            // Fast shutdown: FATAL 57P01, or the socket's end.
            assert_session_ended(&r.cause);
        }
        other => panic!("expected a reconnect, got {other:?}"),
    }
    let sender = pgline::connect(&server.url("postgres", None, "postgres"))
        .await
        .unwrap();
    sender.batch_execute("NOTIFY back, 'again'").await.unwrap();
    match next_event(&mut listener).await {
        ListenerEvent::Notification(n) => assert_eq!(n.payload(), "again"),
        other => panic!("expected the notification, got {other:?}"),
    }
}
