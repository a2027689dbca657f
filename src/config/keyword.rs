//! The libpq keywords pgline knows, and setting an option from its text.
//!
//! Owns the keyword table (names, which are unsupported), the parsing and
//! validation of each option's text value, and "is this option set". The URL,
//! key=value, environment and service-file readers all set options through
//! here, so a value means the same wherever it comes from. No I/O.

use std::net::IpAddr;
use std::time::Duration;

use super::options::{
    ChannelBindingMode, LoadBalanceHosts, ProtocolVersionSetting, SslMode, SslNegotiation,
    SslRootCert, TargetSessionAttrs,
};
use super::target::{DEFAULT_PORT, Host};
use super::{Config, ConfigError, RequireAuth, StatementCacheMode};

/// A connection option pgline accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    Host,
    Hostaddr,
    Port,
    Dbname,
    User,
    Password,
    Passfile,
    RequireAuth,
    ChannelBinding,
    ConnectTimeout,
    ClientEncoding,
    Options,
    ApplicationName,
    FallbackApplicationName,
    Keepalives,
    KeepalivesIdle,
    KeepalivesInterval,
    KeepalivesCount,
    TcpUserTimeout,
    GssEncMode,
    SslMode,
    SslNegotiation,
    SslCompression,
    SslCert,
    SslKey,
    SslRootCert,
    SslSni,
    MinProtocolVersion,
    MaxProtocolVersion,
    Service,
    ServiceFile,
    TargetSessionAttrs,
    LoadBalanceHosts,
    PglineQueryTimeout,
    PglineStatementCacheCapacity,
    PglineStatementCacheMode,
}

impl Keyword {
    const ALL: [Self; 36] = [
        Self::Host,
        Self::Hostaddr,
        Self::Port,
        Self::Dbname,
        Self::User,
        Self::Password,
        Self::Passfile,
        Self::RequireAuth,
        Self::ChannelBinding,
        Self::ConnectTimeout,
        Self::ClientEncoding,
        Self::Options,
        Self::ApplicationName,
        Self::FallbackApplicationName,
        Self::Keepalives,
        Self::KeepalivesIdle,
        Self::KeepalivesInterval,
        Self::KeepalivesCount,
        Self::TcpUserTimeout,
        Self::GssEncMode,
        Self::SslMode,
        Self::SslNegotiation,
        Self::SslCompression,
        Self::SslCert,
        Self::SslKey,
        Self::SslRootCert,
        Self::SslSni,
        Self::MinProtocolVersion,
        Self::MaxProtocolVersion,
        Self::Service,
        Self::ServiceFile,
        Self::TargetSessionAttrs,
        Self::LoadBalanceHosts,
        Self::PglineQueryTimeout,
        Self::PglineStatementCacheCapacity,
        Self::PglineStatementCacheMode,
    ];

    /// The keyword: libpq's, or one of pgline's own, which start with
    /// `pgline_` so that no libpq keyword can ever take their names.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Hostaddr => "hostaddr",
            Self::Port => "port",
            Self::Dbname => "dbname",
            Self::User => "user",
            Self::Password => "password",
            Self::Passfile => "passfile",
            Self::RequireAuth => "require_auth",
            Self::ChannelBinding => "channel_binding",
            Self::ConnectTimeout => "connect_timeout",
            Self::ClientEncoding => "client_encoding",
            Self::Options => "options",
            Self::ApplicationName => "application_name",
            Self::FallbackApplicationName => "fallback_application_name",
            Self::Keepalives => "keepalives",
            Self::KeepalivesIdle => "keepalives_idle",
            Self::KeepalivesInterval => "keepalives_interval",
            Self::KeepalivesCount => "keepalives_count",
            Self::TcpUserTimeout => "tcp_user_timeout",
            Self::GssEncMode => "gssencmode",
            Self::SslMode => "sslmode",
            Self::SslNegotiation => "sslnegotiation",
            Self::SslCompression => "sslcompression",
            Self::SslCert => "sslcert",
            Self::SslKey => "sslkey",
            Self::SslRootCert => "sslrootcert",
            Self::SslSni => "sslsni",
            Self::MinProtocolVersion => "min_protocol_version",
            Self::MaxProtocolVersion => "max_protocol_version",
            Self::Service => "service",
            Self::ServiceFile => "servicefile",
            Self::TargetSessionAttrs => "target_session_attrs",
            Self::LoadBalanceHosts => "load_balance_hosts",
            Self::PglineQueryTimeout => "pgline_query_timeout",
            Self::PglineStatementCacheCapacity => "pgline_statement_cache_capacity",
            Self::PglineStatementCacheMode => "pgline_statement_cache_mode",
        }
    }

    /// The keyword spelled `name`, if pgline supports it.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// libpq keywords that pgline rejects by name with
/// [`ConfigError::UnsupportedOption`] rather than as unknown.
pub(crate) const UNSUPPORTED: [&str; 18] = [
    "replication",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "sslpassword",
    "sslcertmode",
    "sslcrl",
    "sslcrldir",
    "sslkeylogfile",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "oauth_issuer",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_scope",
    "scram_client_key",
    "scram_server_key",
];

/// The keyword for `name`, or the error for an unknown or unsupported one.
pub(crate) fn lookup(name: &str) -> Result<Keyword, ConfigError> {
    Keyword::from_name(name).ok_or_else(|| {
        if UNSUPPORTED.contains(&name) {
            ConfigError::UnsupportedOption {
                name: name.to_owned(),
            }
        } else {
            ConfigError::UnknownOption {
                name: name.to_owned(),
            }
        }
    })
}

impl Config {
    /// Sets the option named `name` from its text.
    pub(crate) fn set_by_name(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let keyword = lookup(name)?;
        self.set_keyword(keyword, value)
    }

    /// Sets `keyword` from its text; an empty value unsets it.
    pub(crate) fn set_keyword(&mut self, keyword: Keyword, value: &str) -> Result<(), ConfigError> {
        if value.contains('\0') {
            return Err(ConfigError::ContainsNul {
                option: keyword.name().to_owned(),
            });
        }
        if value.is_empty() {
            self.clear_keyword(keyword);
            return Ok(());
        }
        let option = keyword.name();
        let text = || Some(value.to_owned());
        match keyword {
            Keyword::Host => self.hosts = value.split(',').map(Host::parse).collect(),
            Keyword::Hostaddr => {
                self.hostaddrs = value
                    .split(',')
                    .map(parse_hostaddr)
                    .collect::<Result<_, _>>()?;
            }
            Keyword::Port => {
                self.ports = value.split(',').map(parse_port).collect::<Result<_, _>>()?;
            }
            Keyword::Dbname => self.dbname = text(),
            Keyword::User => self.user = text(),
            Keyword::Password => self.password = Some(value.as_bytes().to_vec()),
            Keyword::Passfile => self.passfile = Some(value.into()),
            Keyword::RequireAuth => self.require_auth = Some(value.parse::<RequireAuth>()?),
            Keyword::ChannelBinding => {
                self.channel_binding = Some(ChannelBindingMode::parse_for(option, value)?);
            }
            Keyword::ConnectTimeout => {
                // libpq raises 1 second to 2: with whole seconds, a 1-second
                // limit could expire almost at once.
                let seconds = parse_integer(option, value, EXPECTED_SECONDS)?;
                let seconds = if seconds == 1 { 2 } else { seconds };
                self.connect_timeout = Some(Duration::from_secs(seconds));
            }
            Keyword::ClientEncoding => check_client_encoding(value)?,
            Keyword::Options => self.options = text(),
            Keyword::ApplicationName => self.application_name = text(),
            Keyword::FallbackApplicationName => self.fallback_application_name = text(),
            Keyword::Keepalives => self.keepalives = Some(parse_flag(option, value)?),
            Keyword::KeepalivesIdle => {
                let seconds = parse_integer(option, value, EXPECTED_SECONDS)?;
                self.keepalives_idle = Some(Duration::from_secs(seconds));
            }
            Keyword::KeepalivesInterval => {
                let seconds = parse_integer(option, value, EXPECTED_SECONDS)?;
                self.keepalives_interval = Some(Duration::from_secs(seconds));
            }
            Keyword::KeepalivesCount => {
                let count = parse_integer(option, value, EXPECTED_COUNT)?;
                self.keepalives_count =
                    Some(u32::try_from(count).map_err(|_| ConfigError::InvalidValue {
                        option,
                        value: value.to_owned(),
                        expected: EXPECTED_COUNT,
                    })?);
            }
            Keyword::TcpUserTimeout => {
                let millis = parse_integer(option, value, EXPECTED_MILLIS)?;
                self.tcp_user_timeout = Some(Duration::from_millis(millis));
            }
            Keyword::GssEncMode => check_gssencmode(value)?,
            Keyword::SslMode => self.ssl_mode = Some(SslMode::parse_for(option, value)?),
            Keyword::SslNegotiation => {
                self.ssl_negotiation = Some(SslNegotiation::parse_for(option, value)?);
            }
            Keyword::SslCompression => {
                parse_flag(option, value)?;
            }
            Keyword::SslCert => self.ssl_cert = Some(value.into()),
            Keyword::SslKey => self.ssl_key = Some(value.into()),
            Keyword::SslRootCert => self.ssl_root_cert = Some(SslRootCert::parse(value)),
            Keyword::SslSni => self.ssl_sni = Some(parse_flag(option, value)?),
            Keyword::MinProtocolVersion => {
                self.min_protocol_version = Some(ProtocolVersionSetting::parse_for(option, value)?);
            }
            Keyword::MaxProtocolVersion => {
                self.max_protocol_version = Some(ProtocolVersionSetting::parse_for(option, value)?);
            }
            Keyword::Service => self.service = text(),
            Keyword::ServiceFile => self.service_file = Some(value.into()),
            Keyword::TargetSessionAttrs => {
                self.target_session_attrs = Some(TargetSessionAttrs::parse_for(option, value)?);
            }
            Keyword::LoadBalanceHosts => {
                self.load_balance_hosts = Some(LoadBalanceHosts::parse_for(option, value)?);
            }
            Keyword::PglineQueryTimeout => {
                self.client.query_timeout = Some(parse_timeout(option, value)?);
            }
            Keyword::PglineStatementCacheCapacity => {
                let capacity = parse_integer(option, value, EXPECTED_CAPACITY)?;
                self.client.statement_cache_capacity = Some(usize::try_from(capacity).map_err(
                    |_| ConfigError::InvalidValue {
                        option,
                        value: value.to_owned(),
                        expected: EXPECTED_CAPACITY,
                    },
                )?);
            }
            Keyword::PglineStatementCacheMode => {
                self.client.statement_cache_mode =
                    Some(StatementCacheMode::parse_for(option, value)?);
            }
        }
        Ok(())
    }

    /// Whether `keyword` has a value (so the service file and environment
    /// leave it alone). Options that pgline validates but does not store
    /// are never set.
    pub(crate) fn is_keyword_set(&self, keyword: Keyword) -> bool {
        match keyword {
            Keyword::Host => !self.hosts.is_empty(),
            Keyword::Hostaddr => !self.hostaddrs.is_empty(),
            Keyword::Port => !self.ports.is_empty(),
            Keyword::Dbname => self.dbname.is_some(),
            Keyword::User => self.user.is_some(),
            Keyword::Password => self.password.is_some(),
            Keyword::Passfile => self.passfile.is_some(),
            Keyword::RequireAuth => self.require_auth.is_some(),
            Keyword::ChannelBinding => self.channel_binding.is_some(),
            Keyword::ConnectTimeout => self.connect_timeout.is_some(),
            Keyword::Options => self.options.is_some(),
            Keyword::ApplicationName => self.application_name.is_some(),
            Keyword::FallbackApplicationName => self.fallback_application_name.is_some(),
            Keyword::Keepalives => self.keepalives.is_some(),
            Keyword::KeepalivesIdle => self.keepalives_idle.is_some(),
            Keyword::KeepalivesInterval => self.keepalives_interval.is_some(),
            Keyword::KeepalivesCount => self.keepalives_count.is_some(),
            Keyword::TcpUserTimeout => self.tcp_user_timeout.is_some(),
            Keyword::SslMode => self.ssl_mode.is_some(),
            Keyword::SslNegotiation => self.ssl_negotiation.is_some(),
            Keyword::SslCert => self.ssl_cert.is_some(),
            Keyword::SslKey => self.ssl_key.is_some(),
            Keyword::SslRootCert => self.ssl_root_cert.is_some(),
            Keyword::SslSni => self.ssl_sni.is_some(),
            Keyword::MinProtocolVersion => self.min_protocol_version.is_some(),
            Keyword::MaxProtocolVersion => self.max_protocol_version.is_some(),
            Keyword::Service => self.service.is_some(),
            Keyword::ServiceFile => self.service_file.is_some(),
            Keyword::TargetSessionAttrs => self.target_session_attrs.is_some(),
            Keyword::LoadBalanceHosts => self.load_balance_hosts.is_some(),
            Keyword::PglineQueryTimeout => self.client.query_timeout.is_some(),
            Keyword::PglineStatementCacheCapacity => self.client.statement_cache_capacity.is_some(),
            Keyword::PglineStatementCacheMode => self.client.statement_cache_mode.is_some(),
            Keyword::ClientEncoding | Keyword::GssEncMode | Keyword::SslCompression => false,
        }
    }

    fn clear_keyword(&mut self, keyword: Keyword) {
        match keyword {
            Keyword::Host => self.hosts.clear(),
            Keyword::Hostaddr => self.hostaddrs.clear(),
            Keyword::Port => self.ports.clear(),
            Keyword::Dbname => self.dbname = None,
            Keyword::User => self.user = None,
            Keyword::Password => self.password = None,
            Keyword::Passfile => self.passfile = None,
            Keyword::RequireAuth => self.require_auth = None,
            Keyword::ChannelBinding => self.channel_binding = None,
            Keyword::ConnectTimeout => self.connect_timeout = None,
            Keyword::Options => self.options = None,
            Keyword::ApplicationName => self.application_name = None,
            Keyword::FallbackApplicationName => self.fallback_application_name = None,
            Keyword::Keepalives => self.keepalives = None,
            Keyword::KeepalivesIdle => self.keepalives_idle = None,
            Keyword::KeepalivesInterval => self.keepalives_interval = None,
            Keyword::KeepalivesCount => self.keepalives_count = None,
            Keyword::TcpUserTimeout => self.tcp_user_timeout = None,
            Keyword::SslMode => self.ssl_mode = None,
            Keyword::SslNegotiation => self.ssl_negotiation = None,
            Keyword::SslCert => self.ssl_cert = None,
            Keyword::SslKey => self.ssl_key = None,
            Keyword::SslRootCert => self.ssl_root_cert = None,
            Keyword::SslSni => self.ssl_sni = None,
            Keyword::MinProtocolVersion => self.min_protocol_version = None,
            Keyword::MaxProtocolVersion => self.max_protocol_version = None,
            Keyword::Service => self.service = None,
            Keyword::ServiceFile => self.service_file = None,
            Keyword::TargetSessionAttrs => self.target_session_attrs = None,
            Keyword::LoadBalanceHosts => self.load_balance_hosts = None,
            Keyword::PglineQueryTimeout => self.client.query_timeout = None,
            Keyword::PglineStatementCacheCapacity => self.client.statement_cache_capacity = None,
            Keyword::PglineStatementCacheMode => self.client.statement_cache_mode = None,
            Keyword::ClientEncoding | Keyword::GssEncMode | Keyword::SslCompression => {}
        }
    }
}

const EXPECTED_SECONDS: &str = "a whole number of seconds";
const EXPECTED_MILLIS: &str = "a whole number of milliseconds";
const EXPECTED_COUNT: &str = "a non-negative integer";
const EXPECTED_PORT: &str = "a port number between 1 and 65535";
const EXPECTED_CAPACITY: &str = "a non-negative integer (0 disables the cache)";
const EXPECTED_TIMEOUT: &str =
    "a non-negative whole number of milliseconds, or one with a unit: ms, s, min or h (0 = none)";

/// A timeout as PostgreSQL writes `statement_timeout`: a whole number,
/// milliseconds unless a unit follows (`ms`, `s`, `min`, `h`, spaces
/// allowed before it). Zero means no timeout.
fn parse_timeout(option: &'static str, value: &str) -> Result<Duration, ConfigError> {
    let invalid = || ConfigError::InvalidValue {
        option,
        value: value.to_owned(),
        expected: EXPECTED_TIMEOUT,
    };
    let trimmed = value.trim();
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = trimmed.split_at(digits);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let millis_per_unit: u64 = match unit.trim_start() {
        "" | "ms" => 1,
        "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        _ => return Err(invalid()),
    };
    number
        .checked_mul(millis_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(invalid)
}

/// One entry of a `port` list; an empty entry is the default port.
pub(crate) fn parse_port(entry: &str) -> Result<u16, ConfigError> {
    let trimmed = entry.trim();
    if trimmed.is_empty() {
        return Ok(DEFAULT_PORT);
    }
    match trimmed.parse::<u16>() {
        Ok(port) if port != 0 && trimmed.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ => Err(ConfigError::InvalidValue {
            option: "port",
            value: entry.to_owned(),
            expected: EXPECTED_PORT,
        }),
    }
}

fn parse_hostaddr(entry: &str) -> Result<IpAddr, ConfigError> {
    entry.trim().parse().map_err(|_| ConfigError::InvalidValue {
        option: "hostaddr",
        value: entry.to_owned(),
        expected: "a comma-separated list of IPv4 or IPv6 addresses",
    })
}

/// A non-negative decimal integer, surrounding whitespace allowed (as libpq).
fn parse_integer(
    option: &'static str,
    value: &str,
    expected: &'static str,
) -> Result<u64, ConfigError> {
    let trimmed = value.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = trimmed.parse() {
            return Ok(n);
        }
    }
    Err(ConfigError::InvalidValue {
        option,
        value: value.to_owned(),
        expected,
    })
}

fn parse_flag(option: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim() {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(ConfigError::InvalidValue {
            option,
            value: value.to_owned(),
            expected: "0 or 1",
        }),
    }
}

fn check_client_encoding(value: &str) -> Result<(), ConfigError> {
    let normalized: String = value
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .collect::<String>()
        .to_ascii_lowercase();
    if normalized == "utf8" || normalized == "unicode" {
        Ok(())
    } else {
        Err(ConfigError::InvalidValue {
            option: "client_encoding",
            value: value.to_owned(),
            expected: "UTF8 (pgline always uses UTF-8)",
        })
    }
}

fn check_gssencmode(value: &str) -> Result<(), ConfigError> {
    match value {
        "disable" | "prefer" => Ok(()),
        _ => Err(ConfigError::InvalidValue {
            option: "gssencmode",
            value: value.to_owned(),
            expected: "disable or prefer (pgline has no GSSAPI encryption)",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_name_round_trips() {
        for keyword in Keyword::ALL {
            assert_eq!(Keyword::from_name(keyword.name()), Some(keyword));
            assert!(!UNSUPPORTED.contains(&keyword.name()));
        }
    }

    #[test]
    fn unknown_and_unsupported_are_told_apart() {
        assert_eq!(
            lookup("sslmod").unwrap_err().to_string(),
            "invalid connection option \"sslmod\""
        );
        for name in UNSUPPORTED {
            assert_eq!(
                lookup(name).unwrap_err().to_string(),
                format!("connection option \"{name}\" is not supported by pgline")
            );
        }
    }

    #[test]
    fn integers_and_ports() {
        assert_eq!(parse_port(" 5433 "), Ok(5433));
        assert_eq!(parse_port(""), Ok(5432));
        for bad in ["0", "65536", "-1", "+5", "54x", "1e3"] {
            assert_eq!(
                parse_port(bad).unwrap_err().to_string(),
                format!(
                    "invalid value \"{bad}\" for option \"port\": expected a port number between 1 and 65535"
                )
            );
        }
        assert_eq!(
            parse_integer("keepalives_idle", " 30 ", EXPECTED_SECONDS),
            Ok(30)
        );
        assert!(parse_integer("keepalives_idle", "-3", EXPECTED_SECONDS).is_err());
        assert!(
            parse_integer(
                "keepalives_idle",
                "99999999999999999999999",
                EXPECTED_SECONDS
            )
            .is_err()
        );
    }

    #[test]
    fn connect_timeout_floor_and_zero() {
        let mut config = Config::new();
        let cases = [
            ("0", None),
            ("1", Some(2)),
            ("2", Some(2)),
            ("10", Some(10)),
        ];
        for (text, secs) in cases {
            config.set_by_name("connect_timeout", text).unwrap();
            assert_eq!(
                config.get_connect_timeout(),
                secs.map(Duration::from_secs),
                "{text}"
            );
        }
    }

    #[test]
    fn empty_value_unsets() {
        let mut config = Config::new();
        config.set_by_name("sslmode", "require").unwrap();
        config.set_by_name("host", "a,b").unwrap();
        config.set_by_name("sslmode", "").unwrap();
        config.set_by_name("host", "").unwrap();
        assert!(!config.is_keyword_set(Keyword::SslMode));
        assert!(config.get_hosts().is_empty());
    }

    #[test]
    fn accepted_but_not_stored() {
        let mut config = Config::new();
        for (name, value) in [
            ("client_encoding", "UTF8"),
            ("client_encoding", "utf-8"),
            ("gssencmode", "disable"),
            ("gssencmode", "prefer"),
            ("sslcompression", "0"),
        ] {
            config.set_by_name(name, value).unwrap();
        }
        assert_eq!(config, Config::new());
        assert_eq!(
            config
                .set_by_name("gssencmode", "require")
                .unwrap_err()
                .to_string(),
            "invalid value \"require\" for option \"gssencmode\": expected disable or prefer \
             (pgline has no GSSAPI encryption)"
        );
        assert!(config.set_by_name("client_encoding", "LATIN1").is_err());
    }

    #[test]
    fn nul_is_rejected() {
        let mut config = Config::new();
        assert_eq!(
            config.set_by_name("password", "a\0b").unwrap_err(),
            ConfigError::ContainsNul {
                option: "password".into()
            }
        );
    }
}
