//! Finding the PostgreSQL server binaries.
//!
//! Owns: [`pg_bin_dir`], the search order `PG_BIN`, `pg_config --bindir`, `PATH`, then the
//! newest `/usr/lib/postgresql/*/bin`. Must not: start anything but `pg_config`.

use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::Error;

/// Where Debian-style packages install one folder per major version.
const DISTRO_ROOT: &str = "/usr/lib/postgresql";

/// The folder holding `postgres` and `initdb` (and usually `psql`, `pg_ctl`, ...).
///
/// Looked for, in order: the `PG_BIN` environment variable (an error if it is set but
/// wrong), `pg_config --bindir`, the folder of `postgres` on `PATH` (symlinks resolved)
/// when `initdb` sits next to it, then the newest `/usr/lib/postgresql/<version>/bin`.
/// The error lists every place tried. A successful answer is remembered for the process.
pub fn pg_bin_dir() -> Result<PathBuf, Error> {
    static FOUND: OnceLock<PathBuf> = OnceLock::new();
    if let Some(dir) = FOUND.get() {
        return Ok(dir.clone());
    }
    let dir = search()?;
    Ok(FOUND.get_or_init(|| dir).clone())
}

fn search() -> Result<PathBuf, Error> {
    let mut tried = Vec::new();

    if let Some(value) = env::var_os("PG_BIN") {
        let dir = PathBuf::from(&value);
        if has_server_binaries(&dir) {
            return Ok(dir);
        }
        tried.push(format!(
            "PG_BIN={}: no postgres and initdb there",
            dir.display()
        ));
        return Err(Error::BinariesNotFound { tried });
    }
    tried.push("PG_BIN: not set".to_owned());

    match from_pg_config() {
        Ok(dir) if has_server_binaries(&dir) => return Ok(dir),
        Ok(dir) => tried.push(format!(
            "pg_config --bindir: {} has no postgres and initdb",
            dir.display()
        )),
        Err(why) => tried.push(format!("pg_config --bindir: {why}")),
    }

    match from_path(env::var_os("PATH").as_deref()) {
        Ok(dir) => return Ok(dir),
        Err(why) => tried.push(format!("PATH: {why}")),
    }

    match newest_versioned(Path::new(DISTRO_ROOT)) {
        Some(dir) => return Ok(dir),
        None => tried.push(format!(
            "{DISTRO_ROOT}/*/bin: none with postgres and initdb"
        )),
    }

    Err(Error::BinariesNotFound { tried })
}

/// True when `dir` holds both `postgres` and `initdb`.
fn has_server_binaries(dir: &Path) -> bool {
    dir.join("postgres").is_file() && dir.join("initdb").is_file()
}

fn from_pg_config() -> Result<PathBuf, String> {
    let output = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("not runnable ({e})"))?;
    if !output.status.success() {
        return Err(format!("failed ({})", output.status));
    }
    let text = String::from_utf8(output.stdout).map_err(|_| "printed non-UTF-8".to_owned())?;
    let dir = text.trim();
    if dir.is_empty() {
        return Err("printed nothing".to_owned());
    }
    Ok(PathBuf::from(dir))
}

/// The folder of the first `postgres` on `path` whose real location has `initdb` beside it.
fn from_path(path: Option<&OsStr>) -> Result<PathBuf, String> {
    let path = path.ok_or_else(|| "not set".to_owned())?;
    for entry in env::split_paths(path) {
        let candidate = entry.join("postgres");
        if !candidate.is_file() {
            continue;
        }
        let real = candidate.canonicalize().unwrap_or(candidate);
        if let Some(dir) = real.parent() {
            if has_server_binaries(dir) {
                return Ok(dir.to_path_buf());
            }
        }
    }
    Err("no postgres with initdb next to it".to_owned())
}

/// The `bin` folder of the highest version under `root` (`root/<version>/bin`).
fn newest_versioned(root: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(root).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = parse_version(entry.file_name().to_str()?)?;
            let bin = entry.path().join("bin");
            has_server_binaries(&bin).then_some((version, bin))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bin)| bin)
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; anything else is not a version folder.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn fake_bin(dir: &Path) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join("postgres"), "").unwrap();
        fs::write(dir.join("initdb"), "").unwrap();
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(parse_version("15"), Some(vec![15]));
        assert_eq!(parse_version("9.6"), Some(vec![9, 6]));
        assert_eq!(parse_version("main"), None);
        assert!(parse_version("10") > parse_version("9.6"));
    }

    #[test]
    fn newest_version_with_binaries_wins() {
        let root = tempfile::tempdir().unwrap();
        fake_bin(&root.path().join("9.6/bin"));
        fake_bin(&root.path().join("13/bin"));
        fs::create_dir_all(root.path().join("17/bin")).unwrap(); // no binaries
        fs::create_dir_all(root.path().join("notes")).unwrap();
        assert_eq!(
            newest_versioned(root.path()),
            Some(root.path().join("13/bin"))
        );
    }

    #[test]
    fn path_search_needs_initdb_beside_postgres() {
        let root = tempfile::tempdir().unwrap();
        let lonely = root.path().join("lonely");
        fs::create_dir_all(&lonely).unwrap();
        fs::write(lonely.join("postgres"), "").unwrap();
        let full = root.path().join("full");
        fake_bin(&full);
        let path = env::join_paths([&lonely, &full]).unwrap();
        assert_eq!(
            from_path(Some(&path)).unwrap(),
            full.canonicalize().unwrap()
        );
        let only_lonely = env::join_paths([&lonely]).unwrap();
        assert!(from_path(Some(&only_lonely)).is_err());
        assert_eq!(from_path(None).unwrap_err(), "not set");
    }

    #[test]
    fn finds_the_machine_binaries() {
        let dir = pg_bin_dir().unwrap();
        assert!(dir.join("postgres").is_file());
        assert!(dir.join("initdb").is_file());
    }
}
