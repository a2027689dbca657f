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
    MissingColumn(Box<MissingColumn>),
    /// Decoding one column of a row failed.
    InColumn(Box<ColumnError>),
    /// A value was decoded but could not be converted into the Rust type
    /// (a `try_from` field, a JSON document that does not fit, an enum label
    /// with no variant).
    Conversion(Box<ConversionError>),
}

/// The details of [`TypeError::MissingColumn`] (boxed to keep `TypeError`
/// small on the decoding hot path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingColumn {
    /// The column name looked for.
    pub column: String,
    /// The Rust type being built from the row.
    pub rust: &'static str,
}

/// The details of [`TypeError::InColumn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnError {
    /// The column's name.
    pub column: String,
    /// The column's index.
    pub index: usize,
    /// Why it failed (names the Rust and PostgreSQL types).
    pub source: TypeError,
}

/// The details of [`TypeError::Conversion`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionError {
    /// The Rust type converted into.
    pub rust: &'static str,
    /// What went wrong.
    pub reason: String,
}

impl TypeError {
    /// A [`TypeError::Conversion`] into `T`.
    #[cold]
    pub fn conversion<T: ?Sized>(reason: impl ToString) -> Self {
        Self::Conversion(Box::new(ConversionError {
            rust: std::any::type_name::<T>(),
            reason: reason.to_string(),
        }))
    }

    /// A [`TypeError::MissingColumn`] while building `T`.
    #[cold]
    pub fn missing_column<T: ?Sized>(column: impl Into<String>) -> Self {
        Self::MissingColumn(Box::new(MissingColumn {
            column: column.into(),
            rust: std::any::type_name::<T>(),
        }))
    }

    /// Wraps `self` as the failure of column `index` named `column`.
    #[cold]
    pub fn in_column(self, column: &str, index: usize) -> Self {
        Self::InColumn(Box::new(ColumnError {
            column: column.to_owned(),
            index,
            source: self,
        }))
    }

    /// The PostgreSQL type involved, when the error names one.
    pub fn pg_type(&self) -> Option<Type> {
        match self {
            Self::WrongType { pg, .. }
            | Self::UnexpectedNull { pg, .. }
            | Self::InvalidValue { pg, .. }
            | Self::OutOfRange { pg, .. } => Some(*pg),
            Self::InColumn(e) => e.source.pg_type(),
            Self::MissingColumn(_) | Self::Conversion(_) => None,
        }
    }

    /// The column the error is about, when it names one.
    pub fn column(&self) -> Option<&str> {
        match self {
            Self::InColumn(e) => Some(&e.column),
            Self::MissingColumn(e) => Some(&e.column),
            _ => None,
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
            Self::MissingColumn(e) => write!(
                f,
                "no column \"{}\" in the row (building {})",
                e.column, e.rust
            ),
            Self::InColumn(e) => write!(f, "column {} (\"{}\"): {}", e.index, e.column, e.source),
            Self::Conversion(e) => write!(
                f,
                "the value cannot be converted into {}: {}",
                e.rust, e.reason
            ),
        }
    }
}

impl std::error::Error for TypeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InColumn(e) => Some(&e.source),
            _ => None,
        }
    }
}
