//! Rows and columns of a result.
//!
//! Owns [`Row`] (a DataRow's bytes plus field offsets, decoded on demand)
//! and [`Column`] (metadata from RowDescription), and [`SimpleQueryRow`] for
//! the text rows of the simple protocol.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

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
        let range = self.data.ranges().nth(index)??;
        self.data.body().get(range)
    }
}

/// One row of a simple-query result: every value as text.
#[derive(Debug, Clone)]
pub struct SimpleQueryRow {
    columns: Arc<[Column]>,
    body: Bytes,
    ranges: Vec<Option<Range<usize>>>,
}

impl SimpleQueryRow {
    pub(crate) fn new(columns: Arc<[Column]>, data: &DataRow) -> Result<Self, Error> {
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
        let ranges: Vec<Option<Range<usize>>> = data.ranges().collect();
        for range in ranges.iter().flatten() {
            if std::str::from_utf8(&data.body()[range.clone()]).is_err() {
                return Err(Error::msg(
                    ErrorKind::Protocol,
                    "a text value is not valid UTF-8",
                ));
            }
        }
        Ok(Self {
            columns,
            body: data.body().clone(),
            ranges,
        })
    }

    /// The columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The text of a column, by index or name; `None` for NULL or a missing column.
    pub fn get(&self, column: impl ColumnIndex) -> Option<&str> {
        let index = column.index(&self.columns)?;
        let range = self.ranges[index].clone()?;
        // Checked to be UTF-8 when the row was built.
        std::str::from_utf8(&self.body[range]).ok()
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
