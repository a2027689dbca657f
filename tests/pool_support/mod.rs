//! Helpers for the pool integration tests: one trust-auth server per test
//! binary, configs tagged with an application name, and bounded waits.

#![allow(dead_code)]

use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use pgline::Config;
use pgline_testkit::{Server, ServerBuilder};

/// A trust-auth server shared by the tests of one binary (quick connects).
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        ServerBuilder::new()
            .setting("max_connections", "200")
            .start()
            .expect("start the pool test server")
    })
}

/// A config for `server` whose connections carry `application_name = app`.
pub fn config_for(server: &Server, app: &str) -> Config {
    let mut config: Config = server
        .url("postgres", None, "postgres")
        .parse()
        .expect("testkit URL parses");
    config.application_name(app);
    config
}

/// Backends on `server` with `application_name = app`.
pub fn backends(server: &Server, app: &str) -> usize {
    let out = server
        .psql(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'"
        ))
        .expect("psql counts backends");
    out.trim().parse().expect("a count")
}

/// Guards against hangs: `f` must finish within 60 s.
pub async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("operation did not finish within 60 s")
}

/// Polls `check` every 10 ms until it holds; panics with `what` after 30 s.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "still waiting after 30 s for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
