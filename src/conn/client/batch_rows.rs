//! The rows of one statement of a batch.
//!
//! Owns [`BatchRows`]: a list of rows that holds zero or one row without a
//! heap allocation, since a batch of many single-row statements would
//! otherwise allocate a vector per statement.

use std::ops::Deref;

use crate::conn::client::row::Row;

/// The rows one statement of a batch returned. Derefs to `[Row]`.
///
/// ```no_run
/// # async fn run(client: &pgline::Client) -> Result<(), pgline::Error> {
/// let mut batch = client.batch();
/// batch.push("SELECT 1", &[]);
/// for outcome in batch.run_independent().await? {
///     if let pgline::StatementOutcome::Ran { rows, .. } = outcome {
///         let first: i32 = rows[0].get(0)?;
///         assert_eq!((rows.len(), first), (1, 1));
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct BatchRows(Inner);

#[derive(Debug, Default)]
enum Inner {
    #[default]
    Empty,
    One(Row),
    Many(Vec<Row>),
}

impl BatchRows {
    /// No rows.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn push(&mut self, row: Row) {
        self.0 = match std::mem::take(&mut self.0) {
            Inner::Empty => Inner::One(row),
            Inner::One(first) => Inner::Many(vec![first, row]),
            Inner::Many(mut rows) => {
                rows.push(row);
                Inner::Many(rows)
            }
        };
    }

    /// The rows as a vector.
    pub fn into_vec(self) -> Vec<Row> {
        match self.0 {
            Inner::Empty => Vec::new(),
            Inner::One(row) => vec![row],
            Inner::Many(rows) => rows,
        }
    }
}

impl Deref for BatchRows {
    type Target = [Row];

    fn deref(&self) -> &[Row] {
        match &self.0 {
            Inner::Empty => &[],
            Inner::One(row) => std::slice::from_ref(row),
            Inner::Many(rows) => rows,
        }
    }
}

impl From<BatchRows> for Vec<Row> {
    fn from(rows: BatchRows) -> Self {
        rows.into_vec()
    }
}

/// The owning iterator of [`BatchRows`].
#[derive(Debug)]
pub struct BatchRowsIter(IterInner);

#[derive(Debug)]
enum IterInner {
    One(Option<Row>),
    Many(std::vec::IntoIter<Row>),
}

impl Iterator for BatchRowsIter {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        match &mut self.0 {
            IterInner::One(row) => row.take(),
            IterInner::Many(rows) => rows.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterInner::One(row) => (usize::from(row.is_some()), Some(usize::from(row.is_some()))),
            IterInner::Many(rows) => rows.size_hint(),
        }
    }
}

impl IntoIterator for BatchRows {
    type Item = Row;
    type IntoIter = BatchRowsIter;

    fn into_iter(self) -> BatchRowsIter {
        BatchRowsIter(match self.0 {
            Inner::Empty => IterInner::One(None),
            Inner::One(row) => IterInner::One(Some(row)),
            Inner::Many(rows) => IterInner::Many(rows.into_iter()),
        })
    }
}

impl<'a> IntoIterator for &'a BatchRows {
    type Item = &'a Row;
    type IntoIter = std::slice::Iter<'a, Row>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}
