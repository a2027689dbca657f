//! [`ConfigError`]: everything that can be wrong with connection settings.
//!
//! Owns the error enum and its messages. Every variant names the option it
//! is about and, where the value is not secret, the bad value. It must never
//! carry a password: password errors name the option only.

use std::fmt;
use std::path::PathBuf;

/// A connection setting that cannot be used, with the option it concerns.
///
/// The messages follow libpq's wording where libpq has one, e.g.
/// `invalid value "maybe" for option "sslmode": expected one of disable,
/// allow, prefer, require, verify-ca, verify-full`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A keyword that is not a connection option.
    UnknownOption {
        /// The keyword as written.
        name: String,
    },
    /// A libpq connection option that pgline does not implement (see the
    /// module documentation for the list).
    UnsupportedOption {
        /// The keyword.
        name: String,
    },
    /// A value that the option does not accept.
    InvalidValue {
        /// The option's keyword.
        option: &'static str,
        /// The value as written.
        value: String,
        /// What the option accepts.
        expected: &'static str,
    },
    /// A `require_auth` list that is well formed word by word but not as a whole.
    InvalidRequireAuth {
        /// The whole value as written.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A value contains a NUL byte, which the protocol cannot carry.
    ContainsNul {
        /// The option's keyword (or the startup parameter's name).
        option: String,
    },
    /// A decoded value is not valid UTF-8.
    NotUtf8 {
        /// The option's keyword.
        option: &'static str,
    },
    /// key=value syntax: a keyword is not followed by `=`.
    MissingEquals {
        /// The text where a keyword was expected.
        key: String,
    },
    /// key=value syntax: a single-quoted value has no closing quote.
    UnterminatedQuote {
        /// The keyword whose value is unterminated.
        key: String,
    },
    /// A `postgres://` URL that cannot be parsed.
    InvalidUrl {
        /// What is wrong with it.
        reason: String,
    },
    /// A `%` in a URL that is not followed by two hex digits.
    InvalidPercentEncoding {
        /// The bad escape, at most three characters (`%zz`, `%4`).
        escape: String,
    },
    /// A URL contains `%00`.
    PercentEncodedNul,
    /// The port list is neither one port nor one port per host.
    PortCountMismatch {
        /// How many hosts there are.
        hosts: usize,
        /// How many ports there are.
        ports: usize,
    },
    /// Both `host` and `hostaddr` are given, with different lengths.
    HostaddrCountMismatch {
        /// How many host names there are.
        hosts: usize,
        /// How many host addresses there are.
        hostaddrs: usize,
    },
    /// Options that are valid one by one but not together.
    IncompatibleOptions {
        /// Which options, and why.
        reason: String,
    },
    /// No user name was given and none could be found in the environment.
    MissingUser,
    /// `service=` names a service that no service file defines.
    ServiceNotFound {
        /// The service name.
        name: String,
    },
    /// A service file line that is not `[name]`, `key=value`, a comment or blank.
    ServiceFileSyntax {
        /// The file.
        path: PathBuf,
        /// The line number, counting from 1.
        line: usize,
        /// What is wrong with the line.
        reason: &'static str,
    },
    /// A service file line whose option or value is invalid.
    ServiceFileValue {
        /// The file.
        path: PathBuf,
        /// The line number, counting from 1.
        line: usize,
        /// The error for the option on that line.
        source: Box<Self>,
    },
    /// A file that exists could not be read.
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error's message.
        reason: String,
    },
    /// An environment variable holds an invalid value.
    Env {
        /// The variable, e.g. `PGSSLMODE`.
        var: &'static str,
        /// The error for its value.
        source: Box<Self>,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownOption { name } => write!(f, "invalid connection option \"{name}\""),
            Self::UnsupportedOption { name } => {
                write!(f, "connection option \"{name}\" is not supported by pgline")
            }
            Self::InvalidValue {
                option,
                value,
                expected,
            } => write!(
                f,
                "invalid value \"{value}\" for option \"{option}\": expected {expected}"
            ),
            Self::InvalidRequireAuth { value, reason } => write!(
                f,
                "invalid value \"{value}\" for option \"require_auth\": {reason}"
            ),
            Self::ContainsNul { option } => {
                write!(f, "the value of option \"{option}\" contains a NUL byte")
            }
            Self::NotUtf8 { option } => {
                write!(f, "the value of option \"{option}\" is not valid UTF-8")
            }
            Self::MissingEquals { key } => {
                write!(f, "missing \"=\" after \"{key}\" in connection info string")
            }
            Self::UnterminatedQuote { key } => write!(
                f,
                "unterminated quoted string for option \"{key}\" in connection info string"
            ),
            Self::InvalidUrl { reason } => write!(f, "invalid connection URL: {reason}"),
            Self::InvalidPercentEncoding { escape } => {
                write!(
                    f,
                    "invalid percent-encoded token \"{escape}\" in connection URL"
                )
            }
            Self::PercentEncodedNul => {
                f.write_str("forbidden value %00 in percent-encoded connection URL")
            }
            Self::PortCountMismatch { hosts, ports } => {
                write!(f, "could not match {ports} port numbers to {hosts} hosts")
            }
            Self::HostaddrCountMismatch { hosts, hostaddrs } => write!(
                f,
                "could not match {hosts} host names to {hostaddrs} hostaddr values"
            ),
            Self::IncompatibleOptions { reason } => f.write_str(reason),
            Self::MissingUser => {
                f.write_str("no user name given: set the user option, PGUSER, USER or LOGNAME")
            }
            Self::ServiceNotFound { name } => {
                write!(f, "definition of service \"{name}\" not found")
            }
            Self::ServiceFileSyntax { path, line, reason } => write!(
                f,
                "syntax error in service file \"{}\", line {line}: {reason}",
                path.display()
            ),
            Self::ServiceFileValue { path, line, source } => write!(
                f,
                "in service file \"{}\", line {line}: {source}",
                path.display()
            ),
            Self::ReadFile { path, reason } => {
                write!(f, "could not read \"{}\": {reason}", path.display())
            }
            Self::Env { var, source } => write!(f, "environment variable {var}: {source}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::ServiceFileValue { source, .. } | Self::Env { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_errors_name_their_origin() {
        let inner = ConfigError::InvalidValue {
            option: "sslmode",
            value: "maybe".into(),
            expected: "one of disable, allow, prefer, require, verify-ca, verify-full",
        };
        let env = ConfigError::Env {
            var: "PGSSLMODE",
            source: Box::new(inner.clone()),
        };
        assert_eq!(
            env.to_string(),
            "environment variable PGSSLMODE: invalid value \"maybe\" for option \"sslmode\": \
             expected one of disable, allow, prefer, require, verify-ca, verify-full"
        );
        let source = std::error::Error::source(&env).map(ToString::to_string);
        assert_eq!(source, Some(inner.to_string()));
    }
}
