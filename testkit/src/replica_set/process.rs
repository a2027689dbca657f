//! Signals to a postmaster and its children.
//!
//! Owns: finding a postmaster's children (PostgreSQL makes each child the leader of its
//! own session, so a process-group signal would miss them), sending signals to a set of
//! processes with `kill(1)`, and reading a process's state from `/proc`. Must not: decide
//! when to signal (the replica set does).

use std::fs;
use std::process::{Command, Stdio};

use crate::Error;

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcState {
    /// No such process, or a zombie (it has exited; only its parent's reaping is left).
    Gone,
    /// Stopped by a signal (`T`).
    Stopped,
    /// Anything else: running, sleeping, in disk wait.
    Alive,
}

/// The state of process `pid`.
pub(crate) fn state(pid: u32) -> ProcState {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return ProcState::Gone;
    };
    match stat_fields(&stat).map(|(state, _)| state) {
        Some('Z' | 'X' | 'x') | None => ProcState::Gone,
        Some('T') => ProcState::Stopped,
        Some(_) => ProcState::Alive,
    }
}

/// `(state, ppid)` from the text of `/proc/<pid>/stat`; the command name in parentheses
/// may itself hold spaces and parentheses, so the fields are read after the last `)`.
fn stat_fields(stat: &str) -> Option<(char, u32)> {
    let (_, rest) = stat.rsplit_once(") ")?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// The live processes whose parent is `parent`.
pub(crate) fn children_of(parent: u32) -> Result<Vec<u32>, Error> {
    let entries = fs::read_dir("/proc").map_err(|e| Error::io("listing /proc", e))?;
    let mut children = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some((state, ppid)) = stat_fields(&stat) {
            if ppid == parent && !matches!(state, 'Z' | 'X' | 'x') {
                children.push(pid);
            }
        }
    }
    Ok(children)
}

/// Sends `SIG<name>` to every process in `pids` (one `kill(1)` run). Processes that
/// exited meanwhile are not an error.
pub(crate) fn signal_all(pids: &[u32], name: &str) -> Result<(), Error> {
    if pids.is_empty() {
        return Ok(());
    }
    let mut cmd = Command::new("kill");
    cmd.args(["-s", name, "--"])
        .args(pids.iter().map(u32::to_string))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let status = cmd.status().map_err(|e| Error::io("running kill", e))?;
    if status.success() || pids.iter().any(|&pid| state(pid) == ProcState::Gone) {
        Ok(())
    } else {
        Err(Error::Command {
            action: format!("kill -s {name} {pids:?}"),
            status: status.to_string(),
            output: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_survive_odd_command_names() {
        assert_eq!(
            stat_fields("42 (postgres: a) b) S 7 42 42 0 -1"),
            Some(('S', 7))
        );
        assert_eq!(stat_fields("42 (x) T 1 42"), Some(('T', 1)));
        assert_eq!(stat_fields("garbage"), None);
    }

    #[test]
    fn stop_and_continue_a_child() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        assert_eq!(state(pid), ProcState::Alive);
        assert!(children_of(std::process::id()).unwrap().contains(&pid));
        signal_all(&[pid], "STOP").unwrap();
        let stopped = (0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(5));
            state(pid) == ProcState::Stopped
        });
        assert!(stopped);
        signal_all(&[pid], "CONT").unwrap();
        signal_all(&[pid], "KILL").unwrap();
        child.wait().unwrap();
        assert_eq!(state(pid), ProcState::Gone);
    }
}
