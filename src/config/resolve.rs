//! Completing a configuration before connecting: [`Config::resolve`]
//! (service file, environment, defaults) and [`Config::validate`] (checks
//! across options).
//!
//! Owns the default user, database and password file, and the rules that
//! involve several options at once. The environment comes in as a lookup
//! function; the only I/O is what [`Config::apply_service_file`] reads.

use std::path::Path;

use super::options::{SslMode, SslNegotiation, SslRootCert};
use super::{Config, ConfigError};

/// Startup parameter names that [`Config::param`] may not use: the startup
/// message carries them from their own options.
const RESERVED_PARAMS: [&str; 5] = [
    "user",
    "database",
    "options",
    "application_name",
    "replication",
];

impl Config {
    /// Everything a libpq user expects before connecting, on a copy of
    /// `self`: the service file ([`Config::apply_service_file`]), then the
    /// environment ([`Config::apply_env`]), then the defaults:
    ///
    /// - `user`: the OS user, from USER, else LOGNAME; neither is
    ///   [`ConfigError::MissingUser`];
    /// - `dbname`: the user name;
    /// - `passfile`: `$HOME/.pgpass` (PGPASSFILE was applied with the
    ///   environment); left unset without HOME.
    ///
    /// Finally [`Config::validate`] checks the result.
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |var: &str| env(var).filter(|v| !v.is_empty());
        let mut config = self.clone();
        config.apply_service_file(env)?;
        config.apply_env(env)?;
        if config.user.is_none() {
            let user = get("USER")
                .or_else(|| get("LOGNAME"))
                .ok_or(ConfigError::MissingUser)?;
            config.user = Some(user);
        }
        if config.dbname.is_none() {
            config.dbname.clone_from(&config.user);
        }
        if config.passfile.is_none() {
            config.passfile = get("HOME").map(|home| Path::new(&home).join(".pgpass"));
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks the rules that involve several options, as libpq does before
    /// connecting:
    ///
    /// - the host, hostaddr and port lists can be paired (see [`Config::targets`]);
    /// - `sslnegotiation=direct` needs `sslmode` `require`, `verify-ca` or `verify-full`;
    /// - `sslrootcert=system` needs `sslmode=verify-full` (the default it implies);
    /// - `min_protocol_version` is not above `max_protocol_version`;
    /// - no value contains a NUL byte, and [`Config::param`] names are
    ///   non-empty and not reserved (`user`, `database`, `options`,
    ///   `application_name`, `replication`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.target_count()?;
        let mode = self.get_ssl_mode();
        if self.get_ssl_negotiation() == SslNegotiation::Direct && !mode.requires_tls() {
            return Err(ConfigError::IncompatibleOptions {
                reason: format!(
                    "weak sslmode \"{mode}\" may not be used with sslnegotiation=direct \
                     (use \"require\", \"verify-ca\", or \"verify-full\")"
                ),
            });
        }
        if self.ssl_root_cert == Some(SslRootCert::System) && mode != SslMode::VerifyFull {
            return Err(ConfigError::IncompatibleOptions {
                reason: format!(
                    "weak sslmode \"{mode}\" may not be used with sslrootcert=system (use \"verify-full\")"
                ),
            });
        }
        let (min, max) = (
            self.get_min_protocol_version(),
            self.get_max_protocol_version(),
        );
        if min.minor() > max.minor() {
            return Err(ConfigError::IncompatibleOptions {
                reason: format!(
                    "min_protocol_version \"{min}\" is greater than max_protocol_version \"{max}\""
                ),
            });
        }
        self.check_no_nul()?;
        for (name, _) in &self.params {
            if name.is_empty() || RESERVED_PARAMS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(ConfigError::IncompatibleOptions {
                    reason: format!(
                        "\"{name}\" cannot be set as a startup parameter; use its own option"
                    ),
                });
            }
        }
        Ok(())
    }

    fn check_no_nul(&self) -> Result<(), ConfigError> {
        let nul = |option: &str| {
            Err(ConfigError::ContainsNul {
                option: option.to_owned(),
            })
        };
        let texts = [
            ("user", &self.user),
            ("dbname", &self.dbname),
            ("application_name", &self.application_name),
            ("fallback_application_name", &self.fallback_application_name),
            ("options", &self.options),
        ];
        for (option, value) in texts {
            if value.as_deref().is_some_and(|v| v.contains('\0')) {
                return nul(option);
            }
        }
        if self.password.as_deref().is_some_and(|p| p.contains(&0)) {
            return nul("password");
        }
        for (name, value) in &self.params {
            if name.contains('\0') || value.contains('\0') {
                return nul(name);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::test_files::TempDir;
    use super::super::{Host, ProtocolVersionSetting, Target};
    use super::*;

    use super::super::test_files::env_of;

    #[test]
    fn defaults_from_the_os_user() {
        let env = env_of(&[
            ("USER", "osuser"),
            ("LOGNAME", "other"),
            ("HOME", "/home/osuser"),
        ]);
        let resolved = Config::new().resolve(&env).unwrap();
        assert_eq!(resolved.get_user(), Some("osuser"));
        assert_eq!(resolved.get_dbname(), Some("osuser"));
        assert_eq!(
            resolved.get_passfile(),
            Some(Path::new("/home/osuser/.pgpass"))
        );

        let resolved = Config::new()
            .resolve(&env_of(&[("LOGNAME", "logname")]))
            .unwrap();
        assert_eq!(resolved.get_user(), Some("logname"));
        assert_eq!(resolved.get_passfile(), None);

        let err = Config::new().resolve(&env_of(&[])).unwrap_err();
        assert_eq!(err, ConfigError::MissingUser);
        assert_eq!(
            err.to_string(),
            "no user name given: set the user option, PGUSER, USER or LOGNAME"
        );
    }

    #[test]
    fn precedence_explicit_then_service_then_env() {
        let dir = TempDir::new("resolve");
        let services = dir.write(
            "services",
            b"[svc]\nport=7000\ndbname=svcdb\nuser=svcuser\n",
        );
        let pgpass = dir.write("pgpass", b"h:7000:svcdb:explicit:from-pgpass\n");
        let services_path = services.display().to_string();
        let pgpass_path = pgpass.display().to_string();
        let env = env_of(&[
            ("PGSERVICE", "svc"),
            ("PGSERVICEFILE", &services_path),
            ("PGSYSCONFDIR", "/nonexistent"),
            ("PGPORT", "8000"),
            ("PGDATABASE", "envdb"),
            ("PGHOST", "h"),
            ("PGPASSFILE", &pgpass_path),
            ("USER", "osuser"),
        ]);
        let mut config = Config::new();
        config.user("explicit");
        let resolved = config.resolve(&env).unwrap();
        assert_eq!(resolved.get_user(), Some("explicit"));
        assert_eq!(resolved.get_ports(), &[7000]);
        assert_eq!(resolved.get_dbname(), Some("svcdb"));
        assert_eq!(resolved.get_hosts(), &[Host::Tcp("h".into())]);
        let targets = resolved.targets().unwrap();
        assert_eq!(
            targets,
            [Target {
                host: Host::Tcp("h".into()),
                port: 7000,
                hostaddr: None
            }]
        );
        assert_eq!(
            resolved.password_for(&targets[0]),
            Some(b"from-pgpass".to_vec())
        );
        // resolve works on a copy.
        assert_eq!(config.get_ports(), &[] as &[u16]);
    }

    #[test]
    fn cross_option_checks() {
        let cases = [
            (
                "sslnegotiation=direct",
                "weak sslmode \"prefer\" may not be used with sslnegotiation=direct (use \"require\", \"verify-ca\", or \"verify-full\")",
            ),
            (
                "sslnegotiation=direct sslmode=allow",
                "weak sslmode \"allow\" may not be used with sslnegotiation=direct (use \"require\", \"verify-ca\", or \"verify-full\")",
            ),
            (
                "sslrootcert=system sslmode=require",
                "weak sslmode \"require\" may not be used with sslrootcert=system (use \"verify-full\")",
            ),
            (
                "min_protocol_version=latest max_protocol_version=3.0",
                "min_protocol_version \"latest\" is greater than max_protocol_version \"3.0\"",
            ),
        ];
        for (text, message) in cases {
            let config: Config = text.parse().unwrap();
            assert_eq!(
                config.validate().unwrap_err().to_string(),
                message,
                "{text}"
            );
        }
        for ok in [
            "sslnegotiation=direct sslmode=require",
            "sslrootcert=system",
            "sslrootcert=system sslmode=verify-full",
            "min_protocol_version=3.0 max_protocol_version=latest",
        ] {
            let config: Config = ok.parse().unwrap();
            assert_eq!(config.validate(), Ok(()), "{ok}");
        }
        let config: Config = "sslrootcert=system".parse().unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::VerifyFull);
        assert_eq!(
            config.get_max_protocol_version(),
            ProtocolVersionSetting::V3_0
        );
    }

    #[test]
    fn params_and_nul_checks() {
        let mut config = Config::new();
        config
            .param("search_path", "app")
            .param("search_path", "app2")
            .param("DateStyle", "ISO");
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(
            config.get_params(),
            &[
                ("search_path".to_string(), "app2".to_string()),
                ("DateStyle".to_string(), "ISO".to_string())
            ]
        );
        config.param("User", "x");
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            "\"User\" cannot be set as a startup parameter; use its own option"
        );

        let mut config = Config::new();
        config.user("a\0b");
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            "the value of option \"user\" contains a NUL byte"
        );
        let mut config = Config::new();
        config.password(b"pa\0ss");
        assert_eq!(
            config.validate(),
            Err(ConfigError::ContainsNul {
                option: "password".into()
            })
        );
        let mut config = Config::new();
        config.host_path(PathBuf::from("/s")).param("x", "\0");
        assert_eq!(
            config.validate(),
            Err(ConfigError::ContainsNul { option: "x".into() })
        );
    }
}
