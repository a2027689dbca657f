//! Which server a connection reached and what that server says it is:
//! [`Endpoint`] and [`ServerRole`], read through
//! [`Client::endpoint`](crate::Client::endpoint) and
//! [`Client::server_role`](crate::Client::server_role).
//!
//! The live copy of what the server reports is the engine's
//! (`engine::role_cell`); this module owns only the values callers see.

use std::net::SocketAddr;

use crate::config::Host;
use crate::conn::transport::cancel::Peer;

/// What a server reported about its role. `None` means "not reported"
/// (servers before PostgreSQL 14 report neither).
///
/// Values follow libpq: a parameter is on when its value is exactly `on`,
/// and off for any other value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct ServerRole {
    /// `in_hot_standby`: the server is a standby in recovery.
    pub in_hot_standby: Option<bool>,
    /// `default_transaction_read_only`: transactions start read-only
    /// unless they ask otherwise.
    pub default_transaction_read_only: Option<bool>,
}

impl ServerRole {
    /// A role with both parameters as given.
    pub fn new(in_hot_standby: Option<bool>, default_transaction_read_only: Option<bool>) -> Self {
        Self {
            in_hot_standby,
            default_transaction_read_only,
        }
    }

    /// Whether sessions on this server are read-only by default (a
    /// standby, or `default_transaction_read_only=on`), as libpq's
    /// `read-write` / `read-only` choice sees it; `None` when either
    /// parameter is unknown.
    pub fn is_read_only(&self) -> Option<bool> {
        match (self.in_hot_standby, self.default_transaction_read_only) {
            (Some(standby), Some(read_only)) => Some(standby || read_only),
            _ => None,
        }
    }

    /// Whether the server is a standby, as libpq's `primary` / `standby`
    /// choice sees it; `None` when not reported.
    pub fn is_standby(&self) -> Option<bool> {
        self.in_hot_standby
    }
}

/// Where a connection went, and the role the server reports now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoint {
    /// The host as configured: a host name or address for TCP (the name
    /// TLS verified and `.pgpass` matched), or a socket directory.
    pub host: Host,
    /// The port (for a Unix socket, the number in the socket file's name).
    pub port: u16,
    /// The address the TCP socket connected to; `None` for a Unix socket.
    pub addr: Option<SocketAddr>,
    /// What the server reported about its role, as of this call.
    pub role: ServerRole,
}

impl Peer {
    /// The public view of where the socket went.
    pub(crate) fn endpoint(&self, role: ServerRole) -> Endpoint {
        match self {
            Self::Tcp { addr, host } => Endpoint {
                host: Host::Tcp(host.clone()),
                port: addr.port(),
                addr: Some(*addr),
                role,
            },
            Self::Unix { dir, port } => Endpoint {
                host: Host::Unix(dir.clone()),
                port: *port,
                addr: None,
                role,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_is_either_flag() {
        let role = |s, r| ServerRole::new(Some(s), Some(r)).is_read_only();
        assert_eq!(role(false, false), Some(false));
        assert_eq!(role(true, false), Some(true));
        assert_eq!(role(false, true), Some(true));
        assert_eq!(role(true, true), Some(true));
    }
}
