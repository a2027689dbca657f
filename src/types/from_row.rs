//! Row mapping: [`RowAccess`] (what a row offers), [`FromRow`] (a Rust type
//! built from a row, usually by `#[derive(FromRow)]`) and [`RowMapper`]
//! (resolves column names once per statement, then maps every row by
//! index).
//!
//! Sans-IO like the rest of `types`: the connection layer implements
//! [`RowAccess`] for its `Row`; nothing here knows about sockets.

use std::marker::PhantomData;

use super::{Decode, Type, TypeError, decode_value};

/// What row mapping needs from a row: its columns and raw binary values.
pub trait RowAccess {
    /// The number of columns.
    fn column_count(&self) -> usize;

    /// The name of column `index`.
    fn column_name(&self, index: usize) -> Option<&str>;

    /// The type of column `index`.
    fn column_type(&self, index: usize) -> Option<Type>;

    /// The raw binary value of column `index` (`None` for NULL).
    fn raw_value(&self, index: usize) -> Option<&[u8]>;

    /// The index of the first column named `prefix` followed by `name`.
    fn find_column(&self, prefix: &str, name: &str) -> Option<usize> {
        (0..self.column_count()).find(|i| {
            self.column_name(*i).is_some_and(|c| {
                c.len() == prefix.len() + name.len() && c.starts_with(prefix) && c.ends_with(name)
            })
        })
    }
}

/// A Rust value built from a row.
///
/// Mapping has two steps so that column names are looked up once per
/// statement: [`resolve`](Self::resolve) turns names into indices (failing
/// on a missing column), [`from_resolved`](Self::from_resolved) decodes a
/// row by those indices. `'r` is the row's lifetime, so fields may borrow
/// (`&'r str`).
pub trait FromRow<'r>: Sized {
    /// The column indices this type reads, resolved for one statement.
    type Columns;

    /// Finds this type's columns in `row`; `prefix` is put before every
    /// column name (used by flattened fields).
    fn resolve<R: RowAccess + ?Sized>(row: &R, prefix: &str) -> Result<Self::Columns, TypeError>;

    /// Builds the value from a row whose columns were resolved.
    fn from_resolved<R: RowAccess + ?Sized>(
        row: &'r R,
        columns: &Self::Columns,
    ) -> Result<Self, TypeError>;

    /// Resolves and builds in one go (for a single row).
    fn from_row<R: RowAccess + ?Sized>(row: &'r R) -> Result<Self, TypeError> {
        let columns = Self::resolve(row, "")?;
        Self::from_resolved(row, &columns)
    }
}

/// A resolved column: its index and its type, fixed for a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnRef {
    /// The column's index.
    pub index: usize,
    /// The column's type.
    pub ty: Type,
}

impl ColumnRef {
    /// Column `index` of `row`, if it exists.
    pub fn of<R: RowAccess + ?Sized>(row: &R, index: usize) -> Option<Self> {
        row.column_type(index).map(|ty| Self { index, ty })
    }

    /// The column of `row` named `prefix` + `name`.
    pub fn find<R: RowAccess + ?Sized>(row: &R, prefix: &str, name: &str) -> Option<Self> {
        row.find_column(prefix, name).and_then(|i| Self::of(row, i))
    }
}

/// Maps the rows of one statement, resolving the column indices at the
/// first row and reusing them for the next ones.
#[derive(Debug)]
pub struct RowMapper<'r, T: FromRow<'r>> {
    columns: Option<T::Columns>,
    _rows: PhantomData<&'r ()>,
}

impl<'r, T: FromRow<'r>> Default for RowMapper<'r, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'r, T: FromRow<'r>> RowMapper<'r, T> {
    /// A mapper that has not seen a row yet.
    pub fn new() -> Self {
        Self {
            columns: None,
            _rows: PhantomData,
        }
    }

    /// Maps one row. All rows given to one mapper must come from the same
    /// statement (same columns in the same order).
    pub fn map<R: RowAccess + ?Sized>(&mut self, row: &'r R) -> Result<T, TypeError> {
        let columns = match &self.columns {
            Some(c) => c,
            None => self.columns.insert(T::resolve(row, "")?),
        };
        T::from_resolved(row, columns)
    }
}

/// Maps every row of one statement into `T`, resolving columns once.
pub fn from_rows<'r, T: FromRow<'r>, R: RowAccess>(rows: &'r [R]) -> Result<Vec<T>, TypeError> {
    let mut mapper = RowMapper::<T>::new();
    rows.iter().map(|r| mapper.map(r)).collect()
}

/// Resolves a required column for `T`'s field, or
/// [`TypeError::MissingColumn`].
pub fn require_column<T: ?Sized, R: RowAccess + ?Sized>(
    row: &R,
    prefix: &str,
    name: &str,
) -> Result<ColumnRef, TypeError> {
    ColumnRef::find(row, prefix, name)
        .ok_or_else(|| TypeError::missing_column::<T>(format!("{prefix}{name}")))
}

/// Decodes a resolved column of `row`; errors name the column.
#[inline]
pub fn decode_column<'r, T: Decode<'r>, R: RowAccess + ?Sized>(
    row: &'r R,
    column: ColumnRef,
) -> Result<T, TypeError> {
    decode_value(column.ty, row.raw_value(column.index)).map_err(|e| wrap(row, column.index, e))
}

/// Decodes column `index` of `row` (looking its type up); errors name the
/// column.
pub fn decode_column_at<'r, T: Decode<'r>, R: RowAccess + ?Sized>(
    row: &'r R,
    index: usize,
) -> Result<T, TypeError> {
    match ColumnRef::of(row, index) {
        Some(column) => decode_column(row, column),
        None => Err(TypeError::missing_column::<T>(index.to_string())),
    }
}

/// Decodes a column as `S`, then converts it with `TryFrom` (the
/// `try_from` field attribute).
pub fn decode_column_try_from<'r, S, T, R>(row: &'r R, column: ColumnRef) -> Result<T, TypeError>
where
    S: Decode<'r>,
    T: TryFrom<S>,
    T::Error: std::fmt::Display,
    R: RowAccess + ?Sized,
{
    let source: S = decode_column(row, column)?;
    T::try_from(source).map_err(|e| wrap(row, column.index, TypeError::conversion::<T>(e)))
}

/// Names column `index` of `row` in `error`.
#[cold]
pub(crate) fn wrap<R: RowAccess + ?Sized>(row: &R, index: usize, error: TypeError) -> TypeError {
    error.in_column(row.column_name(index).unwrap_or("?"), index)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A row in memory, for tests.
    #[derive(Debug)]
    pub(crate) struct MemRow(pub(crate) Vec<(&'static str, Type, Option<Vec<u8>>)>);

    impl RowAccess for MemRow {
        fn column_count(&self) -> usize {
            self.0.len()
        }
        fn column_name(&self, index: usize) -> Option<&str> {
            self.0.get(index).map(|c| c.0)
        }
        fn column_type(&self, index: usize) -> Option<Type> {
            self.0.get(index).map(|c| c.1)
        }
        fn raw_value(&self, index: usize) -> Option<&[u8]> {
            self.0.get(index)?.2.as_deref()
        }
    }

    #[derive(Debug, PartialEq)]
    struct Pair<'r> {
        id: i32,
        name: &'r str,
    }

    impl<'r> FromRow<'r> for Pair<'r> {
        type Columns = (ColumnRef, ColumnRef);
        fn resolve<R: RowAccess + ?Sized>(
            row: &R,
            prefix: &str,
        ) -> Result<Self::Columns, TypeError> {
            Ok((
                require_column::<Self, _>(row, prefix, "id")?,
                require_column::<Self, _>(row, prefix, "name")?,
            ))
        }
        fn from_resolved<R: RowAccess + ?Sized>(
            row: &'r R,
            c: &Self::Columns,
        ) -> Result<Self, TypeError> {
            Ok(Self {
                id: decode_column(row, c.0)?,
                name: decode_column(row, c.1)?,
            })
        }
    }

    #[test]
    fn maps_by_name_and_names_the_failing_column() {
        let rows = [
            MemRow(vec![
                ("p_name", Type::TEXT, Some(b"ann".to_vec())),
                ("p_id", Type::INT4, Some(vec![0, 0, 0, 7])),
            ]),
            MemRow(vec![
                ("p_name", Type::TEXT, Some(b"bob".to_vec())),
                ("p_id", Type::INT4, None),
            ]),
        ];
        let cols = Pair::resolve(&rows[0], "p_").unwrap();
        assert_eq!((cols.0.index, cols.1.index, cols.0.ty), (1, 0, Type::INT4));
        assert_eq!(
            Pair::from_resolved(&rows[0], &cols),
            Ok(Pair { id: 7, name: "ann" })
        );
        let err = Pair::from_resolved(&rows[1], &cols).unwrap_err();
        assert_eq!(
            err.to_string(),
            "column 1 (\"p_id\"): NULL cannot be decoded into i32 (column type int4); use Option<i32>"
        );
        let err = Pair::from_row(&rows[0]).unwrap_err();
        assert_eq!(err.column(), Some("id"));
        assert!(matches!(err, TypeError::MissingColumn(_)));
    }

    #[test]
    fn try_from_conversion_errors() {
        let row = MemRow(vec![(
            "n",
            Type::INT8,
            Some((-1i64).to_be_bytes().to_vec()),
        )]);
        let col = ColumnRef::of(&row, 0).unwrap();
        let err = decode_column_try_from::<i64, u8, _>(&row, col).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("column 0 (\"n\"): the value cannot be converted into u8")
        );
        let row = MemRow(vec![("n", Type::INT8, Some(200i64.to_be_bytes().to_vec()))]);
        let col = ColumnRef::of(&row, 0).unwrap();
        assert_eq!(decode_column_try_from::<i64, u8, _>(&row, col), Ok(200));
    }
}
