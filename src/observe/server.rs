//! Where an observed operation runs: the labels every hook event carries.
//!
//! Owns [`ServerInfo`], built once per connection and borrowed by events,
//! so no event copies a host name.

use std::sync::Arc;

/// The server a connection talks to, as OpenTelemetry's database
/// conventions name it. The strings are shared, so a label made of them
/// costs a reference count, not a copy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ServerInfo {
    /// `server.address`: the host as configured (a name, an address, or a
    /// Unix socket directory).
    pub address: Arc<str>,
    /// `server.port`.
    pub port: u16,
    /// `db.namespace`: the database name.
    pub namespace: Arc<str>,
    /// The server process serving the connection (0 before it is known).
    pub backend_pid: u32,
}

impl ServerInfo {
    /// Labels for a connection to `address:port`, database `namespace`.
    pub fn new(address: &str, port: u16, namespace: &str) -> Self {
        Self {
            address: Arc::from(address),
            port,
            namespace: Arc::from(namespace),
            backend_pid: 0,
        }
    }
}
