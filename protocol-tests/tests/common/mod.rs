//! Helpers shared by the test files: a bound on every operation that could
//! hang, and the address and URL of the shared real server.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

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
