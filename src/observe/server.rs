//! Where an observed operation runs: the labels every hook event carries.
//!
//! Owns [`ServerInfo`], built once per connection and borrowed by events,
//! so no event copies a host name. With the `metrics` feature it also
//! holds the connection's kept metric handles, so recording an operation
//! does not rebuild its labels.

use std::sync::Arc;

/// The server a connection talks to, as OpenTelemetry's database
/// conventions name it. The strings are shared, so a label made of them
/// costs a reference count, not a copy. Two are equal when their fields
/// are.
#[derive(Debug, Clone, Default)]
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
    /// The metric handles registered under these labels, shared by
    /// clones (which carry the same labels).
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Arc<super::metrics::ConnectionMetrics>,
}

impl ServerInfo {
    /// Labels for a connection to `address:port`, database `namespace`.
    pub fn new(address: &str, port: u16, namespace: &str) -> Self {
        Self {
            address: Arc::from(address),
            port,
            namespace: Arc::from(namespace),
            backend_pid: 0,
            #[cfg(feature = "metrics")]
            metrics: Arc::default(),
        }
    }
}

impl PartialEq for ServerInfo {
    fn eq(&self, other: &Self) -> bool {
        self.address == other.address
            && self.port == other.port
            && self.namespace == other.namespace
            && self.backend_pid == other.backend_pid
    }
}

impl Eq for ServerInfo {}
