//! Where servers live on disk.
//!
//! Owns: making a fresh, uniquely named folder for one server (or the template) under
//! `PGLINE_TESTKIT_DIR`, else the system temporary folder. Must not: remove folders
//! (the server's `Drop` and the watchdog do).

use std::path::PathBuf;

use crate::Error;

/// Environment variable naming the folder to create server folders in.
pub(crate) const DIR_ENV: &str = "PGLINE_TESTKIT_DIR";

/// A new empty folder `<base>/pgline-testkit-<kind>-XXXXXX`, kept after return.
///
/// When running as root the base folder must be traversable by the server's account
/// (`/tmp` is).
pub(crate) fn new_root_folder(kind: &str) -> Result<PathBuf, Error> {
    let base = std::env::var_os(DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix(&format!("pgline-testkit-{kind}-"))
        .tempdir_in(&base)
        .map_err(|e| Error::io(format!("creating a folder in {}", base.display()), e))?;
    Ok(dir.keep())
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
}
