//! Where an observed operation runs: the labels every hook event carries.
//!
//! Owns [`ServerInfo`], built once per connection and borrowed by events,
//! so no event copies a host name.

/// The server a connection talks to, as OpenTelemetry's database
/// conventions name it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ServerInfo {
    /// `server.address`: the host as configured (a name, an address, or a
    /// Unix socket directory).
    pub address: String,
    /// `server.port`.
    pub port: u16,
    /// `db.namespace`: the database name.
    pub namespace: String,
    /// The server process serving the connection (0 before it is known).
    pub backend_pid: u32,
}

impl ServerInfo {
    /// Labels for a connection to `address:port`, database `namespace`.
    pub fn new(address: impl Into<String>, port: u16, namespace: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            port,
            namespace: namespace.into(),
            backend_pid: 0,
        }
    }
}
