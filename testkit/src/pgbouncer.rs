//! A throwaway PgBouncer in front of a throwaway server.
//!
//! Owns: [`PgBouncerBuilder`] and [`PgBouncer`]: finding the `pgbouncer` binary (Debian's
//! package; `PGBOUNCER` names another), writing its `pgbouncer.ini` and `userlist.txt`
//! (plaintext passwords, so it can answer and make SCRAM exchanges) into a fresh folder,
//! starting it on a free loopback port as the server's unprivileged account (it refuses
//! to run as root), waiting until it accepts connections, and stopping it and removing
//! its folder on drop (a watchdog does both if the process dies first). Must not: start
//! or configure the PostgreSQL server behind it (a [`crate::ServerBuilder`] does).
//!
//! ```no_run
//! use pgline_testkit::{AuthMethod, PgBouncerBuilder, PoolMode, ServerBuilder};
//!
//! let server = ServerBuilder::new()
//!     .auth(AuthMethod::ScramSha256)
//!     .user("app", "app-secret")
//!     .start()?;
//! let bouncer = PgBouncerBuilder::new(&server)
//!     .pool_mode(PoolMode::Transaction)
//!     .pool_size(2)
//!     .user("app", "app-secret")
//!     .start()?;
//! let url = bouncer.url("app", Some("app-secret"), "postgres");
//! # let _ = url;
//! # Ok::<(), pgline_testkit::Error>(())
//! ```

use std::fs::{self, OpenOptions};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::server_user::{ServerUser, clean_command};
use crate::watchdog::Watchdog;
use crate::{Error, Server, conninfo, folder, port, postmaster};

/// Environment variable naming the `pgbouncer` binary to run (default: on `PATH`, else
/// `/usr/sbin/pgbouncer`).
pub const PGBOUNCER_ENV: &str = "PGBOUNCER";

/// How long PgBouncer may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long it may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How often readiness and exit are polled.
const POLL: Duration = Duration::from_millis(20);
/// How many times a start is retried when the chosen port was taken meanwhile.
const PORT_ATTEMPTS: usize = 8;

/// PgBouncer's `pool_mode`: when a server connection goes back to the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PoolMode {
    /// When the client disconnects (every session keeps its server connection).
    #[default]
    Session,
    /// When a transaction ends (the next one may run on another server connection).
    Transaction,
    /// After every statement (multi-statement transactions are refused).
    Statement,
}

impl PoolMode {
    /// The value in `pgbouncer.ini`.
    pub fn ini_name(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Transaction => "transaction",
            Self::Statement => "statement",
        }
    }
}

/// Describes a PgBouncer in front of one server; [`PgBouncerBuilder::start`] runs it.
///
/// Defaults: session mode, a pool of 2 server connections per user and database,
/// `auth_type = scram-sha-256`, every database forwarded to the server
/// (`* = host=127.0.0.1 port=<server port>`), `ignore_startup_parameters =
/// extra_float_digits`, no TLS, logs with connections and disconnections turned off.
#[derive(Debug, Clone)]
pub struct PgBouncerBuilder {
    server_port: u16,
    pool_mode: PoolMode,
    pool_size: u32,
    auth_type: String,
    users: Vec<(String, String)>,
    settings: Vec<(String, String)>,
}

impl PgBouncerBuilder {
    /// A PgBouncer for `server` with the defaults above.
    pub fn new(server: &Server) -> Self {
        Self {
            server_port: server.port(),
            pool_mode: PoolMode::Session,
            pool_size: 2,
            auth_type: "scram-sha-256".to_owned(),
            users: Vec::new(),
            settings: Vec::new(),
        }
    }

    /// The pool mode.
    pub fn pool_mode(mut self, mode: PoolMode) -> Self {
        self.pool_mode = mode;
        self
    }

    /// `default_pool_size`: server connections per (user, database) pair.
    pub fn pool_size(mut self, size: u32) -> Self {
        self.pool_size = size;
        self
    }

    /// `auth_type` (`scram-sha-256`, `md5`, `plain`, `trust`, ...).
    pub fn auth_type(mut self, auth_type: &str) -> Self {
        self.auth_type = auth_type.to_owned();
        self
    }

    /// A line of the auth file: a user clients log in as, with the password PgBouncer
    /// also uses to log in to the server (so it must match the server's user).
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.push((name.to_owned(), password.to_owned()));
        self
    }

    /// An extra `[pgbouncer]` setting (later ones win), e.g.
    /// `("max_prepared_statements", "100")`.
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.settings.push((name.to_owned(), value.to_owned()));
        self
    }

    fn validate(&self) -> Result<(), Error> {
        let single_line = |what: &str, value: &str| {
            if value.contains(['\n', '\r', '\0']) {
                Err(Error::InvalidInput(format!(
                    "{what} {value:?} must be one line"
                )))
            } else {
                Ok(())
            }
        };
        for (name, password) in &self.users {
            if name.is_empty() {
                return Err(Error::InvalidInput("empty PgBouncer user name".to_owned()));
            }
            single_line("PgBouncer user", name)?;
            single_line("PgBouncer password", password)?;
        }
        for (name, value) in &self.settings {
            if !crate::conf::is_setting_name(name) {
                return Err(Error::InvalidInput(format!(
                    "PgBouncer setting name {name:?}"
                )));
            }
            single_line("PgBouncer setting value", value)?;
        }
        single_line("auth_type", &self.auth_type)?;
        if self.pool_size == 0 {
            return Err(Error::InvalidInput("PgBouncer pool size 0".to_owned()));
        }
        Ok(())
    }

    /// Writes the configuration and starts PgBouncer; waits until it accepts TCP
    /// connections. On failure everything made so far is removed and the error carries
    /// the tail of PgBouncer's log.
    pub fn start(self) -> Result<PgBouncer, Error> {
        self.validate()?;
        let binary = pgbouncer_binary()?;
        let user = ServerUser::get()?;
        let root = folder::new_root_folder("pgbouncer")?;
        let watchdog = match Watchdog::spawn(&root) {
            Ok(dog) => dog,
            Err(err) => {
                let _ = fs::remove_dir_all(&root);
                return Err(err);
            }
        };
        let mut bouncer = PgBouncer {
            state_dir: root.join("state"),
            log_file: root.join("pgbouncer.log"),
            root,
            port: 0,
            pool_mode: self.pool_mode,
            child: None,
            watchdog: Some(watchdog),
        };
        user.own(&bouncer.root)?;
        fs::create_dir(&bouncer.state_dir)
            .map_err(|e| Error::io(format!("creating {}", bouncer.state_dir.display()), e))?;
        user.own(&bouncer.state_dir)?;

        let auth_file = bouncer.root.join("userlist.txt");
        write_private(&auth_file, &auth_file_text(&self.users), user)?;

        let mut last = None;
        for _ in 0..PORT_ATTEMPTS {
            bouncer.port = port::free_loopback_port()?;
            let ini = bouncer.root.join("pgbouncer.ini");
            write_private(
                &ini,
                &self.ini_text(bouncer.port, &auth_file, &bouncer.log_file),
                user,
            )?;
            match bouncer.launch(&binary, &ini, user) {
                Ok(()) => return Ok(bouncer),
                Err(Launch::PortTaken(err)) => last = Some(err),
                Err(Launch::Other(err)) => return Err(err),
            }
        }
        Err(last.unwrap_or_else(|| Error::InvalidInput("no PgBouncer start attempted".into())))
    }

    /// The text of `pgbouncer.ini`.
    fn ini_text(&self, listen_port: u16, auth_file: &Path, log_file: &Path) -> String {
        let mut text = String::from("; written by pgline-testkit\n[databases]\n");
        text.push_str(&format!("* = host=127.0.0.1 port={}\n", self.server_port));
        text.push_str("\n[pgbouncer]\n");
        let defaults = [
            ("listen_addr", "127.0.0.1".to_owned()),
            ("listen_port", listen_port.to_string()),
            // No unix socket: its folder would need to be shared with the clients.
            ("unix_socket_dir", String::new()),
            ("auth_type", self.auth_type.clone()),
            ("auth_file", auth_file.to_string_lossy().into_owned()),
            ("pool_mode", self.pool_mode.ini_name().to_owned()),
            ("default_pool_size", self.pool_size.to_string()),
            ("min_pool_size", "0".to_owned()),
            ("reserve_pool_size", "0".to_owned()),
            ("max_client_conn", "500".to_owned()),
            ("max_db_connections", self.pool_size.to_string()),
            // Drivers that copy libpq's startup send this; PgBouncer rejects unknown
            // startup parameters unless told to ignore them.
            ("ignore_startup_parameters", "extra_float_digits".to_owned()),
            ("logfile", log_file.to_string_lossy().into_owned()),
            ("log_connections", "0".to_owned()),
            ("log_disconnections", "0".to_owned()),
            ("server_login_retry", "1".to_owned()),
        ];
        for (name, value) in defaults
            .iter()
            .map(|(n, v)| (*n, v.as_str()))
            .chain(self.settings.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        {
            text.push_str(&format!("{name} = {value}\n"));
        }
        text
    }
}

/// `"name" "password"` lines, with `"` doubled as PgBouncer's auth file expects.
fn auth_file_text(users: &[(String, String)]) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    users
        .iter()
        .map(|(name, password)| format!("{} {}\n", quote(name), quote(password)))
        .collect()
}

/// Writes `text` to `path` readable only by the server's account (it holds passwords).
fn write_private(path: &Path, text: &str, user: &ServerUser) -> Result<(), Error> {
    fs::write(path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io(format!("chmod {}", path.display()), e))?;
    user.own(path)
}

/// The `pgbouncer` to run: `PGBOUNCER`, else the first on `PATH`, else Debian's
/// `/usr/sbin/pgbouncer` (`/usr/sbin` is often not on a user's `PATH`).
pub fn pgbouncer_binary() -> Result<PathBuf, Error> {
    let mut tried = Vec::new();
    if let Some(value) = std::env::var_os(PGBOUNCER_ENV) {
        let path = PathBuf::from(value);
        if path.is_file() {
            return Ok(path);
        }
        tried.push(format!("{PGBOUNCER_ENV}={}: not a file", path.display()));
        return Err(Error::ToolNotFound {
            tool: "pgbouncer".to_owned(),
            tried,
        });
    }
    let path_dirs = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path_dirs).chain([PathBuf::from("/usr/sbin")]) {
        let candidate = dir.join("pgbouncer");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    tried.push("PATH and /usr/sbin: no pgbouncer".to_owned());
    tried.push("to install it: apt-get install -y pgbouncer".to_owned());
    Err(Error::ToolNotFound {
        tool: "pgbouncer".to_owned(),
        tried,
    })
}

/// The version `pgbouncer --version` prints on its first line (`PgBouncer 1.18.0`), as
/// `(major, minor)`.
pub fn pgbouncer_version() -> Result<(u32, u32), Error> {
    let binary = pgbouncer_binary()?;
    let output = clean_command(&binary)
        .arg("--version")
        .output()
        .map_err(|e| Error::io(format!("running {} --version", binary.display()), e))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    parse_pgbouncer_version(&text).ok_or_else(|| Error::Command {
        action: format!("{} --version", binary.display()),
        status: output.status.to_string(),
        output: text,
    })
}

/// `"PgBouncer 1.18.0\n..."` → `(1, 18)`.
fn parse_pgbouncer_version(text: &str) -> Option<(u32, u32)> {
    let version = text.lines().next()?.strip_prefix("PgBouncer ")?;
    let mut parts = version.trim().split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

enum Launch {
    PortTaken(Error),
    Other(Error),
}

impl From<Error> for Launch {
    fn from(err: Error) -> Self {
        Self::Other(err)
    }
}

/// A running PgBouncer on `127.0.0.1:<port>`, forwarding every database to its server.
///
/// Dropping it stops PgBouncer (SIGTERM, SIGKILL after a while) and removes its folder;
/// the server behind it is not touched.
#[derive(Debug)]
pub struct PgBouncer {
    root: PathBuf,
    state_dir: PathBuf,
    log_file: PathBuf,
    port: u16,
    pool_mode: PoolMode,
    child: Option<Child>,
    watchdog: Option<Watchdog>,
}

impl PgBouncer {
    fn launch(&mut self, binary: &Path, ini: &Path, user: &ServerUser) -> Result<(), Launch> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("pgbouncer.out"))
            .map_err(|e| Error::io("opening PgBouncer's output file", e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| Error::io("duplicating a file handle", e))?;
        let mut cmd: Command = user.command(binary, &self.root);
        cmd.arg(ini)
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .process_group(0);
        let child = cmd.spawn().map_err(|e| {
            Error::io(
                format!("starting {} as {}", binary.display(), user.name()),
                e,
            )
        })?;
        // The watchdog stops whatever pid sits in `<folder>/*/postmaster.pid`.
        let pid_file = self.state_dir.join("postmaster.pid");
        fs::write(&pid_file, format!("{}\n", child.id()))
            .map_err(|e| Error::io(format!("writing {}", pid_file.display()), e))?;
        self.child = Some(child);
        let started = Instant::now();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            let exited = match self.child.as_mut().map(Child::try_wait) {
                Some(Ok(status)) => status,
                Some(Err(e)) => return Err(Error::io("checking on PgBouncer", e).into()),
                None => None,
            };
            if let Some(status) = exited {
                self.child = None;
                let tail = self.log_tail(30);
                let err = Error::server(
                    format!("starting pgbouncer on port {}", self.port),
                    format!("pgbouncer exited with {status}"),
                    tail.clone(),
                );
                return Err(if tail.contains("Address already in use") {
                    Launch::PortTaken(err)
                } else {
                    Launch::Other(err)
                });
            }
            if TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok() {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                let _ = self.stop();
                return Err(Launch::Other(Error::server(
                    format!("starting pgbouncer on port {}", self.port),
                    format!("not accepting connections after {READY_TIMEOUT:?}"),
                    self.log_tail(30),
                )));
            }
            sleep(POLL);
        }
    }

    /// `"127.0.0.1"`.
    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    /// The port PgBouncer listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The pool mode it runs in.
    pub fn pool_mode(&self) -> PoolMode {
        self.pool_mode
    }

    /// A `postgres://` URL through PgBouncer (`?sslmode=disable`: it has no TLS).
    pub fn url(&self, user: &str, password: Option<&str>, dbname: &str) -> String {
        conninfo::url(self.host(), self.port, user, password, dbname, false)
    }

    /// A libpq `key=value` string through PgBouncer, with `sslmode=disable`.
    pub fn key_value(&self, user: &str, password: Option<&str>, dbname: &str) -> String {
        conninfo::key_value(self.host(), self.port, user, password, dbname, false)
    }

    /// The last `lines` lines of PgBouncer's log (its `logfile`, then its own output).
    pub fn log_tail(&self, lines: usize) -> String {
        let mut text = postmaster::log_tail(&self.log_file, lines);
        let out = postmaster::log_tail(&self.root.join("pgbouncer.out"), lines);
        if !out.trim().is_empty() && !out.contains("unreadable") {
            text.push('\n');
            text.push_str(&out);
        }
        text
    }

    /// PgBouncer's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops PgBouncer (SIGTERM: immediate shutdown; SIGKILL if it lingers). Doing so
    /// twice is fine.
    pub fn stop(&mut self) -> Result<(), Error> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if child
            .try_wait()
            .map_err(|e| Error::io("checking on PgBouncer", e))?
            .is_some()
        {
            return Ok(());
        }
        let _ = Command::new("kill")
            .args(["-s", "TERM", &child.id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let started = Instant::now();
        while started.elapsed() < STOP_TIMEOUT {
            if child
                .try_wait()
                .map_err(|e| Error::io("waiting for PgBouncer", e))?
                .is_some()
            {
                return Ok(());
            }
            sleep(POLL);
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(Error::server(
            "stopping pgbouncer",
            format!("no exit within {STOP_TIMEOUT:?} of SIGTERM; killed"),
            self.log_tail(30),
        ))
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.stop();
        let removed = fs::remove_dir_all(&self.root).is_ok() || !self.root.exists();
        if let Some(watchdog) = self.watchdog.take() {
            if removed {
                watchdog.dismiss();
            } else {
                let _ = watchdog.trigger();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_file_quotes_names_and_passwords() {
        let text = auth_file_text(&[
            ("app".into(), "se\"cret".into()),
            ("o'neil".into(), String::new()),
        ]);
        assert_eq!(text, "\"app\" \"se\"\"cret\"\n\"o'neil\" \"\"\n");
    }

    #[test]
    fn version_line_is_parsed() {
        assert_eq!(
            parse_pgbouncer_version("PgBouncer 1.18.0\nlibevent 2.1.12-stable\n"),
            Some((1, 18))
        );
        assert_eq!(parse_pgbouncer_version("PgBouncer 1.21.0"), Some((1, 21)));
        assert_eq!(parse_pgbouncer_version("pgbouncer"), None);
        assert_eq!(parse_pgbouncer_version(""), None);
    }

    #[test]
    fn ini_forwards_every_database_and_lets_settings_win() {
        let builder = PgBouncerBuilder {
            server_port: 5999,
            pool_mode: PoolMode::Transaction,
            pool_size: 2,
            auth_type: "scram-sha-256".into(),
            users: vec![],
            settings: vec![("max_prepared_statements".into(), "100".into())],
        };
        let text = builder.ini_text(6001, Path::new("/a/u.txt"), Path::new("/a/l.log"));
        assert!(
            text.contains("[databases]\n* = host=127.0.0.1 port=5999\n"),
            "{text}"
        );
        assert!(text.contains("\nlisten_port = 6001\n"), "{text}");
        assert!(text.contains("\npool_mode = transaction\n"), "{text}");
        assert!(text.contains("\ndefault_pool_size = 2\n"), "{text}");
        assert!(text.ends_with("max_prepared_statements = 100\n"), "{text}");
    }

    #[test]
    fn bad_input_is_refused() {
        let base = || PgBouncerBuilder {
            server_port: 1,
            pool_mode: PoolMode::Session,
            pool_size: 2,
            auth_type: "md5".into(),
            users: vec![],
            settings: vec![],
        };
        for bad in [
            base().user("a\nb", "x"),
            base().user("", "x"),
            base().user("a", "x\ny"),
            base().setting("a = b", "1"),
            base().setting("pool_mode", "session\nauth_type = trust"),
            base().pool_size(0),
        ] {
            assert!(
                matches!(bad.validate(), Err(Error::InvalidInput(_))),
                "{bad:?}"
            );
        }
        base().user("app", "pässwörd\"").validate().unwrap();
    }
}
