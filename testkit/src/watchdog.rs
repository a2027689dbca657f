//! The cleanup safety net.
//!
//! Owns: [`Watchdog`], a tiny `sh` process per server folder that waits for our process to
//! end (its stdin is a pipe only we hold, so it sees end-of-file when we exit, panic or
//! are killed by any signal), then stops every postmaster whose `postmaster.pid` lies one
//! level below the folder and removes the folder. This covers statics, which are never
//! dropped, and tests that die half-way. Must not: do anything while we are alive.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::Error;

/// The script run by `sh -c`; `$1` is the folder to clean up.
///
/// After end-of-file on stdin: for each `*/postmaster.pid`, send SIGQUIT (immediate
/// shutdown) and SIGCONT (in case a test froze it) to the pid on its first line, wait up
/// to 10 s for it to go (a zombie counts as gone), SIGKILL it if needed, then `rm -rf`
/// the folder.
const SCRIPT: &str = r#"
trap '' HUP INT TERM
dir=$1
while read -r _; do :; done
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
    [ "$state" != Z ]
}
for pidfile in "$dir"/*/postmaster.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(head -n 1 "$pidfile")
    case $pid in ''|*[!0-9]*) continue ;; esac
    kill -QUIT "$pid" 2>/dev/null
    kill -CONT "$pid" 2>/dev/null
    n=0
    while alive "$pid" && [ "$n" -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
done
rm -rf "$dir"
"#;

/// A running watchdog for one folder. Dismiss it once the folder has been cleaned up
/// normally; if this process ends first, the watchdog does the cleanup.
#[derive(Debug)]
pub(crate) struct Watchdog {
    child: Child,
}

impl Watchdog {
    /// Starts a watchdog for `folder`, in its own process group so that a Ctrl-C meant
    /// for the test run does not kill it before it has cleaned up.
    pub(crate) fn spawn(folder: &Path) -> Result<Self, Error> {
        let child = Command::new("sh")
            .arg("-c")
            .arg(SCRIPT)
            .arg("pgline-testkit-watchdog")
            .arg(folder)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| Error::io("starting the cleanup watchdog (sh)", e))?;
        Ok(Self { child })
    }

    /// Stops the watchdog without letting it clean up (the caller already did).
    pub(crate) fn dismiss(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Lets the watchdog clean up now (as if this process had exited) and waits for it.
    pub(crate) fn trigger(mut self) -> Result<(), Error> {
        drop(self.child.stdin.take());
        self.child
            .wait()
            .map(drop)
            .map_err(|e| Error::io("waiting for the cleanup watchdog", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_of_input_removes_the_folder() {
        let base = tempfile::tempdir().unwrap();
        let folder = base.path().join("server");
        std::fs::create_dir_all(folder.join("data")).unwrap();
        std::fs::write(folder.join("data/postmaster.pid"), "not-a-pid\n").unwrap();
        let dog = Watchdog::spawn(&folder).unwrap();
        assert!(folder.exists());
        dog.trigger().unwrap();
        assert!(!folder.exists());
    }

    #[test]
    fn dismissed_watchdog_leaves_the_folder() {
        let base = tempfile::tempdir().unwrap();
        let folder = base.path().join("kept");
        std::fs::create_dir_all(&folder).unwrap();
        Watchdog::spawn(&folder).unwrap().dismiss();
        assert!(folder.exists());
    }
}
