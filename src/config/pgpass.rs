//! The password file (`.pgpass`): `hostname:port:database:username:password`
//! lines.
//!
//! Owns libpq's matching rules and [`Config::password_for`]: the first
//! matching line wins; a field that is exactly `*` matches anything; `\:` and
//! `\\` are escapes in every field; `#` lines are comments; a socket host in
//! the default directory ([`DEFAULT_SOCKET_DIR`]) matches `localhost`, a
//! socket host elsewhere matches its directory path; on Unix a file that
//! group or others may access is ignored. The only I/O is reading that one
//! file with `std::fs`.

use std::fmt;
use std::path::Path;

use super::target::{DEFAULT_SOCKET_DIR, Host, Target};
use super::{Config, Redacted};

/// What looking up a target in the password file found.
#[derive(Clone, PartialEq, Eq)]
pub enum PassfileLookup {
    /// The password of the first matching line.
    Found(Vec<u8>),
    /// The file was read and no line matched (or no user name is set).
    NoMatch,
    /// No password file is configured (see [`Config::resolve`]).
    NoPassfile,
    /// The configured file does not exist.
    Missing,
    /// The file exists but was not used; libpq warns in these cases.
    Ignored(PassfileIgnored),
}

/// Why an existing password file was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassfileIgnored {
    /// It is not a regular file.
    NotAFile,
    /// Group or others have access; permissions must be `u=rw` (0600) or less.
    GroupOrWorldAccess {
        /// The file's permission bits.
        mode: u32,
    },
    /// It could not be read.
    Unreadable {
        /// The I/O error's message.
        reason: String,
    },
}

impl fmt::Debug for PassfileLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Found(_) => f.debug_tuple("Found").field(&Redacted).finish(),
            Self::NoMatch => f.write_str("NoMatch"),
            Self::NoPassfile => f.write_str("NoPassfile"),
            Self::Missing => f.write_str("Missing"),
            Self::Ignored(why) => f.debug_tuple("Ignored").field(why).finish(),
        }
    }
}

impl Config {
    /// The password for `target`: the explicit password if there is one,
    /// else the password file's entry for (host, port, dbname, user).
    ///
    /// The file is the `passfile` option, which [`Config::resolve`] sets from
    /// PGPASSFILE or `$HOME/.pgpass`. A missing file, a file that is not a
    /// regular file, and (on Unix) a file with group or world permissions all
    /// give `None`; [`Config::passfile_lookup`] tells these apart so the
    /// caller can warn as libpq does.
    pub fn password_for(&self, target: &Target) -> Option<Vec<u8>> {
        if let Some(password) = &self.password {
            return Some(password.clone());
        }
        match self.passfile_lookup(target) {
            PassfileLookup::Found(password) => Some(password),
            _ => None,
        }
    }

    /// Looks `target` up in the password file, ignoring any explicit password.
    /// The database defaults to the user name.
    pub fn passfile_lookup(&self, target: &Target) -> PassfileLookup {
        let Some(path) = &self.passfile else {
            return PassfileLookup::NoPassfile;
        };
        let Some(user) = self.user.as_deref().filter(|u| !u.is_empty()) else {
            return PassfileLookup::NoMatch;
        };
        let dbname = self
            .dbname
            .as_deref()
            .filter(|d| !d.is_empty())
            .unwrap_or(user);
        let contents = match read_private_file(path) {
            Ok(contents) => contents,
            Err(outcome) => return outcome,
        };
        let host = passfile_host(&target.host);
        let port = target.port.to_string();
        match find_password(
            &contents,
            host.as_bytes(),
            port.as_bytes(),
            dbname.as_bytes(),
            user.as_bytes(),
        ) {
            Some(password) => PassfileLookup::Found(password),
            None => PassfileLookup::NoMatch,
        }
    }
}

/// The host name a password file line must match for `host`.
fn passfile_host(host: &Host) -> String {
    match host {
        Host::Tcp(name) if name.is_empty() => "localhost".to_owned(),
        Host::Tcp(name) => name.clone(),
        Host::Unix(dir) if dir == Path::new(DEFAULT_SOCKET_DIR) => "localhost".to_owned(),
        Host::Unix(dir) => dir.to_string_lossy().into_owned(),
    }
}

fn read_private_file(path: &Path) -> Result<Vec<u8>, PassfileLookup> {
    let unreadable = |e: std::io::Error| {
        PassfileLookup::Ignored(PassfileIgnored::Unreadable {
            reason: e.to_string(),
        })
    };
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(PassfileLookup::Missing),
        Err(e) => return Err(unreadable(e)),
    };
    if !metadata.is_file() {
        return Err(PassfileLookup::Ignored(PassfileIgnored::NotAFile));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(PassfileLookup::Ignored(
                PassfileIgnored::GroupOrWorldAccess { mode },
            ));
        }
    }
    std::fs::read(path).map_err(unreadable)
}

/// The password of the first line of `contents` matching all four fields.
fn find_password(
    contents: &[u8],
    host: &[u8],
    port: &[u8],
    dbname: &[u8],
    user: &[u8],
) -> Option<Vec<u8>> {
    contents.split(|b| *b == b'\n').find_map(|raw| {
        let end = raw.iter().rposition(|b| *b != b'\r').map_or(0, |i| i + 1);
        let line = raw.get(..end).unwrap_or(&[]);
        if line.is_empty() || line.first() == Some(&b'#') {
            return None;
        }
        let rest = match_field(line, host)?;
        let rest = match_field(rest, port)?;
        let rest = match_field(rest, dbname)?;
        let rest = match_field(rest, user)?;
        Some(unescape_password(rest))
    })
}

/// Matches the field at the start of `line` against `token`; on a match,
/// returns what follows the field's closing `:`.
fn match_field<'a>(line: &'a [u8], token: &[u8]) -> Option<&'a [u8]> {
    if let Some(rest) = line.strip_prefix(b"*:") {
        return Some(rest);
    }
    let mut i = 0;
    let mut j = 0;
    loop {
        let mut c = *line.get(i)?;
        let mut escaped = false;
        if c == b'\\' {
            i += 1;
            c = *line.get(i)?;
            escaped = true;
        }
        if c == b':' && !escaped && j == token.len() {
            return line.get(i + 1..);
        }
        if token.get(j) != Some(&c) {
            return None;
        }
        i += 1;
        j += 1;
    }
}

/// The password field: up to an unescaped `:` or the end, escapes removed.
fn unescape_password(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut bytes = field.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        match b {
            b':' => break,
            b'\\' => out.push(bytes.next().unwrap_or(b'\\')),
            _ => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::test_files::TempDir;
    use super::*;

    const PGPASS: &str = "\
# comment line: *:*:*:*:commented
db1.example:5432:app:alice:first-match
db1.example:5432:app:alice:second-match
db1.example:*:*:bob:bob-any-port
*:5433:*:*:wildcard-5433
localhost:5432:app:alice:local-secret
/tmp/sockets:5432:app:alice:tmp-socket-secret
odd\\:host:5432:app:alice:escaped-host
db2.example:5432:app:alice:pa\\:ss\\\\word:ignored-after-colon
db3.example:5432:app:alice:trailing-cr\r
*:*:*:*:catch-all
";

    fn target(host: Host, port: u16) -> Target {
        Target {
            host,
            port,
            hostaddr: None,
        }
    }

    fn tcp(name: &str) -> Host {
        Host::Tcp(name.to_owned())
    }

    fn config_with(passfile: &Path, user: &str, dbname: &str) -> Config {
        let mut config = Config::new();
        config.passfile(passfile).user(user).dbname(dbname);
        config
    }

    #[test]
    fn matching_rules() {
        let dir = TempDir::new("pgpass");
        let file = dir.write("pgpass", PGPASS.as_bytes());
        let cases: &[(Host, u16, &str, &str, &[u8])] = &[
            (tcp("db1.example"), 5432, "alice", "app", b"first-match"),
            (tcp("db1.example"), 6000, "bob", "other", b"bob-any-port"),
            (tcp("anything"), 5433, "carol", "x", b"wildcard-5433"),
            (tcp("localhost"), 5432, "alice", "app", b"local-secret"),
            (
                Host::Unix(PathBuf::from(DEFAULT_SOCKET_DIR)),
                5432,
                "alice",
                "app",
                b"local-secret",
            ),
            (
                Host::Unix(PathBuf::from("/tmp/sockets")),
                5432,
                "alice",
                "app",
                b"tmp-socket-secret",
            ),
            (tcp("odd:host"), 5432, "alice", "app", b"escaped-host"),
            (tcp("db2.example"), 5432, "alice", "app", b"pa:ss\\word"),
            (tcp("db3.example"), 5432, "alice", "app", b"trailing-cr"),
            (tcp("db1.example"), 5432, "alice", "otherdb", b"catch-all"),
        ];
        for (host, port, user, db, expected) in cases {
            let config = config_with(&file, user, db);
            assert_eq!(
                config.passfile_lookup(&target(host.clone(), *port)),
                PassfileLookup::Found(expected.to_vec()),
                "{host:?}:{port} {user}@{db}"
            );
        }
    }

    #[test]
    fn no_match_and_dbname_default() {
        let dir = TempDir::new("pgpass_nomatch");
        let file = dir.write(
            "pgpass",
            b"h:5432:alice:alice:by-user-db\nh:5432:app:bob:x\n",
        );
        let mut config = Config::new();
        config.passfile(&file).user("alice");
        assert_eq!(
            config.password_for(&target(tcp("h"), 5432)),
            Some(b"by-user-db".to_vec())
        );
        config.dbname("app");
        assert_eq!(
            config.passfile_lookup(&target(tcp("h"), 5432)),
            PassfileLookup::NoMatch
        );
        assert_eq!(config.password_for(&target(tcp("h"), 5432)), None);
    }

    #[test]
    fn explicit_password_wins() {
        let dir = TempDir::new("pgpass_explicit");
        let file = dir.write("pgpass", b"*:*:*:*:from-file\n");
        let mut config = config_with(&file, "alice", "app");
        config.password("explicit");
        assert_eq!(
            config.password_for(&target(tcp("h"), 5432)),
            Some(b"explicit".to_vec())
        );
    }

    #[test]
    fn unusable_files() {
        let dir = TempDir::new("pgpass_unusable");
        let t = target(tcp("h"), 5432);

        let config = config_with(&dir.path().join("absent"), "alice", "app");
        assert_eq!(config.passfile_lookup(&t), PassfileLookup::Missing);
        assert_eq!(config.password_for(&t), None);

        let config = config_with(dir.path(), "alice", "app");
        assert_eq!(
            config.passfile_lookup(&t),
            PassfileLookup::Ignored(PassfileIgnored::NotAFile)
        );

        assert_eq!(
            Config::new().passfile_lookup(&t),
            PassfileLookup::NoPassfile
        );
    }

    #[cfg(unix)]
    #[test]
    fn group_readable_file_is_ignored() {
        let dir = TempDir::new("pgpass_mode");
        let file = dir.write("pgpass", b"*:*:*:*:secret\n");
        let config = config_with(&file, "alice", "app");
        let t = target(tcp("h"), 5432);
        assert_eq!(config.password_for(&t), Some(b"secret".to_vec()));
        dir.set_mode(&file, 0o640);
        assert_eq!(
            config.passfile_lookup(&t),
            PassfileLookup::Ignored(PassfileIgnored::GroupOrWorldAccess { mode: 0o640 })
        );
        assert_eq!(config.password_for(&t), None);
        dir.set_mode(&file, 0o604);
        assert_eq!(config.password_for(&t), None);
    }

    #[test]
    fn field_matching_edge_cases() {
        assert_eq!(match_field(b"*:rest", b"anything"), Some(&b"rest"[..]));
        assert_eq!(match_field(b"*x:rest", b"*x"), Some(&b"rest"[..]));
        assert_eq!(match_field(b"abc:rest", b"ab"), None);
        assert_eq!(match_field(b"ab:rest", b"abc"), None);
        assert_eq!(match_field(b"abc", b"abc"), None);
        assert_eq!(match_field(b"a\\\\b:rest", b"a\\b"), Some(&b"rest"[..]));
        assert_eq!(match_field(b"trailing\\", b"trailing"), None);
        assert_eq!(unescape_password(b"p\\"), b"p\\".to_vec());
        assert_eq!(unescape_password(b""), Vec::<u8>::new());
    }

    #[test]
    fn found_is_redacted_in_debug() {
        let shown = format!("{:?}", PassfileLookup::Found(b"hunter2".to_vec()));
        assert_eq!(shown, "Found(<redacted>)");
    }
}
