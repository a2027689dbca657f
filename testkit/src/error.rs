//! The testkit's error type.
//!
//! Owns: [`Error`], which says what failed and, when a server was involved, carries the
//! tail of its log so a failing test shows why. Must not: do any I/O of its own.

use std::fmt;
use std::io;

/// Why a testkit operation failed.
///
/// Every variant names the step that failed (`action`) in words a test log can show.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// No PostgreSQL server binaries were found; `tried` lists every place looked at.
    BinariesNotFound {
        /// Each location tried and why it was rejected.
        tried: Vec<String>,
    },
    /// A helper program other than PostgreSQL's (e.g. `pgbouncer`) was not found.
    ToolNotFound {
        /// The program looked for.
        tool: String,
        /// Each location tried, and how to get the program.
        tried: Vec<String>,
    },
    /// A file system or process operation failed.
    Io {
        /// What was being done.
        action: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// A helper program (initdb, psql, cp, ...) ran and failed.
    Command {
        /// What was being done.
        action: String,
        /// The exit status as text.
        status: String,
        /// What the program wrote to stderr (and stdout, when useful).
        output: String,
    },
    /// The server did not start, did not become ready or did not stop.
    Server {
        /// What was being done.
        action: String,
        /// What went wrong.
        reason: String,
        /// The last lines of the server log.
        log_tail: String,
    },
    /// Generating certificates failed.
    Tls {
        /// What was being generated.
        action: String,
        /// The generator's message.
        reason: String,
    },
    /// A builder value the testkit cannot use (e.g. a NUL byte in a name).
    InvalidInput(String),
    /// A condition awaited on a server (a replica streaming, a promotion finishing, a
    /// query answering) did not hold within the cap.
    Timeout {
        /// What was awaited.
        action: String,
        /// How long it was awaited.
        waited: std::time::Duration,
        /// What the last check saw.
        last_seen: String,
        /// The last lines of the server log.
        log_tail: String,
    },
}

impl Error {
    /// An [`Error::Io`] for `action`.
    pub(crate) fn io(action: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            action: action.into(),
            source,
        }
    }

    /// An [`Error::Server`] for `action`.
    pub(crate) fn server(
        action: impl Into<String>,
        reason: impl Into<String>,
        log_tail: String,
    ) -> Self {
        Self::Server {
            action: action.into(),
            reason: reason.into(),
            log_tail,
        }
    }

    /// An [`Error::Tls`] for `action`.
    pub(crate) fn tls(action: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self::Tls {
            action: action.into(),
            reason: reason.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BinariesNotFound { tried } => {
                write!(
                    f,
                    "PostgreSQL server binaries (postgres, initdb) not found; tried:"
                )?;
                for place in tried {
                    write!(f, "\n  - {place}")?;
                }
                write!(
                    f,
                    "\nset PG_BIN to the folder holding `postgres` and `initdb`"
                )
            }
            Self::ToolNotFound { tool, tried } => {
                write!(f, "{tool} not found; tried:")?;
                for place in tried {
                    write!(f, "\n  - {place}")?;
                }
                Ok(())
            }
            Self::Io { action, source } => write!(f, "{action}: {source}"),
            Self::Command {
                action,
                status,
                output,
            } => {
                write!(f, "{action}: {status}")?;
                if !output.trim().is_empty() {
                    write!(f, "\n--- output ---\n{}", output.trim_end())?;
                }
                Ok(())
            }
            Self::Server {
                action,
                reason,
                log_tail,
            } => {
                write!(f, "{action}: {reason}")?;
                if !log_tail.trim().is_empty() {
                    write!(f, "\n--- server log (tail) ---\n{}", log_tail.trim_end())?;
                }
                Ok(())
            }
            Self::Tls { action, reason } => write!(f, "generating {action}: {reason}"),
            Self::InvalidInput(what) => write!(f, "invalid testkit input: {what}"),
            Self::Timeout {
                action,
                waited,
                last_seen,
                log_tail,
            } => {
                write!(
                    f,
                    "{action}: not done after {waited:?}; last seen: {last_seen}"
                )?;
                if !log_tail.trim().is_empty() {
                    write!(f, "\n--- server log (tail) ---\n{}", log_tail.trim_end())?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_lists_every_place_tried() {
        let err = Error::BinariesNotFound {
            tried: vec!["PG_BIN: not set".into(), "PATH: no postgres".into()],
        };
        let text = err.to_string();
        assert!(
            text.contains("\n  - PG_BIN: not set\n  - PATH: no postgres"),
            "{text}"
        );
        assert!(text.contains("set PG_BIN"), "{text}");
    }

    #[test]
    fn display_shows_log_tail() {
        let err = Error::server("starting postgres", "exited with 1", "FATAL: boom\n".into());
        assert_eq!(
            err.to_string(),
            "starting postgres: exited with 1\n--- server log (tail) ---\nFATAL: boom"
        );
    }

    #[test]
    fn io_error_is_the_source() {
        let err = Error::io("reading x", io::Error::new(io::ErrorKind::NotFound, "gone"));
        assert_eq!(err.to_string(), "reading x: gone");
        assert!(std::error::Error::source(&err).is_some());
    }
}
