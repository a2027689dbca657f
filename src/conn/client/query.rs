//! The extended query path: statements, parameters, the statement cache,
//! and rows as a stream.
//!
//! Owns what happens between a call such as [`Client::query`] and its rows:
//! choosing the statement (a prepared [`Statement`], a cached one, or the
//! unnamed statement), encoding Bind/Execute straight into the pipeline,
//! transparent re-preparation when the server dropped or invalidated a
//! cached statement (outside a transaction block only), and reading rows as
//! they arrive, with backpressure, through [`RowStream`].
//!
//! A cached statement whose preparation is dropped or fails once its Parse
//! may be queued has its Close queued (`Unprepared`), so the next caller
//! of the same SQL prepares the name afresh instead of finding it taken.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures_core::Stream;

use crate::config::StatementCacheMode;
use crate::conn::client::copy_sql::CopyStdio;
use crate::conn::client::handle::{
    Client, Statement, Unprepared, copy_needs_copy_api, refuse_copy_stdio,
};
use crate::conn::client::one_row::{OneRow, OneRowOutcome};
use crate::conn::client::row::{Column, Row, columns};
use crate::conn::client::stmt_cache::{CachedStatement, explain_name_clash};
use crate::conn::engine::responses::{Responses, poll_stream, violation};
use crate::conn::engine::shared::input_error;
use crate::conn::engine::slot::RequestKind;
use crate::error::{Effect, Error, ErrorKind, SqlState};
use crate::proto::frontend::{self, BindError, BindTemplate, Target};
use crate::proto::{BackendMessage, TransactionStatus};
use crate::types::{Encode, Type, TypeError};

/// Parameters are sent, and result columns requested, in binary.
pub(crate) const BINARY: i16 = 1;

/// Query parameters: Rust values in binary, as `&[&(dyn Encode + Sync)]`.
pub type Params<'a> = [&'a (dyn Encode + Sync)];

/// What to run: SQL text or a prepared [`Statement`].
///
/// SQL text goes through the connection's statement cache (prepared once,
/// then reused by name), or runs as the unnamed statement when the cache is
/// disabled or in unnamed-only mode.
pub trait ToStatement: sealed::Sealed {}
impl ToStatement for str {}
impl ToStatement for String {}
impl ToStatement for Statement {}

pub(crate) mod sealed {
    use super::Statement;

    #[derive(Debug)]
    pub enum Kind<'a> {
        Sql(&'a str),
        Prepared(&'a Statement),
    }

    pub trait Sealed {
        fn kind(&self) -> Kind<'_>;
    }
    impl Sealed for str {
        fn kind(&self) -> Kind<'_> {
            Kind::Sql(self)
        }
    }
    impl Sealed for String {
        fn kind(&self) -> Kind<'_> {
            Kind::Sql(self)
        }
    }
    impl Sealed for Statement {
        fn kind(&self) -> Kind<'_> {
            Kind::Prepared(self)
        }
    }
}

/// Writes Bind, Execute and optionally Sync for a prepared statement,
/// from its Bind template when it has one.
pub(crate) fn encode_statement(
    out: &mut BytesMut,
    stmt: &Statement,
    params: &Params<'_>,
    sync: bool,
) -> Result<(), Error> {
    let bind = match stmt.bind_template() {
        Some(template) => BindOf::Template(template),
        None => BindOf::Name(stmt.name()),
    };
    encode_bind_execute(out, bind, stmt.params(), params, false, sync)
}

/// Which statement a Bind is of.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BindOf<'a> {
    /// By name (`""` = the unnamed statement), encoded whole.
    Name(&'a str),
    /// A prepared statement's fixed Bind bytes.
    Template(&'a BindTemplate),
}

/// The longest parameter value, and Bind message, the protocol carries:
/// both lengths are `Int32`.
const MAX_BIND_LEN: usize = i32::MAX as usize;

/// Why a parameter could not be written.
enum ParamError {
    /// The value's own encoding failed.
    Type(TypeError),
    /// The value, or the Bind with it, is longer than the protocol allows;
    /// found from its [`Encode::encoded_len`] before anything was copied.
    TooLong(crate::proto::ProtoError),
}

/// Writes Bind (binary parameters and results), optionally Describe portal,
/// Execute, and optionally Sync.
pub(crate) fn encode_bind_execute(
    out: &mut BytesMut,
    bind: BindOf<'_>,
    types: &[Type],
    params: &Params<'_>,
    describe: bool,
    sync: bool,
) -> Result<(), Error> {
    encode_bind_execute_within(out, bind, types, params, describe, sync, MAX_BIND_LEN)
}

/// [`encode_bind_execute`] with the length limit given (tests use a small
/// one). A value whose [`Encode::encoded_len`] is known is checked against
/// `max` (alone, and with the Bind written so far) before it is copied;
/// on any error `out` is left as it was.
fn encode_bind_execute_within(
    out: &mut BytesMut,
    bind: BindOf<'_>,
    types: &[Type],
    params: &Params<'_>,
    describe: bool,
    sync: bool,
    max: usize,
) -> Result<(), Error> {
    if types.len() != params.len() {
        return Err(Error::msg(
            ErrorKind::Type,
            format!(
                "the statement has {} parameters but {} values were given",
                types.len(),
                params.len()
            ),
        ));
    }
    // Where the Bind starts: with the tag, one byte more than its length
    // word counts, which keeps the check below on the safe side.
    let bind_start = out.len();
    let write_param = |i: usize, buf: &mut BytesMut| {
        let (param, ty) = (params[i], types[i]);
        let ty = if ty == Type::UNKNOWN_PARAM || param.accepts(ty) {
            ty
        } else if ty.is_user_defined() {
            // A user-defined type the value does not know by OID, most
            // often a domain, whose binary form is its base type's: send
            // the value's own form and let the server check it (a
            // mismatch is the server's error, never a bad value stored).
            param.preferred_type()
        } else {
            return Err(ParamError::Type(TypeError::WrongType {
                rust: "the given Rust value",
                pg: ty,
            }));
        };
        if let Some(len) = param.encoded_len(ty) {
            let bind_len = (buf.len() - bind_start).saturating_add(len);
            if len > max || bind_len > max {
                let (what, len) = if len > max {
                    ("the value", len)
                } else {
                    ("the Bind message with this value", bind_len)
                };
                return Err(ParamError::TooLong(
                    crate::proto::ProtoError::ArgumentTooLong { what, len, max },
                ));
            }
        }
        param.encode(ty, buf).map_err(ParamError::Type)
    };
    let bound = match bind {
        BindOf::Template(template) => template.encode(out, write_param),
        BindOf::Name(statement) => frontend::bind(
            out,
            "",
            statement,
            &[BINARY],
            params.len(),
            write_param,
            &[BINARY],
        ),
    };
    match bound {
        Ok(()) => {}
        Err(BindError::Proto(e)) => return Err(input_error(e)),
        Err(BindError::Param(i, ParamError::Type(e))) => {
            return Err(Error::with_source(
                ErrorKind::Type,
                Some(format!("parameter ${}", i + 1)),
                e,
            ));
        }
        Err(BindError::Param(i, ParamError::TooLong(e))) => {
            return Err(Error::with_source(
                ErrorKind::InvalidInput,
                Some(format!("parameter ${}", i + 1)),
                e,
            ));
        }
    }
    if describe {
        frontend::describe(out, Target::Portal, "").map_err(input_error)?;
    }
    frontend::execute(out, "", 0).map_err(input_error)?;
    if sync {
        frontend::sync(out);
    }
    Ok(())
}

/// Writes Parse of the unnamed statement with the parameters' own types.
pub(crate) fn encode_unnamed_parse(
    out: &mut BytesMut,
    sql: &str,
    types: &[Type],
) -> Result<(), Error> {
    refuse_copy_stdio(sql)?;
    let oids: Vec<u32> = types.iter().map(|t| t.oid()).collect();
    frontend::parse(out, "", sql, &oids).map_err(input_error)
}

/// A request whose Bind succeeded; rows follow.
pub(crate) struct Started {
    pub(crate) responses: Responses,
    pub(crate) columns: Arc<[Column]>,
}

enum Attempt {
    Started(Started),
    /// The cached statement is gone or stale; try again if allowed.
    Invalidated(Error, TransactionStatus),
}

impl Client {
    /// Sends the statement and waits until the server has bound it (one
    /// round trip at most; rows have not been read yet).
    pub(crate) async fn start_query(
        &self,
        statement: &(impl ToStatement + ?Sized),
        params: &Params<'_>,
    ) -> Result<Started, Error> {
        match statement.kind() {
            sealed::Kind::Prepared(stmt) => {
                let responses = self.request_named(stmt, params).await?;
                match wait_bound(responses, stmt.columns_arc().clone(), false).await? {
                    Attempt::Started(started) => Ok(started),
                    Attempt::Invalidated(e, _) => Err(e),
                }
            }
            sealed::Kind::Sql(sql) => {
                if self.uses_named_cache() {
                    self.start_cached(sql, params).await
                } else {
                    Box::pin(self.start_unnamed(sql, params)).await
                }
            }
        }
    }

    /// Whether SQL text goes through the statement cache (prepared once,
    /// run by name) rather than the unnamed statement.
    fn uses_named_cache(&self) -> bool {
        self.inner.cache_mode == StatementCacheMode::Named && self.cache_enabled()
    }

    fn cache_enabled(&self) -> bool {
        self.shared()
            .statements
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .enabled()
    }

    async fn start_unnamed(&self, sql: &str, params: &Params<'_>) -> Result<Started, Error> {
        let responses = self.request_unnamed(sql, params).await?;
        match wait_bound(responses, Arc::new([]), true).await? {
            Attempt::Started(started) => Ok(started),
            Attempt::Invalidated(e, _) => Err(e),
        }
    }

    /// Looks the statement up in the cache, preparing it on a miss.
    pub(crate) async fn cached_statement(
        &self,
        sql: &str,
    ) -> Result<(Arc<CachedStatement>, Statement), Error> {
        if let Some(hooks) = self.hooks.prepares() {
            // A lookup that waits for another task's preparation reports a
            // miss: it did wait for a Parse.
            let cached = self.cached_already(sql);
            let (pending, evictions) = self.prepare_started(hooks, sql, true, cached);
            let result = pending.in_span(|| self.cached_statement_plain(sql)).await;
            let error = result.as_ref().err();
            self.prepare_ended(hooks, pending, sql, true, cached, evictions, error);
            return result;
        }
        self.cached_statement_plain(sql).await
    }

    /// Whether `sql` is prepared in the cache (a look that does not count
    /// as a use).
    fn cached_already(&self, sql: &str) -> bool {
        self.shared()
            .statements
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_prepared(sql)
    }

    async fn cached_statement_plain(
        &self,
        sql: &str,
    ) -> Result<(Arc<CachedStatement>, Statement), Error> {
        let lookup = self
            .shared()
            .statements
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .lookup(sql, &[]);
        if let Some(evicted) = lookup.evicted {
            self.shared().close_statement_later(evicted);
        }
        let entry = lookup.statement;
        // The hit path does not await: preparing lives in its own boxed
        // future, so it does not weigh on every query's future.
        if let Some(stmt) = entry.prepared.get() {
            let stmt = stmt.clone();
            return Ok((entry, stmt));
        }
        // Armed only by the caller that prepares: one waiting for another
        // caller's preparation has queued nothing.
        let prepared = Box::pin(entry.prepared.get_or_try_init(|| async {
            let unprepared = Unprepared::new(self.shared(), entry.name.clone());
            let statement = self
                .prepare_named(entry.name.clone(), sql, &[], None)
                .await?;
            unprepared.owned();
            Ok(statement)
        }))
        .await;
        match prepared {
            Ok(stmt) => {
                let stmt = stmt.clone();
                Ok((entry, stmt))
            }
            Err(e) => {
                self.forget(sql, &entry);
                Err(explain_name_clash(e))
            }
        }
    }

    fn forget(&self, sql: &str, entry: &Arc<CachedStatement>) -> bool {
        self.shared()
            .statements
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(sql, entry)
    }

    async fn start_cached(&self, sql: &str, params: &Params<'_>) -> Result<Started, Error> {
        let mut retried = false;
        loop {
            let (entry, stmt) = self.cached_statement(sql).await?;
            let mut responses = self
                .request_named(&stmt, params)
                .await
                .map_err(|e| e.with_effect(entry.effect))?;
            responses.set_effect(entry.effect);
            match wait_bound(responses, stmt.columns_arc().clone(), false).await? {
                Attempt::Started(started) => return Ok(started),
                Attempt::Invalidated(e, status) => {
                    self.invalidated(sql, &entry, e, status, &mut retried)?;
                }
            }
        }
    }

    /// Queues Parse/Bind/Describe/Execute/Sync of SQL text as the unnamed
    /// statement, with the parameters' own types.
    async fn request_unnamed(&self, sql: &str, params: &Params<'_>) -> Result<Responses, Error> {
        let types: Vec<Type> = params.iter().map(|p| p.preferred_type()).collect();
        let mut responses = self
            .request(1, RequestKind::Extended, |out| {
                encode_unnamed_parse(out, sql, &types)?;
                encode_bind_execute(out, BindOf::Name(""), &types, params, true, true)
            })
            .await
            .map_err(|e| e.with_effect(Effect::of_statement(sql)))?;
        responses.set_effect(Effect::of_statement(sql));
        Ok(responses)
    }

    /// Queues Bind/Execute/Sync of a named statement.
    async fn request_named(
        &self,
        stmt: &Statement,
        params: &Params<'_>,
    ) -> Result<Responses, Error> {
        self.request(1, RequestKind::Extended, |out| {
            encode_statement(out, stmt, params, true)
        })
        .await
    }

    /// A cached statement the server refused as gone or stale: it leaves
    /// the cache (and is closed on the server if it still exists there).
    /// Returns the error when the query must not be tried again: it was
    /// already, or a transaction block is open (and aborted anyway).
    fn invalidated(
        &self,
        sql: &str,
        entry: &Arc<CachedStatement>,
        error: Error,
        status: TransactionStatus,
        retried: &mut bool,
    ) -> Result<(), Error> {
        if self.forget(sql, entry) {
            let shared = self.shared();
            shared
                .statements
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .count_invalidation();
            // A stale plan's statement still exists on the server.
            if error.code() == Some(&SqlState::FEATURE_NOT_SUPPORTED) {
                shared.close_statement_later(entry.name.clone());
            }
        }
        if *retried || status != TransactionStatus::Idle {
            return Err(explain_name_clash(error));
        }
        *retried = true;
        Ok(())
    }

    /// [`Client::query_opt`] of a named statement: its one reply read in
    /// one pass (see `one_row.rs`).
    async fn one_row_named(
        &self,
        stmt: &Statement,
        params: &Params<'_>,
        effect: Effect,
    ) -> Result<OneRowOutcome, Error> {
        let mut responses = self
            .request_named(stmt, params)
            .await
            .map_err(|e| e.with_effect(effect))?;
        responses.set_effect(effect);
        let mut reader = OneRow::new(stmt.columns_arc().clone());
        read_one_row(&mut responses, &mut reader).await
    }

    /// [`Client::query_opt`] of SQL text as the unnamed statement.
    async fn one_row_unnamed(&self, sql: &str, params: &Params<'_>) -> Result<Option<Row>, Error> {
        let mut responses = self.request_unnamed(sql, params).await?;
        read_one_row(&mut responses, &mut OneRow::describing())
            .await?
            .into_row()
    }

    /// [`Client::query_opt`] of SQL text through the statement cache.
    async fn one_row_cached(&self, sql: &str, params: &Params<'_>) -> Result<Option<Row>, Error> {
        let mut retried = false;
        loop {
            let (entry, stmt) = self.cached_statement(sql).await?;
            match self.one_row_named(&stmt, params, entry.effect).await? {
                OneRowOutcome::Done(row) => return Ok(row),
                OneRowOutcome::Invalidated(e, status) => {
                    self.invalidated(sql, &entry, e, status, &mut retried)?;
                }
            }
        }
    }

    /// Runs a statement and returns every row.
    ///
    /// Parameters are sent in binary. SQL text is prepared once per
    /// connection and cached (see [`Config::statement_cache_capacity`]).
    ///
    /// `COPY … FROM STDIN` and `COPY … TO STDOUT` need
    /// [`Client::copy_in`] and [`Client::copy_out`]: run through this call
    /// (or any other that is not the COPY API) they fail with
    /// [`ErrorKind::InvalidInput`], nothing is stored, and the connection
    /// stays usable.
    ///
    /// [`Config::statement_cache_capacity`]: crate::Config::statement_cache_capacity
    pub async fn query<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, Error> {
        if let Some(hooks) = self.hooks.queries() {
            let sql = Some(sql_of(statement));
            let pending = self.query_started(hooks, "query", sql, params.len());
            let result = pending
                .in_span(|| self.query_plain(statement, params))
                .await;
            let rows = result.as_ref().map(|rows| Some(rows.len() as u64));
            self.query_ended(hooks, pending, "query", sql, rows);
            return result;
        }
        self.query_plain(statement, params).await
    }

    fn query_plain<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>, Error>> {
        self.timed(|| async {
            let mut stream = RowStream::new(self.start_query(statement, params).await?);
            let mut rows = Vec::new();
            while let Some(row) = stream.next().await {
                rows.push(row?);
            }
            Ok(rows)
        })
    }

    /// Runs a statement and returns exactly one row; zero or several rows
    /// are an error.
    pub async fn query_one<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<Row, Error> {
        if let Some(hooks) = self.hooks.queries() {
            let sql = Some(sql_of(statement));
            let pending = self.query_started(hooks, "query_one", sql, params.len());
            let call = || async { exactly_one(self.query_opt_plain(statement, params).await?) };
            let result = pending.in_span(call).await;
            let rows = result.as_ref().map(|_| Some(1));
            self.query_ended(hooks, pending, "query_one", sql, rows);
            return result;
        }
        exactly_one(self.query_opt_plain(statement, params).await?)
    }

    /// Runs a statement and returns at most one row; several rows are an
    /// error.
    pub async fn query_opt<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<Option<Row>, Error> {
        if let Some(hooks) = self.hooks.queries() {
            let sql = Some(sql_of(statement));
            let pending = self.query_started(hooks, "query_opt", sql, params.len());
            let result = pending
                .in_span(|| self.query_opt_plain(statement, params))
                .await;
            let rows = result.as_ref().map(|row| Some(u64::from(row.is_some())));
            self.query_ended(hooks, pending, "query_opt", sql, rows);
            return result;
        }
        self.query_opt_plain(statement, params).await
    }

    fn query_opt_plain<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<Option<Row>, Error>> {
        self.timed(|| async {
            match statement.kind() {
                sealed::Kind::Prepared(stmt) => self
                    .one_row_named(stmt, params, Effect::Unknown)
                    .await?
                    .into_row(),
                sealed::Kind::Sql(sql) if self.uses_named_cache() => {
                    self.one_row_cached(sql, params).await
                }
                // Boxed: the rarer path, with state of its own.
                sealed::Kind::Sql(sql) => Box::pin(self.one_row_unnamed(sql, params)).await,
            }
        })
    }

    /// Runs a statement and returns the number of rows it affected.
    pub async fn execute<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<u64, Error> {
        if let Some(hooks) = self.hooks.queries() {
            let sql = Some(sql_of(statement));
            let pending = self.query_started(hooks, "execute", sql, params.len());
            let result = pending
                .in_span(|| self.execute_plain(statement, params))
                .await;
            let rows = result.as_ref().map(|n| Some(*n));
            self.query_ended(hooks, pending, "execute", sql, rows);
            return result;
        }
        self.execute_plain(statement, params).await
    }

    fn execute_plain<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<u64, Error>> {
        self.timed(|| async {
            let mut stream = RowStream::new(self.start_query(statement, params).await?);
            while let Some(row) = stream.next().await {
                row?;
            }
            Ok(stream.rows_affected().unwrap_or(0))
        })
    }

    /// Runs a statement and returns its rows as a stream, as they arrive.
    ///
    /// The connection reads from the server only as fast as the stream is
    /// consumed, so a result of any size never sits in memory whole.
    /// Dropping the stream half-read is fine: the rest is discarded. The
    /// handle's timeout (if any) covers the start of the query, not the
    /// reading of the rows.
    pub async fn query_stream<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<RowStream, Error> {
        if let Some(hooks) = self.hooks.queries() {
            let sql = Some(sql_of(statement));
            let pending = self.query_started(hooks, "query_stream", sql, params.len());
            let result = pending
                .in_span(|| self.query_stream_plain(statement, params))
                .await;
            let rows = result.as_ref().map(|_| None);
            self.query_ended(hooks, pending, "query_stream", sql, rows);
            return result;
        }
        self.query_stream_plain(statement, params).await
    }

    fn query_stream_plain<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<RowStream, Error>> {
        self.timed(|| async { Ok(RowStream::new(self.start_query(statement, params).await?)) })
    }
}

/// `query_one`'s verdict on `query_opt`'s answer.
#[inline]
fn exactly_one(row: Option<Row>) -> Result<Row, Error> {
    row.ok_or_else(|| Error::msg(ErrorKind::Type, "query_one expected exactly one row, got 0"))
}

/// The SQL of what runs, as written.
fn sql_of<S: ToStatement + ?Sized>(statement: &S) -> &str {
    match statement.kind() {
        sealed::Kind::Sql(sql) => sql,
        sealed::Kind::Prepared(stmt) => stmt.sql(),
    }
}

/// Reads a single-row reply to its end. Borrows both (a future of its own
/// owning them would move them into its state on every query).
fn read_one_row<'a>(
    responses: &'a mut Responses,
    reader: &'a mut OneRow,
) -> impl Future<Output = Result<OneRowOutcome, Error>> + 'a {
    poll_fn(move |cx| reader.poll(responses, cx))
}

/// Reads up to BindComplete (and the row description, when asked for).
async fn wait_bound(
    mut responses: Responses,
    mut cols: Arc<[Column]>,
    describe: bool,
) -> Result<Attempt, Error> {
    let mut described = !describe;
    let mut bound = false;
    loop {
        let message = match responses.next().await {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::Db => {
                let status = responses.finish().await?;
                let stale = matches!(
                    e.code(),
                    Some(&SqlState::INVALID_SQL_STATEMENT_NAME | &SqlState::FEATURE_NOT_SUPPORTED)
                );
                return if stale && !bound {
                    Ok(Attempt::Invalidated(e, status))
                } else {
                    Err(e)
                };
            }
            Err(e) => return Err(e),
        };
        match message {
            BackendMessage::ParseComplete | BackendMessage::CloseComplete => {}
            BackendMessage::BindComplete => bound = true,
            BackendMessage::RowDescription(d) if describe => {
                cols = columns(&d);
                described = true;
            }
            BackendMessage::NoData if describe => described = true,
            other => return Err(responses.violation(&other, "BindComplete")),
        }
        if bound && described {
            return Ok(Attempt::Started(Started {
                responses,
                columns: cols,
            }));
        }
    }
}

/// Rows of a query, as they arrive: a [`Stream`] of `Result<Row, Error>`.
///
/// From [`Client::query_stream`]. After the last row,
/// [`rows_affected`](Self::rows_affected) gives the command's row count.
///
/// `next` is an inherent method, so reading needs no extra import. With
/// `futures::StreamExt` in scope, `.next()` still resolves to it, and it
/// yields exactly what `StreamExt::next` would, so either spelling
/// is right. The other combinators (`map`, `try_collect`, …) come from the
/// `Stream` implementation.
#[derive(Debug)]
pub struct RowStream {
    responses: Option<Responses>,
    columns: Arc<[Column]>,
    rows_affected: Option<u64>,
}

impl RowStream {
    pub(crate) fn new(started: Started) -> Self {
        Self {
            responses: Some(started.responses),
            columns: started.columns,
            rows_affected: None,
        }
    }

    /// The result's columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The number of rows the command affected or returned, once the
    /// stream has ended.
    pub fn rows_affected(&self) -> Option<u64> {
        self.rows_affected
    }

    /// The next row, or `None` at the end.
    ///
    /// The same as `StreamExt::next` (see the type's docs).
    pub async fn next(&mut self) -> Option<Result<Row, Error>> {
        std::future::poll_fn(|cx| self.poll_row(cx)).await
    }

    fn poll_row(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Row, Error>>> {
        loop {
            let message = match poll_stream(&mut self.responses, cx) {
                Poll::Ready(Some(Ok(m))) => m,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            };
            match message {
                BackendMessage::DataRow(data) => {
                    return Poll::Ready(Some(Row::new(self.columns.clone(), data)));
                }
                BackendMessage::CommandComplete(c) => self.rows_affected = c.rows(),
                BackendMessage::ReadyForQuery(_) => {
                    self.responses = None;
                    return Poll::Ready(None);
                }
                BackendMessage::EmptyQueryResponse | BackendMessage::PortalSuspended => {}
                // COPY needs the COPY API: the rest of the replies are
                // discarded by the driver once they are dropped here.
                BackendMessage::CopyInResponse(_) | BackendMessage::CopyOutResponse(_) => {
                    self.responses = None;
                    let direction = if matches!(message, BackendMessage::CopyInResponse(_)) {
                        CopyStdio::In
                    } else {
                        CopyStdio::Out
                    };
                    return Poll::Ready(Some(Err(copy_needs_copy_api(direction, true))));
                }
                other => {
                    let error = violation(&self.responses, &other, "a row");
                    self.responses = None;
                    return Poll::Ready(Some(Err(error)));
                }
            }
        }
    }
}

impl Stream for RowStream {
    type Item = Result<Row, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_row(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::IsNull;

    /// A value that says how long it is and must never be copied.
    struct Claims(usize);

    impl Encode for Claims {
        fn preferred_type(&self) -> Type {
            Type::BYTEA
        }
        fn accepts(&self, ty: Type) -> bool {
            ty == Type::BYTEA
        }
        fn encode(&self, _: Type, _: &mut BytesMut) -> Result<IsNull, TypeError> {
            panic!("a value over the limit was copied");
        }
        fn encoded_len(&self, _: Type) -> Option<usize> {
            Some(self.0)
        }
    }

    const LIMIT: usize = 100;

    fn encode(params: &Params<'_>, out: &mut BytesMut) -> Result<(), Error> {
        let types = vec![Type::BYTEA; params.len()];
        encode_bind_execute_within(out, BindOf::Name("s1"), &types, params, false, true, LIMIT)
    }

    #[test]
    fn a_value_over_the_limit_is_refused_before_it_is_copied() {
        let mut out = BytesMut::from(&b"earlier request"[..]);
        let small = vec![7u8; 10];
        let err = encode(&[&small, &Claims(LIMIT + 1)], &mut out).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err:?}");
        assert_eq!(
            err.to_string(),
            "parameter $2: the value is 101 bytes long, more than the protocol allows (100)"
        );
        assert_eq!(&out[..], b"earlier request", "nothing is left half-written");
    }

    #[test]
    fn values_that_fit_alone_but_not_together_are_refused_too() {
        let mut out = BytesMut::new();
        let half = vec![1u8; LIMIT / 2];
        let err = encode(&[&half, &Claims(LIMIT / 2)], &mut out).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(
            err.to_string()
                .starts_with("parameter $2: the Bind message with this value is "),
            "{err}"
        );
        assert!(out.is_empty());
    }

    #[test]
    fn values_under_the_limit_are_written() {
        let mut out = BytesMut::new();
        let value = vec![1u8; 20];
        encode(&[&value, &None::<Vec<u8>>], &mut out).unwrap();
        // Bind, Execute, Sync, with the value's bytes inside.
        assert_eq!(out[0], b'B');
        assert!(out.windows(20).any(|w| w == &value[..]));
        assert_eq!(&out[out.len() - 5..], b"S\0\0\0\x04");
    }

    #[test]
    fn text_and_bytes_know_their_encoded_length() {
        for (value, ty, len) in [
            (&"abc" as &(dyn Encode + Sync), Type::TEXT, 3),
            (&"abc", Type::JSONB, 4),
            (&String::from("abcd"), Type::VARCHAR, 4),
            (&vec![0u8; 5], Type::BYTEA, 5),
            (&&b"xy"[..], Type::BYTEA, 2),
            (&Some("abc"), Type::TEXT, 3),
            (&None::<&str>, Type::TEXT, 0),
        ] {
            assert_eq!(value.encoded_len(ty), Some(len), "{ty:?}");
            let mut out = BytesMut::new();
            let _ = value.encode(ty, &mut out).unwrap();
            assert_eq!(out.len(), len, "{ty:?}");
        }
        assert_eq!(7i32.encoded_len(Type::INT4), None);
    }
}
