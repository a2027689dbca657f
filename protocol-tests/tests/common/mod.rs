//! Helpers shared by the test files: a bound on every operation that could
//! hang, and the address and URL of the shared real server.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use pgline::Client;

/// Runs `f`, failing the test if it does not end within `deadline`.
pub async fn within<F: Future>(deadline: Duration, what: &str, f: F) -> F::Output {
    tokio::time::timeout(deadline, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not end within {deadline:?}"))
}

/// The shared real server's TCP address (for a proxy to forward to).
pub fn upstream() -> SocketAddr {
    let server = pgline_testkit::shared();
    format!("{}:{}", server.host(), server.port())
        .parse()
        .expect("the shared server listens on a loopback IP address")
}

/// A URL for the shared server's user and database on loopback `port` (a
/// proxy's), without TLS, with `extra` query parameters appended.
pub fn url_for(port: u16, extra: &str) -> String {
    format!(
        "postgres://{}:{}@127.0.0.1:{port}/{}?sslmode=disable&connect_timeout=5{extra}",
        pgline_testkit::SHARED_USER,
        pgline_testkit::SHARED_PASSWORD,
        pgline_testkit::SHARED_DATABASE,
    )
}

/// Waits (up to `deadline`) until no backend runs with `application_name`:
/// the server has seen a cut and ended (and rolled back) that session, so
/// nothing of it can still commit.
pub async fn wait_backend_gone(observer: &Client, application_name: &str, deadline: Duration) {
    within(deadline, "the cut backend to end", async {
        loop {
            let row = observer
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                    &[&application_name],
                )
                .await
                .expect("pg_stat_activity");
            if row.get::<i64>(0).expect("count") == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}
