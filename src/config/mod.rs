//! Connection configuration: libpq's connection parameters, as a [`Config`].
//!
//! Owns the settings a connection needs before it opens a socket: parsing
//! of connection strings (URL and key=value), the `PG*` environment, the
//! connection service file, the password file, defaults, and the list of
//! hosts to try. It must not open sockets, start TLS or use tokio; the only
//! I/O is reading `.pgpass` and service files with `std::fs` when asked, and
//! checking whether the default socket directory exists.
//!
//! # Sources, and which wins
//!
//! As in libpq: a value given explicitly (setter or connection string) wins
//! over the service file ([`Config::apply_service_file`]), which wins over
//! the environment ([`Config::apply_env`]), which wins over the defaults.
//! [`Config::resolve`] applies all of them in that order. Within a string, a
//! later keyword replaces an earlier one; the `host`, `hostaddr` and `port`
//! setters append, the string keywords replace the whole list.
//!
//! ```
//! use pgline::config::{Config, SslMode};
//!
//! let config: Config = "postgres://app:s3cret@db1:5433,db2/orders?sslmode=require"
//!     .parse()
//!     .unwrap();
//! assert_eq!(config.get_user(), Some("app"));
//! assert_eq!(config.get_ports(), &[5433, 5432]);
//! assert_eq!(config.get_ssl_mode(), SslMode::Require);
//! assert!(!format!("{config:?}").contains("s3cret"));
//! ```
//!
//! # Behaviour a libpq user should know about
//!
//! - An empty value (`host=''`, `?sslmode=`) leaves the option unset, so the
//!   service file, environment and defaults still apply. (libpq keeps an
//!   explicit empty string, which for almost every option means "default".)
//! - `connect_timeout` in a string is whole seconds; 0 means no timeout and,
//!   as in libpq, 1 is raised to 2. The [`Config::connect_timeout`] setter
//!   takes a [`Duration`] and keeps it as given.
//! - An empty entry in a `host` list means the default host, and an empty
//!   entry in a `port` list means 5432 (not PGPORT), as in libpq. Empty
//!   entries in a `hostaddr` list are rejected.
//! - Only a host starting with `/` is a socket directory (no `@` abstract
//!   sockets).
//! - `sslrootcert=system` without an `sslmode` makes the mode `verify-full`;
//!   with a weaker explicit mode [`Config::validate`] fails, as in libpq.
//! - The URL scheme is matched without regard to case; in a URL the user
//!   information ends at the last `@` before the host list.
//! - In the service file, whitespace around keys and values is trimmed.
//! - `client_encoding` accepts only `UTF8` (pgline always speaks UTF-8);
//!   `gssencmode` accepts `disable` and `prefer` (pgline has no GSSAPI
//!   encryption, so `prefer` connects without it); `sslcompression` accepts
//!   `0` and `1` and is ignored, as libpq ignores it. None of them is stored.
//! - Not supported, rejected with [`ConfigError::UnsupportedOption`]:
//!   `replication`, `krbsrvname`, `gsslib`, `gssdelegation`, `sslpassword`,
//!   `sslcertmode`, `sslcrl`, `sslcrldir`, `sslkeylogfile`, `requirepeer`,
//!   `ssl_min_protocol_version`, `ssl_max_protocol_version`, `oauth_issuer`,
//!   `oauth_client_id`, `oauth_client_secret`, `oauth_scope`,
//!   `scram_client_key`, `scram_server_key`. Their environment variables are
//!   rejected too, except `PGKRBSRVNAME`, `PGGSSLIB` and `PGGSSDELEGATION`,
//!   which only matter for GSSAPI authentication and are ignored.
//! - `PGDATESTYLE`, `PGTZ` and `PGGEQO` become the startup parameters
//!   `datestyle`, `timezone` and `geqo`, as libpq sends them.
//!
//! # pgline's own keywords
//!
//! Settings libpq has no keyword for can be given in a URL, a key=value
//! string or a service file (and with [`Config::set_option`]) under names
//! that start with `pgline_`, so that no libpq keyword will ever clash with
//! them. libpq refuses keywords it does not know, so a string that uses
//! them is for pgline only.
//!
//! | keyword | value | setter |
//! |---|---|---|
//! | `pgline_query_timeout` | a whole number of milliseconds, or with a unit: `500ms`, `5s`, `2min`, `1h` (as PostgreSQL's `statement_timeout`); `0` = no timeout (the default) | [`Config::query_timeout`] |
//! | `pgline_statement_cache_capacity` | a non-negative integer; `0` disables the cache; default 256 | [`Config::statement_cache_capacity`] |
//! | `pgline_statement_cache_mode` | `named` (the default) or `unnamed` (for transaction-pooling proxies) | [`Config::statement_cache_mode`] |
//!
//! A bad value is a [`ConfigError::InvalidValue`] naming the keyword. An
//! empty value leaves the setting unset, as for the libpq keywords. They
//! have no environment variables: the `PG*` variables are read by every
//! libpq program on the machine, and a pgline setting belongs to the
//! application's own configuration (which may hold the whole URL).
//!
//! ```
//! use std::time::Duration;
//! use pgline::config::{Config, StatementCacheMode};
//!
//! let config: Config = "postgres://app@db1/orders?pgline_query_timeout=5s\
//!     &pgline_statement_cache_mode=unnamed"
//!     .parse()
//!     .unwrap();
//! assert_eq!(config.get_query_timeout(), Some(Duration::from_secs(5)));
//! assert_eq!(config.get_statement_cache_mode(), StatementCacheMode::UnnamedOnly);
//! let config: Config = "host=db1 pgline_statement_cache_capacity=0".parse().unwrap();
//! assert_eq!(config.get_statement_cache_capacity(), 0);
//! ```

mod client;
mod env;
mod error;
// Entry points of the fuzz targets (fuzz/): no stability promise.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod key_value;
mod keyword;
mod options;
mod percent;
mod pgpass;
mod require_auth;
mod resolve;
mod service;
mod target;
#[cfg(test)]
mod test_files;
mod url;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

pub use client::{
    DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_WRITE_BUFFER, DEFAULT_STATEMENT_CACHE_CAPACITY,
    LARGE_RESULT_AFTER, StatementCacheMode,
};
pub use error::ConfigError;
pub use options::{
    ChannelBindingMode, LoadBalanceHosts, ProtocolVersionSetting, SslMode, SslNegotiation,
    SslRootCert, TargetSessionAttrs,
};
pub use pgpass::{PassfileIgnored, PassfileLookup};
pub use require_auth::{AuthMethod, RequireAuth};
pub use service::DEFAULT_SYSCONFDIR;
pub use target::{DEFAULT_PORT, DEFAULT_SOCKET_DIR, Host, Target};

/// Connection settings, with libpq's option names and behaviour.
///
/// Built with the `&mut Self` setters, or parsed with [`FromStr`] from a URL
/// (`postgres://` or `postgresql://`) or a key=value string. Every option is
/// unset until given; the getters return libpq's default for an unset
/// option. [`Debug`](fmt::Debug) never shows the password.
///
/// Method groups:
/// - setters, one per libpq keyword (`host`, `port`, `user`, `sslmode`
///   as [`ssl_mode`](Config::ssl_mode), ...), and
///   [`set_option`](Config::set_option) by keyword;
/// - getters, `get_*`;
/// - completion: [`apply_service_file`](Config::apply_service_file),
///   [`apply_env`](Config::apply_env), [`resolve`](Config::resolve),
///   [`validate`](Config::validate);
/// - use: [`targets`](Config::targets), [`password_for`](Config::password_for),
///   [`startup_params`](Config::startup_params).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Config {
    hosts: Vec<Host>,
    hostaddrs: Vec<IpAddr>,
    ports: Vec<u16>,
    user: Option<String>,
    password: Option<Vec<u8>>,
    dbname: Option<String>,
    application_name: Option<String>,
    fallback_application_name: Option<String>,
    options: Option<String>,
    connect_timeout: Option<Duration>,
    keepalives: Option<bool>,
    keepalives_idle: Option<Duration>,
    keepalives_interval: Option<Duration>,
    keepalives_count: Option<u32>,
    tcp_user_timeout: Option<Duration>,
    ssl_mode: Option<SslMode>,
    ssl_root_cert: Option<SslRootCert>,
    ssl_cert: Option<PathBuf>,
    ssl_key: Option<PathBuf>,
    ssl_sni: Option<bool>,
    ssl_negotiation: Option<SslNegotiation>,
    channel_binding: Option<ChannelBindingMode>,
    require_auth: Option<RequireAuth>,
    min_protocol_version: Option<ProtocolVersionSetting>,
    max_protocol_version: Option<ProtocolVersionSetting>,
    target_session_attrs: Option<TargetSessionAttrs>,
    load_balance_hosts: Option<LoadBalanceHosts>,
    passfile: Option<PathBuf>,
    service: Option<String>,
    service_file: Option<PathBuf>,
    params: Vec<(String, String)>,
    client: client::ClientSettings,
}

/// Setters. Each sets one libpq option; `host`, `host_path`, `hostaddr` and
/// `port` append to their list.
impl Config {
    /// A configuration with every option unset.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a host (`host`): a name, an IP literal, or, when it starts
    /// with `/`, a Unix socket directory. The empty string means the default host.
    pub fn host(&mut self, host: &str) -> &mut Self {
        self.hosts.push(Host::parse(host));
        self
    }

    /// Appends a Unix socket directory as a host.
    pub fn host_path(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.hosts.push(Host::Unix(dir.as_ref().to_path_buf()));
        self
    }

    /// Appends a host address (`hostaddr`): connect there without resolving
    /// the matching host name.
    pub fn hostaddr(&mut self, addr: IpAddr) -> &mut Self {
        self.hostaddrs.push(addr);
        self
    }

    /// Appends a port (`port`): one port for every host, or one per host.
    pub fn port(&mut self, port: u16) -> &mut Self {
        self.ports.push(port);
        self
    }

    /// Sets the user name (`user`).
    pub fn user(&mut self, user: &str) -> &mut Self {
        self.user = Some(user.to_owned());
        self
    }

    /// Sets the password (`password`).
    pub fn password(&mut self, password: impl AsRef<[u8]>) -> &mut Self {
        self.password = Some(password.as_ref().to_vec());
        self
    }

    /// Sets the database name (`dbname`). Defaults to the user name.
    pub fn dbname(&mut self, dbname: &str) -> &mut Self {
        self.dbname = Some(dbname.to_owned());
        self
    }

    /// Sets `application_name`.
    pub fn application_name(&mut self, name: &str) -> &mut Self {
        self.application_name = Some(name.to_owned());
        self
    }

    /// Sets `fallback_application_name`: sent when `application_name` is unset.
    pub fn fallback_application_name(&mut self, name: &str) -> &mut Self {
        self.fallback_application_name = Some(name.to_owned());
        self
    }

    /// Sets `options`: command-line options for the server process, e.g.
    /// `-c search_path=app -c statement_timeout=5s`.
    pub fn options(&mut self, options: &str) -> &mut Self {
        self.options = Some(options.to_owned());
        self
    }

    /// Sets `connect_timeout`, the limit for each connection attempt.
    /// [`Duration::ZERO`] means no limit.
    pub fn connect_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Sets `keepalives`: whether TCP keepalives are enabled (default true).
    pub fn keepalives(&mut self, on: bool) -> &mut Self {
        self.keepalives = Some(on);
        self
    }

    /// Sets `keepalives_idle`: idle time before the first keepalive probe.
    pub fn keepalives_idle(&mut self, idle: Duration) -> &mut Self {
        self.keepalives_idle = Some(idle);
        self
    }

    /// Sets `keepalives_interval`: time between unanswered keepalive probes.
    pub fn keepalives_interval(&mut self, interval: Duration) -> &mut Self {
        self.keepalives_interval = Some(interval);
        self
    }

    /// Sets `keepalives_count`: unanswered probes before the connection is dead.
    pub fn keepalives_count(&mut self, count: u32) -> &mut Self {
        self.keepalives_count = Some(count);
        self
    }

    /// Sets `tcp_user_timeout` (`TCP_USER_TIMEOUT`, Linux).
    pub fn tcp_user_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.tcp_user_timeout = Some(timeout);
        self
    }

    /// Sets `sslmode`.
    pub fn ssl_mode(&mut self, mode: SslMode) -> &mut Self {
        self.ssl_mode = Some(mode);
        self
    }

    /// Sets `sslrootcert`.
    pub fn ssl_root_cert(&mut self, root: SslRootCert) -> &mut Self {
        self.ssl_root_cert = Some(root);
        self
    }

    /// Sets `sslcert`, the client certificate file.
    pub fn ssl_cert(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.ssl_cert = Some(path.as_ref().to_path_buf());
        self
    }

    /// Sets `sslkey`, the client private key file.
    pub fn ssl_key(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.ssl_key = Some(path.as_ref().to_path_buf());
        self
    }

    /// Sets `sslsni`: whether the host name is sent in the TLS SNI extension
    /// (default true).
    pub fn ssl_sni(&mut self, on: bool) -> &mut Self {
        self.ssl_sni = Some(on);
        self
    }

    /// Sets `sslnegotiation`.
    pub fn ssl_negotiation(&mut self, negotiation: SslNegotiation) -> &mut Self {
        self.ssl_negotiation = Some(negotiation);
        self
    }

    /// Sets `channel_binding`.
    pub fn channel_binding(&mut self, mode: ChannelBindingMode) -> &mut Self {
        self.channel_binding = Some(mode);
        self
    }

    /// Sets `require_auth`.
    pub fn require_auth(&mut self, methods: RequireAuth) -> &mut Self {
        self.require_auth = Some(methods);
        self
    }

    /// Sets `min_protocol_version`.
    pub fn min_protocol_version(&mut self, version: ProtocolVersionSetting) -> &mut Self {
        self.min_protocol_version = Some(version);
        self
    }

    /// Sets `max_protocol_version`.
    pub fn max_protocol_version(&mut self, version: ProtocolVersionSetting) -> &mut Self {
        self.max_protocol_version = Some(version);
        self
    }

    /// Sets `target_session_attrs`: which server of the host list a
    /// connection may take (libpq's rules; see `Connector` in the crate
    /// root for how each value judges a server and when the next host is
    /// tried).
    pub fn target_session_attrs(&mut self, attrs: TargetSessionAttrs) -> &mut Self {
        self.target_session_attrs = Some(attrs);
        self
    }

    /// Sets `load_balance_hosts`: `random` tries the hosts in a random
    /// order (shuffled once per connect), and each host's addresses in a
    /// random order; `disable` keeps the order given.
    pub fn load_balance_hosts(&mut self, mode: LoadBalanceHosts) -> &mut Self {
        self.load_balance_hosts = Some(mode);
        self
    }

    /// Sets `passfile`, the password file (default `~/.pgpass`).
    pub fn passfile(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.passfile = Some(path.as_ref().to_path_buf());
        self
    }

    /// Sets `service`, a section of the connection service file.
    pub fn service(&mut self, name: &str) -> &mut Self {
        self.service = Some(name.to_owned());
        self
    }

    /// Sets `servicefile`, the per-user service file (default
    /// `~/.pg_service.conf`, or PGSERVICEFILE).
    pub fn service_file(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.service_file = Some(path.as_ref().to_path_buf());
        self
    }

    /// Adds a startup parameter sent to the server, e.g. `("search_path", "app")`
    /// or `("DateStyle", "ISO")`. A later value for the same name replaces an
    /// earlier one. `user`, `database`, `options`, `application_name` and
    /// `replication` are reserved: [`Config::validate`] rejects them.
    pub fn param(&mut self, name: &str, value: &str) -> &mut Self {
        match self.params.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.to_owned(),
            None => self.params.push((name.to_owned(), value.to_owned())),
        }
        self
    }

    /// Sets an option by its libpq keyword, parsing `value` as a connection
    /// string would (`set_option("sslmode", "require")`). An empty value
    /// unsets the option.
    pub fn set_option(&mut self, keyword: &str, value: &str) -> Result<&mut Self, ConfigError> {
        self.set_by_name(keyword, value)?;
        Ok(self)
    }
}

/// Getters. An unset option reads as libpq's default where it has one.
impl Config {
    /// The hosts, in order (empty when none was given).
    pub fn get_hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The host addresses, in order.
    pub fn get_hostaddrs(&self) -> &[IpAddr] {
        &self.hostaddrs
    }

    /// The ports, in order (empty when none was given: 5432 applies).
    pub fn get_ports(&self) -> &[u16] {
        &self.ports
    }

    /// The user name.
    pub fn get_user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The password given explicitly (not from `.pgpass`).
    pub fn get_password(&self) -> Option<&[u8]> {
        self.password.as_deref()
    }

    /// The database name.
    pub fn get_dbname(&self) -> Option<&str> {
        self.dbname.as_deref()
    }

    /// `application_name`.
    pub fn get_application_name(&self) -> Option<&str> {
        self.application_name.as_deref()
    }

    /// `fallback_application_name`.
    pub fn get_fallback_application_name(&self) -> Option<&str> {
        self.fallback_application_name.as_deref()
    }

    /// `options`.
    pub fn get_options(&self) -> Option<&str> {
        self.options.as_deref()
    }

    /// The connect timeout; `None` when unset or zero (no limit).
    pub fn get_connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout.filter(|t| !t.is_zero())
    }

    /// Whether TCP keepalives are on (default true).
    pub fn get_keepalives(&self) -> bool {
        self.keepalives.unwrap_or(true)
    }

    /// `keepalives_idle`; `None` means the OS default.
    pub fn get_keepalives_idle(&self) -> Option<Duration> {
        self.keepalives_idle
    }

    /// `keepalives_interval`; `None` means the OS default.
    pub fn get_keepalives_interval(&self) -> Option<Duration> {
        self.keepalives_interval
    }

    /// `keepalives_count`; `None` means the OS default.
    pub fn get_keepalives_count(&self) -> Option<u32> {
        self.keepalives_count
    }

    /// `tcp_user_timeout`; `None` means the OS default.
    pub fn get_tcp_user_timeout(&self) -> Option<Duration> {
        self.tcp_user_timeout
    }

    /// The TLS mode: as set, else `verify-full` when `sslrootcert=system`,
    /// else `prefer`.
    pub fn get_ssl_mode(&self) -> SslMode {
        match (self.ssl_mode, &self.ssl_root_cert) {
            (Some(mode), _) => mode,
            (None, Some(SslRootCert::System)) => SslMode::VerifyFull,
            (None, _) => SslMode::Prefer,
        }
    }

    /// Whether `sslmode` was given (rather than defaulted).
    pub fn is_ssl_mode_set(&self) -> bool {
        self.ssl_mode.is_some()
    }

    /// `sslrootcert`; `None` means the connection layer's default
    /// (`~/.postgresql/root.crt` in libpq).
    pub fn get_ssl_root_cert(&self) -> Option<&SslRootCert> {
        self.ssl_root_cert.as_ref()
    }

    /// `sslcert`; `None` means the connection layer's default.
    pub fn get_ssl_cert(&self) -> Option<&Path> {
        self.ssl_cert.as_deref()
    }

    /// `sslkey`; `None` means the connection layer's default.
    pub fn get_ssl_key(&self) -> Option<&Path> {
        self.ssl_key.as_deref()
    }

    /// Whether SNI is sent (default true).
    pub fn get_ssl_sni(&self) -> bool {
        self.ssl_sni.unwrap_or(true)
    }

    /// `sslnegotiation` (default `postgres`).
    pub fn get_ssl_negotiation(&self) -> SslNegotiation {
        self.ssl_negotiation.unwrap_or_default()
    }

    /// `channel_binding` (default `prefer`).
    pub fn get_channel_binding(&self) -> ChannelBindingMode {
        self.channel_binding.unwrap_or_default()
    }

    /// `require_auth` (default: every method allowed).
    pub fn get_require_auth(&self) -> RequireAuth {
        self.require_auth.unwrap_or_default()
    }

    /// `min_protocol_version` (default 3.0).
    pub fn get_min_protocol_version(&self) -> ProtocolVersionSetting {
        self.min_protocol_version.unwrap_or_default()
    }

    /// `max_protocol_version` (default 3.0).
    pub fn get_max_protocol_version(&self) -> ProtocolVersionSetting {
        self.max_protocol_version.unwrap_or_default()
    }

    /// `target_session_attrs` (default `any`).
    pub fn get_target_session_attrs(&self) -> TargetSessionAttrs {
        self.target_session_attrs.unwrap_or_default()
    }

    /// `load_balance_hosts` (default `disable`).
    pub fn get_load_balance_hosts(&self) -> LoadBalanceHosts {
        self.load_balance_hosts.unwrap_or_default()
    }

    /// The password file; set by [`Config::resolve`] to PGPASSFILE or
    /// `~/.pgpass` when not given.
    pub fn get_passfile(&self) -> Option<&Path> {
        self.passfile.as_deref()
    }

    /// The service name.
    pub fn get_service(&self) -> Option<&str> {
        self.service.as_deref()
    }

    /// The per-user service file (`servicefile`).
    pub fn get_service_file(&self) -> Option<&Path> {
        self.service_file.as_deref()
    }

    /// Extra startup parameters, in the order first given.
    pub fn get_params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The parameters of the StartupMessage, in order: `user`, `database`,
    /// `application_name` (or the fallback), `options`, then the extra
    /// parameters. Unset ones are left out.
    pub fn startup_params(&self) -> Vec<(&str, &str)> {
        let mut out = Vec::with_capacity(4 + self.params.len());
        if let Some(user) = &self.user {
            out.push(("user", user.as_str()));
        }
        if let Some(db) = &self.dbname {
            out.push(("database", db.as_str()));
        }
        if let Some(app) = self
            .application_name
            .as_ref()
            .or(self.fallback_application_name.as_ref())
        {
            out.push(("application_name", app.as_str()));
        }
        if let Some(options) = &self.options {
            out.push(("options", options.as_str()));
        }
        out.extend(self.params.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        out
    }
}

impl FromStr for Config {
    type Err = ConfigError;

    /// Parses a `postgres://` / `postgresql://` URL or a key=value string.
    /// Fails when the host and port lists are both given and cannot be paired.
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let s = s.trim();
        let config = match url::scheme(s) {
            Some(_) => url::parse(s)?,
            None => key_value::parse(s)?,
        };
        if !config.hosts.is_empty() || !config.hostaddrs.is_empty() {
            config.target_count()?;
        }
        Ok(config)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("hosts", &self.hosts)
            .field("hostaddrs", &self.hostaddrs)
            .field("ports", &self.ports)
            .field("client", &self.client)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| Redacted))
            .field("dbname", &self.dbname)
            .field("application_name", &self.application_name)
            .field("fallback_application_name", &self.fallback_application_name)
            .field("options", &self.options)
            .field("connect_timeout", &self.connect_timeout)
            .field("keepalives", &self.keepalives)
            .field("keepalives_idle", &self.keepalives_idle)
            .field("keepalives_interval", &self.keepalives_interval)
            .field("keepalives_count", &self.keepalives_count)
            .field("tcp_user_timeout", &self.tcp_user_timeout)
            .field("ssl_mode", &self.ssl_mode)
            .field("ssl_root_cert", &self.ssl_root_cert)
            .field("ssl_cert", &self.ssl_cert)
            .field("ssl_key", &self.ssl_key)
            .field("ssl_sni", &self.ssl_sni)
            .field("ssl_negotiation", &self.ssl_negotiation)
            .field("channel_binding", &self.channel_binding)
            .field("require_auth", &self.require_auth)
            .field("min_protocol_version", &self.min_protocol_version)
            .field("max_protocol_version", &self.max_protocol_version)
            .field("target_session_attrs", &self.target_session_attrs)
            .field("load_balance_hosts", &self.load_balance_hosts)
            .field("passfile", &self.passfile)
            .field("service", &self.service)
            .field("service_file", &self.service_file)
            .field("params", &self.params)
            .finish()
    }
}

/// Stands in for a secret in `Debug` output.
pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests;
