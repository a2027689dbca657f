//! Rows and columns of a result.
//!
//! Owns [`Row`] (a DataRow's bytes plus field offsets, decoded on demand)
//! and [`Column`] (metadata from RowDescription), and [`SimpleQueryRow`] for
//! the text rows of the simple protocol.

use std::sync::Arc;

use crate::error::{Error, ErrorKind};
use crate::proto::{DataRow, RowDescription};
use crate::types::{Decode, Type, TypeError, decode_value};

/// Metadata of one result column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    name: String,
    type_: Type,
    table_oid: u32,
    column_id: i16,
}

impl Column {
    /// The column's name (or alias).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The column's type.
    pub fn type_(&self) -> Type {
        self.type_
    }
    /// The OID of the table the column comes from, or 0.
    pub fn table_oid(&self) -> u32 {
        self.table_oid
    }
    /// The column's attribute number in that table, or 0.
    pub fn column_id(&self) -> i16 {
        self.column_id
    }
}

/// Reads the columns of a RowDescription.
pub(crate) fn columns(description: &RowDescription) -> Arc<[Column]> {
    description
        .fields()
        .map(|f| Column {
            name: f.name.to_owned(),
            type_: Type::from_oid(f.type_oid),
            table_oid: f.table_oid,
            column_id: f.column_id,
        })
        .collect()
}

/// Something that names a column: its index, or its name.
pub trait ColumnIndex: std::fmt::Display {
    /// The column's position among `columns`.
    fn index(&self, columns: &[Column]) -> Option<usize>;
}

impl ColumnIndex for usize {
    fn index(&self, columns: &[Column]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
}

impl ColumnIndex for str {
    fn index(&self, columns: &[Column]) -> Option<usize> {
        columns.iter().position(|c| c.name == self)
    }
}

impl<T: ColumnIndex + ?Sized> ColumnIndex for &T {
    fn index(&self, columns: &[Column]) -> Option<usize> {
        (**self).index(columns)
    }
}

/// One row of a result, in binary format.
///
/// Values are decoded when asked for; `&str` and `&[u8]` borrow from the
/// row's buffer, which is the connection's read buffer (no copy was made).
#[derive(Clone)]
pub struct Row {
    columns: Arc<[Column]>,
    data: DataRow,
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field(
                "columns",
                &self.columns.iter().map(Column::name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Row {
    pub(crate) fn new(columns: Arc<[Column]>, data: DataRow) -> Result<Self, Error> {
        if data.len() != columns.len() {
            return Err(Error::msg(
                ErrorKind::Protocol,
                format!(
                    "DataRow has {} fields but RowDescription announced {}",
                    data.len(),
                    columns.len()
                ),
            ));
        }
        Ok(Self { columns, data })
    }

    /// The columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Decodes the value of a column, by index or name.
    ///
    /// A missing column, a type mismatch, NULL into a non-`Option` type or an
    /// invalid value is an error naming the column, the Rust type and the
    /// PostgreSQL type.
    pub fn get<'a, T: Decode<'a>>(&'a self, column: impl ColumnIndex) -> Result<T, Error> {
        let Some(index) = column.index(&self.columns) else {
            return Err(TypeError::missing_column::<T>(column.to_string()).into());
        };
        let meta = &self.columns[index];
        decode_value(meta.type_, self.raw(index)).map_err(|e| {
            Error::with_source(
                ErrorKind::Type,
                Some(format!("column {index} (\"{}\")", meta.name)),
                e,
            )
        })
    }

    /// The raw binary value of a column (`None` for NULL or a missing column).
    #[inline]
    pub fn raw(&self, index: usize) -> Option<&[u8]> {
        self.data.field(index)
    }
}

/// One row of a simple-query result: every value as text.
///
/// Like [`Row`], it keeps the DataRow (a share of the connection's read
/// buffer) and finds a field by walking its length words: building one
/// allocates nothing.
#[derive(Debug, Clone)]
pub struct SimpleQueryRow {
    columns: Arc<[Column]>,
    data: DataRow,
}

impl SimpleQueryRow {
    /// Takes `data` (moved: no reference count is touched) as a row of
    /// `columns`, checking its field count and that every value is UTF-8.
    pub(crate) fn new(columns: Arc<[Column]>, data: DataRow) -> Result<Self, Error> {
        if data.len() != columns.len() {
            return Err(Error::msg(
                ErrorKind::Protocol,
                format!(
                    "DataRow has {} fields but RowDescription announced {}",
                    data.len(),
                    columns.len()
                ),
            ));
        }
        // An all-ASCII body (field count, length words and values: any row
        // without NULLs and with values under 128 bytes, in the usual
        // case) is checked a word at a time; otherwise each value is.
        if !data.body().is_ascii()
            && data
                .fields()
                .flatten()
                .any(|value| std::str::from_utf8(value).is_err())
        {
            return Err(Error::msg(
                ErrorKind::Protocol,
                "a text value is not valid UTF-8",
            ));
        }
        Ok(Self { columns, data })
    }

    /// The columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The text of a column, by index or name; `None` for NULL or a missing column.
    pub fn get(&self, column: impl ColumnIndex) -> Option<&str> {
        let index = column.index(&self.columns)?;
        let value = self.data.field(index)?;
        // Checked to be UTF-8 when the row was built.
        std::str::from_utf8(value).ok()
    }
}

/// A message of a simple-query result.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SimpleQueryMessage {
    /// A row.
    Row(SimpleQueryRow),
    /// A statement finished; the number of rows it affected or returned, if
    /// its command tag has one.
    CommandComplete(Option<u64>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_columns(n: usize) -> Arc<[Column]> {
        (0..n)
            .map(|i| Column {
                name: format!("c{i}"),
                type_: Type::from_oid(25),
                table_oid: 0,
                column_id: 0,
            })
            .collect()
    }

    fn data_row(fields: &[Option<&[u8]>]) -> DataRow {
        let mut body = (fields.len() as u16).to_be_bytes().to_vec();
        for field in fields {
            match field {
                Some(v) => {
                    body.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    body.extend_from_slice(v);
                }
                None => body.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        DataRow::parse(bytes::Bytes::from(body)).unwrap()
    }

    #[test]
    fn simple_row_reads_ascii_nulls_long_and_multibyte_values() {
        let long = "x".repeat(300);
        let fields: [Option<&[u8]>; 4] = [
            Some(b"12"),
            None,
            Some(long.as_bytes()),
            Some("é€".as_bytes()),
        ];
        let row = SimpleQueryRow::new(text_columns(4), data_row(&fields)).unwrap();
        assert_eq!(row.get(0), Some("12"));
        assert_eq!(row.get(1), None);
        assert_eq!(row.get(2), Some(long.as_str()));
        assert_eq!(row.get("c3"), Some("é€"));
        assert_eq!(row.get(4), None);
        assert_eq!(row.get("nope"), None);
        // An all-ASCII row takes the one-pass check.
        let row = SimpleQueryRow::new(text_columns(2), data_row(&[Some(b"a"), Some(b"")])).unwrap();
        assert_eq!((row.get(0), row.get(1)), (Some("a"), Some("")));
    }

    #[test]
    fn simple_row_refuses_invalid_utf8_and_a_wrong_field_count() {
        for fields in [
            vec![Some(&b"\xff"[..])],
            vec![None, Some(&b"ok"[..]), Some(&b"\xc3"[..])],
        ] {
            let n = fields.len();
            let err = SimpleQueryRow::new(text_columns(n), data_row(&fields)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
        }
        let err = SimpleQueryRow::new(text_columns(2), data_row(&[Some(b"1")])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    }
}
