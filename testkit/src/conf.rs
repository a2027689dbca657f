//! The server's configuration files.
//!
//! Owns: [`AuthMethod`], the text of `pg_hba.conf` and of the settings block appended to
//! `postgresql.conf` (fast-start defaults, TLS files, the caller's settings), and writing
//! both into a data folder. Must not: start processes. Port and socket folder are given on
//! the postmaster's command line instead, so a copied data folder (a replica) can reuse
//! these files unchanged.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use crate::Error;

/// How clients other than the superuser-over-the-socket authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// No password asked.
    #[default]
    Trust,
    /// Cleartext password (passwords stored as SCRAM verifiers).
    Password,
    /// MD5 challenge (passwords stored as MD5 hashes, so the MD5 exchange really runs).
    Md5,
    /// SCRAM-SHA-256 (passwords stored as SCRAM verifiers).
    ScramSha256,
    /// Client certificate whose CN is the user name, on `hostssl` lines only (needs TLS,
    /// which the builder turns on); unix-socket logins stay `trust`.
    Cert,
}

impl AuthMethod {
    /// The method's name in `pg_hba.conf`.
    pub fn hba_name(self) -> &'static str {
        match self {
            Self::Trust => "trust",
            Self::Password => "password",
            Self::Md5 => "md5",
            Self::ScramSha256 => "scram-sha-256",
            Self::Cert => "cert",
        }
    }

    /// The `password_encryption` used when storing passwords for this method.
    pub fn password_encryption(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            _ => "scram-sha-256",
        }
    }

    /// The method for `local` (unix socket) lines: `cert` does not apply there.
    fn local_name(self) -> &'static str {
        match self {
            Self::Cert => "trust",
            other => other.hba_name(),
        }
    }
}

/// `pg_hba.conf`: the superuser over the socket first, for SQL and replication (so
/// [`crate::Server::psql`] and `pg_basebackup` always work), then the caller's `extra` lines, then the defaults for `auth`.
pub(crate) fn hba_text(superuser: &str, extra: &[String], auth: AuthMethod) -> String {
    let mut text = String::from("# written by pgline-testkit\n");
    text.push_str(&format!("local all {superuser} trust\n"));
    text.push_str(&format!("local replication {superuser} trust\n"));
    for line in extra {
        text.push_str(line.trim_end());
        text.push('\n');
    }
    let host_kind = if auth == AuthMethod::Cert {
        "hostssl"
    } else {
        "host"
    };
    let method = auth.hba_name();
    text.push_str(&format!("local all all {}\n", auth.local_name()));
    text.push_str(&format!("{host_kind} all all 127.0.0.1/32 {method}\n"));
    text.push_str(&format!("{host_kind} all all ::1/128 {method}\n"));
    text.push_str(&format!("local replication all {}\n", auth.local_name()));
    text.push_str(&format!(
        "{host_kind} replication all 127.0.0.1/32 {method}\n"
    ));
    text
}

/// Paths of the server's TLS files, as `postgresql.conf` needs them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TlsSettings<'a> {
    /// `ssl_cert_file`.
    pub(crate) cert: &'a Path,
    /// `ssl_key_file`.
    pub(crate) key: &'a Path,
    /// `ssl_ca_file` (to verify client certificates).
    pub(crate) ca: &'a Path,
}

/// Settings that make a throwaway server start and run fast; durability is not wanted.
const FAST_SETTINGS: &[(&str, &str)] = &[
    ("listen_addresses", "127.0.0.1"),
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("shared_buffers", "16MB"),
    ("max_wal_size", "256MB"),
    ("checkpoint_timeout", "1h"),
    ("autovacuum", "off"),
    ("log_line_prefix", "%m [%p] %q%u@%d "),
];

/// The settings block appended to `postgresql.conf`; later lines win, so the caller's
/// `extra` settings override the defaults.
pub(crate) fn settings_text(
    auth: AuthMethod,
    tls: Option<TlsSettings<'_>>,
    extra: &[(String, String)],
) -> String {
    let mut text = String::from("\n# --- added by pgline-testkit ---\n");
    let mut line = |name: &str, value: &str| {
        text.push_str(&format!("{name} = {}\n", quote_conf_value(value)));
    };
    for (name, value) in FAST_SETTINGS {
        line(name, value);
    }
    line("password_encryption", auth.password_encryption());
    if let Some(tls) = tls {
        line("ssl", "on");
        line("ssl_cert_file", &tls.cert.to_string_lossy());
        line("ssl_key_file", &tls.key.to_string_lossy());
        line("ssl_ca_file", &tls.ca.to_string_lossy());
    }
    for (name, value) in extra {
        line(name, value);
    }
    text
}

/// True for names `postgresql.conf` accepts: letters, digits, `_` and `.` (custom
/// classes), starting with a letter or `_`.
pub(crate) fn is_setting_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// `'value'` with `'` doubled and `\` escaped, as the configuration file parser expects.
pub(crate) fn quote_conf_value(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// Writes `pg_hba.conf` and appends `settings` to `postgresql.conf` in `data_dir`.
pub(crate) fn write_config(data_dir: &Path, hba: &str, settings: &str) -> Result<(), Error> {
    let hba_path = data_dir.join("pg_hba.conf");
    std::fs::write(&hba_path, hba)
        .map_err(|e| Error::io(format!("writing {}", hba_path.display()), e))?;
    let conf_path = data_dir.join("postgresql.conf");
    let mut conf = OpenOptions::new()
        .append(true)
        .open(&conf_path)
        .map_err(|e| Error::io(format!("opening {}", conf_path.display()), e))?;
    conf.write_all(settings.as_bytes())
        .map_err(|e| Error::io(format!("appending to {}", conf_path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hba_puts_superuser_then_extra_then_defaults() {
        let text = hba_text(
            "postgres",
            &["host all evil 127.0.0.1/32 reject".into()],
            AuthMethod::ScramSha256,
        );
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "local all postgres trust",
                "local replication postgres trust",
                "host all evil 127.0.0.1/32 reject",
                "local all all scram-sha-256",
                "host all all 127.0.0.1/32 scram-sha-256",
                "host all all ::1/128 scram-sha-256",
                "local replication all scram-sha-256",
                "host replication all 127.0.0.1/32 scram-sha-256",
            ]
        );
    }

    #[test]
    fn cert_auth_uses_hostssl_and_trusts_the_socket() {
        let text = hba_text("postgres", &[], AuthMethod::Cert);
        assert!(text.contains("\nlocal all all trust\n"), "{text}");
        assert!(
            text.contains("\nhostssl all all 127.0.0.1/32 cert\n"),
            "{text}"
        );
        assert!(!text.contains("\nhost all"), "{text}");
    }

    #[test]
    fn settings_quote_values_and_let_extra_win() {
        let tls = TlsSettings {
            cert: Path::new("/x/server.crt"),
            key: Path::new("/x/server.key"),
            ca: Path::new("/x/it's\\ca.crt"),
        };
        let text = settings_text(
            AuthMethod::Md5,
            Some(tls),
            &[("shared_buffers".into(), "32MB".into())],
        );
        assert!(text.contains("fsync = 'off'\n"));
        assert!(text.contains("password_encryption = 'md5'\n"));
        assert!(text.contains("ssl = 'on'\n"));
        assert!(
            text.contains("ssl_ca_file = '/x/it''s\\\\ca.crt'\n"),
            "{text}"
        );
        let default_at = text.find("shared_buffers = '16MB'").unwrap();
        let extra_at = text.find("shared_buffers = '32MB'").unwrap();
        assert!(extra_at > default_at);
    }

    #[test]
    fn setting_names_are_checked() {
        assert!(is_setting_name("work_mem"));
        assert!(is_setting_name("pgline.custom_1"));
        assert!(!is_setting_name("1abc"));
        assert!(!is_setting_name("a = b"));
        assert!(!is_setting_name(""));
    }

    #[test]
    fn method_names() {
        assert_eq!(AuthMethod::default(), AuthMethod::Trust);
        assert_eq!(AuthMethod::ScramSha256.hba_name(), "scram-sha-256");
        assert_eq!(AuthMethod::Password.password_encryption(), "scram-sha-256");
        assert_eq!(AuthMethod::Md5.password_encryption(), "md5");
    }
}
