//! One server for a whole test binary.
//!
//! Owns: [`shared`], started on first use and stopped (by its watchdog) when the test
//! process exits. Must not: be used where a test changes server state others rely on.

use std::sync::OnceLock;

use crate::{AuthMethod, Server, ServerBuilder};

/// The login role of the shared server.
pub const SHARED_USER: &str = "pgline";
/// The password of [`SHARED_USER`].
pub const SHARED_PASSWORD: &str = "pgline-secret";
/// The database of the shared server, owned by [`SHARED_USER`].
pub const SHARED_DATABASE: &str = "pgline";

/// The server shared by every test of this test binary: TLS on, `scram-sha-256` on every
/// line but the superuser's socket line, user [`SHARED_USER`] / [`SHARED_PASSWORD`]
/// owning database [`SHARED_DATABASE`]. Started on first use; the same server every
/// call. It is never dropped: its watchdog stops it and removes its folder when the test
/// process exits.
///
/// # Panics
///
/// When the server cannot be started, with the reason and the server log tail. This is a
/// test helper, and a test cannot go on without its server.
pub fn shared() -> &'static Server {
    static SHARED: OnceLock<Server> = OnceLock::new();
    SHARED.get_or_init(|| {
        ServerBuilder::new()
            .auth(AuthMethod::ScramSha256)
            .tls(true)
            .user(SHARED_USER, SHARED_PASSWORD)
            .database(SHARED_DATABASE, SHARED_USER)
            .start()
            .unwrap_or_else(|err| {
                panic!("pgline-testkit: starting the shared server failed: {err}")
            })
    })
}
