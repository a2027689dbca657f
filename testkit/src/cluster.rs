//! Creating a data folder.
//!
//! Owns: running `initdb` (superuser `postgres`, trust, UTF8, C locale, `--no-sync`) and a
//! per-process template per binaries folder (one per major version): `initdb` runs once,
//! every further data folder is a `cp -a` of the pristine result, which is several times
//! faster. Must not: configure or start servers.
//!
//! Copies of one template share its system identifier; a test that needs distinct
//! identifiers asks the builder for a fresh `initdb`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Mutex, OnceLock};

use crate::Error;
use crate::server_user::ServerUser;
use crate::watchdog::Watchdog;

/// The superuser `initdb` creates.
pub(crate) const SUPERUSER: &str = "postgres";

/// Creates `data_dir` (which must not exist; its parent must belong to `user`) with a
/// fresh `initdb`.
pub(crate) fn initdb(bin_dir: &Path, data_dir: &Path, user: &ServerUser) -> Result<(), Error> {
    let parent = data_dir.parent().unwrap_or(data_dir);
    let mut cmd = user.command(bin_dir.join("initdb"), parent);
    cmd.arg("-D").arg(data_dir).args([
        "-U",
        SUPERUSER,
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    ]);
    let output = cmd
        .output()
        .map_err(|e| Error::io(format!("running initdb as {}", user.name()), e))?;
    check(output, &format!("initdb -D {}", data_dir.display()))
}

/// Creates `data_dir` as a copy of this process's template data folder.
pub(crate) fn copy_template(
    bin_dir: &Path,
    data_dir: &Path,
    user: &'static ServerUser,
) -> Result<(), Error> {
    let template = template(bin_dir, user)?;
    let parent = data_dir.parent().unwrap_or(data_dir);
    let output = user
        .command("cp", parent)
        .arg("-a")
        .arg(template)
        .arg(data_dir)
        .output()
        .map_err(|e| Error::io("running cp -a for the template data folder", e))?;
    check(
        output,
        &format!("copying the template data folder to {}", data_dir.display()),
    )
}

/// The template data folder for the binaries in `bin_dir`, made on first use (a data
/// folder only works with the major version that made it). Its folder has its own
/// watchdog, so it is removed when the process exits.
fn template(bin_dir: &Path, user: &'static ServerUser) -> Result<&'static Path, Error> {
    struct Template {
        data_dir: PathBuf,
        _watchdog: Watchdog,
    }
    type Made = Result<Template, String>;
    static TEMPLATES: OnceLock<Mutex<HashMap<PathBuf, &'static OnceLock<Made>>>> = OnceLock::new();
    // One cell per folder, leaked: a handful per process at most. The map lock is held
    // only to find the cell, so making one version's template does not block another's.
    let cell: &'static OnceLock<Made> = {
        let mut map = TEMPLATES
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(bin_dir.to_path_buf())
            .or_insert_with(|| Box::leak(Box::new(OnceLock::new())))
    };
    let made = cell.get_or_init(|| {
        let make = || -> Result<Template, Error> {
            let root = crate::folder::new_root_folder("template")?;
            let watchdog = Watchdog::spawn(&root)?;
            user.own(&root)?;
            let data_dir = root.join("data");
            if let Err(err) = initdb(bin_dir, &data_dir, user) {
                let _ = watchdog.trigger();
                return Err(err);
            }
            Ok(Template {
                data_dir,
                _watchdog: watchdog,
            })
        };
        make().map_err(|e| e.to_string())
    });
    match made {
        Ok(template) => Ok(&template.data_dir),
        Err(why) => Err(Error::InvalidInput(format!(
            "the template data folder could not be made earlier in this process: {why}"
        ))),
    }
}

/// Turns a failed exit status into an [`Error::Command`] carrying stderr and stdout.
pub(crate) fn check(output: Output, action: &str) -> Result<(), Error> {
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    Err(Error::Command {
        action: action.to_owned(),
        status: output.status.to_string(),
        output: text,
    })
}
