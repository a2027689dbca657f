//! Opening a connection: hosts in order (or shuffled), TLS negotiation per
//! `sslmode`, the startup exchange, the role check of
//! `target_session_attrs`, then the driver task.
//!
//! Owns libpq's connection-establishment rules and [`Connector`], the public
//! way to connect to every host of a [`Config`] or to one of them. Each
//! host, and each address a host name resolves to, is tried in turn;
//! `connect_timeout` bounds each address; `sslmode=allow` retries with TLS
//! after a plain attempt fails, `prefer` retries without TLS after a TLS
//! attempt fails; `sslnegotiation=direct` starts TLS at once with ALPN.
//! Unix-domain sockets never use TLS (as in libpq). Which server is taken,
//! and where a failure goes next, are the pure decisions of
//! `host_choice.rs`; this file does the I/O they call for.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::config::{
    ChannelBindingMode, Config, ConfigError, Host, LoadBalanceHosts, ProtocolVersionSetting,
    RequireAuth, SslMode, SslNegotiation, Target,
};
use crate::conn::client::handle::{Client, ClientInner};
use crate::conn::client::row::SimpleQueryMessage;
use crate::conn::engine::driver::Driver;
use crate::conn::engine::io::Io;
use crate::conn::engine::low_water::LowWater;
use crate::conn::engine::shared::{Limits, Shared};
use crate::conn::transport::cancel::{CancelToken, Peer, TlsMode};
use crate::conn::transport::host_choice::{
    self, HostRng, Next, Pass, Rejection, Stage, Verdict, after_failure, judge, next_pass,
    read_answer,
};
use crate::conn::transport::socket::{Keepalive, Socket};
use crate::conn::transport::tls::{self, TlsOptions};
use crate::error::{DbError, Error, ErrorKind, SqlState};
use crate::proto::backend::SslResponse;
use crate::proto::frontend::{self, ProtocolVersion};
use crate::proto::startup::{
    AllowedAuth, ChannelBindingPolicy, Progress, Startup, StartupError, StartupOptions,
    StartupOutcome,
};
use crate::proto::{BackendMessage, DEFAULT_MAX_MESSAGE_LEN, FrameSplitter, ProtoError};

/// Connects using a connection string (URL or key=value), applying the PG*
/// environment variables, the service file and `.pgpass` as libpq does.
///
/// ```no_run
/// # async fn run() -> Result<(), pgline::Error> {
/// let client = pgline::connect("postgres://app@localhost/app").await?;
/// let row = client.query_one("SELECT $1::int4 + 1", &[&41i32]).await?;
/// assert_eq!(row.get::<i32>(0)?, 42);
/// # Ok(()) }
/// ```
pub async fn connect(conninfo: &str) -> Result<Client, Error> {
    let config: Config = conninfo.parse().map_err(config_error)?;
    config.connect().await
}

impl Config {
    /// Connects with this configuration, after applying the PG*
    /// environment, the service file and `.pgpass` (see
    /// [`Config::resolve`]), trying its hosts by libpq's rules (see
    /// [`Connector`]).
    pub async fn connect(&self) -> Result<Client, Error> {
        connect_config(self, None, None).await
    }

    /// Connects to host number `index` (from 0) of this configuration's
    /// host list ([`Config::targets`] after the environment and service
    /// file are applied), as if it were the only host: its addresses are
    /// tried in turn and `target_session_attrs` still applies to it (set
    /// `any` to take the server whatever its role). An index past the end
    /// is an [`ErrorKind::Config`] error.
    pub async fn connect_host(&self, index: usize) -> Result<Client, Error> {
        connect_config(self, Some(index), None).await
    }
}

/// Opens connections with a [`Config`]: to its whole host list by libpq's
/// multi-host rules, or bound to one of its hosts.
///
/// Cheap to clone; clones share the random generator of
/// `load_balance_hosts=random`, which [`Connector::seed`] makes
/// reproducible. A pool opens its connections through one (see
/// `pgline::pool::Connect`), so a pool bound with [`Connector::for_host`]
/// serves one host.
///
/// The rules, as libpq 16 applies them:
///
/// - Hosts are tried in order, each host's addresses in the order the
///   resolver gave; with `load_balance_hosts=random` the host list is
///   shuffled once per connect, and each host's addresses each time the
///   host is tried.
/// - `connect_timeout` bounds each address (socket, TLS, startup and role
///   check together); when it runs out, the next address is tried. It
///   also bounds resolving each host name (which libpq leaves unbounded);
///   a name that cannot be resolved moves on to the next host.
/// - A socket that cannot be opened moves on to the next address. A server
///   that answers 57P03 (cannot connect now) moves on to the next host.
///   Any other failure once a socket is open (a server error such as a
///   wrong password or an unknown database, TLS or protocol failures, the
///   connection dropping) ends the connect with that error: the remaining
///   hosts are not tried.
/// - `target_session_attrs` judges each server by its `in_hot_standby` and
///   `default_transaction_read_only` parameters, which PostgreSQL 14 and
///   later report at startup (no extra round trip); on older servers it
///   asks `SHOW transaction_read_only` (read-write, read-only) or
///   `SELECT pg_catalog.pg_is_in_recovery()` (primary, standby,
///   prefer-standby), and a query that fails or returns no row rejects the
///   host. `read-only` takes any read-only session (a standby, or
///   `default_transaction_read_only=on`); `standby` takes only servers in
///   recovery. A rejected server gets a Terminate and its host's other
///   addresses are skipped; its error is an [`ErrorKind::Io`] naming the
///   reason ("session is read-only", "server is not in hot standby mode").
/// - `prefer-standby` makes a second pass over the same host order,
///   accepting any server, when the first found no standby.
/// - When no host is taken, the error is the last host's.
#[derive(Debug, Clone)]
pub struct Connector {
    config: Config,
    host: Option<usize>,
    rng: Arc<HostRng>,
}

impl Connector {
    /// Connects to any of `config`'s hosts, by the rules above.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            host: None,
            rng: Arc::new(HostRng::from_os()),
        }
    }

    /// Connects only to host number `index` (from 0) of `config`, as
    /// [`Config::connect_host`] does.
    pub fn for_host(config: Config, index: usize) -> Self {
        Self {
            host: Some(index),
            ..Self::new(config)
        }
    }

    /// Seeds the generator behind `load_balance_hosts=random`, so the same
    /// seed gives the same sequence of host and address orders.
    pub fn seed(mut self, seed: u64) -> Self {
        self.rng = Arc::new(HostRng::with_seed(seed));
        self
    }

    /// The configuration connections are made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The host this connector is bound to, if any.
    pub fn host_index(&self) -> Option<usize> {
        self.host
    }

    /// The hosts to try, after the environment and service file: one for
    /// a connector bound to a host.
    pub fn targets(&self) -> Result<Vec<Target>, Error> {
        let resolved = resolve_config(&self.config)?;
        select_targets(&resolved, self.host)
    }

    /// Opens a connection.
    pub async fn connect(&self) -> Result<Client, Error> {
        connect_config(&self.config, self.host, Some(&self.rng)).await
    }
}

pub(crate) fn config_error(e: ConfigError) -> Error {
    Error::with_source(ErrorKind::Config, None, e)
}

fn resolve_config(config: &Config) -> Result<Config, Error> {
    let env = |name: &str| std::env::var(name).ok();
    config.resolve(&env).map_err(config_error)
}

fn select_targets(config: &Config, host: Option<usize>) -> Result<Vec<Target>, Error> {
    let mut targets = config.targets().map_err(config_error)?;
    match host {
        None => Ok(targets),
        Some(index) if index < targets.len() => Ok(vec![targets.swap_remove(index)]),
        Some(index) => Err(Error::msg(
            ErrorKind::Config,
            format!(
                "host index {index} is out of range: the configuration lists {} host(s)",
                targets.len()
            ),
        )),
    }
}

async fn connect_config(
    config: &Config,
    host: Option<usize>,
    rng: Option<&HostRng>,
) -> Result<Client, Error> {
    let resolved = resolve_config(config)?;
    let targets = select_targets(&resolved, host)?;
    match (resolved.get_load_balance_hosts(), rng) {
        (LoadBalanceHosts::Disable, _) => connect_resolved(&resolved, targets, None).await,
        (LoadBalanceHosts::Random, Some(rng)) => {
            connect_resolved(&resolved, targets, Some(rng)).await
        }
        (LoadBalanceHosts::Random, None) => {
            let rng = HostRng::from_os();
            connect_resolved(&resolved, targets, Some(&rng)).await
        }
    }
}

/// Settings shared by every attempt of one `connect` call.
struct Plan<'a> {
    config: &'a Config,
    tls_options: TlsOptions,
    tls_config: Option<Arc<rustls::ClientConfig>>,
    keepalive: Keepalive,
}

/// A failed attempt and where the walk goes next.
struct Failed {
    error: Error,
    next: Next,
}

impl Failed {
    fn at(stage: Stage, error: Error) -> Self {
        // The server's own code only (not the 08007 an outcome-unknown
        // error reports): a lost connection is not the server refusing.
        let next = after_failure(stage, error.as_db_error().map(DbError::code));
        Self { error, next }
    }
}

/// One address of a host.
enum Dial {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

async fn connect_resolved(
    config: &Config,
    mut targets: Vec<Target>,
    rng: Option<&HostRng>,
) -> Result<Client, Error> {
    let mode = config.get_ssl_mode();
    if config.get_ssl_negotiation() == SslNegotiation::Direct
        && matches!(mode, SslMode::Disable | SslMode::Allow | SslMode::Prefer)
    {
        return Err(Error::msg(
            ErrorKind::Config,
            "sslnegotiation=direct needs sslmode=require, verify-ca or verify-full",
        ));
    }
    let tls_options = TlsOptions {
        mode,
        root_cert: config.get_ssl_root_cert().cloned(),
        client_cert: config.get_ssl_cert().map(Into::into),
        client_key: config.get_ssl_key().map(Into::into),
        sni: config.get_ssl_sni(),
    };
    let needs_tls =
        mode != SslMode::Disable && targets.iter().any(|t| matches!(t.host, Host::Tcp(_)));
    let tls_config = if needs_tls {
        Some(tls::client_config(&tls_options)?)
    } else {
        None
    };
    let plan = Plan {
        config,
        tls_options,
        tls_config,
        keepalive: Keepalive {
            enabled: config.get_keepalives(),
            idle: config.get_keepalives_idle(),
            interval: config.get_keepalives_interval(),
            retries: config.get_keepalives_count(),
            user_timeout: config.get_tcp_user_timeout(),
        },
    };
    if let Some(rng) = rng {
        rng.shuffle(&mut targets);
    }
    let attrs = config.get_target_session_attrs();
    let mut pass = Pass::First;
    let mut last_error = None;
    loop {
        for target in &targets {
            let attempt = connect_host(&plan, target, pass, rng);
            let result = match config.get_hooks().connects() {
                None => attempt.await,
                Some(hooks) => Box::pin(observe_connect(hooks, config, target, attempt)).await,
            };
            match result {
                Ok(client) => return Ok(client),
                Err(failed) => {
                    tracing::debug!(error = %failed.error, "connection attempt failed");
                    if failed.next == Next::Stop {
                        return Err(failed.error);
                    }
                    last_error = Some(failed.error);
                }
            }
        }
        match next_pass(attrs, pass) {
            Some(next) => pass = next,
            None => break,
        }
    }
    Err(last_error.unwrap_or_else(|| Error::msg(ErrorKind::Config, "no host to connect to")))
}

/// Runs one host attempt between the connect hooks' start and end.
async fn observe_connect(
    hooks: &[Arc<dyn crate::observe::ConnectHook>],
    config: &Config,
    target: &Target,
    attempt: impl Future<Output = Result<Client, Failed>>,
) -> Result<Client, Failed> {
    use crate::observe::{ConnectEnd, ConnectStart, Pending};
    let host = target_host(target);
    let host = host.as_str();
    let port = target.port;
    let namespace = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or_default();
    let start = ConnectStart {
        host,
        port,
        namespace,
    };
    let pending = Pending::start(hooks, |h| h.connect_start(&start));
    let result = attempt.await;
    let (backend_pid, error) = match &result {
        Ok(client) => (Some(client.backend_pid()), None),
        Err(failed) => (None, Some(&failed.error)),
    };
    pending.end(hooks, |h, data, elapsed| {
        h.connect_end(
            data,
            &ConnectEnd {
                host,
                port,
                namespace,
                elapsed,
                backend_pid,
                role_accepted: result.is_ok(),
                error,
            },
        )
    });
    result
}

/// Tries one host's addresses in turn. An `Err` is either
/// [`Next::Stop`] or a failure after which the next host is due.
async fn connect_host(
    plan: &Plan<'_>,
    target: &Target,
    pass: Pass,
    rng: Option<&HostRng>,
) -> Result<Client, Failed> {
    let mut dials = match &target.host {
        Host::Unix(dir) => vec![Dial::Unix(dir.clone())],
        Host::Tcp(name) => {
            // libpq does not bound name resolution; connect_timeout bounds
            // it here too, so a hung resolver cannot hang the connect.
            let found = match plan.config.get_connect_timeout() {
                Some(limit) => tokio::time::timeout(limit, resolve(target, name))
                    .await
                    .unwrap_or_else(|_| {
                        Err(Error::msg(
                            ErrorKind::Timeout,
                            format!(
                                "resolving \"{name}\" timed out after {}s (connect_timeout)",
                                limit.as_secs_f64()
                            ),
                        ))
                    }),
                None => resolve(target, name).await,
            };
            found.map_err(|error| Failed {
                error,
                next: Next::Host,
            })?
        }
    };
    if let Some(rng) = rng {
        rng.shuffle(&mut dials);
    }
    let mut last = None;
    for dial in &dials {
        let attempt = connect_checked(plan, target, dial, pass);
        let result = match plan.config.get_connect_timeout() {
            Some(limit) => tokio::time::timeout(limit, attempt)
                .await
                .unwrap_or_else(|_| {
                    Err(Failed::at(
                        Stage::Timeout,
                        Error::msg(
                            ErrorKind::Timeout,
                            format!(
                                "connecting to {} timed out after {}s (connect_timeout)",
                                describe_dial(target, dial),
                                limit.as_secs_f64()
                            ),
                        ),
                    ))
                }),
            None => attempt.await,
        };
        match result {
            Ok(client) => return Ok(client),
            Err(failed) if failed.next == Next::Address => last = Some(failed.error),
            Err(failed) => return Err(failed),
        }
    }
    Err(Failed {
        error: last.unwrap_or_else(|| {
            Error::msg(
                ErrorKind::Io,
                format!("{} resolved to no address", describe(target)),
            )
        }),
        next: Next::Host,
    })
}

/// One address: connect, then judge the server by `target_session_attrs`.
async fn connect_checked(
    plan: &Plan<'_>,
    target: &Target,
    dial: &Dial,
    pass: Pass,
) -> Result<Client, Failed> {
    let client = match dial {
        Dial::Unix(dir) => {
            let peer = Peer::Unix {
                dir: dir.clone(),
                port: target.port,
            };
            let socket = Socket::unix(dir, target.port)
                .await
                .map_err(|e| Failed::at(Stage::Socket, io_error(target, None, e)))?;
            finish(plan, Socket::Unix(socket), peer, None)
                .await
                .map_err(|e| Failed::at(Stage::Startup, e))?
        }
        Dial::Tcp(addr) => connect_addr(plan, target, &target_host(target), *addr).await?,
    };
    check_role(plan.config, client, pass, &describe_dial(target, dial)).await
}

/// Applies `target_session_attrs` to a connected server, running libpq's
/// check query when the server did not report its role.
async fn check_role(
    config: &Config,
    client: Client,
    pass: Pass,
    place: &str,
) -> Result<Client, Failed> {
    let attrs = config.get_target_session_attrs();
    let pre_9_0 = host_choice::before_9_0(client.parameter("server_version").as_deref());
    let mut role = client.server_role();
    loop {
        let check = match judge(attrs, pass, role, pre_9_0) {
            Verdict::Accept => return Ok(client),
            Verdict::Reject(why) => return Err(reject(client, why, place)),
            Verdict::Ask(check) => check,
        };
        // Only connect_timeout bounds the check, as in libpq.
        match client.without_timeout().simple_query(check.sql()).await {
            Ok(messages) => {
                let rows: Vec<_> = messages
                    .iter()
                    .filter_map(|m| match m {
                        SimpleQueryMessage::Row(row) => Some(row),
                        _ => None,
                    })
                    .collect();
                let value = rows.first().and_then(|row| row.get(0));
                match read_answer(check, role, rows.len(), value) {
                    Ok(answered) => role = answered,
                    Err(why) => return Err(reject(client, why, place)),
                }
            }
            Err(e) => {
                let failed = Failed::at(Stage::Check, e);
                if failed.next == Next::Host {
                    tracing::debug!(error = %failed.error, "{}", Rejection::CheckFailed(check));
                }
                return Err(failed);
            }
        }
    }
}

/// Closes a rejected connection politely (dropping the last handle sends
/// Terminate) and says why it was rejected.
fn reject(client: Client, why: Rejection, place: &str) -> Failed {
    drop(client);
    Failed {
        error: Error::with_source(
            ErrorKind::Io,
            Some(format!("connection to {place} failed")),
            why,
        ),
        next: Next::Host,
    }
}

fn describe(target: &Target) -> String {
    match &target.host {
        Host::Tcp(name) if name.contains(':') => format!("[{name}]:{}", target.port),
        Host::Tcp(name) => format!("{name}:{}", target.port),
        Host::Unix(dir) => format!("{}/.s.PGSQL.{}", dir.display(), target.port),
    }
}

fn describe_dial(target: &Target, dial: &Dial) -> String {
    match dial {
        Dial::Tcp(addr) if addr.ip().to_string() != target_host(target) => {
            format!("{} ({addr})", describe(target))
        }
        _ => describe(target),
    }
}

fn io_error(target: &Target, addr: Option<SocketAddr>, e: std::io::Error) -> Error {
    let place = match addr {
        Some(addr) => describe_dial(target, &Dial::Tcp(addr)),
        None => describe(target),
    };
    Error::with_source(
        ErrorKind::Io,
        Some(format!("connection to {place} failed")),
        e,
    )
}

fn target_host(target: &Target) -> String {
    match &target.host {
        Host::Tcp(name) => name.clone(),
        Host::Unix(dir) => dir.display().to_string(),
    }
}

async fn resolve(target: &Target, name: &str) -> Result<Vec<Dial>, Error> {
    if let Some(ip) = target.hostaddr {
        return Ok(vec![Dial::Tcp(SocketAddr::new(ip, target.port))]);
    }
    let found = tokio::net::lookup_host((name, target.port))
        .await
        .map_err(|e| {
            Error::with_source(
                ErrorKind::Io,
                Some(format!("could not resolve host name \"{name}\"")),
                e,
            )
        })?;
    Ok(found.map(Dial::Tcp).collect())
}

/// Whether a failed startup should be retried with the other TLS choice
/// (`sslmode=allow` / `prefer`): a server error other than 57P03, which
/// moves on to the next host first, as in libpq.
fn retry_other_tls(e: &Error, tls_failure_too: bool) -> bool {
    match e.kind() {
        ErrorKind::Db => e.code() != Some(&SqlState::CANNOT_CONNECT_NOW),
        ErrorKind::Tls => tls_failure_too,
        _ => false,
    }
}

/// One TCP address, with libpq's TLS negotiation and fallbacks.
async fn connect_addr(
    plan: &Plan<'_>,
    target: &Target,
    host: &str,
    addr: SocketAddr,
) -> Result<Client, Failed> {
    let tcp = || async {
        Socket::tcp(addr, &plan.keepalive)
            .await
            .map_err(|e| Failed::at(Stage::Socket, io_error(target, Some(addr), e)))
    };
    let startup = |e: Error| Failed::at(Stage::Startup, e);
    let peer = || Peer::Tcp {
        addr,
        host: host.to_owned(),
    };
    let mode = plan.tls_options.mode;
    if plan.config.get_ssl_negotiation() == SslNegotiation::Direct {
        let stream = tcp().await?;
        let result = async {
            let socket = start_tls(plan, host, stream, true).await?;
            finish_tls(plan, socket, peer(), true).await
        };
        return result.await.map_err(startup);
    }
    match mode {
        SslMode::Disable => {
            let stream = tcp().await?;
            finish(plan, Socket::Tcp(stream), peer(), None)
                .await
                .map_err(startup)
        }
        SslMode::Allow => {
            let stream = tcp().await?;
            match finish(plan, Socket::Tcp(stream), peer(), None).await {
                Err(e) if retry_other_tls(&e, false) => {
                    let mut stream = tcp().await?;
                    let result = async {
                        if !ssl_request(&mut stream, target).await? {
                            return Err(e);
                        }
                        let socket = start_tls(plan, host, stream, false).await?;
                        finish_tls(plan, socket, peer(), false).await
                    };
                    result.await.map_err(startup)
                }
                other => other.map_err(startup),
            }
        }
        SslMode::Prefer => {
            let mut stream = tcp().await?;
            if !ssl_request(&mut stream, target).await.map_err(startup)? {
                return finish(plan, Socket::Tcp(stream), peer(), None)
                    .await
                    .map_err(startup);
            }
            let over_tls = async {
                let socket = start_tls(plan, host, stream, false).await?;
                finish_tls(plan, socket, peer(), false).await
            };
            match over_tls.await {
                Err(e) if retry_other_tls(&e, true) => {
                    tracing::debug!(error = %e, "TLS attempt failed; retrying without TLS (sslmode=prefer)");
                    let stream = tcp().await?;
                    finish(plan, Socket::Tcp(stream), peer(), None)
                        .await
                        .map_err(startup)
                }
                other => other.map_err(startup),
            }
        }
        _ => {
            let mut stream = tcp().await?;
            let result = async {
                if !ssl_request(&mut stream, target).await? {
                    return Err(Error::msg(
                        ErrorKind::Tls,
                        format!(
                            "the server at {} does not support TLS, but sslmode={} requires it",
                            describe(target),
                            mode.as_str()
                        ),
                    ));
                }
                let socket = start_tls(plan, host, stream, false).await?;
                finish_tls(plan, socket, peer(), false).await
            };
            result.await.map_err(startup)
        }
    }
}

/// Sends SSLRequest; `true` when the server answered 'S'.
async fn ssl_request(stream: &mut tokio::net::TcpStream, target: &Target) -> Result<bool, Error> {
    let io = |e| io_error(target, None, e);
    let mut request = BytesMut::new();
    frontend::ssl_request(&mut request);
    stream.write_all(&request).await.map_err(io)?;
    // Exactly one byte: anything the server sends after 'S' and before the
    // handshake must not be taken as TLS-protected data.
    match SslResponse::parse(stream.read_u8().await.map_err(io)?) {
        Ok(SslResponse::Accepted) => Ok(true),
        Ok(SslResponse::Refused) => Ok(false),
        Err(e) => Err(Error::with_source(
            ErrorKind::Protocol,
            Some(format!("connecting to {}", describe(target))),
            e,
        )),
    }
}

async fn start_tls(
    plan: &Plan<'_>,
    host: &str,
    stream: tokio::net::TcpStream,
    direct: bool,
) -> Result<Socket, Error> {
    let config = plan
        .tls_config
        .clone()
        .ok_or_else(|| Error::msg(ErrorKind::Tls, "TLS is disabled by sslmode"))?;
    let tls_stream = tls::handshake(config, host, stream).await?;
    if direct {
        let alpn = tls_stream.get_ref().1.alpn_protocol();
        if alpn != Some(tls::ALPN_POSTGRESQL) {
            return Err(Error::msg(
                ErrorKind::Tls,
                "the server did not select the \"postgresql\" ALPN protocol for direct TLS",
            ));
        }
    }
    Ok(Socket::Tls(Box::new(tls_stream)))
}

async fn finish_tls(
    plan: &Plan<'_>,
    socket: Socket,
    peer: Peer,
    direct: bool,
) -> Result<Client, Error> {
    let mode = plan
        .tls_config
        .clone()
        .map(|config| TlsMode { config, direct });
    finish(plan, socket, peer, mode).await
}

fn startup_options(config: &Config, socket: &Socket) -> StartupOptions {
    let mut parameters = Vec::new();
    if let Some(db) = config.get_dbname() {
        parameters.push(("database".to_owned(), db.to_owned()));
    }
    if let Some(app) = config
        .get_application_name()
        .or(config.get_fallback_application_name())
    {
        parameters.push(("application_name".to_owned(), app.to_owned()));
    }
    if let Some(options) = config.get_options() {
        parameters.push(("options".to_owned(), options.to_owned()));
    }
    parameters.push(("client_encoding".to_owned(), "UTF8".to_owned()));
    for (name, value) in config.get_params() {
        parameters.push((name.to_owned(), value.to_owned()));
    }
    let server_certificate = match socket {
        Socket::Tls(stream) => tls::peer_certificate(stream),
        _ => None,
    };
    StartupOptions {
        user: config.get_user().unwrap_or_default().to_owned(),
        password: None,
        parameters,
        max_protocol: protocol_version(config.get_max_protocol_version()),
        min_protocol: protocol_version(config.get_min_protocol_version()),
        allowed_auth: allowed_auth(config.get_require_auth()),
        channel_binding: channel_binding(config.get_channel_binding()),
        tls: socket.is_tls(),
        server_certificate,
        scram_nonce: None,
    }
}

fn protocol_version(setting: ProtocolVersionSetting) -> ProtocolVersion {
    match setting {
        ProtocolVersionSetting::V3_0 => ProtocolVersion::V3_0,
        ProtocolVersionSetting::V3_2 | ProtocolVersionSetting::Latest => ProtocolVersion::V3_2,
    }
}

fn allowed_auth(require: RequireAuth) -> AllowedAuth {
    use crate::config::AuthMethod as C;
    use crate::proto::startup::AuthMethod as P;
    let pairs = [
        (C::None, P::None),
        (C::Password, P::Password),
        (C::Md5, P::Md5),
        (C::ScramSha256, P::ScramSha256),
        (C::Gss, P::Gss),
        (C::Sspi, P::Sspi),
    ];
    AllowedAuth::only(
        pairs
            .into_iter()
            .filter(|(c, _)| require.allows(*c))
            .map(|(_, p)| p),
    )
}

fn channel_binding(mode: ChannelBindingMode) -> ChannelBindingPolicy {
    match mode {
        ChannelBindingMode::Disable => ChannelBindingPolicy::Disable,
        ChannelBindingMode::Prefer => ChannelBindingPolicy::Prefer,
        ChannelBindingMode::Require => ChannelBindingPolicy::Require,
    }
}

/// Runs the startup exchange on a connected socket and starts the driver.
async fn finish(
    plan: &Plan<'_>,
    mut socket: Socket,
    peer: Peer,
    tls: Option<TlsMode>,
) -> Result<Client, Error> {
    let mut options = startup_options(plan.config, &socket);
    let target = match &peer {
        Peer::Tcp { addr, host } => Target {
            host: Host::Tcp(host.clone()),
            port: addr.port(),
            hostaddr: Some(addr.ip()),
        },
        Peer::Unix { dir, port } => Target {
            host: Host::Unix(dir.clone()),
            port: *port,
            hostaddr: None,
        },
    };
    options.password = plan.config.password_for(&target);
    let splitter = FrameSplitter::new(DEFAULT_MAX_MESSAGE_LEN);
    let (outcome, read_buf) = run_startup(&mut socket, options, &splitter)
        .await
        .map_err(|e| startup_error(e, &describe(&target)))?;
    let StartupOutcome {
        protocol,
        parameters,
        backend_key,
        transaction_status,
        ..
    } = outcome;
    let config = plan.config;
    let mut server = crate::observe::ServerInfo::new(
        &target_host(&target),
        target.port,
        config
            .get_dbname()
            .or(config.get_user())
            .unwrap_or_default(),
    );
    server.backend_pid = backend_key.as_ref().map_or(0, |k| k.process_id);
    let shared = Arc::new(Shared::new(
        parameters,
        transaction_status,
        Limits {
            max_in_flight: config.get_max_in_flight(),
            max_write_buffer: config.get_max_write_buffer(),
            statement_cache_capacity: config.get_statement_cache_capacity(),
        },
    ));
    let (done_tx, done_rx) = watch::channel(false);
    let low_water = LowWater::new(
        &socket,
        config.get_coalesce_replies(),
        config.get_coalesce_large_results(),
    );
    let driver = Driver::new(
        socket,
        read_buf,
        splitter,
        shared.clone(),
        done_tx,
        low_water,
    );
    let io = Io::new(driver);
    shared.set_io(&io);
    let task = tracing::info_span!(
        target: "pgline",
        "pgline.connection",
        server.address = &*server.address,
        server.port = server.port,
        db.namespace = &*server.namespace,
        pgline.backend_pid = server.backend_pid,
    );
    tokio::spawn(tracing::Instrument::instrument(io.run(), task));
    let inner = ClientInner {
        shared,
        driver_done: done_rx,
        cancel: CancelToken {
            peer,
            tls,
            key: backend_key,
            connect_timeout: config.get_connect_timeout(),
            keepalive: plan.keepalive,
        },
        protocol,
        next_statement: AtomicU64::new(0),
        cache_mode: config.get_statement_cache_mode(),
        types: Default::default(),
        server,
    };
    Ok(Client::new(
        inner,
        config.get_query_timeout(),
        config.get_hooks().clone(),
    ))
}

enum StartupFailure {
    Io(std::io::Error),
    Closed,
    Startup(StartupError),
}

impl From<StartupError> for StartupFailure {
    fn from(e: StartupError) -> Self {
        Self::Startup(e)
    }
}

fn startup_error(failure: StartupFailure, place: &str) -> Error {
    let context = Some(format!("connecting to {place}"));
    match failure {
        StartupFailure::Io(e) => Error::with_source(ErrorKind::Io, context, e),
        // An EOF is an I/O failure like any other: its source is the
        // `io::Error` (UnexpectedEof) callers match on, as after startup.
        StartupFailure::Closed => Error::with_source(
            ErrorKind::Io,
            context,
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the connection during startup",
            ),
        ),
        StartupFailure::Startup(StartupError::Server(db)) => Error::db(*db),
        StartupFailure::Startup(e) => {
            let kind = match &e {
                // Every string the startup exchange sends (user, database,
                // options, password from the config or the password file)
                // is configuration: one the protocol cannot carry is the
                // configuration's fault, not the server's.
                StartupError::Protocol(
                    ProtoError::NulInString { .. } | ProtoError::ArgumentTooLong { .. },
                ) => ErrorKind::Config,
                StartupError::Protocol(_)
                | StartupError::UnexpectedMessage { .. }
                | StartupError::ProtocolVersionTooLow { .. }
                | StartupError::BadNegotiation(_)
                | StartupError::SecretKeyLength { .. }
                | StartupError::UnsupportedParameter(_)
                | StartupError::NotRunning => ErrorKind::Protocol,
                _ => ErrorKind::Auth,
            };
            Error::with_source(kind, context, e)
        }
    }
}

async fn run_startup(
    socket: &mut Socket,
    options: StartupOptions,
    splitter: &FrameSplitter,
) -> Result<(StartupOutcome, BytesMut), StartupFailure> {
    let mut machine = Startup::new(options);
    let mut out = BytesMut::with_capacity(256);
    machine.start(&mut out)?;
    let mut buf = BytesMut::with_capacity(8 * 1024);
    loop {
        if !out.is_empty() {
            socket.write_all(&out).await.map_err(StartupFailure::Io)?;
            socket.flush().await.map_err(StartupFailure::Io)?;
            out.clear();
        }
        let frame = loop {
            if let Some(frame) = splitter
                .split(&mut buf)
                .map_err(|e| StartupFailure::Startup(e.into()))?
            {
                break frame;
            }
            if socket
                .read_buf(&mut buf)
                .await
                .map_err(StartupFailure::Io)?
                == 0
            {
                return Err(StartupFailure::Closed);
            }
        };
        let message =
            BackendMessage::parse(frame).map_err(|e| StartupFailure::Startup(e.into()))?;
        if let Progress::Done(outcome) = machine.handle(message, &mut out)? {
            return Ok((outcome, buf));
        }
    }
}
