//! Several hosts against real servers: `load_balance_hosts`,
//! `target_session_attrs` with a server whose sessions are read-only (the
//! choice compared with libpq's, through `psql`), the role a connection
//! reports as it changes, per-host connectors and pools, and libpq's rule
//! that a failed authentication does not move on to the next host.

mod support;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use pgline::error::{ErrorKind, SqlState};
use pgline::pool::Pool;
use pgline::{Config, Connector, ServerRole};
use pgline_testkit::{AuthMethod, Server, ServerBuilder};

/// Guards against hangs: the operation must end in this time.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(120), f)
        .await
        .expect("operation did not finish within 120 s")
}

/// Three servers: node 0 has `default_transaction_read_only=on`, nodes 1
/// and 2 are ordinary. None is a standby.
fn nodes() -> &'static [Server; 3] {
    static NODES: OnceLock<[Server; 3]> = OnceLock::new();
    NODES.get_or_init(|| {
        let start = |builder: ServerBuilder| builder.start().expect("start a test server");
        [
            start(ServerBuilder::new().setting("default_transaction_read_only", "on")),
            start(ServerBuilder::new()),
            start(ServerBuilder::new()),
        ]
    })
}

/// A key=value string listing `servers` in that order.
fn conninfo(servers: &[&Server], extra: &str) -> String {
    let hosts: Vec<&str> = servers.iter().map(|s| s.host()).collect();
    let ports: Vec<String> = servers.iter().map(|s| s.port().to_string()).collect();
    format!(
        "host={} port={} user={} dbname=postgres sslmode=disable connect_timeout=10 {extra}",
        hosts.join(","),
        ports.join(","),
        servers[0].superuser()
    )
}

/// The port of the server a connection reached, as the server sees it,
/// checked against what [`pgline::Client::endpoint`] says.
async fn landed_port(client: &pgline::Client) -> u16 {
    let row = client
        .query_one("SELECT inet_server_port()", &[])
        .await
        .unwrap();
    let port = u16::try_from(row.get::<i32>(0).unwrap()).unwrap();
    assert_eq!(client.endpoint().port, port, "endpoint() names the server");
    port
}

#[tokio::test]
async fn load_balance_random_spreads_300_connects_over_3_nodes() {
    let [a, b, c] = nodes();
    let ports = [a.port(), b.port(), c.port()];
    let count = |seed: u64, mode: &'static str| async move {
        let config: Config = conninfo(&[a, b, c], &format!("load_balance_hosts={mode}"))
            .parse()
            .unwrap();
        let connector = Connector::new(config).seed(seed);
        let mut counts = [0u32; 3];
        for _ in 0..300 {
            let client = connector.connect().await.unwrap();
            let port = landed_port(&client).await;
            let node = ports.iter().position(|p| *p == port).unwrap();
            counts[node] += 1;
            client.close().await.unwrap();
        }
        counts
    };
    let random = bounded(count(0x5EED_0001, "random")).await;
    println!("load_balance_hosts=random: 300 connects landed {random:?} on nodes 0, 1, 2");
    for (node, n) in random.iter().enumerate() {
        assert!((70..=130).contains(n), "node {node} got {n} of 300");
    }
    let disabled = bounded(count(0x5EED_0001, "disable")).await;
    println!("load_balance_hosts=disable: 300 connects landed {disabled:?} on nodes 0, 1, 2");
    assert_eq!(disabled, [300, 0, 0]);
}

#[tokio::test]
async fn target_session_attrs_with_a_read_only_server_matches_libpq() {
    let [ro, rw, _] = nodes();
    let attrs = [
        "any",
        "read-write",
        "read-only",
        "primary",
        "standby",
        "prefer-standby",
    ];
    let name = |port: Option<u16>| match port {
        Some(p) if p == ro.port() => "RO".to_owned(),
        Some(p) if p == rw.port() => "RW".to_owned(),
        Some(p) => format!("port {p}"),
        None => "fails".to_owned(),
    };
    println!(
        "{:<8} {:<15} {:<8} {:<8}",
        "order", "attrs", "pgline", "psql"
    );
    for (label, order) in [("RO,RW", [ro, rw]), ("RW,RO", [rw, ro])] {
        for value in attrs {
            let text = conninfo(&order, &format!("target_session_attrs={value}"));
            let ours = match bounded(pgline::connect(&text)).await {
                Ok(client) => {
                    let port = landed_port(&client).await;
                    // Both parameters came with the startup, so the role
                    // is known without asking.
                    let role = client.server_role();
                    assert_eq!(role.in_hot_standby, Some(false));
                    assert_eq!(role.default_transaction_read_only, Some(port == ro.port()));
                    Some(port)
                }
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Io, "{value}: {e}");
                    assert!(
                        e.to_string().contains("server is not in hot standby mode"),
                        "{value}: {e}"
                    );
                    None
                }
            };
            let libpq = support::libpq_port(ro, &text);
            println!(
                "{label:<8} {value:<15} {:<8} {:<8}",
                name(ours),
                name(libpq)
            );
            assert_eq!(ours, libpq, "{label} target_session_attrs={value}");
            let expected = match value {
                "read-write" => Some(rw.port()),
                "read-only" => Some(ro.port()),
                "standby" => None,
                // No standby anywhere: prefer-standby's second pass takes
                // the first host; any and primary take it at once.
                _ => Some(order[0].port()),
            };
            assert_eq!(ours, expected, "{label} target_session_attrs={value}");
        }
    }
}

#[tokio::test]
async fn the_role_follows_parameter_status_after_alter_system() {
    let server = bounded(async { ServerBuilder::new().start().unwrap() }).await;
    let text = conninfo(&[&server], "target_session_attrs=read-write");
    let client = bounded(pgline::connect(&text)).await.unwrap();
    assert_eq!(
        client.server_role(),
        ServerRole::new(Some(false), Some(false))
    );
    assert_eq!(client.endpoint().role.is_read_only(), Some(false));

    server
        .psql("ALTER SYSTEM SET default_transaction_read_only = on; SELECT pg_reload_conf();")
        .unwrap();
    // The backend applies the reload between statements and reports the
    // new value with the next reply.
    let began = Instant::now();
    while client.server_role().default_transaction_read_only != Some(true) {
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "no ParameterStatus for default_transaction_read_only within 30 s"
        );
        client.simple_query("SELECT 1").await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(client.server_role().is_read_only(), Some(true));
    assert_eq!(client.endpoint().role.is_read_only(), Some(true));

    let err = bounded(pgline::connect(&text)).await.unwrap_err();
    assert!(
        err.to_string().contains("session is read-only"),
        "read-write is refused now: {err}"
    );
    let read_only = conninfo(&[&server], "target_session_attrs=read-only");
    let client = bounded(pgline::connect(&read_only)).await.unwrap();
    assert_eq!(client.server_role().is_read_only(), Some(true));
}

#[tokio::test]
async fn a_connector_or_pool_bound_to_one_host_stays_there() {
    let [a, b, c] = nodes();
    let config: Config = conninfo(&[a, b, c], "").parse().unwrap();
    for (index, server) in [a, b, c].into_iter().enumerate() {
        let client = bounded(config.connect_host(index)).await.unwrap();
        assert_eq!(landed_port(&client).await, server.port());
        let endpoint = client.endpoint();
        assert_eq!(endpoint.host.to_string(), server.host());
        assert!(endpoint.addr.is_some());
    }
    // Over a Unix socket: the socket directory, the port, no address.
    let unix = format!(
        "host={} port={} user={} dbname=postgres",
        b.socket_dir().display(),
        b.port(),
        b.superuser()
    );
    let client = bounded(pgline::connect(&unix)).await.unwrap();
    let endpoint = client.endpoint();
    assert_eq!(
        endpoint.host,
        pgline::config::Host::Unix(b.socket_dir().into())
    );
    assert_eq!((endpoint.port, endpoint.addr), (b.port(), None));
    assert_eq!(endpoint.role, ServerRole::new(Some(false), Some(false)));

    let err = bounded(config.connect_host(3)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("host index 3"), "{err}");

    // target_session_attrs still applies to the one host.
    let mut read_write = config.clone();
    read_write.target_session_attrs(pgline::config::TargetSessionAttrs::ReadWrite);
    let err = bounded(read_write.connect_host(0)).await.unwrap_err();
    assert!(err.to_string().contains("session is read-only"), "{err}");

    let pool = bounded(
        Pool::with_connector(Connector::for_host(config.clone(), 2))
            .max_size(3)
            .min_idle(3)
            .connect(),
    )
    .await
    .unwrap();
    let held = [
        pool.acquire().await.unwrap(),
        pool.acquire().await.unwrap(),
        pool.acquire().await.unwrap(),
    ];
    for conn in &held {
        assert_eq!(landed_port(conn).await, c.port());
    }
    drop(held);

    // Any async function can open the pool's connections.
    let opened = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (counter, bound) = (opened.clone(), config.clone());
    let pool = bounded(
        Pool::with_connector(pgline::pool::connect_fn(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let config = bound.clone();
            async move { config.connect_host(1).await }
        }))
        .max_size(2)
        .min_idle(2)
        .connect(),
    )
    .await
    .unwrap();
    assert_eq!(opened.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(landed_port(&pool.acquire().await.unwrap()).await, b.port());

    // The default pool connects by the whole list: node 0 first.
    let pool = bounded(Pool::builder(config).max_size(1).connect())
        .await
        .unwrap();
    assert_eq!(landed_port(&pool.acquire().await.unwrap()).await, a.port());
}

#[tokio::test]
async fn a_failed_authentication_does_not_move_to_the_next_host() {
    let (scram, trust) = bounded(async {
        let scram = ServerBuilder::new()
            .auth(AuthMethod::ScramSha256)
            .user("app", "right")
            .start()
            .unwrap();
        let trust = ServerBuilder::new().user("app", "right").start().unwrap();
        (scram, trust)
    })
    .await;
    let text = format!(
        "host={},{} port={},{} user=app password=wrong dbname=postgres sslmode=disable",
        scram.host(),
        trust.host(),
        scram.port(),
        trust.port()
    );
    let err = bounded(pgline::connect(&text)).await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD), "{err}");
    assert_eq!(
        support::libpq_port(&scram, &text),
        None,
        "libpq stops here too"
    );
    // The second host alone would have taken the connection.
    let alone = format!(
        "host={} port={} user=app password=wrong dbname=postgres sslmode=disable",
        trust.host(),
        trust.port()
    );
    let client = bounded(pgline::connect(&alone)).await.unwrap();
    assert_eq!(landed_port(&client).await, trust.port());
}
