//! `TypeError`: why a value could not be converted between Rust and PostgreSQL.

use std::fmt;

use super::Type;

/// A conversion between a Rust value and a PostgreSQL value failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TypeError {
    /// The Rust type cannot represent the PostgreSQL type (or the reverse).
    WrongType {
        /// The Rust type's name.
        rust: &'static str,
        /// The PostgreSQL type.
        pg: Type,
    },
    /// SQL NULL was decoded into a type that has no NULL.
    UnexpectedNull {
        /// The Rust type's name.
        rust: &'static str,
        /// The PostgreSQL type.
        pg: Type,
    },
    /// The bytes are not a valid value of the type (wrong length, bad UTF-8, …).
    InvalidValue {
        /// The PostgreSQL type.
        pg: Type,
        /// What is wrong.
        reason: &'static str,
    },
    /// The value does not fit the target type.
    OutOfRange {
        /// The Rust type's name.
        rust: &'static str,
        /// The PostgreSQL type.
        pg: Type,
    },
}

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongType { rust, pg } => {
                write!(f, "a {pg} value cannot be decoded into {rust}")
            }
            Self::UnexpectedNull { rust, pg } => write!(
                f,
                "NULL cannot be decoded into {rust} (column type {pg}); use Option<{rust}>"
            ),
            Self::InvalidValue { pg, reason } => write!(f, "invalid {pg} value: {reason}"),
            Self::OutOfRange { rust, pg } => {
                write!(f, "the {pg} value is out of range for {rust}")
            }
        }
    }
}

impl std::error::Error for TypeError {}
