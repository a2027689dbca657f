//! Explicit pipelines: many statements in one flush, one result each.
//!
//! Owns [`Batch`] and its two error semantics:
//!
//! - [`Batch::run_independent`]: a Sync after every statement. Each
//!   statement is its own implicit transaction; a failure affects only that
//!   statement, and every other one runs.
//! - [`Batch::run_atomic`]: one Sync after the last statement. Outside an
//!   explicit transaction the statements form one implicit transaction: after
//!   the first error the server skips the rest, and what ran before the error
//!   is rolled back with it. The outcome says which ran, which failed and
//!   which were skipped.
//!
//! SQL text goes through the statement cache, as with single queries
//! (statements missing from the cache are prepared first, once).

use std::sync::Arc;

use bytes::BytesMut;

use crate::config::StatementCacheMode;
use crate::conn::client::batch_rows::BatchRows;
use crate::conn::client::handle::{Client, Statement};
use crate::conn::client::query::{
    BindOf, Params, ToStatement, encode_bind_execute, encode_statement, encode_unnamed_parse,
    sealed,
};
use crate::conn::client::row::{Column, Row, columns};
use crate::conn::engine::slot::RequestKind;
use crate::error::{Error, ErrorKind};
use crate::proto::BackendMessage;
use crate::types::Type;

/// What happened to one statement of a batch.
#[derive(Debug)]
#[non_exhaustive]
pub enum StatementOutcome {
    /// The statement ran.
    Ran {
        /// Its rows (empty for statements that return none).
        rows: BatchRows,
        /// The row count from its command tag, if it has one.
        rows_affected: Option<u64>,
    },
    /// The statement failed with this error.
    Failed(Error),
    /// The server skipped the statement because an earlier one failed
    /// (one-Sync batches only).
    Skipped,
}

impl StatementOutcome {
    /// Whether the statement ran.
    pub fn ran(&self) -> bool {
        matches!(self, Self::Ran { .. })
    }
    /// Whether the statement failed.
    pub fn failed(&self) -> bool {
        matches!(self, Self::Failed(_))
    }
    /// Whether the statement was skipped.
    pub fn skipped(&self) -> bool {
        matches!(self, Self::Skipped)
    }
}

struct Entry<'a> {
    statement: sealed::Kind<'a>,
    params: &'a Params<'a>,
}

/// A list of statements sent in one flush. From [`Client::batch`].
///
/// ```no_run
/// # async fn run(client: &pgline::Client) -> Result<(), pgline::Error> {
/// let mut batch = client.batch();
/// batch.push("INSERT INTO t VALUES ($1)", &[&1i32]);
/// batch.push("INSERT INTO t VALUES ($1)", &[&2i32]);
/// for outcome in batch.run_independent().await? {
///     assert!(outcome.ran());
/// }
/// # Ok(()) }
/// ```
pub struct Batch<'a> {
    client: &'a Client,
    entries: Vec<Entry<'a>>,
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("statements", &self.entries.len())
            .finish()
    }
}

/// A statement ready to encode: a prepared one (name, types and columns
/// known), or SQL to parse as the unnamed statement with these types.
enum Planned<'a> {
    Prepared(Statement),
    Unnamed { sql: &'a str, types: Vec<Type> },
}

impl Planned<'_> {
    fn columns(&self) -> Option<&Arc<[Column]>> {
        match self {
            Self::Prepared(stmt) => Some(stmt.columns_arc()),
            Self::Unnamed { .. } => None,
        }
    }
}

impl Client {
    /// An empty batch of statements to send in one flush.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            client: self,
            entries: Vec::new(),
        }
    }
}

impl<'a> Batch<'a> {
    /// Adds a statement (SQL text or a prepared [`Statement`]).
    pub fn push<S: ToStatement + ?Sized>(
        &mut self,
        statement: &'a S,
        params: &'a Params<'a>,
    ) -> &mut Self {
        self.entries.push(Entry {
            statement: sealed::Sealed::kind(statement),
            params,
        });
        self
    }

    /// The number of statements.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sends the statements with a Sync after each: every statement runs on
    /// its own, and a failure affects only the statement that failed.
    pub async fn run_independent(self) -> Result<Vec<StatementOutcome>, Error> {
        self.run(true).await
    }

    /// Sends the statements with one Sync at the end: after the first error
    /// the rest are skipped by the server (and, outside an explicit
    /// transaction, what ran is rolled back with the failed one).
    pub async fn run_atomic(self) -> Result<Vec<StatementOutcome>, Error> {
        self.run(false).await
    }

    async fn plan(&self) -> Result<Vec<Planned<'a>>, Error> {
        let client = self.client;
        let cached = client.inner.cache_mode == StatementCacheMode::Named
            && client
                .shared()
                .statements
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .enabled();
        let mut plans: Vec<Planned<'a>> = Vec::with_capacity(self.entries.len());
        let mut last_sql: Option<&str> = None;
        for entry in &self.entries {
            let plan = match entry.statement {
                sealed::Kind::Prepared(stmt) => Planned::Prepared(stmt.clone()),
                sealed::Kind::Sql(sql) if cached => {
                    // Consecutive statements with the same SQL share one
                    // lookup.
                    match plans.last() {
                        Some(Planned::Prepared(prev)) if last_sql == Some(sql) => {
                            Planned::Prepared(Statement::clone(prev))
                        }
                        _ => Planned::Prepared(client.cached_statement(sql).await?.1),
                    }
                }
                sealed::Kind::Sql(sql) => Planned::Unnamed {
                    sql,
                    types: entry.params.iter().map(|p| p.preferred_type()).collect(),
                },
            };
            last_sql = match entry.statement {
                sealed::Kind::Sql(sql) => Some(sql),
                sealed::Kind::Prepared(_) => None,
            };
            plans.push(plan);
        }
        Ok(plans)
    }

    async fn run(self, sync_each: bool) -> Result<Vec<StatementOutcome>, Error> {
        if self.entries.is_empty() {
            return Ok(Vec::new());
        }
        let plans = self.plan().await?;
        let entries = &self.entries;
        let ready = if sync_each { entries.len() } else { 1 };
        let client = self.client;
        client
            .timed(|| async {
                let mut responses = client
                    .request(ready, RequestKind::Extended, |out| {
                        encode(out, &plans, entries, sync_each)
                    })
                    .await?;
                let mut outcomes = Vec::with_capacity(entries.len());
                let mut current: Option<Arc<[Column]>> = None;
                let mut rows = BatchRows::new();
                let mut ready_seen = 0;
                loop {
                    let i = outcomes.len();
                    match responses.message().await? {
                        BackendMessage::ParseComplete
                        | BackendMessage::CloseComplete
                        | BackendMessage::NoData => {}
                        BackendMessage::EmptyQueryResponse => {
                            outcomes.push(StatementOutcome::Ran {
                                rows: BatchRows::new(),
                                rows_affected: None,
                            });
                        }
                        BackendMessage::BindComplete => {
                            current = plans.get(i).and_then(|p| p.columns().cloned());
                        }
                        BackendMessage::RowDescription(d) => current = Some(columns(&d)),
                        BackendMessage::DataRow(data) => {
                            let cols = current.clone().ok_or_else(|| {
                                Error::msg(ErrorKind::Protocol, "DataRow before RowDescription")
                            })?;
                            rows.push(Row::new(cols, data)?);
                        }
                        BackendMessage::CommandComplete(c) => {
                            outcomes.push(StatementOutcome::Ran {
                                rows: std::mem::take(&mut rows),
                                rows_affected: c.rows(),
                            });
                        }
                        BackendMessage::ErrorResponse(fields) => {
                            rows = BatchRows::new();
                            outcomes
                                .push(StatementOutcome::Failed(Error::db(fields.to_db_error())));
                        }
                        BackendMessage::ReadyForQuery(_) => {
                            ready_seen += 1;
                            if ready_seen == ready {
                                break;
                            }
                        }
                        other => return Err(responses.violation(&other, "a batch response")),
                    }
                }
                while outcomes.len() < entries.len() {
                    outcomes.push(StatementOutcome::Skipped);
                }
                Ok(outcomes)
            })
            .await
    }
}

fn encode(
    out: &mut BytesMut,
    plans: &[Planned<'_>],
    entries: &[Entry<'_>],
    sync_each: bool,
) -> Result<(), Error> {
    let last = plans.len() - 1;
    for (i, (plan, entry)) in plans.iter().zip(entries).enumerate() {
        let sync = sync_each || i == last;
        match plan {
            Planned::Prepared(stmt) => {
                encode_statement(out, stmt, entry.params, sync)?;
            }
            Planned::Unnamed { sql, types } => {
                encode_unnamed_parse(out, sql, types)?;
                encode_bind_execute(out, BindOf::Name(""), types, entry.params, true, sync)?;
            }
        }
    }
    Ok(())
}
