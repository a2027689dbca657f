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
    /// A row has no column of this name (row mapping).
    MissingColumn {
        /// The column name looked for.
        column: String,
        /// The Rust type being built from the row.
        rust: &'static str,
    },
    /// Decoding one column of a row failed.
    InColumn {
        /// The column's name.
        column: String,
        /// The column's index.
        index: usize,
        /// Why it failed (names the Rust and PostgreSQL types).
        source: Box<TypeError>,
    },
    /// A value was decoded but could not be converted into the Rust type
    /// (a `try_from` field, a JSON document that does not fit, an enum label
    /// with no variant).
    Conversion {
        /// The Rust type converted into.
        rust: &'static str,
        /// What went wrong.
        reason: String,
    },
}

impl TypeError {
    /// A [`TypeError::Conversion`] into `T`.
    pub fn conversion<T: ?Sized>(reason: impl ToString) -> Self {
        Self::Conversion {
            rust: std::any::type_name::<T>(),
            reason: reason.to_string(),
        }
    }

    /// The PostgreSQL type involved, when the error names one.
    pub fn pg_type(&self) -> Option<Type> {
        match self {
            Self::WrongType { pg, .. }
            | Self::UnexpectedNull { pg, .. }
            | Self::InvalidValue { pg, .. }
            | Self::OutOfRange { pg, .. } => Some(*pg),
            Self::InColumn { source, .. } => source.pg_type(),
            Self::MissingColumn { .. } | Self::Conversion { .. } => None,
        }
    }
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
            Self::MissingColumn { column, rust } => {
                write!(f, "no column \"{column}\" in the row (building {rust})")
            }
            Self::InColumn {
                column,
                index,
                source,
            } => write!(f, "column {index} (\"{column}\"): {source}"),
            Self::Conversion { rust, reason } => {
                write!(f, "the value cannot be converted into {rust}: {reason}")
            }
        }
    }
}

impl std::error::Error for TypeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InColumn { source, .. } => Some(&**source),
            _ => None,
        }
    }
}
