//! TLS against real servers: libpq's sslmode negotiation matrix, certificate
//! verification, client certificates and direct TLS negotiation.

mod support;

use pgline::error::ErrorKind;
use pgline_testkit::{AuthMethod, Server, ServerBuilder};
use support::CountingProxy;

/// The matrix server: `testuser` may connect either way, `ssluser` only over
/// TLS, `nossluser` only without TLS (as in libpq's negotiation test).
fn matrix_server(tls: bool) -> Server {
    ServerBuilder::new()
        .tls(tls)
        .hba_line("hostssl all ssluser 127.0.0.1/32 trust")
        .hba_line("hostnossl all nossluser 127.0.0.1/32 trust")
        .hba_line("host all testuser 127.0.0.1/32 trust")
        .hba_line("host all all 127.0.0.1/32 reject")
        .user("testuser", "x")
        .user("ssluser", "x")
        .user("nossluser", "x")
        .start()
        .expect("start a test server")
}

struct Row {
    server_ssl: bool,
    user: String,
    sslmode: String,
    sslnegotiation: String,
    events: String,
    outcome: String,
}

fn matrix() -> Vec<Row> {
    let text = include_str!("fixtures/sslmode_negotiation_matrix.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("server_ssl"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Row {
                server_ssl: f[0] == "on",
                user: f[1].to_owned(),
                sslmode: f[2].to_owned(),
                sslnegotiation: f[3].to_owned(),
                events: f[4].to_owned(),
                outcome: f[5].to_owned(),
            }
        })
        .collect()
}

/// Runs one matrix row through a counting proxy; returns the outcome
/// (`plain`, `ssl` or `fail`) and the number of TCP connections opened.
async fn run_row(server: &Server, user: &str, sslmode: &str, negotiation: &str) -> (String, usize) {
    let proxy = CountingProxy::start(server.port()).await;
    let conninfo = format!(
        "host=127.0.0.1 port={} user={user} dbname=postgres sslmode={sslmode} \
         sslnegotiation={negotiation} connect_timeout=10",
        proxy.port()
    );
    let outcome = match pgline::connect(&conninfo).await {
        Ok(client) => {
            let row = client
                .query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .await
                .unwrap();
            if row.get::<bool>(0).unwrap() {
                "ssl"
            } else {
                "plain"
            }
        }
        Err(_) => "fail",
    };
    (outcome.to_owned(), proxy.connections())
}

#[tokio::test]
async fn sslmode_matrix_matches_libpq() {
    let servers = [matrix_server(false), matrix_server(true)];
    let major = servers[0].major_version().unwrap();
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for row in matrix() {
        // Rows with server-side injection points need a PostgreSQL built with
        // them; the PostgreSQL 15 binaries here have none.
        if row.events.contains("backenderror") || row.events.contains("v2error") {
            continue;
        }
        let server = &servers[usize::from(row.server_ssl)];
        let users: Vec<&str> = if row.user == "*" {
            vec!["testuser", "ssluser", "nossluser"]
        } else {
            vec![row.user.as_str()]
        };
        // PostgreSQL before 17 does not support direct TLS: libpq's
        // "directsslaccept" rows become a failed handshake there, so their
        // expected outcome is fail.
        let old_direct =
            major < 17 && row.sslnegotiation == "direct" && row.events.contains("directsslaccept");
        let expected = if old_direct {
            "fail"
        } else {
            row.outcome.as_str()
        };
        let expected_connects = if row.events == "-" {
            0
        } else {
            1 + row.events.matches("reconnect").count()
        };
        for user in users {
            let (outcome, connects) =
                run_row(server, user, &row.sslmode, &row.sslnegotiation).await;
            checked += 1;
            if outcome != expected || connects != expected_connects {
                mismatches.push(format!(
                    "server_ssl={} user={user} sslmode={} sslnegotiation={}: expected {expected} \
                     with {expected_connects} connection(s), got {outcome} with {connects}",
                    row.server_ssl, row.sslmode, row.sslnegotiation
                ));
            }
        }
    }
    assert!(checked >= 30, "only {checked} cases ran");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

fn tls_server() -> Server {
    ServerBuilder::new()
        .tls(true)
        .auth(AuthMethod::ScramSha256)
        .user("app", "app-secret")
        .start()
        .expect("start a TLS test server")
}

async fn try_connect(conninfo: String) -> Result<(), pgline::Error> {
    let client = pgline::connect(&conninfo).await?;
    client.query_one("SELECT 1", &[]).await?;
    Ok(())
}

#[tokio::test]
async fn verify_full_checks_chain_and_host_name() {
    let server = tls_server();
    let files = server.tls().unwrap();
    let base = format!(
        "port={} user=app password=app-secret dbname=postgres sslrootcert={}",
        server.port(),
        files.ca_cert().display()
    );
    // Right CA, right name.
    try_connect(format!("{base} host=localhost sslmode=verify-full"))
        .await
        .unwrap();
    try_connect(format!("{base} host=127.0.0.1 sslmode=verify-full"))
        .await
        .unwrap();
    // Right CA, wrong name: verify-full fails, verify-ca passes.
    let err = try_connect(format!(
        "{base} host=wrong.example hostaddr=127.0.0.1 sslmode=verify-full"
    ))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(format!("{err:#}").contains("TLS handshake"), "{err}");
    try_connect(format!(
        "{base} host=wrong.example hostaddr=127.0.0.1 sslmode=verify-ca"
    ))
    .await
    .unwrap();
    // Untrusted CA: both verifying modes fail.
    let untrusted = format!(
        "port={} user=app password=app-secret dbname=postgres host=localhost sslrootcert={}",
        server.port(),
        files.untrusted_ca().display()
    );
    for mode in ["verify-ca", "verify-full"] {
        let err = try_connect(format!("{untrusted} sslmode={mode}"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Tls, "{mode}: {err}");
    }
    // require with a root certificate behaves like verify-ca (libpq's rule).
    let err = try_connect(format!("{untrusted} sslmode=require"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

#[tokio::test]
async fn verify_modes_need_a_root_certificate() {
    let server = tls_server();
    let err = try_connect(format!(
        "host=localhost port={} user=app password=app-secret dbname=postgres sslmode=verify-full \
         sslrootcert=/nonexistent/root.crt",
        server.port()
    ))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.to_string().contains("/nonexistent/root.crt"), "{err}");
}

#[tokio::test]
async fn client_certificate_authentication() {
    let server = ServerBuilder::new()
        .tls(true)
        .auth(AuthMethod::Cert)
        .user("certuser", "unused")
        .start()
        .expect("start a cert-auth server");
    let files = server.tls().unwrap();
    let base = format!(
        "host=localhost port={} user=certuser dbname=postgres sslmode=verify-full sslrootcert={}",
        server.port(),
        files.ca_cert().display()
    );
    try_connect(format!(
        "{base} sslcert={} sslkey={}",
        files.client_cert("certuser").unwrap().display(),
        files.client_key("certuser").unwrap().display()
    ))
    .await
    .unwrap();
    // Without a client certificate the server refuses.
    let err = try_connect(base).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Db, "{err}");
}

#[tokio::test]
async fn direct_tls_fails_cleanly_against_postgresql_15() {
    let server = tls_server();
    let version: u32 = server
        .psql("SHOW server_version_num")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let result = try_connect(format!(
        "host=localhost port={} user=app password=app-secret dbname=postgres sslmode=require \
         sslnegotiation=direct connect_timeout=10",
        server.port()
    ))
    .await;
    if version >= 170000 {
        result.unwrap();
    } else {
        let err = result.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Tls | ErrorKind::Io),
            "expected a TLS or I/O error, got {err:?}"
        );
    }
    // Direct TLS with a weak sslmode is refused before connecting.
    let err = try_connect(format!(
        "host=localhost port={} user=app sslmode=prefer sslnegotiation=direct",
        server.port()
    ))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}
