//! The connection service file (`pg_service.conf`): named sections of
//! connection options.
//!
//! Owns finding the files, parsing their INI format and
//! [`Config::apply_service_file`]. The only I/O is `std::fs::read` of the
//! two service files; the environment comes in as a lookup function.

use std::path::{Path, PathBuf};

use super::keyword;
use super::{Config, ConfigError};

/// The directory holding the system-wide `pg_service.conf` when PGSYSCONFDIR
/// is unset: Debian's libpq `sysconfdir`.
pub const DEFAULT_SYSCONFDIR: &str = "/etc/postgresql-common";

/// One `key=value` line of a service section.
#[derive(Debug, PartialEq, Eq)]
struct ServiceLine<'a> {
    line: usize,
    key: &'a str,
    value: &'a str,
}

impl Config {
    /// Applies the service named by `service` (or PGSERVICE, when the option
    /// is unset). Without a service name this does nothing.
    ///
    /// The section is looked up first in the per-user file (the
    /// `servicefile` option, else PGSERVICEFILE, else `$HOME/.pg_service.conf`),
    /// then in `$PGSYSCONFDIR/pg_service.conf` (PGSYSCONFDIR defaulting to
    /// [`DEFAULT_SYSCONFDIR`]); the first file with the section wins and
    /// the other is not read. A missing file is skipped. Options already set
    /// win over the file's; the environment has not been applied yet when
    /// [`Config::resolve`] calls this, so the file wins over it, as in libpq.
    ///
    /// A service found in neither file is [`ConfigError::ServiceNotFound`].
    /// In the file, lines are `[name]`, `key=value` (whitespace around key
    /// and value trimmed), `#` comments or blank; any other line in the
    /// chosen section, or `service=` / `servicefile=` in it, is an error.
    pub fn apply_service_file(
        &mut self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let get = |var: &str| env(var).filter(|v| !v.is_empty());
        let Some(name) = self.service.clone().or_else(|| get("PGSERVICE")) else {
            return Ok(());
        };
        let user_file = self
            .service_file
            .clone()
            .or_else(|| get("PGSERVICEFILE").map(PathBuf::from))
            .or_else(|| get("HOME").map(|home| Path::new(&home).join(".pg_service.conf")));
        let sysconfdir = get("PGSYSCONFDIR").unwrap_or_else(|| DEFAULT_SYSCONFDIR.to_owned());
        let system_file = Path::new(&sysconfdir).join("pg_service.conf");

        for path in user_file.iter().chain(std::iter::once(&system_file)) {
            let Some(contents) = read_if_exists(path)? else {
                continue;
            };
            let section = find_section(&contents, &name).map_err(|(line, reason)| {
                ConfigError::ServiceFileSyntax {
                    path: path.clone(),
                    line,
                    reason,
                }
            })?;
            if let Some(lines) = section {
                self.service = Some(name);
                return self.apply_service_lines(path, &lines);
            }
        }
        Err(ConfigError::ServiceNotFound { name })
    }

    fn apply_service_lines(
        &mut self,
        path: &Path,
        lines: &[ServiceLine<'_>],
    ) -> Result<(), ConfigError> {
        for entry in lines {
            let wrap = |source| ConfigError::ServiceFileValue {
                path: path.to_path_buf(),
                line: entry.line,
                source: Box::new(source),
            };
            let keyword = keyword::lookup(entry.key).map_err(wrap)?;
            if !self.is_keyword_set(keyword) {
                self.set_keyword(keyword, entry.value).map_err(wrap)?;
            }
        }
        Ok(())
    }
}

/// The file's text, `None` when it does not exist.
fn read_if_exists(path: &Path) -> Result<Option<String>, ConfigError> {
    let read_error = |reason: String| ConfigError::ReadFile {
        path: path.to_path_buf(),
        reason,
    };
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| read_error("the file is not valid UTF-8".to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(read_error(e.to_string())),
    }
}

/// The `key=value` lines of section `[name]`, `None` when the file has no
/// such section; on a bad line in that section, its number and what is wrong.
fn find_section<'a>(
    contents: &'a str,
    name: &str,
) -> Result<Option<Vec<ServiceLine<'a>>>, (usize, &'static str)> {
    let mut found: Option<Vec<ServiceLine<'a>>> = None;
    for (index, raw) in contents.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            if found.is_some() {
                break;
            }
            let matches = header
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(']'));
            if matches {
                found = Some(Vec::new());
            }
            continue;
        }
        let Some(lines) = found.as_mut() else {
            continue;
        };
        let number = index + 1;
        let Some((key, value)) = line.split_once('=') else {
            return Err((number, "expected key=value"));
        };
        let key = key.trim();
        match key {
            "service" => return Err((number, "nested service specifications are not supported")),
            "servicefile" => {
                return Err((
                    number,
                    "nested servicefile specifications are not supported",
                ));
            }
            _ => lines.push(ServiceLine {
                line: number,
                key,
                value: value.trim(),
            }),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::super::test_files::TempDir;
    use super::super::{Host, SslMode};
    use super::*;

    const USER_FILE: &str = "\
# per-user services
[other]
host=wrong

[app]
host = db1,db2
port=5433
user=svcuser
sslmode=verify-full
  # indented comment
application_name=svc app

[bad]
host=x
this line has no equals
";

    const SYSTEM_FILE: &str = "\
[app]
host=system-host

[reporting]
host=reports
dbname=reporting
sslmode=require
";

    fn env_of(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<&'static str, String> = pairs.into_iter().collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn section_parsing() {
        let lines = find_section(USER_FILE, "app").unwrap().unwrap();
        let got: Vec<_> = lines.iter().map(|l| (l.line, l.key, l.value)).collect();
        assert_eq!(
            got,
            [
                (6, "host", "db1,db2"),
                (7, "port", "5433"),
                (8, "user", "svcuser"),
                (9, "sslmode", "verify-full"),
                (11, "application_name", "svc app"),
            ]
        );
        assert_eq!(find_section(USER_FILE, "missing").unwrap(), None);
        // A prefix of a section name is not that section.
        assert_eq!(find_section(USER_FILE, "ap").unwrap(), None);
        assert_eq!(
            find_section(USER_FILE, "bad"),
            Err((15, "expected key=value"))
        );
        assert_eq!(
            find_section("[x]\nservice=y\n", "x"),
            Err((2, "nested service specifications are not supported"))
        );
    }

    #[test]
    fn user_file_then_system_file() {
        let dir = TempDir::new("service");
        let user = dir.write("user_services.conf", USER_FILE.as_bytes());
        dir.write("pg_service.conf", SYSTEM_FILE.as_bytes());
        let env = env_of(vec![
            ("PGSERVICEFILE", user.display().to_string()),
            ("PGSYSCONFDIR", dir.path().display().to_string()),
        ]);

        // Found in the user file: the system file's [app] is not used.
        let mut config: Config = "service=app user=explicit".parse().unwrap();
        config.apply_service_file(&env).unwrap();
        assert_eq!(
            config.get_hosts(),
            &[Host::Tcp("db1".into()), Host::Tcp("db2".into())]
        );
        assert_eq!(config.get_ports(), &[5433]);
        assert_eq!(config.get_user(), Some("explicit"));
        assert_eq!(config.get_ssl_mode(), SslMode::VerifyFull);
        assert_eq!(config.get_application_name(), Some("svc app"));

        // Only in the system file, named by PGSERVICE.
        let mut env_pairs = vec![
            ("PGSERVICEFILE", user.display().to_string()),
            ("PGSYSCONFDIR", dir.path().display().to_string()),
            ("PGSERVICE", "reporting".to_string()),
        ];
        let mut config = Config::new();
        config
            .apply_service_file(&env_of(env_pairs.clone()))
            .unwrap();
        assert_eq!(config.get_service(), Some("reporting"));
        assert_eq!(config.get_hosts(), &[Host::Tcp("reports".into())]);
        assert_eq!(config.get_dbname(), Some("reporting"));
        assert_eq!(config.get_ssl_mode(), SslMode::Require);

        // Named but nowhere.
        env_pairs[2].1 = "nowhere".to_string();
        let err = Config::new()
            .apply_service_file(&env_of(env_pairs))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "definition of service \"nowhere\" not found"
        );
    }

    #[test]
    fn pgline_keywords_in_a_service_file_yield_to_the_string() {
        let dir = TempDir::new("service_pgline");
        let file = dir.write(
            "services.conf",
            b"[app]\npgline_query_timeout=5s\npgline_statement_cache_capacity=8\n",
        );
        let env = env_of(vec![("PGSERVICEFILE", file.display().to_string())]);
        let mut config: Config = "service=app pgline_query_timeout=0".parse().unwrap();
        config.apply_service_file(&env).unwrap();
        // Given explicitly (even as "no timeout"), the string wins.
        assert_eq!(config.get_query_timeout(), None);
        assert_eq!(config.get_statement_cache_capacity(), 8);
    }

    #[test]
    fn servicefile_option_and_home_default() {
        let dir = TempDir::new("service_home");
        dir.write(".pg_service.conf", b"[home]\nport=6001\n");
        let explicit = dir.write("explicit.conf", b"[home]\nport=6002\n");
        let empty_sysconf = dir.path().join("no-such-dir");
        let env = env_of(vec![
            ("HOME", dir.path().display().to_string()),
            ("PGSYSCONFDIR", empty_sysconf.display().to_string()),
        ]);
        let mut config: Config = "service=home".parse().unwrap();
        config.apply_service_file(&env).unwrap();
        assert_eq!(config.get_ports(), &[6001]);

        let mut config = Config::new();
        config.service("home").service_file(&explicit);
        config.apply_service_file(&env).unwrap();
        assert_eq!(config.get_ports(), &[6002]);
    }

    #[test]
    fn errors_name_file_and_line() {
        let dir = TempDir::new("service_errors");
        let file = dir.write(
            "s.conf",
            b"[a]\nsslmode=maybe\n[b]\nfoo=1\n[c]\nno equals\n",
        );
        for (service, message) in [
            (
                "a",
                format!(
                    "in service file \"{}\", line 2: invalid value \"maybe\" for option \"sslmode\": \
                     expected one of disable, allow, prefer, require, verify-ca, verify-full",
                    file.display()
                ),
            ),
            (
                "b",
                format!(
                    "in service file \"{}\", line 4: invalid connection option \"foo\"",
                    file.display()
                ),
            ),
            (
                "c",
                format!(
                    "syntax error in service file \"{}\", line 6: expected key=value",
                    file.display()
                ),
            ),
        ] {
            let mut config = Config::new();
            config.service(service).service_file(&file);
            let err = config.apply_service_file(&|_| None).unwrap_err();
            assert_eq!(err.to_string(), message);
        }
    }

    #[test]
    fn no_service_is_a_no_op() {
        let mut config = Config::new();
        config.apply_service_file(&|_| None).unwrap();
        assert_eq!(config, Config::new());
    }
}
