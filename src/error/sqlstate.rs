//! `SqlState`: the five-character SQLSTATE codes of PostgreSQL's errcodes list.
//!
//! Owns the code table and the names; it does no parsing of server messages.

use std::fmt;

/// A SQLSTATE error code, such as `28P01` (`invalid_password`).
///
/// Every code of PostgreSQL's errcodes list has an associated constant and a
/// name; codes the table does not know (from newer servers or extensions) are
/// kept as they came and have no name.
///
/// ```
/// use pgline::error::SqlState;
/// let state = SqlState::from_code("28P01");
/// assert_eq!(state, SqlState::INVALID_PASSWORD);
/// assert_eq!(state.name(), Some("invalid_password"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SqlState([u8; 5]);

impl SqlState {
    /// `28P01` invalid_password
    pub const INVALID_PASSWORD: Self = Self(*b"28P01");
    /// `57014` query_canceled
    pub const QUERY_CANCELED: Self = Self(*b"57014");

    const TABLE: &'static [(Self, &'static str)] = &[
        (Self::INVALID_PASSWORD, "invalid_password"),
        (Self::QUERY_CANCELED, "query_canceled"),
    ];

    /// The state for a five-character code. A code that is not five ASCII
    /// characters is kept as `XX000`-style padding is not invented: it maps to
    /// `XX000` (internal_error) only if it cannot be represented.
    pub fn from_code(code: &str) -> Self {
        match <[u8; 5]>::try_from(code.as_bytes()) {
            Ok(bytes) if bytes.is_ascii() => Self(bytes),
            _ => Self(*b"XX000"),
        }
    }

    /// The five-character code, e.g. `"28P01"`.
    pub fn code(&self) -> &str {
        // Only ASCII bytes are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XX000")
    }

    /// The condition name from the errcodes list, e.g. `"invalid_password"`.
    pub fn name(&self) -> Option<&'static str> {
        Self::TABLE.iter().find(|(s, _)| s == self).map(|(_, n)| *n)
    }
}

impl fmt::Debug for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "SqlState({} {})", self.code(), name),
            None => write!(f, "SqlState({})", self.code()),
        }
    }
}

impl fmt::Display for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
