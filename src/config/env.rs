//! The `PG*` environment variables.
//!
//! Owns the variable-to-option table and [`Config::apply_env`], which fills
//! only unset options. The environment comes in as a lookup function, so
//! this module never reads the process environment itself and tests never
//! change it.

use super::keyword::Keyword;
use super::{Config, ConfigError};

/// Variables that set a connection option, as in libpq.
const OPTION_VARS: [(&str, Keyword); 27] = [
    ("PGHOST", Keyword::Host),
    ("PGHOSTADDR", Keyword::Hostaddr),
    ("PGPORT", Keyword::Port),
    ("PGDATABASE", Keyword::Dbname),
    ("PGUSER", Keyword::User),
    ("PGPASSWORD", Keyword::Password),
    ("PGPASSFILE", Keyword::Passfile),
    ("PGSERVICE", Keyword::Service),
    ("PGSERVICEFILE", Keyword::ServiceFile),
    ("PGOPTIONS", Keyword::Options),
    ("PGAPPNAME", Keyword::ApplicationName),
    ("PGSSLMODE", Keyword::SslMode),
    ("PGSSLNEGOTIATION", Keyword::SslNegotiation),
    ("PGSSLCOMPRESSION", Keyword::SslCompression),
    ("PGSSLCERT", Keyword::SslCert),
    ("PGSSLKEY", Keyword::SslKey),
    ("PGSSLROOTCERT", Keyword::SslRootCert),
    ("PGSSLSNI", Keyword::SslSni),
    ("PGCHANNELBINDING", Keyword::ChannelBinding),
    ("PGREQUIREAUTH", Keyword::RequireAuth),
    ("PGCONNECT_TIMEOUT", Keyword::ConnectTimeout),
    ("PGCLIENTENCODING", Keyword::ClientEncoding),
    ("PGTARGETSESSIONATTRS", Keyword::TargetSessionAttrs),
    ("PGLOADBALANCEHOSTS", Keyword::LoadBalanceHosts),
    ("PGMINPROTOCOLVERSION", Keyword::MinProtocolVersion),
    ("PGMAXPROTOCOLVERSION", Keyword::MaxProtocolVersion),
    ("PGGSSENCMODE", Keyword::GssEncMode),
];

/// Variables of options pgline does not support: set, they are an error.
const UNSUPPORTED_VARS: [(&str, &str); 6] = [
    ("PGSSLCERTMODE", "sslcertmode"),
    ("PGSSLCRL", "sslcrl"),
    ("PGSSLCRLDIR", "sslcrldir"),
    ("PGREQUIREPEER", "requirepeer"),
    ("PGSSLMINPROTOCOLVERSION", "ssl_min_protocol_version"),
    ("PGSSLMAXPROTOCOLVERSION", "ssl_max_protocol_version"),
];

/// Variables libpq sends as startup parameters.
const PARAM_VARS: [(&str, &str); 3] = [
    ("PGDATESTYLE", "datestyle"),
    ("PGTZ", "timezone"),
    ("PGGEQO", "geqo"),
];

impl Config {
    /// Fills every unset option from the `PG*` environment, read through
    /// `env` (pass `&|k| std::env::var(k).ok()` for the real one).
    ///
    /// Variables: PGHOST, PGHOSTADDR, PGPORT, PGDATABASE, PGUSER,
    /// PGPASSWORD, PGPASSFILE, PGSERVICE, PGSERVICEFILE, PGOPTIONS, PGAPPNAME,
    /// PGSSLMODE (and the old PGREQUIRESSL=1, meaning `require`, when
    /// PGSSLMODE is unset), PGSSLNEGOTIATION, PGSSLCOMPRESSION, PGSSLCERT,
    /// PGSSLKEY, PGSSLROOTCERT, PGSSLSNI, PGCHANNELBINDING, PGREQUIREAUTH,
    /// PGCONNECT_TIMEOUT, PGCLIENTENCODING, PGTARGETSESSIONATTRS,
    /// PGLOADBALANCEHOSTS, PGMINPROTOCOLVERSION, PGMAXPROTOCOLVERSION,
    /// PGGSSENCMODE. PGDATESTYLE, PGTZ and PGGEQO add the startup parameters
    /// `datestyle`, `timezone` and `geqo` unless [`Config::param`] set them.
    /// PGSYSCONFDIR is read by [`Config::apply_service_file`].
    ///
    /// An empty variable counts as unset. A variable of an unsupported
    /// option (PGSSLCERTMODE, PGSSLCRL, PGSSLCRLDIR, PGREQUIREPEER,
    /// PGSSLMINPROTOCOLVERSION, PGSSLMAXPROTOCOLVERSION) is an error;
    /// PGKRBSRVNAME, PGGSSLIB and PGGSSDELEGATION are ignored. Errors are
    /// [`ConfigError::Env`], naming the variable.
    pub fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let get = |var: &str| env(var).filter(|v| !v.is_empty());
        for (var, keyword) in OPTION_VARS {
            if self.is_keyword_set(keyword) {
                continue;
            }
            if let Some(value) = get(var) {
                self.set_keyword(keyword, &value)
                    .map_err(|e| ConfigError::Env {
                        var,
                        source: Box::new(e),
                    })?;
            }
        }
        if self.ssl_mode.is_none() && get("PGREQUIRESSL").is_some_and(|v| v.starts_with('1')) {
            self.ssl_mode = Some(super::SslMode::Require);
        }
        for (var, option) in UNSUPPORTED_VARS {
            if get(var).is_some() {
                let source = ConfigError::UnsupportedOption {
                    name: option.to_owned(),
                };
                return Err(ConfigError::Env {
                    var,
                    source: Box::new(source),
                });
            }
        }
        for (var, param) in PARAM_VARS {
            if self
                .params
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case(param))
            {
                continue;
            }
            if let Some(value) = get(var) {
                self.param(param, &value);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::super::{
        ChannelBindingMode, Host, LoadBalanceHosts, ProtocolVersionSetting, RequireAuth, SslMode,
        SslNegotiation, SslRootCert, TargetSessionAttrs,
    };
    use super::*;

    use super::super::test_files::env_of;

    #[test]
    fn every_variable_fills_its_option() {
        let env = env_of(&[
            ("PGHOST", "h1,/tmp"),
            ("PGHOSTADDR", "10.0.0.1,10.0.0.2"),
            ("PGPORT", "5433"),
            ("PGDATABASE", "envdb"),
            ("PGUSER", "envuser"),
            ("PGPASSWORD", "envpass"),
            ("PGPASSFILE", "/p/pgpass"),
            ("PGSERVICE", "svc"),
            ("PGSERVICEFILE", "/p/services"),
            ("PGOPTIONS", "-c geqo=off"),
            ("PGAPPNAME", "envapp"),
            ("PGSSLMODE", "verify-ca"),
            ("PGSSLNEGOTIATION", "direct"),
            ("PGSSLCOMPRESSION", "0"),
            ("PGSSLCERT", "/c/client.crt"),
            ("PGSSLKEY", "/c/client.key"),
            ("PGSSLROOTCERT", "/c/root.crt"),
            ("PGSSLSNI", "0"),
            ("PGCHANNELBINDING", "require"),
            ("PGREQUIREAUTH", "scram-sha-256"),
            ("PGCONNECT_TIMEOUT", "7"),
            ("PGCLIENTENCODING", "UTF8"),
            ("PGTARGETSESSIONATTRS", "read-write"),
            ("PGLOADBALANCEHOSTS", "random"),
            ("PGMINPROTOCOLVERSION", "3.2"),
            ("PGMAXPROTOCOLVERSION", "latest"),
            ("PGGSSENCMODE", "disable"),
            ("PGTZ", "UTC"),
            ("PGDATESTYLE", "ISO, DMY"),
            ("PGGEQO", "off"),
            ("PGKRBSRVNAME", "postgres"),
        ]);
        let mut config = Config::new();
        config.apply_env(&env).unwrap();
        assert_eq!(
            config.get_hosts(),
            &[Host::Tcp("h1".into()), Host::Unix("/tmp".into())]
        );
        assert_eq!(
            config.get_hostaddrs(),
            &[
                "10.0.0.1".parse::<std::net::IpAddr>().unwrap(),
                "10.0.0.2".parse().unwrap()
            ]
        );
        assert_eq!(config.get_ports(), &[5433]);
        assert_eq!(config.get_dbname(), Some("envdb"));
        assert_eq!(config.get_user(), Some("envuser"));
        assert_eq!(config.get_password(), Some(&b"envpass"[..]));
        assert_eq!(config.get_passfile(), Some(Path::new("/p/pgpass")));
        assert_eq!(config.get_service(), Some("svc"));
        assert_eq!(config.get_service_file(), Some(Path::new("/p/services")));
        assert_eq!(config.get_options(), Some("-c geqo=off"));
        assert_eq!(config.get_application_name(), Some("envapp"));
        assert_eq!(config.get_ssl_mode(), SslMode::VerifyCa);
        assert_eq!(config.get_ssl_negotiation(), SslNegotiation::Direct);
        assert_eq!(config.get_ssl_cert(), Some(Path::new("/c/client.crt")));
        assert_eq!(config.get_ssl_key(), Some(Path::new("/c/client.key")));
        assert_eq!(
            config.get_ssl_root_cert(),
            Some(&SslRootCert::File("/c/root.crt".into()))
        );
        assert!(!config.get_ssl_sni());
        assert_eq!(config.get_channel_binding(), ChannelBindingMode::Require);
        assert_eq!(
            config.get_require_auth(),
            RequireAuth::only(&[super::super::AuthMethod::ScramSha256])
        );
        assert_eq!(config.get_connect_timeout(), Some(Duration::from_secs(7)));
        assert_eq!(
            config.get_target_session_attrs(),
            TargetSessionAttrs::ReadWrite
        );
        assert_eq!(config.get_load_balance_hosts(), LoadBalanceHosts::Random);
        assert_eq!(
            config.get_min_protocol_version(),
            ProtocolVersionSetting::V3_2
        );
        assert_eq!(
            config.get_max_protocol_version(),
            ProtocolVersionSetting::Latest
        );
        assert_eq!(
            config.get_params(),
            &[
                ("datestyle".to_string(), "ISO, DMY".to_string()),
                ("timezone".to_string(), "UTC".to_string()),
                ("geqo".to_string(), "off".to_string()),
            ]
        );
    }

    #[test]
    fn explicit_values_win() {
        let env = env_of(&[
            ("PGHOST", "envhost"),
            ("PGPORT", "1111"),
            ("PGUSER", "envuser"),
            ("PGPASSWORD", "envpass"),
            ("PGSSLMODE", "disable"),
            ("PGCONNECT_TIMEOUT", "9"),
            ("PGTZ", "UTC"),
            ("PGAPPNAME", "envapp"),
        ]);
        let mut config: Config =
            "host=a port=2222 user=me password=mine sslmode=require connect_timeout=0"
                .parse()
                .unwrap();
        config.param("TimeZone", "Europe/Paris");
        config.apply_env(&env).unwrap();
        assert_eq!(config.get_hosts(), &[Host::Tcp("a".into())]);
        assert_eq!(config.get_ports(), &[2222]);
        assert_eq!(config.get_user(), Some("me"));
        assert_eq!(config.get_password(), Some(&b"mine"[..]));
        assert_eq!(config.get_ssl_mode(), SslMode::Require);
        // connect_timeout=0 is an explicit "no timeout"; PGCONNECT_TIMEOUT does not replace it.
        assert_eq!(config.get_connect_timeout(), None);
        assert_eq!(
            config.get_params(),
            &[("TimeZone".to_string(), "Europe/Paris".to_string())]
        );
        // An option the string left unset is filled.
        assert_eq!(config.get_application_name(), Some("envapp"));
    }

    #[test]
    fn pgport_is_the_default_port_of_every_host() {
        let mut config: Config = "host=a,b".parse().unwrap();
        config.apply_env(&env_of(&[("PGPORT", "6543")])).unwrap();
        let ports: Vec<u16> = config.targets().unwrap().iter().map(|t| t.port).collect();
        assert_eq!(ports, [6543, 6543]);
    }

    #[test]
    fn requiressl_and_empty_variables() {
        let mut config = Config::new();
        config
            .apply_env(&env_of(&[("PGREQUIRESSL", "1"), ("PGHOST", "")]))
            .unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::Require);
        assert!(config.get_hosts().is_empty());

        let mut config = Config::new();
        config
            .apply_env(&env_of(&[("PGREQUIRESSL", "1"), ("PGSSLMODE", "allow")]))
            .unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::Allow);
    }

    #[test]
    fn bad_variables_are_named() {
        let cases = [
            (
                ("PGSSLMODE", "maybe"),
                "environment variable PGSSLMODE: invalid value \"maybe\" for option \"sslmode\": \
                 expected one of disable, allow, prefer, require, verify-ca, verify-full",
            ),
            (
                ("PGPORT", "x"),
                "environment variable PGPORT: invalid value \"x\" for option \"port\": \
                 expected a port number between 1 and 65535",
            ),
            (
                ("PGSSLCRL", "/crl.pem"),
                "environment variable PGSSLCRL: connection option \"sslcrl\" is not supported by pgline",
            ),
            (
                ("PGGSSENCMODE", "require"),
                "environment variable PGGSSENCMODE: invalid value \"require\" for option \
                 \"gssencmode\": expected disable or prefer (pgline has no GSSAPI encryption)",
            ),
        ];
        for ((var, value), message) in cases {
            let err = Config::new()
                .apply_env(&env_of(&[(var, value)]))
                .unwrap_err();
            assert_eq!(err.to_string(), message);
        }
    }
}
