//! A running throwaway server.
//!
//! Owns: [`Server`]: its folder layout (`data/`, `socket/`, `tls/`, `server.log`), the
//! postmaster's lifetime (start with port retry, stop, restart, and on drop an immediate
//! shutdown plus folder removal), connection strings and running SQL as the superuser.
//! Must not: decide configuration (the builder does) or parse anything a client sends.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use crate::cluster::{self, SUPERUSER};
use crate::postmaster::{self, LaunchSpec, Postmaster, ShutdownMode, StartFailure};
use crate::server_user::{ServerUser, clean_command};
use crate::watchdog::Watchdog;
use crate::{Error, TlsFiles, conninfo, port};

/// The address every test server listens on.
const HOST: &str = "127.0.0.1";
/// How many times a start is retried when the chosen port was taken meanwhile.
const PORT_ATTEMPTS: usize = 8;

/// Whether a start picks a new port or must keep the current one (a restart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PortChoice {
    /// Pick a free port.
    New,
    /// Keep [`Server::port`] (clients already know it).
    Same,
}

/// A throwaway PostgreSQL server, listening on `127.0.0.1:<port>` and on a private unix
/// socket folder.
///
/// Dropping it shuts the postmaster down (immediate mode) and removes its folder. If the
/// process ends without dropping it (a static, a panic, a signal), a watchdog process does
/// the same right after.
///
/// Methods: getters ([`host`](Self::host), [`port`](Self::port), ...), connection strings
/// ([`url`](Self::url), [`key_value`](Self::key_value)), tools
/// ([`psql`](Self::psql), [`client_command`](Self::client_command)) and lifecycle
/// ([`stop`](Self::stop), [`restart`](Self::restart)).
#[derive(Debug)]
pub struct Server {
    root: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
    bin_dir: PathBuf,
    port: u16,
    tls: Option<TlsFiles>,
    user: &'static ServerUser,
    postmaster: Option<Postmaster>,
    watchdog: Option<Watchdog>,
    startup_time: Duration,
}

impl Server {
    /// A server that exists only as the folder `root` (guarded by `watchdog`); the
    /// builder fills it in and starts it.
    pub(crate) fn new(
        root: PathBuf,
        bin_dir: PathBuf,
        user: &'static ServerUser,
        watchdog: Watchdog,
    ) -> Self {
        Self {
            data_dir: root.join("data"),
            socket_dir: root.join("socket"),
            log_file: root.join("server.log"),
            root,
            bin_dir,
            port: 0,
            tls: None,
            user,
            postmaster: None,
            watchdog: Some(watchdog),
            startup_time: Duration::ZERO,
        }
    }

    pub(crate) fn set_tls(&mut self, files: TlsFiles) {
        self.tls = Some(files);
    }

    pub(crate) fn set_startup_time(&mut self, took: Duration) {
        self.startup_time = took;
    }

    /// Starts the postmaster, choosing a new port or keeping the current one, retrying
    /// when the port turns out to be taken.
    pub(crate) fn start_postmaster(&mut self, choice: PortChoice) -> Result<(), Error> {
        let mut last = None;
        for attempt in 0..PORT_ATTEMPTS {
            if choice == PortChoice::New {
                self.port = port::free_loopback_port()?;
            } else if attempt > 0 {
                thread::sleep(Duration::from_millis(200));
            }
            match Postmaster::launch(&self.launch_spec()) {
                Ok(postmaster) => {
                    self.postmaster = Some(postmaster);
                    return Ok(());
                }
                Err(StartFailure::PortTaken(err)) => last = Some(err),
                Err(StartFailure::Other(err)) => return Err(err),
            }
        }
        Err(last.unwrap_or_else(|| Error::InvalidInput("no start attempt made".to_owned())))
    }

    fn launch_spec(&self) -> LaunchSpec {
        LaunchSpec {
            bin_dir: self.bin_dir.clone(),
            data_dir: self.data_dir.clone(),
            port: self.port,
            socket_dir: self.socket_dir.clone(),
            log_file: self.log_file.clone(),
            user: self.user,
        }
    }

    /// `"127.0.0.1"`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The TCP port on [`host`](Self::host).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The folder holding the unix socket `.s.PGSQL.<port>` (only the server's account
    /// and root can enter it).
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// `"postgres"`: `trust` over the unix socket. Over TCP it uses the server's default
    /// auth method, so it can log in there only with [`crate::AuthMethod::Trust`], with a
    /// password given by `ServerBuilder::user("postgres", pw)`, or with its client
    /// certificate under [`crate::AuthMethod::Cert`].
    pub fn superuser(&self) -> &str {
        SUPERUSER
    }

    /// A `postgres://user[:password]@127.0.0.1:port/dbname` URL, user and password
    /// percent-encoded; `?sslmode=disable` is added unless TLS is on.
    pub fn url(&self, user: &str, password: Option<&str>, dbname: &str) -> String {
        conninfo::url(HOST, self.port, user, password, dbname, self.tls.is_some())
    }

    /// A libpq `key=value` string with quoted values; `sslmode=disable` is added unless
    /// TLS is on.
    pub fn key_value(&self, user: &str, password: Option<&str>, dbname: &str) -> String {
        conninfo::key_value(HOST, self.port, user, password, dbname, self.tls.is_some())
    }

    /// A libpq `key=value` string over the unix socket (its `host` is
    /// [`socket_dir`](Self::socket_dir), which pgline, libpq and tokio-postgres all
    /// read as a socket folder), values quoted, with `sslmode=disable`: a unix socket
    /// never uses TLS.
    pub fn unix_key_value(&self, user: &str, password: Option<&str>, dbname: &str) -> String {
        let dir = self.socket_dir.to_string_lossy();
        conninfo::key_value(&dir, self.port, user, password, dbname, false)
    }

    /// The TLS files, when the server was built with TLS.
    pub fn tls(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// The data folder (`PGDATA`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The folder holding everything of this server; removed on drop.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder with the PostgreSQL binaries this server runs.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The major version of the PostgreSQL this server runs (15, 17, 18, ...), from
    /// `postgres --version`.
    pub fn major_version(&self) -> Result<u32, Error> {
        crate::pg_major_version(&self.bin_dir)
    }

    /// The server log file.
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// The last `lines` lines of the server log.
    pub fn log_tail(&self, lines: usize) -> String {
        postmaster::log_tail(&self.log_file, lines)
    }

    /// The postmaster's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.postmaster.as_ref().map(Postmaster::pid)
    }

    /// True between a successful start and [`stop`](Self::stop).
    pub fn is_running(&self) -> bool {
        self.postmaster.is_some()
    }

    /// How long [`crate::ServerBuilder::start`] took for this server.
    pub fn startup_time(&self) -> Duration {
        self.startup_time
    }

    /// A command for the client tool `tool` (e.g. `"psql"`, `"pg_isready"`) from the
    /// server's bin folder (else from `PATH`), run as the current user, with no inherited
    /// `PG*` variables, `PGCLIENTENCODING=UTF8`, `PGCONNECT_TIMEOUT=10` and stdin from
    /// /dev/null.
    pub fn client_command(&self, tool: &str) -> Command {
        let in_bin = self.bin_dir.join(tool);
        let mut cmd = if in_bin.is_file() {
            clean_command(in_bin)
        } else {
            clean_command(tool)
        };
        cmd.env("PGCLIENTENCODING", "UTF8")
            .env("PGCONNECT_TIMEOUT", "10");
        cmd
    }

    /// Runs `sql` (any number of statements; stops at the first error) as the superuser
    /// over the unix socket in database `postgres`, with `psql -X -q -A -t`.
    ///
    /// Returns what psql printed (unaligned, tuples only, `|` between columns, one row a
    /// line) without the final newline.
    pub fn psql(&self, sql: &str) -> Result<String, Error> {
        let mut cmd = self.client_command("psql");
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.socket_dir)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
                "-d",
                "postgres",
            ])
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| Error::io("starting psql", e))?;
        let writer = child.stdin.take().map(|mut stdin| {
            let sql = sql.to_owned();
            thread::spawn(move || stdin.write_all(sql.as_bytes()))
        });
        let output = child
            .wait_with_output()
            .map_err(|e| Error::io("waiting for psql", e))?;
        let written = writer.map(|w| w.join());
        cluster::check(output.clone(), "psql as the superuser")?;
        match written {
            Some(Ok(Err(e))) => return Err(Error::io("writing SQL to psql", e)),
            Some(Err(_)) => return Err(Error::InvalidInput("psql writer thread panicked".into())),
            _ => {}
        }
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        if text.ends_with('\n') {
            text.pop();
        }
        Ok(text)
    }

    /// Shuts the server down (fast mode: sessions aborted, clean checkpoint) and waits
    /// for the postmaster to exit. Doing so twice is fine.
    pub fn stop(&mut self) -> Result<(), Error> {
        match self.postmaster.take() {
            Some(mut postmaster) => postmaster.stop(ShutdownMode::Fast, &self.log_file),
            None => Ok(()),
        }
    }

    /// Shuts the postmaster down in `mode` and reaps it; nothing to do when stopped.
    pub(crate) fn shut_down(&mut self, mode: ShutdownMode) -> Result<(), Error> {
        match self.postmaster.take() {
            Some(mut postmaster) => postmaster.stop(mode, &self.log_file),
            None => Ok(()),
        }
    }

    /// Stops the server if it runs, then starts it again on the same port.
    pub fn restart(&mut self) -> Result<(), Error> {
        self.stop()?;
        self.start_postmaster(PortChoice::Same)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut postmaster) = self.postmaster.take() {
            let _ = postmaster.stop(ShutdownMode::Immediate, &self.log_file);
        }
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
