//! Where servers live on disk.
//!
//! Owns: making a fresh, uniquely named folder for one server (or the template) under
//! `PGLINE_TESTKIT_DIR`, else `/dev/shm` when it is a roomy memory file system (copying
//! and writing a data folder there is several times faster than on disk), else the system
//! temporary folder. Must not: remove folders (the server's `Drop` and the watchdog do).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::Error;

/// Environment variable naming the folder to create server folders in.
pub(crate) const DIR_ENV: &str = "PGLINE_TESTKIT_DIR";

/// The memory file system used when it has room.
const SHM: &str = "/dev/shm";
/// Free space `/dev/shm` needs to be used (a data folder is ~40 MB; containers often
/// give `/dev/shm` only 64 MB).
const SHM_MIN_FREE_KIB: u64 = 1024 * 1024;

/// A new empty folder `<base>/pgline-testkit-<kind>-XXXXXX`, kept after return.
///
/// When running as root the base folder must be traversable by the server's account
/// (`/dev/shm` and `/tmp` are).
pub(crate) fn new_root_folder(kind: &str) -> Result<PathBuf, Error> {
    let base = std::env::var_os(DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| default_base().to_path_buf());
    let dir = tempfile::Builder::new()
        .prefix(&format!("pgline-testkit-{kind}-"))
        .tempdir_in(&base)
        .map_err(|e| Error::io(format!("creating a folder in {}", base.display()), e))?;
    Ok(dir.keep())
}

/// `/dev/shm` when it has at least [`SHM_MIN_FREE_KIB`] free, else the temporary folder;
/// decided once per process.
fn default_base() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let shm = Path::new(SHM);
        match free_kib(shm) {
            Some(free) if shm.is_dir() && free >= SHM_MIN_FREE_KIB => shm.to_path_buf(),
            _ => std::env::temp_dir(),
        }
    })
}

/// Free space of the file system holding `path`, in KiB, from `df -Pk`.
fn free_kib(path: &Path) -> Option<u64> {
    let out = Command::new("df")
        .arg("-Pk")
        .arg(path)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_df_available(&String::from_utf8_lossy(&out.stdout))
}

/// The "Available" column of the data line of `df -P` output.
fn parse_df_available(text: &str) -> Option<u64> {
    text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_unique_and_kept() {
        let a = new_root_folder("unit").unwrap();
        let b = new_root_folder("unit").unwrap();
        assert_ne!(a, b);
        assert!(a.is_dir() && b.is_dir());
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("pgline-testkit-unit-"), "{name}");
        std::fs::remove_dir(&a).unwrap();
        std::fs::remove_dir(&b).unwrap();
    }

    #[test]
    fn df_available_column() {
        let text = "Filesystem 1024-blocks Used Available Capacity Mounted on\n\
                    tmpfs 24682400 0 24682400 0% /dev/shm\n";
        assert_eq!(parse_df_available(text), Some(24_682_400));
        assert_eq!(parse_df_available("header only\n"), None);
        assert_eq!(parse_df_available("h\nfs 1 2 lots 0% /\n"), None);
    }

    #[test]
    fn default_base_is_usable() {
        let base = default_base();
        assert!(base.is_dir());
        assert!(base == Path::new(SHM) || base == std::env::temp_dir());
    }
}
