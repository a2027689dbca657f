//! Which server a connection reached and what that server says it is:
//! [`Endpoint`] and [`ServerRole`], read through
//! [`Client::endpoint`](crate::Client::endpoint) and
//! [`Client::server_role`](crate::Client::server_role).
//!
//! Owns [`RoleCell`], the live copy of the two role parameters the server
//! reports (`in_hot_standby`, `default_transaction_read_only`; PostgreSQL
//! 14 and later report both at startup and again whenever they change, as
//! ParameterStatus). The engine feeds it every ParameterStatus; readers
//! load two atomics. It must not ask the server anything: a role that was
//! not reported stays unknown here.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::config::Host;
use crate::conn::transport::cancel::Peer;

/// The server parameter that says whether the server is a standby in
/// recovery (reported by PostgreSQL 14 and later).
pub(crate) const IN_HOT_STANDBY: &str = "in_hot_standby";
/// The server parameter that says whether new transactions default to
/// read-only (reported by PostgreSQL 14 and later).
pub(crate) const DEFAULT_TRANSACTION_READ_ONLY: &str = "default_transaction_read_only";

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

const UNKNOWN: u8 = 0;
const OFF: u8 = 1;
const ON: u8 = 2;

fn encode(value: Option<bool>) -> u8 {
    match value {
        None => UNKNOWN,
        Some(false) => OFF,
        Some(true) => ON,
    }
}

fn decode(byte: u8) -> Option<bool> {
    match byte {
        OFF => Some(false),
        ON => Some(true),
        _ => None,
    }
}

/// The live role of one connection: written by the engine for every
/// ParameterStatus, read by anyone without a lock.
#[derive(Debug, Default)]
pub(crate) struct RoleCell {
    in_hot_standby: AtomicU8,
    default_transaction_read_only: AtomicU8,
}

impl RoleCell {
    /// A cell holding what the startup parameters reported.
    pub(crate) fn from_parameters<'a>(
        parameters: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let cell = Self::default();
        for (name, value) in parameters {
            cell.observe(name, value);
        }
        cell
    }

    /// Records a parameter the server reported; other parameters are
    /// ignored.
    pub(crate) fn observe(&self, name: &str, value: &str) {
        let slot = match name {
            IN_HOT_STANDBY => &self.in_hot_standby,
            DEFAULT_TRANSACTION_READ_ONLY => &self.default_transaction_read_only,
            _ => return,
        };
        slot.store(encode(Some(value == "on")), Ordering::Release);
    }

    /// The role as of now.
    pub(crate) fn get(&self) -> ServerRole {
        ServerRole {
            in_hot_standby: decode(self.in_hot_standby.load(Ordering::Acquire)),
            default_transaction_read_only: decode(
                self.default_transaction_read_only.load(Ordering::Acquire),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_parameters_fill_the_cell_and_updates_replace_them() {
        let cell = RoleCell::from_parameters([
            ("server_version", "15.8"),
            ("in_hot_standby", "on"),
            ("default_transaction_read_only", "off"),
        ]);
        assert_eq!(cell.get(), ServerRole::new(Some(true), Some(false)));
        // A promotion reports in_hot_standby=off.
        cell.observe("in_hot_standby", "off");
        assert_eq!(cell.get(), ServerRole::new(Some(false), Some(false)));
        cell.observe("default_transaction_read_only", "on");
        assert_eq!(cell.get().is_read_only(), Some(true));
        cell.observe("TimeZone", "UTC");
        assert_eq!(cell.get(), ServerRole::new(Some(false), Some(true)));
    }

    #[test]
    fn unreported_parameters_stay_unknown() {
        let cell = RoleCell::from_parameters([("server_version", "13.1")]);
        assert_eq!(cell.get(), ServerRole::default());
        assert_eq!(cell.get().is_read_only(), None);
        assert_eq!(cell.get().is_standby(), None);
        cell.observe("default_transaction_read_only", "on");
        // One of the two is not enough to call the session read-only.
        assert_eq!(cell.get().is_read_only(), None);
    }

    #[test]
    fn only_the_exact_value_on_means_on() {
        let cell = RoleCell::default();
        for (value, expected) in [("on", true), ("off", false), ("ON", false), ("true", false)] {
            cell.observe("in_hot_standby", value);
            assert_eq!(cell.get().in_hot_standby, Some(expected), "{value}");
        }
    }

    #[test]
    fn read_only_is_either_flag() {
        let role = |s, r| ServerRole::new(Some(s), Some(r)).is_read_only();
        assert_eq!(role(false, false), Some(false));
        assert_eq!(role(true, false), Some(true));
        assert_eq!(role(false, true), Some(true));
        assert_eq!(role(true, true), Some(true));
    }
}
