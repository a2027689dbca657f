//! Row mapping for [`Row`]: implements `types::RowAccess` with Row's public
//! accessors, and adds `try_get` (typed errors) and `map_to` / `map_all`
//! (`#[derive(FromRow)]` types).
//!
//! Owns no decoding of its own: everything goes through `types`.

use crate::error::{Error, ErrorKind};
use crate::types::derive_support::decode_column_at;
use crate::types::{Decode, FromRow, RowAccess, RowMapper, Type, TypeError};

use crate::conn::client::row::{ColumnIndex, Row};

impl RowAccess for Row {
    #[inline]
    fn column_count(&self) -> usize {
        self.len()
    }

    fn column_name(&self, index: usize) -> Option<&str> {
        self.columns().get(index).map(|c| c.name())
    }

    #[inline]
    fn column_type(&self, index: usize) -> Option<Type> {
        self.columns().get(index).map(|c| c.type_())
    }

    #[inline]
    fn raw_value(&self, index: usize) -> Option<&[u8]> {
        self.raw(index)
    }
}

fn type_error(e: TypeError) -> Error {
    Error::with_source(ErrorKind::Type, None, e)
}

impl Row {
    /// Decodes a column like [`Row::get`], returning the typed
    /// [`TypeError`]: [`TypeError::MissingColumn`] for an unknown column,
    /// else [`TypeError::InColumn`] wrapping the cause (which names the Rust
    /// and PostgreSQL types).
    pub fn try_get<'a, T: Decode<'a>>(&'a self, column: impl ColumnIndex) -> Result<T, TypeError> {
        match column.index(self.columns()) {
            Some(index) => decode_column_at(self, index),
            None => Err(TypeError::missing_column::<T>(column.to_string())),
        }
    }

    /// Builds a `T` (usually `#[derive(FromRow)]`) from this row.
    pub fn map_to<'a, T: FromRow<'a>>(&'a self) -> Result<T, Error> {
        T::from_row(self).map_err(type_error)
    }

    /// Builds a `T` from every row of one statement, resolving the column
    /// names once at the first row.
    pub fn map_all<'a, T: FromRow<'a>>(rows: &'a [Self]) -> Result<Vec<T>, Error> {
        let mut mapper = RowMapper::<T>::new();
        rows.iter()
            .map(|r| mapper.map(r).map_err(type_error))
            .collect()
    }
}
