//! Running one postmaster process.
//!
//! Owns: [`Postmaster`]: launching `postgres -D <data> -p <port> -k <socket dir>` as the
//! server account with its output appended to a log file, waiting until it accepts
//! connections (its `postmaster.pid` says `ready`, or `standby` for a hot standby, and a
//! TCP connect succeeds), and stopping it by signal. Must not: write configuration or
//! choose ports (a caller retries when [`StartFailure::PortTaken`] comes back).

use std::fs::{self, OpenOptions};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::Error;
use crate::server_user::ServerUser;

/// How long a server may take to become ready (a loaded 2-core CI box can be slow).
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a shutdown may take before the postmaster is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between readiness polls.
const POLL: Duration = Duration::from_millis(15);

/// What a postmaster needs to run.
#[derive(Debug, Clone)]
pub(crate) struct LaunchSpec {
    /// Folder with `postgres`.
    pub(crate) bin_dir: PathBuf,
    /// The data folder (`-D`).
    pub(crate) data_dir: PathBuf,
    /// The TCP port on 127.0.0.1 (`-p`).
    pub(crate) port: u16,
    /// The unix socket folder (`-k`).
    pub(crate) socket_dir: PathBuf,
    /// The log file, appended to.
    pub(crate) log_file: PathBuf,
    /// The account to run as.
    pub(crate) user: &'static ServerUser,
}

/// Shutdown modes (`pg_ctl stop -m ...`), by the signal the postmaster receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShutdownMode {
    /// SIGINT: abort sessions, checkpoint, exit cleanly.
    Fast,
    /// SIGQUIT: exit at once; the next start runs crash recovery.
    Immediate,
    /// SIGKILL: the postmaster dies without a word (its children are the caller's
    /// business).
    Kill,
}

impl ShutdownMode {
    fn signal(self) -> &'static str {
        match self {
            Self::Fast => "INT",
            Self::Immediate => "QUIT",
            Self::Kill => "KILL",
        }
    }
}

/// Why a launch failed.
#[derive(Debug)]
pub(crate) enum StartFailure {
    /// The port was taken between choosing and binding it: try another.
    PortTaken(Error),
    /// Anything else.
    Other(Error),
}

impl From<Error> for StartFailure {
    fn from(err: Error) -> Self {
        Self::Other(err)
    }
}

/// A running postmaster that we started (and must reap).
#[derive(Debug)]
pub(crate) struct Postmaster {
    child: Child,
}

impl Postmaster {
    /// Starts the postmaster and waits until it accepts connections.
    pub(crate) fn launch(spec: &LaunchSpec) -> Result<Self, StartFailure> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log_file)
            .map_err(|e| Error::io(format!("opening {}", spec.log_file.display()), e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| Error::io("duplicating the log file handle", e))?;
        let mut cmd: Command = spec
            .user
            .command(spec.bin_dir.join("postgres"), &spec.data_dir);
        cmd.arg("-D")
            .arg(&spec.data_dir)
            .arg("-p")
            .arg(spec.port.to_string())
            .arg("-k")
            .arg(&spec.socket_dir)
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .process_group(0);
        let child = cmd.spawn().map_err(|e| {
            Error::io(
                format!(
                    "starting {} as {}",
                    spec.bin_dir.join("postgres").display(),
                    spec.user.name()
                ),
                e,
            )
        })?;
        let mut postmaster = Self { child };
        if let Err(failure) = postmaster.wait_ready(spec) {
            let _ = postmaster.stop(ShutdownMode::Immediate, &spec.log_file);
            return Err(failure);
        }
        Ok(postmaster)
    }

    /// The postmaster's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_ready(&mut self, spec: &LaunchSpec) -> Result<(), StartFailure> {
        let started = Instant::now();
        let pid_file = spec.data_dir.join("postmaster.pid");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, spec.port));
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(|e| Error::io("checking on the postmaster", e))?
            {
                let tail = log_tail(&spec.log_file, 30);
                let err = Error::server(
                    format!("starting postgres on port {}", spec.port),
                    format!("postmaster exited with {status}"),
                    tail.clone(),
                );
                return Err(if port_was_taken(&tail) {
                    StartFailure::PortTaken(err)
                } else {
                    StartFailure::Other(err)
                });
            }
            if pid_file_says_ready(&pid_file, self.pid())
                && TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
            {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(StartFailure::Other(Error::server(
                    format!("starting postgres on port {}", spec.port),
                    format!("not accepting connections after {READY_TIMEOUT:?}"),
                    log_tail(&spec.log_file, 30),
                )));
            }
            sleep(POLL);
        }
    }

    /// Signals the postmaster to shut down in `mode` and reaps it; kills it if it has
    /// not exited within the stop timeout.
    pub(crate) fn stop(&mut self, mode: ShutdownMode, log_file: &Path) -> Result<(), Error> {
        if self
            .child
            .try_wait()
            .map_err(|e| Error::io("checking on the postmaster", e))?
            .is_some()
        {
            return Ok(());
        }
        signal(self.pid(), mode.signal())?;
        let started = Instant::now();
        while started.elapsed() < STOP_TIMEOUT {
            if self
                .child
                .try_wait()
                .map_err(|e| Error::io("waiting for the postmaster", e))?
                .is_some()
            {
                return Ok(());
            }
            sleep(POLL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(Error::server(
            "stopping postgres",
            format!(
                "no exit within {STOP_TIMEOUT:?} of SIG{}; killed",
                mode.signal()
            ),
            log_tail(log_file, 30),
        ))
    }
}

/// Sends `SIG<name>` to `pid` with `kill(1)` (no unsafe code needed).
pub(crate) fn signal(pid: u32, name: &str) -> Result<(), Error> {
    let status = Command::new("kill")
        .args(["-s", name, &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| Error::io("running kill", e))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Command {
            action: format!("kill -s {name} {pid}"),
            status: status.to_string(),
            output: String::new(),
        })
    }
}

/// True when `postmaster.pid` names `pid` and its status line (the 8th) is `ready` or
/// `standby`.
fn pid_file_says_ready(pid_file: &Path, pid: u32) -> bool {
    let Ok(text) = fs::read_to_string(pid_file) else {
        return false;
    };
    let mut lines = text.lines();
    let names_pid = lines.next().map(str::trim) == Some(pid.to_string().as_str());
    let status = lines.nth(6).map(str::trim);
    names_pid && matches!(status, Some("ready" | "standby"))
}

fn port_was_taken(log: &str) -> bool {
    log.contains("Address already in use") || log.contains("could not bind")
}

/// The last `lines` lines of `log_file` (lossy UTF-8), or a note that it is unreadable.
pub(crate) fn log_tail(log_file: &Path, lines: usize) -> String {
    match fs::read(log_file) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            let from = all.len().saturating_sub(lines);
            all.get(from..).unwrap_or_default().join("\n")
        }
        Err(e) => format!("(server log {} unreadable: {e})", log_file.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_needs_our_pid_and_ready_status() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("postmaster.pid");
        assert!(!pid_file_says_ready(&file, 42));
        let contents = |status: &str| format!("42\n/d\n1\n5432\n/s\n127.0.0.1\n  1 2\n{status}\n");
        fs::write(&file, contents("starting")).unwrap();
        assert!(!pid_file_says_ready(&file, 42));
        fs::write(&file, contents("ready   ")).unwrap();
        assert!(pid_file_says_ready(&file, 42));
        assert!(!pid_file_says_ready(&file, 43));
        fs::write(&file, contents("standby")).unwrap();
        assert!(pid_file_says_ready(&file, 42));
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("log");
        fs::write(&file, "a\nb\nc\n").unwrap();
        assert_eq!(log_tail(&file, 2), "b\nc");
        assert_eq!(log_tail(&file, 10), "a\nb\nc");
        assert!(log_tail(&dir.path().join("none"), 2).contains("unreadable"));
    }

    #[test]
    fn bind_failures_are_recognised() {
        assert!(port_was_taken(
            "LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in use"
        ));
        assert!(!port_was_taken(
            "FATAL:  data directory has wrong ownership"
        ));
    }
}
