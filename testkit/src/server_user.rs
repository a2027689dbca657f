//! The operating-system user the server runs as.
//!
//! Owns: deciding whether we are root (PostgreSQL refuses to run as root), picking the
//! unprivileged account (`PGLINE_TESTKIT_USER`, else `postgres`, else `nobody`), building
//! commands that drop to it and handing files over to it. Must not: start servers itself.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::Error;

/// Environment variable naming the account to run the server as when we are root.
pub(crate) const USER_ENV: &str = "PGLINE_TESTKIT_USER";

/// The account server processes run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerUser {
    /// `Some((uid, gid))` when processes must switch to another account; `None` when they
    /// run as the current user.
    ids: Option<(u32, u32)>,
    /// The account's name, for messages.
    name: String,
}

impl ServerUser {
    /// The account for this process: found once, then remembered.
    pub(crate) fn get() -> Result<&'static Self, Error> {
        static USER: OnceLock<Result<ServerUser, String>> = OnceLock::new();
        USER.get_or_init(|| Self::find().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| Error::InvalidInput(e.clone()))
    }

    fn find() -> Result<Self, Error> {
        if effective_uid()? != 0 {
            return Ok(Self {
                ids: None,
                name: "the current user".to_owned(),
            });
        }
        let candidates = match std::env::var(USER_ENV) {
            Ok(name) if !name.is_empty() => vec![name],
            _ => vec!["postgres".to_owned(), "nobody".to_owned()],
        };
        for name in &candidates {
            if let Some(ids) = lookup_account(name) {
                if ids.0 == 0 {
                    continue;
                }
                return Ok(Self {
                    ids: Some(ids),
                    name: name.clone(),
                });
            }
        }
        Err(Error::InvalidInput(format!(
            "running as root, and none of the accounts {candidates:?} exists as a non-root \
             user to run the server as (set {USER_ENV})"
        )))
    }

    /// True when server processes run as another account than ours (we are root).
    pub(crate) fn switches(&self) -> bool {
        self.ids.is_some()
    }

    /// The account's name (or "the current user").
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// A command for `program` that runs as this account, with no inherited `PG*`
    /// variables, C messages, stdin from /dev/null and `dir` as working folder.
    pub(crate) fn command(&self, program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
        let mut cmd = clean_command(program);
        cmd.current_dir(dir);
        if let Some((uid, gid)) = self.ids {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    /// Gives `path` (not recursively) to this account; nothing to do when not root.
    pub(crate) fn own(&self, path: &Path) -> Result<(), Error> {
        match self.ids {
            Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(|e| Error::io(format!("chown {} to {}", path.display(), self.name), e)),
            None => Ok(()),
        }
    }
}

/// A command with no inherited `PG*` variables, C locale messages and stdin from
/// /dev/null, run as the current user.
pub(crate) fn clean_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("LC_ALL", "C").env("LANG", "C").stdin(Stdio::null());
    cmd
}

/// The effective uid of this process: the owner of `/proc/self`, else `id -u`.
fn effective_uid() -> Result<u32, Error> {
    if let Ok(meta) = fs::metadata("/proc/self") {
        return Ok(meta.uid());
    }
    let out = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| Error::io("running `id -u`", e))?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| Error::InvalidInput("`id -u` printed no number".to_owned()))
}

/// `(uid, gid)` of account `name`, through `id` so that NSS sources count too.
fn lookup_account(name: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id")
            .args([flag, name])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_runs_the_server_as_someone_else() {
        let user = ServerUser::get().unwrap();
        if effective_uid().unwrap() == 0 {
            let (uid, _) = user.ids.expect("root must switch user");
            assert_ne!(uid, 0);
            assert_ne!(user.name(), "root");
        } else {
            assert_eq!(user.ids, None);
        }
    }

    #[test]
    fn commands_do_not_inherit_pg_variables() {
        let cmd = clean_command("env");
        let envs: Vec<_> = cmd.get_envs().collect();
        assert!(envs.contains(&(
            std::ffi::OsStr::new("LC_ALL"),
            Some(std::ffi::OsStr::new("C"))
        )));
        for (key, value) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PG") {
                assert!(
                    envs.contains(&(key.as_os_str(), None)),
                    "{key:?}={value:?} kept"
                );
            }
        }
    }

    #[test]
    fn unknown_account_is_none() {
        assert_eq!(lookup_account("pgline-no-such-user-x9"), None);
    }
}
