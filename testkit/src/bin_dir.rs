//! Finding the PostgreSQL server binaries.
//!
//! Owns: [`pg_bin_dir`], the search order `PG_BIN`, `pg_config --bindir`, `PATH`, then the
//! newest `/usr/lib/postgresql/*/bin`; [`pg_bin_dir_for_major`], the binaries of one
//! major version (`PG_BIN`, the fetch cache of `scripts/fetch-postgres.sh`, then
//! `/usr/lib/postgresql/<major>/bin`), chosen for the whole process by `PGLINE_PG_MAJOR`;
//! [`pg_major_version`], which runs `postgres --version` as the server's account (so a
//! binary that account cannot run, or whose libraries do not resolve, fails here with
//! the loader's words); and [`pg_major_or_skip`] for tests that need a version.
//! Must not: start anything but `pg_config` and `postgres --version`.

use std::collections::HashMap;
use std::env;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use crate::Error;
use crate::server_user::ServerUser;

/// Where Debian-style packages install one folder per major version.
const DISTRO_ROOT: &str = "/usr/lib/postgresql";

/// Environment variable choosing the major version every server of the process runs
/// (`PGLINE_PG_MAJOR=18`), unless a builder names one.
pub const MAJOR_ENV: &str = "PGLINE_PG_MAJOR";

/// Environment variable naming the fetch cache (default: see [`pg_cache_dir`]).
pub const CACHE_ENV: &str = "PGLINE_PG_CACHE";

/// Environment variable listing major versions whose absence fails a test instead of
/// skipping it (`PGLINE_PG_REQUIRED=17,18`; CI sets it after fetching them).
pub const REQUIRED_ENV: &str = "PGLINE_PG_REQUIRED";

/// The folder `scripts/fetch-postgres.sh` fetches into, one `<major>/bin` per version:
/// `PGLINE_PG_CACHE`, else `/var/cache/pgline/postgres` for root (the server then runs
/// as another account, which cannot enter root's home folder), else
/// `$XDG_CACHE_HOME/pgline/postgres`, else `~/.cache/pgline/postgres`.
pub fn pg_cache_dir() -> PathBuf {
    if let Some(dir) = env::var_os(CACHE_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    if ServerUser::get().is_ok_and(ServerUser::switches) {
        return PathBuf::from("/var/cache/pgline/postgres");
    }
    let base = env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(env::temp_dir);
    base.join("pgline/postgres")
}

/// The folder holding `postgres` and `initdb` (and usually `psql`, `pg_ctl`, ...).
///
/// Looked for, in order: the `PG_BIN` environment variable (an error if it is set but
/// wrong), `pg_config --bindir`, the folder of `postgres` on `PATH` (symlinks resolved)
/// when `initdb` sits next to it, then the newest `/usr/lib/postgresql/<version>/bin`.
/// The error lists every place tried. A successful answer is remembered for the process.
///
/// When `PGLINE_PG_MAJOR` is set, the answer is [`pg_bin_dir_for_major`] of that version
/// instead (an error if it is not a number or that version is not found: a run asked to
/// test a version must not quietly test another).
pub fn pg_bin_dir() -> Result<PathBuf, Error> {
    static FOUND: OnceLock<PathBuf> = OnceLock::new();
    if let Some(dir) = FOUND.get() {
        return Ok(dir.clone());
    }
    let dir = match major_from_env()? {
        Some(major) => pg_bin_dir_for_major(major)?,
        None => search()?,
    };
    Ok(FOUND.get_or_init(|| dir).clone())
}

/// The major version `PGLINE_PG_MAJOR` asks for, if set and not empty.
fn major_from_env() -> Result<Option<u32>, Error> {
    match env::var(MAJOR_ENV) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| Error::InvalidInput(format!("{MAJOR_ENV}={value:?} is not a number"))),
        _ => Ok(None),
    }
}

/// The folder holding `postgres` and `initdb` of PostgreSQL `major`.
///
/// Looked for, in order: `PG_BIN` when its `postgres` is of that version, the fetch cache
/// (`<`[`pg_cache_dir`]`>/<major>/bin`, filled by `scripts/fetch-postgres.sh <major>`),
/// then `/usr/lib/postgresql/<major>/bin`. The version is checked by running
/// `postgres --version` as the server's account. The error lists every place tried and
/// the command that fetches the version. A successful answer is remembered for the
/// process.
pub fn pg_bin_dir_for_major(major: u32) -> Result<PathBuf, Error> {
    static FOUND: OnceLock<Mutex<HashMap<u32, PathBuf>>> = OnceLock::new();
    let found = FOUND.get_or_init(Mutex::default);
    if let Some(dir) = lock(found).get(&major) {
        return Ok(dir.clone());
    }
    let mut tried = Vec::new();
    let mut candidates = Vec::new();
    match env::var_os("PG_BIN") {
        Some(value) => candidates.push(("PG_BIN", PathBuf::from(value))),
        None => tried.push("PG_BIN: not set".to_owned()),
    }
    candidates.push((
        "fetch cache",
        pg_cache_dir().join(major.to_string()).join("bin"),
    ));
    candidates.push((
        "distribution",
        Path::new(DISTRO_ROOT).join(major.to_string()).join("bin"),
    ));
    for (what, dir) in candidates {
        if !has_server_binaries(&dir) {
            tried.push(format!(
                "{what} {}: no postgres and initdb there",
                dir.display()
            ));
            continue;
        }
        match pg_major_version(&dir) {
            Ok(version) if version == major => {
                lock(found).insert(major, dir.clone());
                return Ok(dir);
            }
            Ok(version) => tried.push(format!(
                "{what} {}: PostgreSQL {version}, not {major}",
                dir.display()
            )),
            Err(err) => tried.push(format!("{what} {}: {err}", dir.display())),
        }
    }
    tried.push(format!(
        "to fetch PostgreSQL {major}: scripts/fetch-postgres.sh {major}"
    ));
    Err(Error::BinariesNotFound { tried })
}

/// The major version of the `postgres` in `bin_dir`, from `postgres --version` run as the
/// account servers run as. Remembered per folder for the process.
pub fn pg_major_version(bin_dir: &Path) -> Result<u32, Error> {
    static KNOWN: OnceLock<Mutex<HashMap<PathBuf, u32>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Mutex::default);
    if let Some(version) = lock(known).get(bin_dir) {
        return Ok(*version);
    }
    let user = ServerUser::get()?;
    let program = bin_dir.join("postgres");
    let output = user
        .command(&program, Path::new("/"))
        .arg("--version")
        .output()
        .map_err(|e| {
            Error::io(
                format!("running {} as {}", program.display(), user.name()),
                e,
            )
        })?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let action = format!("{} --version as {}", program.display(), user.name());
    crate::cluster::check(output, &action)?;
    let version = parse_version_output(&text).ok_or_else(|| Error::Command {
        action,
        status: "unexpected output".to_owned(),
        output: text.clone(),
    })?;
    lock(known).insert(bin_dir.to_path_buf(), version);
    Ok(version)
}

/// `"postgres (PostgreSQL) 18.4"` → 18; `"postgres (PostgreSQL) 9.6.24"` → 9;
/// `"postgres (PostgreSQL) 18beta1"` → 18.
fn parse_version_output(text: &str) -> Option<u32> {
    let version = text.split_whitespace().nth(2)?;
    let digits: String = version.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The binaries of PostgreSQL `major` for a test that needs that version, or `None`
/// after printing why the test is skipped.
///
/// The message goes straight to the process's stderr (not through the test harness's
/// capture), so `cargo test` shows it even for a passing test. When `PGLINE_PG_REQUIRED`
/// lists `major` (comma-separated), a missing version panics instead: a CI run that
/// fetched the version must not pass by skipping.
///
/// # Panics
///
/// When the version is missing and `PGLINE_PG_REQUIRED` lists it.
pub fn pg_major_or_skip(major: u32, test: &str) -> Option<PathBuf> {
    match pg_bin_dir_for_major(major) {
        Ok(dir) => Some(dir),
        Err(err) => {
            let required = env::var(REQUIRED_ENV).unwrap_or_default();
            if required.split(',').any(|v| v.trim() == major.to_string()) {
                panic!("{test}: PostgreSQL {major} is required ({REQUIRED_ENV}={required}): {err}");
            }
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: PostgreSQL {major} not available: {}",
                err.to_string().replace('\n', " ")
            );
            None
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
    fn version_output_is_parsed() {
        assert_eq!(
            parse_version_output("postgres (PostgreSQL) 18.4\n"),
            Some(18)
        );
        assert_eq!(
            parse_version_output("postgres (PostgreSQL) 9.6.24"),
            Some(9)
        );
        assert_eq!(
            parse_version_output("postgres (PostgreSQL) 18beta1"),
            Some(18)
        );
        assert_eq!(
            parse_version_output("postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(parse_version_output("postgres"), None);
        assert_eq!(parse_version_output("postgres (PostgreSQL) x"), None);
    }

    #[test]
    fn a_missing_major_lists_the_fetch_command() {
        let err = pg_bin_dir_for_major(4).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("scripts/fetch-postgres.sh 4"), "{text}");
        assert!(text.contains("fetch cache"), "{text}");
    }

    #[test]
    fn the_machine_major_is_found_by_number() {
        let dir = pg_bin_dir().unwrap();
        let major = pg_major_version(&dir).unwrap();
        assert!(major >= 9, "{major}");
        let again = pg_bin_dir_for_major(major).unwrap();
        assert_eq!(pg_major_version(&again).unwrap(), major);
    }

    #[test]
    fn finds_the_machine_binaries() {
        let dir = pg_bin_dir().unwrap();
        assert!(dir.join("postgres").is_file());
        assert!(dir.join("initdb").is_file());
    }
}
