//! Where to connect: [`Host`], [`Target`], and [`Config::targets`] pairing
//! hosts, host addresses and ports by libpq's rules.
//!
//! Owns the pairing rules and the default host. It must not resolve names
//! or open sockets; the only I/O is checking that the default socket
//! directory exists.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::{Config, ConfigError};

/// The port used when none is given (and PGPORT is not set).
pub const DEFAULT_PORT: u16 = 5432;

/// The Unix socket directory tried when no host is given: Debian's libpq
/// default. libpq compares socket hosts with this exact string when it looks
/// for `localhost` lines in `.pgpass`.
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// A server location: a TCP host or a Unix socket directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A host name or an IP literal (IPv6 without brackets). The empty name
    /// stands for the default host, as an empty entry in libpq's `host` list.
    Tcp(String),
    /// The directory holding the server's socket file `.s.PGSQL.<port>`.
    Unix(PathBuf),
}

impl Host {
    /// Interprets one entry of a `host` list: a value starting with `/` is a
    /// socket directory, anything else a host name or address.
    pub fn parse(value: &str) -> Self {
        if value.starts_with('/') {
            Self::Unix(PathBuf::from(value))
        } else {
            Self::Tcp(value.to_owned())
        }
    }

    /// The default host: the socket directory [`DEFAULT_SOCKET_DIR`] when it
    /// exists on this machine, else `localhost`.
    pub fn default_host() -> Self {
        if Path::new(DEFAULT_SOCKET_DIR).is_dir() {
            Self::Unix(PathBuf::from(DEFAULT_SOCKET_DIR))
        } else {
            Self::Tcp("localhost".to_owned())
        }
    }

    fn is_default_placeholder(&self) -> bool {
        matches!(self, Self::Tcp(name) if name.is_empty())
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(name) => f.write_str(name),
            Self::Unix(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// One place to try to connect to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The host: its name is used for TLS verification and `.pgpass`.
    pub host: Host,
    /// The TCP port, or the number in the socket file name.
    pub port: u16,
    /// When set, connect to this address instead of resolving `host`.
    pub hostaddr: Option<IpAddr>,
}

impl Config {
    /// The (host, port, hostaddr) list to try, in order.
    ///
    /// - With both `host` and `hostaddr` lists, they must have the same
    ///   length ([`ConfigError::HostaddrCountMismatch`]); with only
    ///   `hostaddr`, each address is its own host (named by the address).
    /// - Ports: none means [`DEFAULT_PORT`] (PGPORT once
    ///   [`apply_env`](Config::apply_env) has run), one port applies to every
    ///   host, otherwise there must be exactly one per host
    ///   ([`ConfigError::PortCountMismatch`]).
    /// - No host at all, or an empty entry in the list, means the default
    ///   host: the Unix socket directory `/var/run/postgresql` (Debian's
    ///   libpq default) if that directory exists, else `localhost`.
    pub fn targets(&self) -> Result<Vec<Target>, ConfigError> {
        self.targets_with_default(&Host::default_host)
    }

    /// [`Config::targets`] with the default host supplied by the caller.
    pub(crate) fn targets_with_default(
        &self,
        default_host: &dyn Fn() -> Host,
    ) -> Result<Vec<Target>, ConfigError> {
        let count = self.target_count()?;
        let mut targets = Vec::with_capacity(count);
        for i in 0..count {
            let hostaddr = self.hostaddrs.get(i).copied();
            let host = match (self.hosts.get(i), hostaddr) {
                (Some(host), _) if !host.is_default_placeholder() => host.clone(),
                (_, Some(addr)) => Host::Tcp(addr.to_string()),
                _ => default_host(),
            };
            let port = match self.ports.as_slice() {
                [] => DEFAULT_PORT,
                [one] => *one,
                many => many.get(i).copied().unwrap_or(DEFAULT_PORT),
            };
            targets.push(Target {
                host,
                port,
                hostaddr,
            });
        }
        Ok(targets)
    }

    /// How many targets the host, hostaddr and port lists describe, or the
    /// mismatch that makes them unusable.
    pub(crate) fn target_count(&self) -> Result<usize, ConfigError> {
        let (hosts, addrs) = (self.hosts.len(), self.hostaddrs.len());
        if hosts > 0 && addrs > 0 && hosts != addrs {
            return Err(ConfigError::HostaddrCountMismatch {
                hosts,
                hostaddrs: addrs,
            });
        }
        let count = hosts.max(addrs).max(1);
        let ports = self.ports.len();
        if ports > 1 && ports != count {
            return Err(ConfigError::PortCountMismatch {
                hosts: count,
                ports,
            });
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(name: &str) -> Host {
        Host::Tcp(name.to_owned())
    }

    fn fixed_default() -> Host {
        Host::Unix(PathBuf::from("/default/socket"))
    }

    fn target(host: Host, port: u16, hostaddr: Option<&str>) -> Target {
        Target {
            host,
            port,
            hostaddr: hostaddr.map(|a| a.parse().unwrap()),
        }
    }

    #[test]
    fn pairing_rules() {
        let cases: Vec<(&str, Vec<Target>)> = vec![
            ("", vec![target(fixed_default(), 5432, None)]),
            ("port=5433", vec![target(fixed_default(), 5433, None)]),
            (
                "host=a,b",
                vec![target(tcp("a"), 5432, None), target(tcp("b"), 5432, None)],
            ),
            (
                "host=a,b port=6000",
                vec![target(tcp("a"), 6000, None), target(tcp("b"), 6000, None)],
            ),
            (
                "host=a,/tmp port=1,2",
                vec![
                    target(tcp("a"), 1, None),
                    target(Host::Unix(PathBuf::from("/tmp")), 2, None),
                ],
            ),
            (
                "host=a,,c port=1,,3",
                vec![
                    target(tcp("a"), 1, None),
                    target(fixed_default(), 5432, None),
                    target(tcp("c"), 3, None),
                ],
            ),
            (
                "hostaddr=10.0.0.1,::1 port=7",
                vec![
                    target(tcp("10.0.0.1"), 7, Some("10.0.0.1")),
                    target(tcp("::1"), 7, Some("::1")),
                ],
            ),
            (
                "host=db.example hostaddr=10.0.0.2",
                vec![target(tcp("db.example"), 5432, Some("10.0.0.2"))],
            ),
        ];
        for (text, expected) in cases {
            let config: Config = text.parse().unwrap();
            assert_eq!(
                config.targets_with_default(&fixed_default).unwrap(),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn mismatches() {
        let mut config = Config::new();
        config.host("a").host("b").host("c").port(1).port(2);
        let err = config.targets().unwrap_err();
        assert_eq!(err, ConfigError::PortCountMismatch { hosts: 3, ports: 2 });
        assert_eq!(err.to_string(), "could not match 2 port numbers to 3 hosts");

        let mut config = Config::new();
        config
            .host("a")
            .host("b")
            .hostaddr("10.0.0.1".parse().unwrap());
        assert_eq!(
            config.targets().unwrap_err().to_string(),
            "could not match 2 host names to 1 hostaddr values"
        );
    }

    #[test]
    fn default_host_is_socket_dir_or_localhost() {
        let expected = if Path::new(DEFAULT_SOCKET_DIR).is_dir() {
            Host::Unix(PathBuf::from(DEFAULT_SOCKET_DIR))
        } else {
            tcp("localhost")
        };
        assert_eq!(Config::new().targets().unwrap()[0].host, expected);
    }

    #[test]
    fn host_display_and_parse() {
        assert_eq!(Host::parse("/run/pg"), Host::Unix(PathBuf::from("/run/pg")));
        assert_eq!(Host::parse("::1"), tcp("::1"));
        assert_eq!(Host::parse("/run/pg").to_string(), "/run/pg");
        assert_eq!(tcp("db").to_string(), "db");
    }
}
