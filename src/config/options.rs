//! The enumerated option values: `sslmode`, `sslnegotiation`, `sslrootcert`,
//! `channel_binding`, `min/max_protocol_version`, `target_session_attrs`,
//! `load_balance_hosts`.
//!
//! Owns their libpq spellings (parsing and `Display`) and their defaults.
//! It must not decide what a value means for a connection; the connection
//! and cluster layers do that.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::ConfigError;

/// Declares a fieldless enum whose values are libpq keywords, with
/// `Display`, `FromStr`, `Default` and a parser that names the option.
macro_rules! keyword_enum {
    (
        $(#[$meta:meta])*
        $name:ident, option = $option:literal, default = $default:ident,
        expected = $expected:literal,
        { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// The libpq spelling of this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// Parses `value` for the option named `option` (used in the error).
            pub(crate) fn parse_for(option: &'static str, value: &str) -> Result<Self, ConfigError> {
                match value {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(ConfigError::InvalidValue {
                        option,
                        value: value.to_owned(),
                        expected: $expected,
                    }),
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::$default
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ConfigError;

            fn from_str(s: &str) -> Result<Self, ConfigError> {
                Self::parse_for($option, s)
            }
        }
    };
}

keyword_enum! {
    /// `sslmode`: whether and how TLS is used. Default [`SslMode::Prefer`]
    /// (but [`SslMode::VerifyFull`] when `sslrootcert=system` and no mode is
    /// given, as libpq does).
    SslMode, option = "sslmode", default = Prefer,
    expected = "one of disable, allow, prefer, require, verify-ca, verify-full",
    {
        /// Never use TLS.
        Disable => "disable",
        /// Try without TLS first; retry with TLS if the server refuses.
        Allow => "allow",
        /// Try TLS first; fall back to plain if the server does not offer it.
        Prefer => "prefer",
        /// Require TLS, without verifying the certificate.
        Require => "require",
        /// Require TLS and a certificate signed by a trusted root.
        VerifyCa => "verify-ca",
        /// Require TLS, a trusted certificate, and a host name that matches it.
        VerifyFull => "verify-full",
    }
}

impl SslMode {
    /// Whether this mode refuses a connection without TLS.
    pub fn requires_tls(self) -> bool {
        matches!(self, Self::Require | Self::VerifyCa | Self::VerifyFull)
    }
}

keyword_enum! {
    /// `sslnegotiation`: how TLS is started. Default [`SslNegotiation::Postgres`].
    SslNegotiation, option = "sslnegotiation", default = Postgres,
    expected = "one of postgres, direct",
    {
        /// Send an SSLRequest first and start TLS if the server answers `S`.
        Postgres => "postgres",
        /// Start TLS immediately (ALPN `postgresql`); needs PostgreSQL 17 and
        /// `sslmode=require` or stronger.
        Direct => "direct",
    }
}

keyword_enum! {
    /// `channel_binding`: use of SCRAM-SHA-256-PLUS. Default [`ChannelBindingMode::Prefer`].
    ChannelBindingMode, option = "channel_binding", default = Prefer,
    expected = "one of disable, prefer, require",
    {
        /// Never use channel binding.
        Disable => "disable",
        /// Use channel binding when TLS is used and the server offers it.
        Prefer => "prefer",
        /// Fail unless the server authenticates with channel binding.
        Require => "require",
    }
}

keyword_enum! {
    /// `min_protocol_version` / `max_protocol_version`: the protocol versions
    /// to accept. The minimum defaults to 3.0, the maximum to 3.0 (libpq 18's
    /// defaults); `latest` is the newest version pgline speaks, 3.2.
    ProtocolVersionSetting, option = "max_protocol_version", default = V3_0,
    expected = "one of 3.0, 3.2, latest",
    {
        /// Protocol 3.0.
        V3_0 => "3.0",
        /// Protocol 3.2 (PostgreSQL 18: 256-bit cancel keys).
        V3_2 => "3.2",
        /// The newest version pgline implements.
        Latest => "latest",
    }
}

impl ProtocolVersionSetting {
    /// The minor version this setting stands for: 0 or 2.
    pub fn minor(self) -> u16 {
        match self {
            Self::V3_0 => 0,
            Self::V3_2 | Self::Latest => 2,
        }
    }
}

keyword_enum! {
    /// `target_session_attrs`: which kind of server a connection must reach.
    /// Default [`TargetSessionAttrs::Any`].
    TargetSessionAttrs, option = "target_session_attrs", default = Any,
    expected = "one of any, read-write, read-only, primary, standby, prefer-standby",
    {
        /// Any server.
        Any => "any",
        /// A session that accepts writes by default: not a standby, and
        /// `default_transaction_read_only` off.
        ReadWrite => "read-write",
        /// A session that refuses writes by default: a standby, or a
        /// server with `default_transaction_read_only` on.
        ReadOnly => "read-only",
        /// A server not in recovery (`in_hot_standby` off), whatever its
        /// `default_transaction_read_only`.
        Primary => "primary",
        /// A server in recovery (`in_hot_standby` on).
        Standby => "standby",
        /// A standby if any host has one; else a second pass over the
        /// hosts takes the first server that accepts the connection.
        PreferStandby => "prefer-standby",
    }
}

keyword_enum! {
    /// `load_balance_hosts`: the order in which hosts are tried. Default
    /// [`LoadBalanceHosts::Disable`].
    LoadBalanceHosts, option = "load_balance_hosts", default = Disable,
    expected = "one of disable, random",
    {
        /// In the order given.
        Disable => "disable",
        /// In a random order (hosts first, then each host's addresses).
        Random => "random",
    }
}

/// `sslrootcert`: where the trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SslRootCert {
    /// A PEM file of root certificates.
    File(PathBuf),
    /// The platform's trusted roots (the value `system`). Unless `sslmode` is
    /// given, it makes the default mode `verify-full`; a weaker explicit mode
    /// is an error, as in libpq.
    System,
}

impl SslRootCert {
    /// Parses an `sslrootcert` value: `system` or a file path.
    pub fn parse(value: &str) -> Self {
        if value == "system" {
            Self::System
        } else {
            Self::File(PathBuf::from(value))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_round_trips() {
        let modes = [
            SslMode::Disable,
            SslMode::Allow,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ];
        for mode in modes {
            assert_eq!(mode.to_string().parse::<SslMode>(), Ok(mode));
        }
        let attrs = [
            ("any", TargetSessionAttrs::Any),
            ("read-write", TargetSessionAttrs::ReadWrite),
            ("read-only", TargetSessionAttrs::ReadOnly),
            ("primary", TargetSessionAttrs::Primary),
            ("standby", TargetSessionAttrs::Standby),
            ("prefer-standby", TargetSessionAttrs::PreferStandby),
        ];
        for (text, value) in attrs {
            assert_eq!(text.parse::<TargetSessionAttrs>(), Ok(value));
            assert_eq!(value.as_str(), text);
        }
        assert_eq!("random".parse(), Ok(LoadBalanceHosts::Random));
        assert_eq!("direct".parse(), Ok(SslNegotiation::Direct));
        assert_eq!("require".parse(), Ok(ChannelBindingMode::Require));
        assert_eq!("latest".parse(), Ok(ProtocolVersionSetting::Latest));
        assert_eq!(ProtocolVersionSetting::Latest.minor(), 2);
    }

    #[test]
    fn defaults_are_libpq_defaults() {
        assert_eq!(SslMode::default(), SslMode::Prefer);
        assert_eq!(SslNegotiation::default(), SslNegotiation::Postgres);
        assert_eq!(ChannelBindingMode::default(), ChannelBindingMode::Prefer);
        assert_eq!(
            ProtocolVersionSetting::default(),
            ProtocolVersionSetting::V3_0
        );
        assert_eq!(TargetSessionAttrs::default(), TargetSessionAttrs::Any);
        assert_eq!(LoadBalanceHosts::default(), LoadBalanceHosts::Disable);
    }

    #[test]
    fn bad_values_name_option_and_choices() {
        let err = "maybe".parse::<SslMode>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value \"maybe\" for option \"sslmode\": expected one of disable, allow, \
             prefer, require, verify-ca, verify-full"
        );
        let err = ProtocolVersionSetting::parse_for("min_protocol_version", "3.1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value \"3.1\" for option \"min_protocol_version\": expected one of 3.0, 3.2, latest"
        );
        // Spellings are exact, as in libpq.
        assert!("Require".parse::<SslMode>().is_err());
    }

    #[test]
    fn root_cert_system_keyword() {
        assert_eq!(SslRootCert::parse("system"), SslRootCert::System);
        assert_eq!(
            SslRootCert::parse("/etc/ssl/root.crt"),
            SslRootCert::File(PathBuf::from("/etc/ssl/root.crt"))
        );
    }
}
