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
use crate::conn::client::observed::Cold;
use crate::conn::client::query::{
    BindOf, Params, ToStatement, encode_bind_execute, encode_statement, encode_unnamed_parse,
    sealed,
};
use crate::conn::client::row::{Column, Row, columns};
use crate::conn::engine::responses::Responses;
use crate::conn::engine::slot::RequestKind;
use crate::error::{Error, ErrorKind};
use crate::observe::{BatchEnd, BatchStart, BatchStatement, Pending};
use crate::proto::BackendMessage;
use crate::types::{Encode, Type};

/// What happened to one statement of a batch.
///
/// A batch whose connection is lost part way (a cut, a server that went
/// away, a timeout) still reports every statement: the ones answered
/// before the loss keep their outcome, and each of the others is
/// [`NotSent`](Self::NotSent) (certainly not executed: no byte of it was
/// written to the socket) or [`Unknown`](Self::Unknown) (written, at
/// least in part, and never answered: it may have run and committed).
///
/// ```no_run
/// # async fn run(batch: pgline::Batch<'_>) -> Result<(), pgline::Error> {
/// use pgline::StatementOutcome;
/// for (i, outcome) in batch.run_independent().await?.into_iter().enumerate() {
///     match outcome {
///         StatementOutcome::Ran { rows_affected, .. } => println!("{i}: {rows_affected:?}"),
///         StatementOutcome::Failed(e) => println!("{i} failed: {e}"),
///         StatementOutcome::NotSent(_) => println!("{i} never left: safe to send again"),
///         StatementOutcome::Unknown(e) => println!("{i} may or may not have run: {e}"),
///         _ => {}
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum StatementOutcome {
    /// The statement ran (with a Sync per statement: and was committed,
    /// outside an explicit transaction).
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
    /// The connection was lost before any byte of the statement was
    /// written to the socket: the server never saw it. The error says why
    /// the connection was lost.
    NotSent(Error),
    /// The connection was lost (or the call timed out) after the statement
    /// was written, at least in part, and before its Sync was answered: it
    /// may have run, and committed, or not. Never retried automatically;
    /// the error says what ended the wait.
    Unknown(Error),
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
    /// Whether the statement was never sent (the connection was lost first).
    pub fn not_sent(&self) -> bool {
        matches!(self, Self::NotSent(_))
    }
    /// Whether the statement's outcome is unknown (sent, never answered).
    pub fn unknown(&self) -> bool {
        matches!(self, Self::Unknown(_))
    }
    /// The error of a statement that failed, was not sent or has an
    /// unknown outcome.
    pub fn error(&self) -> Option<&Error> {
        match self {
            Self::Failed(e) | Self::NotSent(e) | Self::Unknown(e) => Some(e),
            Self::Ran { .. } | Self::Skipped => None,
        }
    }
}

struct Entry<'a> {
    statement: sealed::Kind<'a>,
    params: EntryParams<'a>,
}

/// A parameter value a batch owns (see [`Batch::push_owned`]).
pub type OwnedParam = Box<dyn Encode + Send + Sync>;

/// Parameter values handed to a batch by value: a tuple of up to 12
/// values (each `Encode + Send + Sync + 'static`), `()`, or a
/// `Vec<OwnedParam>`.
pub trait IntoOwnedParams {
    /// The values, boxed.
    fn into_owned_params(self) -> Vec<OwnedParam>;
}

impl IntoOwnedParams for Vec<OwnedParam> {
    fn into_owned_params(self) -> Vec<OwnedParam> {
        self
    }
}

impl IntoOwnedParams for () {
    fn into_owned_params(self) -> Vec<OwnedParam> {
        Vec::new()
    }
}

macro_rules! tuple_params {
    ($($t:ident $i:tt),+) => {
        impl<$($t: Encode + Send + Sync + 'static),+> IntoOwnedParams for ($($t,)+) {
            fn into_owned_params(self) -> Vec<OwnedParam> {
                vec![$(Box::new(self.$i) as OwnedParam),+]
            }
        }
    };
}
tuple_params!(A 0);
tuple_params!(A 0, B 1);
tuple_params!(A 0, B 1, C 2);
tuple_params!(A 0, B 1, C 2, D 3);
tuple_params!(A 0, B 1, C 2, D 3, E 4);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);

/// A statement's parameters: borrowed for the batch's lifetime, or owned
/// by it.
enum EntryParams<'a> {
    Borrowed(&'a Params<'a>),
    Owned(Vec<OwnedParam>),
}

impl EntryParams<'_> {
    /// Calls `f` with the parameters as the encoders take them (owned
    /// ones through a vector of references made for the call).
    fn with<R>(&self, f: impl FnOnce(&Params<'_>) -> R) -> R {
        match self {
            Self::Borrowed(params) => f(params),
            Self::Owned(values) => {
                let refs: Vec<&(dyn Encode + Sync)> = values
                    .iter()
                    .map(|v| &**v as &(dyn Encode + Sync))
                    .collect();
                f(&refs)
            }
        }
    }
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
        Batch::with_capacity(self, 0)
    }
}

impl<'a> Batch<'a> {
    /// An empty batch on `client` with room for `capacity` statements.
    pub fn with_capacity(client: &'a Client, capacity: usize) -> Self {
        Batch {
            client,
            entries: Vec::with_capacity(capacity),
        }
    }

    /// Adds a statement (SQL text or a prepared [`Statement`]) with
    /// parameters borrowed for the batch's lifetime.
    pub fn push<S: ToStatement + ?Sized>(
        &mut self,
        statement: &'a S,
        params: &'a Params<'a>,
    ) -> &mut Self {
        self.entries.push(Entry {
            statement: sealed::Sealed::kind(statement),
            params: EntryParams::Borrowed(params),
        });
        self
    }

    /// Adds a statement with parameters the batch owns: a tuple of values,
    /// so a loop can push statements without keeping their values alive
    /// elsewhere.
    ///
    /// ```no_run
    /// # async fn run(client: &pgline::Client) -> Result<(), pgline::Error> {
    /// let mut batch = pgline::Batch::with_capacity(client, 1000);
    /// for i in 0..1000i32 {
    ///     batch.push_owned("INSERT INTO t VALUES ($1, $2)", (i, format!("item {i}")));
    /// }
    /// batch.run_atomic().await?;
    /// # Ok(()) }
    /// ```
    pub fn push_owned<S: ToStatement + ?Sized>(
        &mut self,
        statement: &'a S,
        params: impl IntoOwnedParams,
    ) -> &mut Self {
        self.entries.push(Entry {
            statement: sealed::Sealed::kind(statement),
            params: EntryParams::Owned(params.into_owned_params()),
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

    /// **A Sync per statement** (independent statements): every statement
    /// runs on its own, and a failure affects only the statement that
    /// failed.
    ///
    /// One outcome per statement, in order. When the connection is lost or
    /// the call times out part way, the statements answered before keep
    /// their outcome and the rest are [`StatementOutcome::NotSent`] or
    /// [`StatementOutcome::Unknown`]. An `Err` means no statement of the
    /// batch was queued (preparing its statements failed, or the
    /// connection was already closed): none ran.
    #[doc(alias = "sync_each")]
    #[doc(alias = "sync_per_statement")]
    pub async fn run_independent(self) -> Result<Vec<StatementOutcome>, Error> {
        if self.client.hooks.batches().is_some() {
            return Cold::new(self.run_observed("run_independent", true)).await;
        }
        self.run(true).await
    }

    /// **One Sync at the end** (atomic statements): after the first error
    /// the rest are skipped by the server (and, outside an explicit
    /// transaction, what ran is rolled back with the failed one).
    ///
    /// When the connection is lost or the call times out before the Sync
    /// is answered, nothing is known to be committed: statements written
    /// (at least in part) are [`StatementOutcome::Unknown`], the rest
    /// [`StatementOutcome::NotSent`], and errors already received stay
    /// [`StatementOutcome::Failed`]. An `Err` means no statement was
    /// queued.
    #[doc(alias = "one_sync")]
    #[doc(alias = "single_sync")]
    pub async fn run_atomic(self) -> Result<Vec<StatementOutcome>, Error> {
        if self.client.hooks.batches().is_some() {
            return Cold::new(self.run_observed("run_atomic", false)).await;
        }
        self.run(false).await
    }

    /// [`run`](Self::run) between the batch hooks' start and end, with
    /// each statement's outcome reported in between.
    async fn run_observed(
        self,
        operation: &'static str,
        sync_each: bool,
    ) -> Result<Vec<StatementOutcome>, Error> {
        let client = self.client;
        let Some(hooks) = client.hooks.batches() else {
            return self.run(sync_each).await;
        };
        let server = &client.inner.server;
        let size = self.entries.len();
        let start = BatchStart {
            operation,
            size,
            server,
        };
        let pending = Pending::start(hooks, |h| h.batch_start(&start));
        let result = pending.in_span(|| self.run(sync_each)).await;
        if let Ok(outcomes) = &result {
            for (index, outcome) in outcomes.iter().enumerate() {
                let rows = match outcome {
                    StatementOutcome::Ran { rows_affected, .. } => *rows_affected,
                    _ => None,
                };
                let statement = BatchStatement {
                    index,
                    ran: outcome.ran(),
                    rows,
                    error: outcome.error(),
                };
                pending.each(hooks, |h, data| h.batch_statement(data, &statement));
            }
        }
        let error = result.as_ref().err();
        pending.end(hooks, |h, data, elapsed| {
            h.batch_end(
                data,
                &BatchEnd {
                    operation,
                    size,
                    elapsed,
                    error,
                    server,
                },
            )
        });
        result
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
                    types: entry
                        .params
                        .with(|params| params.iter().map(|p| p.preferred_type()).collect()),
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
        // Where each statement's bytes start, from the request's first byte.
        let mut starts: Vec<u64> = Vec::with_capacity(entries.len());
        let mut progress = Progress {
            outcomes: Vec::with_capacity(entries.len()),
            settled: 0,
            queued: false,
        };
        let read = client
            .timed(|| {
                let (plans, starts, progress) = (&plans, &mut starts, &mut progress);
                async move {
                    let mut responses = client
                        .request(ready, RequestKind::Extended, |out| {
                            encode(out, plans, entries, sync_each, starts)
                        })
                        .await?;
                    progress.queued = true;
                    read_outcomes(&mut responses, plans, ready, sync_each, progress).await
                }
            })
            .await;
        let Progress {
            mut outcomes,
            settled,
            queued,
        } = progress;
        match read {
            Ok(()) => {
                while outcomes.len() < entries.len() {
                    outcomes.push(StatementOutcome::Skipped);
                }
                Ok(outcomes)
            }
            Err(e) if !queued => Err(e),
            Err(e) => Ok(interrupted(outcomes, settled, &starts, e)),
        }
    }
}

/// The outcomes read so far.
struct Progress {
    outcomes: Vec<StatementOutcome>,
    /// Outcomes final because their statement's Sync was answered.
    settled: usize,
    /// The request was queued: from here on its statements may run.
    queued: bool,
}

async fn read_outcomes(
    responses: &mut Responses,
    plans: &[Planned<'_>],
    ready: usize,
    sync_each: bool,
    progress: &mut Progress,
) -> Result<(), Error> {
    let outcomes = &mut progress.outcomes;
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
                let failed = StatementOutcome::Failed(Error::db(fields.to_db_error()));
                if sync_each && i > ready_seen {
                    // The statement completed and then its Sync failed (a
                    // deferred constraint at commit, a terminated session):
                    // the error is that statement's, and it did not commit.
                    outcomes[i - 1] = failed;
                } else {
                    outcomes.push(failed);
                }
            }
            BackendMessage::ReadyForQuery(_) => {
                ready_seen += 1;
                progress.settled = if ready_seen == ready {
                    plans.len()
                } else {
                    outcomes.len()
                };
                if ready_seen == ready {
                    return Ok(());
                }
            }
            other => return Err(responses.violation(&other, "a batch response")),
        }
    }
}

/// The outcomes of a batch whose reading ended with `cause` after it was
/// queued: the settled ones stand, errors received stand, and every other
/// statement is not sent or unknown, from how much of the request the
/// engine had written (`starts`: each statement's first byte). Without
/// that record (a timeout, a reply that made no sense) the request may
/// still be written later: all of them are unknown.
fn interrupted(
    outcomes: Vec<StatementOutcome>,
    settled: usize,
    starts: &[u64],
    cause: Error,
) -> Vec<StatementOutcome> {
    let delivery = cause.delivery();
    // The first statement left open gets the error itself (with its
    // source), the others the same failure again.
    let echo = cause.repeat();
    let mut cause = Some(cause);
    let mut received = outcomes.into_iter();
    let mut all = Vec::with_capacity(starts.len());
    for (i, &start) in starts.iter().enumerate() {
        let outcome = match received.next() {
            Some(outcome) if i < settled => outcome,
            // A statement that failed did not take effect, Sync or not.
            Some(failed @ StatementOutcome::Failed(_)) => failed,
            _ => {
                let error = cause.take().unwrap_or_else(|| echo.repeat());
                if delivery.is_none_or(|d| d.reached(start)) {
                    StatementOutcome::Unknown(error)
                } else {
                    StatementOutcome::NotSent(error)
                }
            }
        };
        all.push(outcome);
    }
    all
}

/// Encodes the batch, recording in `starts` where each statement's bytes
/// begin (counted from the batch's first byte).
fn encode(
    out: &mut BytesMut,
    plans: &[Planned<'_>],
    entries: &[Entry<'_>],
    sync_each: bool,
    starts: &mut Vec<u64>,
) -> Result<(), Error> {
    let last = plans.len() - 1;
    let first = out.len();
    starts.clear();
    for (i, (plan, entry)) in plans.iter().zip(entries).enumerate() {
        starts.push((out.len() - first) as u64);
        let sync = sync_each || i == last;
        match plan {
            Planned::Prepared(stmt) => {
                entry
                    .params
                    .with(|params| encode_statement(out, stmt, params, sync))?;
            }
            Planned::Unnamed { sql, types } => {
                encode_unnamed_parse(out, sql, types)?;
                entry.params.with(|params| {
                    encode_bind_execute(out, BindOf::Name(""), types, params, true, sync)
                })?;
            }
        }
    }
    Ok(())
}
