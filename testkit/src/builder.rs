//! Describing and starting a throwaway server.
//!
//! Owns: [`ServerBuilder`], which collects auth method, hba lines, users, databases,
//! settings and TLS, then runs the steps in order: folder + watchdog, data folder
//! (template copy or `initdb`), certificates, configuration, postmaster, users and
//! databases. Must not: implement those steps (each lives in its own module) so replicas
//! can reuse them.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Instant;

use crate::cluster::{self, SUPERUSER};
use crate::conf::{self, AuthMethod, TlsSettings};
use crate::server::{PortChoice, Server};
use crate::server_user::ServerUser;
use crate::sql::{self, NewDatabase, NewUser};
use crate::watchdog::Watchdog;
use crate::{Error, folder, pg_bin_dir, pg_bin_dir_for_major, tls};

/// Describes a throwaway server; [`ServerBuilder::start`] makes it.
///
/// Defaults: `trust` for every user, no TLS, no extra users, settings tuned for speed
/// (no fsync, small shared buffers, no autovacuum), data folder copied from a
/// per-process `initdb` template.
#[derive(Debug, Clone, Default)]
pub struct ServerBuilder {
    auth: AuthMethod,
    hba_lines: Vec<String>,
    users: Vec<NewUser>,
    databases: Vec<NewDatabase>,
    settings: Vec<(String, String)>,
    tls: bool,
    fresh_initdb: bool,
    pg_major: Option<u32>,
}

impl ServerBuilder {
    /// A builder with the defaults above.
    pub fn new() -> Self {
        Self::default()
    }

    /// The method on the default `local` and `host` lines (`hostssl` for
    /// [`AuthMethod::Cert`], which also turns TLS on). The superuser over the unix socket
    /// always uses `trust`.
    pub fn auth(mut self, method: AuthMethod) -> Self {
        self.auth = method;
        self
    }

    /// An extra `pg_hba.conf` line, placed before the default lines (after the superuser's
    /// socket line). One line, no newline.
    pub fn hba_line(mut self, line: &str) -> Self {
        self.hba_lines.push(line.to_owned());
        self
    }

    /// A `LOGIN` role with `password` (stored as MD5 when the auth method is
    /// [`AuthMethod::Md5`], else as SCRAM-SHA-256; empty means no password). Naming the
    /// superuser sets its password instead. With TLS on, the user gets a client
    /// certificate.
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.push(NewUser {
            name: name.to_owned(),
            password: password.to_owned(),
        });
        self
    }

    /// A database `name` owned by `owner` (created after the users).
    pub fn database(mut self, name: &str, owner: &str) -> Self {
        self.databases.push(NewDatabase {
            name: name.to_owned(),
            owner: owner.to_owned(),
        });
        self
    }

    /// An extra `postgresql.conf` setting; it overrides the testkit's defaults.
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.settings.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Turns TLS on: a CA, a server certificate (SAN `localhost`, `127.0.0.1`, `::1`) and
    /// a client certificate per user are generated, and `ssl = on`.
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Runs a fresh `initdb` instead of copying the per-process template (slower; gives
    /// the server its own system identifier).
    pub fn fresh_initdb(mut self, on: bool) -> Self {
        self.fresh_initdb = on;
        self
    }

    /// Runs PostgreSQL `major` (found by [`crate::pg_bin_dir_for_major`]) instead of the
    /// process's default ([`crate::pg_bin_dir`], which follows `PGLINE_PG_MAJOR`).
    pub fn pg_major(mut self, major: u32) -> Self {
        self.pg_major = Some(major);
        self
    }

    fn tls_wanted(&self) -> bool {
        self.tls || self.auth == AuthMethod::Cert
    }

    /// Rejects input that cannot be written into SQL or configuration files.
    fn validate(&self) -> Result<(), Error> {
        let no_nul = |what: &str, value: &str| {
            if value.contains('\0') {
                Err(Error::InvalidInput(format!(
                    "{what} {value:?} contains a NUL byte"
                )))
            } else {
                Ok(())
            }
        };
        for user in &self.users {
            if user.name.is_empty() {
                return Err(Error::InvalidInput("empty user name".to_owned()));
            }
            no_nul("user name", &user.name)?;
            no_nul("password of user", &user.password)?;
        }
        for db in &self.databases {
            if db.name.is_empty() {
                return Err(Error::InvalidInput("empty database name".to_owned()));
            }
            no_nul("database name", &db.name)?;
            no_nul("database owner", &db.owner)?;
        }
        for line in &self.hba_lines {
            if line.contains(['\n', '\r', '\0']) {
                return Err(Error::InvalidInput(format!(
                    "hba line {line:?} must be a single line"
                )));
            }
        }
        for (name, value) in &self.settings {
            if !conf::is_setting_name(name) {
                return Err(Error::InvalidInput(format!("setting name {name:?}")));
            }
            if value.contains(['\n', '\r', '\0']) {
                return Err(Error::InvalidInput(format!(
                    "value of setting {name} must be a single line"
                )));
            }
        }
        Ok(())
    }

    /// Creates, configures and starts the server, then creates users and databases.
    ///
    /// On any failure everything made so far is removed, and the error says which step
    /// failed (with the server log tail once the postmaster has been started).
    pub fn start(self) -> Result<Server, Error> {
        let began = Instant::now();
        self.validate()?;
        let bin_dir = match self.pg_major {
            Some(major) => pg_bin_dir_for_major(major)?,
            None => pg_bin_dir()?,
        };
        let user = ServerUser::get()?;

        let root = folder::new_root_folder("server")?;
        let watchdog = match Watchdog::spawn(&root) {
            Ok(dog) => dog,
            Err(err) => {
                let _ = fs::remove_dir_all(&root);
                return Err(err);
            }
        };
        // From here on, dropping `server` cleans up whatever exists.
        let mut server = Server::new(root, bin_dir, user, watchdog);
        let root = server.root().to_path_buf();
        user.own(&root)?;
        let socket_dir = server.socket_dir().to_path_buf();
        fs::create_dir(&socket_dir)
            .map_err(|e| Error::io(format!("creating {}", socket_dir.display()), e))?;
        fs::set_permissions(&socket_dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(format!("chmod {}", socket_dir.display()), e))?;
        user.own(&socket_dir)?;

        let data_dir = server.data_dir().to_path_buf();
        if self.fresh_initdb {
            cluster::initdb(server.bin_dir(), &data_dir, user)?;
        } else {
            cluster::copy_template(server.bin_dir(), &data_dir, user)?;
        }

        if self.tls_wanted() {
            let mut names: Vec<&str> = vec![SUPERUSER];
            names.extend(self.users.iter().map(|u| u.name.as_str()));
            let files = tls::generate(&root.join("tls"), &names, user)?;
            server.set_tls(files);
        }
        let tls_settings = server.tls().map(|files| TlsSettings {
            cert: files.server_cert(),
            key: files.server_key(),
            ca: files.ca_cert(),
        });
        let settings = conf::settings_text(self.auth, tls_settings, &self.settings);
        let hba = conf::hba_text(SUPERUSER, &self.hba_lines, self.auth);
        conf::write_config(&data_dir, &hba, &settings)?;

        server.start_postmaster(PortChoice::New)?;

        if !self.users.is_empty() || !self.databases.is_empty() {
            let script = sql::setup_script(self.auth, SUPERUSER, &self.users, &self.databases);
            server.psql(&script).map_err(|err| Error::Server {
                action: "creating users and databases".to_owned(),
                reason: err.to_string(),
                log_tail: server.log_tail(20),
            })?;
        }
        server.set_startup_time(began.elapsed());
        Ok(server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_rejects_unwritable_input() {
        let bad = [
            ServerBuilder::new().user("a\0b", "x"),
            ServerBuilder::new().user("", "x"),
            ServerBuilder::new().user("a", "p\0w"),
            ServerBuilder::new().database("", "a"),
            ServerBuilder::new().hba_line("host all all 0.0.0.0/0 trust\nlocal all all trust"),
            ServerBuilder::new().setting("work_mem = 1; x", "1"),
            ServerBuilder::new().setting("work_mem", "1\nfsync = on"),
        ];
        for builder in bad {
            let err = builder.clone().validate().unwrap_err();
            assert!(matches!(err, Error::InvalidInput(_)), "{builder:?}: {err}");
        }
        ServerBuilder::new()
            .user("pässwörd-user", "pässwörd'\\")
            .setting("pgline.x", "it's")
            .validate()
            .unwrap();
    }

    #[test]
    fn cert_auth_implies_tls() {
        assert!(!ServerBuilder::new().tls_wanted());
        assert!(ServerBuilder::new().tls(true).tls_wanted());
        assert!(ServerBuilder::new().auth(AuthMethod::Cert).tls_wanted());
    }
}
