//! The one error type of the bench crate: a message saying what failed.
//!
//! Owns: [`BenchError`] and conversions from the drivers' errors. Must not:
//! hide which driver or step failed; the message names it.

use std::fmt;

/// A failed benchmark step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchError {
    message: String,
}

impl BenchError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BenchError {}

impl From<pgline::Error> for BenchError {
    fn from(err: pgline::Error) -> Self {
        Self::new(format!("pgline: {err}"))
    }
}

impl From<tokio_postgres::Error> for BenchError {
    fn from(err: tokio_postgres::Error) -> Self {
        Self::new(format!("tokio-postgres: {err}"))
    }
}

impl From<pgline_testkit::Error> for BenchError {
    fn from(err: pgline_testkit::Error) -> Self {
        Self::new(format!("testkit: {err}"))
    }
}

impl From<std::io::Error> for BenchError {
    fn from(err: std::io::Error) -> Self {
        Self::new(format!("I/O: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_kept_and_displayed() {
        let err = BenchError::new("libpq connect: refused");
        assert_eq!(err.message(), "libpq connect: refused");
        assert_eq!(err.to_string(), "libpq connect: refused");
    }

    #[test]
    fn io_errors_say_io() {
        let err = BenchError::from(std::io::Error::other("boom"));
        assert_eq!(err.message(), "I/O: boom");
    }
}
