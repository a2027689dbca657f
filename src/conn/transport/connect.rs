//! Opening a connection: hosts in order, TLS negotiation per `sslmode`, the
//! startup exchange, then the driver task.
//!
//! Owns libpq's connection-establishment rules: each host (and each address
//! a host name resolves to) is tried in order until one succeeds;
//! `connect_timeout` bounds each host; `sslmode=allow` retries with TLS after
//! a plain attempt fails, `prefer` retries without TLS after a TLS attempt
//! fails; `sslnegotiation=direct` starts TLS at once with ALPN. Unix-domain
//! sockets never use TLS (as in libpq).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::config::{
    ChannelBindingMode, Config, ConfigError, Host, ProtocolVersionSetting, RequireAuth, SslMode,
    SslNegotiation, Target,
};
use crate::conn::client::handle::{Client, ClientInner};
use crate::conn::engine::driver::Driver;
use crate::conn::engine::io::Io;
use crate::conn::engine::low_water::LowWater;
use crate::conn::engine::shared::{Limits, Shared};
use crate::conn::transport::cancel::{CancelToken, Endpoint, TlsMode};
use crate::conn::transport::socket::{Keepalive, Socket};
use crate::conn::transport::tls::{self, TlsOptions};
use crate::error::{Error, ErrorKind};
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
    /// Connects with this configuration, after applying the PG* environment,
    /// the service file and `.pgpass` (see [`Config::resolve`]).
    pub async fn connect(&self) -> Result<Client, Error> {
        let env = |name: &str| std::env::var(name).ok();
        let resolved = self.resolve(&env).map_err(config_error)?;
        connect_resolved(&resolved).await
    }
}

pub(crate) fn config_error(e: ConfigError) -> Error {
    Error::with_source(ErrorKind::Config, None, e)
}

/// Settings shared by every attempt of one `connect` call.
struct Plan<'a> {
    config: &'a Config,
    tls_options: TlsOptions,
    tls_config: Option<Arc<rustls::ClientConfig>>,
    keepalive: Keepalive,
}

async fn connect_resolved(config: &Config) -> Result<Client, Error> {
    let targets = config.targets().map_err(config_error)?;
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
    let mut last_error = None;
    for target in &targets {
        match connect_target(&plan, target).await {
            Ok(client) => return Ok(client),
            Err(e) => {
                tracing::debug!(error = %e, "connection attempt failed");
                last_error = Some(e);
            }
        }
    }
    Err(last_error.unwrap_or_else(|| Error::msg(ErrorKind::Config, "no host to connect to")))
}

fn describe(target: &Target) -> String {
    match &target.host {
        Host::Tcp(name) if name.contains(':') => format!("[{name}]:{}", target.port),
        Host::Tcp(name) => format!("{name}:{}", target.port),
        Host::Unix(dir) => format!("{}/.s.PGSQL.{}", dir.display(), target.port),
    }
}

async fn connect_target(plan: &Plan<'_>, target: &Target) -> Result<Client, Error> {
    let attempt = async {
        match &target.host {
            Host::Unix(dir) => {
                let endpoint = Endpoint::Unix {
                    dir: dir.clone(),
                    port: target.port,
                };
                let socket = Socket::unix(dir, target.port)
                    .await
                    .map_err(|e| io_error(target, None, e))?;
                finish(plan, Socket::Unix(socket), endpoint, None).await
            }
            Host::Tcp(name) => {
                let addrs = resolve(target, name).await?;
                let mut last = None;
                for addr in addrs {
                    match connect_addr(plan, target, name, addr).await {
                        Ok(client) => return Ok(client),
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or_else(|| {
                    Error::msg(ErrorKind::Io, format!("{name} resolved to no address"))
                }))
            }
        }
    };
    match plan.config.get_connect_timeout() {
        Some(limit) => tokio::time::timeout(limit, attempt).await.map_err(|_| {
            Error::msg(
                ErrorKind::Timeout,
                format!(
                    "connecting to {} timed out after {}s (connect_timeout)",
                    describe(target),
                    limit.as_secs_f64()
                ),
            )
        })?,
        None => attempt.await,
    }
}

fn io_error(target: &Target, addr: Option<SocketAddr>, e: std::io::Error) -> Error {
    let place = match addr {
        Some(addr) if addr.ip().to_string() != target_host(target) => {
            format!("{} ({addr})", describe(target))
        }
        _ => describe(target),
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

async fn resolve(target: &Target, name: &str) -> Result<Vec<SocketAddr>, Error> {
    if let Some(ip) = target.hostaddr {
        return Ok(vec![SocketAddr::new(ip, target.port)]);
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
    Ok(found.collect())
}

/// One TCP address, with libpq's TLS negotiation and fallbacks.
async fn connect_addr(
    plan: &Plan<'_>,
    target: &Target,
    host: &str,
    addr: SocketAddr,
) -> Result<Client, Error> {
    let tcp = || async {
        Socket::tcp(addr, &plan.keepalive)
            .await
            .map_err(|e| io_error(target, Some(addr), e))
    };
    let endpoint = || Endpoint::Tcp {
        addr,
        host: host.to_owned(),
    };
    let mode = plan.tls_options.mode;
    if plan.config.get_ssl_negotiation() == SslNegotiation::Direct {
        let socket = start_tls(plan, host, tcp().await?, true).await?;
        return finish_tls(plan, socket, endpoint(), true).await;
    }
    match mode {
        SslMode::Disable => finish(plan, Socket::Tcp(tcp().await?), endpoint(), None).await,
        SslMode::Allow => match finish(plan, Socket::Tcp(tcp().await?), endpoint(), None).await {
            Err(e) if e.kind() == ErrorKind::Db => {
                let mut stream = tcp().await?;
                if !ssl_request(&mut stream, target).await? {
                    return Err(e);
                }
                let socket = start_tls(plan, host, stream, false).await?;
                finish_tls(plan, socket, endpoint(), false).await
            }
            other => other,
        },
        SslMode::Prefer => {
            let mut stream = tcp().await?;
            if !ssl_request(&mut stream, target).await? {
                return finish(plan, Socket::Tcp(stream), endpoint(), None).await;
            }
            let over_tls = match start_tls(plan, host, stream, false).await {
                Ok(socket) => finish_tls(plan, socket, endpoint(), false).await,
                Err(e) => Err(e),
            };
            match over_tls {
                Err(e) if matches!(e.kind(), ErrorKind::Db | ErrorKind::Tls) => {
                    tracing::debug!(error = %e, "TLS attempt failed; retrying without TLS (sslmode=prefer)");
                    finish(plan, Socket::Tcp(tcp().await?), endpoint(), None).await
                }
                other => other,
            }
        }
        _ => {
            let mut stream = tcp().await?;
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
            finish_tls(plan, socket, endpoint(), false).await
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
    match stream.read_u8().await.map_err(io)? {
        b'S' => Ok(true),
        b'N' => Ok(false),
        b'E' => Err(Error::msg(
            ErrorKind::Protocol,
            format!(
                "the server at {} answered SSLRequest with an error",
                describe(target)
            ),
        )),
        other => Err(Error::msg(
            ErrorKind::Protocol,
            format!(
                "the server at {} answered SSLRequest with byte 0x{other:02x}, not 'S' or 'N'",
                describe(target)
            ),
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
    endpoint: Endpoint,
    direct: bool,
) -> Result<Client, Error> {
    let mode = plan
        .tls_config
        .clone()
        .map(|config| TlsMode { config, direct });
    finish(plan, socket, endpoint, mode).await
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
    endpoint: Endpoint,
    tls: Option<TlsMode>,
) -> Result<Client, Error> {
    let mut options = startup_options(plan.config, &socket);
    let target = match &endpoint {
        Endpoint::Tcp { addr, host } => Target {
            host: Host::Tcp(host.clone()),
            port: addr.port(),
            hostaddr: Some(addr.ip()),
        },
        Endpoint::Unix { dir, port } => Target {
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
    let low_water = LowWater::new(&socket, config.get_coalesce_replies());
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
    tokio::spawn(io.run());
    let inner = ClientInner {
        shared,
        driver_done: done_rx,
        cancel: CancelToken {
            endpoint,
            tls,
            key: backend_key,
            connect_timeout: config.get_connect_timeout(),
            keepalive: plan.keepalive,
        },
        protocol,
        next_statement: AtomicU64::new(0),
        cache_mode: config.get_statement_cache_mode(),
        types: Default::default(),
    };
    Ok(Client::new(inner, config.get_query_timeout()))
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
        StartupFailure::Closed => Error::msg(
            ErrorKind::Io,
            format!("the server at {place} closed the connection during startup"),
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
