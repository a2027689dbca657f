//! The client handle: requests over a connection driven by its own task
//! (and by the callers waiting for replies, see `io.rs`).
//!
//! Owns how a call becomes a request: waiting for room in the pipeline
//! (backpressure), encoding its messages straight into the shared write
//! buffer, and reading the replies routed back to it; plus the simple
//! protocol (`batch_execute`, `simple_query`), explicit `prepare`, the
//! per-handle timeout and the connection-level accessors. The extended
//! query path lives in `query.rs`, batches in `pipeline.rs`, transactions
//! in `transaction.rs`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::watch;

use crate::config::StatementCacheMode;
use crate::conn::client::copy_sql::{CopyStdio, copy_stdio};
use crate::conn::client::notify::Notifications;
use crate::conn::client::query::BINARY;
use crate::conn::client::row::{Column, SimpleQueryMessage, SimpleQueryRow, columns};
use crate::conn::client::stmt_cache::StatementCacheStats;
use crate::conn::engine::close_reason::CloseReason;
use crate::conn::engine::lifecycle::Lifecycle;
use crate::conn::engine::responses::Responses;
use crate::conn::engine::shared::{ConnectionStats, Shared, input_error};
use crate::conn::engine::slot::RequestKind;
use crate::conn::transport::cancel::CancelToken;
use crate::conn::transport::endpoint::{Endpoint, ServerRole};
use crate::error::{CancelOutcome, DbError, Effect, Error, ErrorKind};
use crate::proto::frontend::{self, BindTemplate, ProtocolVersion, Target};
use crate::proto::{BackendMessage, TransactionStatus};
use crate::types::Type;

/// How long a timed-out call waits for its cancel request to be delivered
/// (the server reads it and closes the cancel connection); a cancel that
/// takes longer fails, and the connection is closed. Npgsql's cancellation
/// timeout has the same default and the same effect. Loopback or LAN
/// cancels take milliseconds: two seconds is a server or path that stopped
/// answering, not a slow one, and it bounds how long the caller is held
/// past its own timeout.
const CANCEL_WAIT: Duration = Duration::from_secs(2);

pub(crate) struct ClientInner {
    pub(crate) shared: Arc<Shared>,
    pub(crate) driver_done: watch::Receiver<bool>,
    pub(crate) cancel: CancelToken,
    pub(crate) protocol: ProtocolVersion,
    pub(crate) next_statement: AtomicU64,
    pub(crate) cache_mode: StatementCacheMode,
    pub(crate) types: crate::types::TypeCache,
    /// Where the connection goes, as hook events and metrics label it.
    pub(crate) server: crate::observe::ServerInfo,
}

impl Drop for ClientInner {
    /// The last handle is gone: finish what is queued, then Terminate.
    fn drop(&mut self) {
        self.shared.end(Lifecycle::Draining);
    }
}

/// A connection to a PostgreSQL server.
///
/// Cheap to clone: clones share the connection, and requests from several
/// tasks are pipelined (sent without waiting for earlier replies, answered
/// in order). The connection closes when the last clone is dropped, or at
/// [`close`](Self::close).
///
/// Dropping the future of any call at any point never leaves the connection
/// out of step: the rest of that request's replies are read and discarded.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<ClientInner>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) hooks: crate::observe::Hooks,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("process_id", &self.inner.cancel.process_id())
            .field("closed", &self.is_closed())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A statement prepared on the server, with its parameter and result types.
///
/// Cheap to clone. A statement from [`Client::prepare`] is closed on the
/// server when its last clone is dropped (the Close rides along with the
/// connection's next request).
#[derive(Debug, Clone)]
pub struct Statement {
    inner: Arc<StatementInner>,
}

#[derive(Debug)]
struct StatementInner {
    name: String,
    /// The SQL it was prepared from (hooks and spans report it).
    sql: Box<str>,
    params: Vec<Type>,
    columns: Arc<[Column]>,
    /// Its Bind's fixed bytes (binary parameters and results), when the
    /// name and counts can be encoded; else each Bind is encoded whole and
    /// reports the error.
    bind: Option<BindTemplate>,
    /// Set for statements the user owns; cached ones are closed by the cache.
    owner: Option<Weak<Shared>>,
}

impl Drop for StatementInner {
    fn drop(&mut self) {
        if let Some(shared) = self.owner.as_ref().and_then(Weak::upgrade) {
            shared.close_statement_later(std::mem::take(&mut self.name));
        }
    }
}

/// A statement whose Parse may have been queued but that no [`Statement`]
/// owns yet. Dropped armed (the preparing future dropped, or the
/// preparation failed or timed out), it queues the statement's Close to
/// ride with the connection's next request, so the name is free again and
/// nothing is left prepared on the server that nobody knows of. Closing a
/// statement that does not exist is not an error, so it is armed before
/// the Parse is queued. Dropping it only queues bytes: it holds whatever
/// the runtime is doing.
pub(crate) struct Unprepared<'a> {
    shared: &'a Shared,
    name: Option<String>,
}

impl<'a> Unprepared<'a> {
    pub(crate) fn new(shared: &'a Shared, name: String) -> Self {
        Self {
            shared,
            name: Some(name),
        }
    }

    /// A [`Statement`] owns the name now.
    pub(crate) fn owned(mut self) {
        self.name = None;
    }
}

impl Drop for Unprepared<'_> {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            self.shared.close_statement_later(name);
        }
    }
}

impl Statement {
    pub(crate) fn new(
        name: String,
        sql: &str,
        params: Vec<Type>,
        columns: Arc<[Column]>,
        owner: Option<Weak<Shared>>,
    ) -> Self {
        let bind = BindTemplate::new("", &name, &[BINARY], params.len(), &[BINARY]).ok();
        Self {
            inner: Arc::new(StatementInner {
                name,
                sql: sql.into(),
                params,
                columns,
                bind,
                owner,
            }),
        }
    }

    /// The server-side name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }
    /// The SQL it was prepared from.
    pub fn sql(&self) -> &str {
        &self.inner.sql
    }
    /// The parameter types, as the server inferred or was told.
    pub fn params(&self) -> &[Type] {
        &self.inner.params
    }
    /// The result columns (empty for statements that return no rows).
    pub fn columns(&self) -> &[Column] {
        &self.inner.columns
    }
    pub(crate) fn columns_arc(&self) -> &Arc<[Column]> {
        &self.inner.columns
    }
    pub(crate) fn bind_template(&self) -> Option<&BindTemplate> {
        self.inner.bind.as_ref()
    }
}

impl Client {
    pub(crate) fn new(
        inner: ClientInner,
        timeout: Option<Duration>,
        hooks: crate::observe::Hooks,
    ) -> Self {
        Self {
            inner: Arc::new(inner),
            timeout,
            hooks,
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// A handle to the same connection whose calls time out after `timeout`:
    /// when it fires, a CancelRequest is sent for the running query (and
    /// delivered before the call returns) and the call returns a timeout
    /// error; the connection stays usable.
    ///
    /// The cancel is given 2 s to be delivered (the server reads it and
    /// closes the cancel connection). If it cannot be (the server or the
    /// path to it stopped answering), the connection is closed:
    /// [`is_closed`](Self::is_closed) is true at once, later calls fail at
    /// once instead of each waiting its own timeout, and a pool replaces
    /// the connection. The timeout error's [`Error::cancel_outcome`] says
    /// which happened.
    ///
    /// Requests pipelined behind the timed-out one by other tasks may be
    /// cancelled too if the timed-out query finishes just as the cancel
    /// arrives: the protocol's cancel names a session, not a query.
    ///
    /// ```no_run
    /// # async fn run(client: &pgline::Client) -> Result<(), pgline::Error> {
    /// use std::time::Duration;
    /// let quick = client.with_timeout(Duration::from_millis(100));
    /// let err = quick.batch_execute("SELECT pg_sleep(5)").await.unwrap_err();
    /// assert!(err.is_timeout());
    /// # Ok(()) }
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            inner: self.inner.clone(),
            timeout: Some(timeout),
            hooks: self.hooks.clone(),
        }
    }

    /// A handle to the same connection without a timeout.
    pub fn without_timeout(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            timeout: None,
            hooks: self.hooks.clone(),
        }
    }

    /// A handle to the same connection that also calls `hooks` (after its
    /// own).
    pub fn with_hooks(&self, hooks: &crate::observe::Hooks) -> Self {
        Self {
            inner: self.inner.clone(),
            timeout: self.timeout,
            hooks: self.hooks.merged(hooks),
        }
    }

    /// Where the connection goes, as hook events and metrics label it.
    pub fn server_info(&self) -> &crate::observe::ServerInfo {
        &self.inner.server
    }

    /// The hooks this handle calls.
    pub fn hooks(&self) -> &crate::observe::Hooks {
        &self.hooks
    }

    /// Runs `call` under this handle's timeout, cancelling the server-side
    /// query when it fires.
    pub(crate) async fn timed<T, F: Future<Output = Result<T, Error>>>(
        &self,
        call: impl FnOnce() -> F,
    ) -> Result<T, Error> {
        // The call's future is made here, where it is awaited: passed in
        // made, it would sit in this future's state twice.
        let Some(limit) = self.timeout else {
            return call().await;
        };
        match tokio::time::timeout(limit, call()).await {
            Ok(result) => result,
            Err(_) => {
                // Cancel before returning, so the caller's next request
                // cannot be the one the cancel lands on: the server ignores
                // a cancel that arrives while the session is idle.
                let outcome = self.cancel_after_timeout().await;
                if let CancelOutcome::NotDelivered(e) = &outcome {
                    // Nothing reached the server: the request may still be
                    // running there, or the server (or the path to it) is
                    // gone. Either way its reply may never come, and every
                    // later call would wait its full timeout behind it.
                    tracing::debug!(error = %e, "cancel after a timeout not delivered");
                    self.shared().abort(CloseReason::CancelLost {
                        limit,
                        cancel: Arc::new(e.repeat()),
                    });
                }
                Err(Error::with_source(
                    ErrorKind::Timeout,
                    Some(format!("the query did not finish within {limit:?}")),
                    outcome,
                ))
            }
        }
    }

    /// Sends a cancel request for a call that timed out, waiting at most
    /// [`CANCEL_WAIT`] for it, and says whether it was delivered.
    #[cold]
    async fn cancel_after_timeout(&self) -> CancelOutcome {
        let wait = CANCEL_WAIT;
        // Boxed: a cancel connects a socket of its own, and its state would
        // otherwise weigh on every query's future.
        let cancel = Box::pin(self.inner.cancel.cancel_query());
        match tokio::time::timeout(wait, cancel).await {
            Ok(Ok(())) => CancelOutcome::Delivered,
            Ok(Err(e)) => CancelOutcome::NotDelivered(e),
            Err(_) => CancelOutcome::NotDelivered(Error::msg(
                ErrorKind::Timeout,
                format!("the server did not answer the cancel request within {wait:?}"),
            )),
        }
    }

    /// Queues one request and returns the reader of its replies. Waits while
    /// the pipeline is full (`max_in_flight` requests, or `max_write_buffer`
    /// bytes not yet sent).
    pub(crate) async fn request(
        &self,
        ready: usize,
        kind: RequestKind,
        encode: impl FnOnce(&mut BytesMut) -> Result<(), Error>,
    ) -> Result<Responses, Error> {
        let shared = self.shared();
        let permit = shared
            .in_flight
            .enter()
            .await
            .map_err(|_| shared.refused_error())?;
        let (slot, queue) = shared.slot(ready, Some(permit), kind);
        match shared.submit_with_room(Some(slot.clone()), encode).await {
            Ok(()) => {
                // Only this request unanswered: the connection may be idle,
                // and the request can leave now, written by this caller.
                let alone = shared.outstanding.load(Ordering::Relaxed) == 1;
                if !(alone && shared.io().is_some_and(|io| io.write_if_idle())) {
                    shared.wake_driver();
                }
                Ok(Responses::new(slot, queue, shared.clone()))
            }
            Err(Ok(e) | Err(e)) => {
                shared.recycle(slot);
                Err(e)
            }
        }
    }

    /// Queues a request nobody waits for (a ROLLBACK from a dropped
    /// transaction). It does not wait for room: it must not block the
    /// dropper.
    pub(crate) fn request_detached(&self, sql: &str) {
        let shared = self.shared();
        let (slot, queue) = shared.slot(1, None, RequestKind::Simple);
        let queued = shared.submit(Some(slot.clone()), |out| {
            frontend::query(out, sql).map_err(input_error)
        });
        if queued.is_ok() {
            shared.wake_driver();
            // Abandoned at once: the driver reads and discards its replies.
            drop(Responses::new(slot, queue, shared.clone()));
        }
    }

    /// A server parameter as last reported by the server (`server_version`,
    /// `TimeZone`, `in_hot_standby`, `default_transaction_read_only`, …).
    pub fn parameter(&self, name: &str) -> Option<String> {
        self.shared().parameter(name)
    }

    /// The transaction status as of the last reply from the server: idle,
    /// in a transaction, or in a failed transaction. Requests still in
    /// flight may change it.
    pub fn transaction_status(&self) -> TransactionStatus {
        self.shared().transaction_status()
    }

    /// The protocol version in use.
    pub fn protocol_version(&self) -> (u16, u16) {
        (self.inner.protocol.major, self.inner.protocol.minor)
    }

    /// The server process id serving this connection.
    pub fn backend_pid(&self) -> u32 {
        self.inner.cancel.process_id()
    }

    /// A token that cancels the query running on this connection, from
    /// anywhere.
    pub fn cancel_token(&self) -> CancelToken {
        self.inner.cancel.clone()
    }

    /// Where this connection went (host as configured, port, the address
    /// connected to) and the role the server reports as of this call.
    pub fn endpoint(&self) -> Endpoint {
        self.inner.cancel.peer.endpoint(self.server_role())
    }

    /// What the server reports about its role (`in_hot_standby`,
    /// `default_transaction_read_only`), kept current as the server sends
    /// ParameterStatus (PostgreSQL 14 and later report both, at startup and
    /// when they change, e.g. at promotion). Two atomic loads; no round
    /// trip. Unknown parameters (older servers) are `None`.
    pub fn server_role(&self) -> ServerRole {
        self.shared().role.get()
    }

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        *self.inner.driver_done.borrow() || self.shared().is_closed()
    }

    /// Counters of the connection's traffic.
    pub fn connection_stats(&self) -> ConnectionStats {
        self.shared().counters.snapshot()
    }

    /// Counters of the prepared-statement cache.
    pub fn statement_cache_stats(&self) -> StatementCacheStats {
        self.shared()
            .statements
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stats()
    }

    /// The stream of notifications (LISTEN/NOTIFY) received on this
    /// connection. It can be taken once; later calls return `None`.
    pub fn notifications(&self) -> Option<Notifications> {
        self.shared().take_notifications().map(Notifications::new)
    }

    /// Sends every NoticeResponse (warnings, `RAISE NOTICE`, …) to `handler`
    /// instead of the default `tracing` event (target `pgline::notice`).
    pub fn on_notice(&self, handler: impl Fn(&DbError) + Send + Sync + 'static) {
        self.shared().set_notice_handler(Some(Arc::new(handler)));
    }

    /// Runs one or more SQL statements separated by semicolons, with the
    /// simple protocol, discarding any rows. Stops at the first error.
    pub async fn batch_execute(&self, sql: &str) -> Result<(), Error> {
        if let Some(hooks) = self.hooks.queries() {
            let pending = self.query_started(hooks, "batch_execute", Some(sql), 0);
            let result = pending.in_span(|| self.batch_execute_plain(sql)).await;
            let rows = result.as_ref().map(|_| None);
            self.query_ended(hooks, pending, "batch_execute", Some(sql), rows);
            return result;
        }
        self.batch_execute_plain(sql).await
    }

    async fn batch_execute_plain(&self, sql: &str) -> Result<(), Error> {
        refuse_copy_stdio(sql)?;
        self.timed(|| async {
            let mut responses = self
                .request(1, RequestKind::Simple, |out| {
                    frontend::query(out, sql).map_err(input_error)
                })
                .await
                .map_err(|e| e.with_effect(Effect::of_sql(sql)))?;
            responses.set_effect(Effect::of_sql(sql));
            loop {
                match responses.next().await? {
                    BackendMessage::ReadyForQuery(_) => return Ok(()),
                    BackendMessage::RowDescription(_)
                    | BackendMessage::DataRow(_)
                    | BackendMessage::CommandComplete(_) => {}
                    BackendMessage::CopyInResponse(_) => {
                        return Err(copy_needs_copy_api(CopyStdio::In, true));
                    }
                    BackendMessage::CopyOutResponse(_) => {
                        return Err(copy_needs_copy_api(CopyStdio::Out, true));
                    }
                    other if passes_in_simple_query(&other) => {}
                    other => return Err(responses.violation(&other, "a simple query response")),
                }
            }
        })
        .await
    }

    /// Runs SQL with the simple protocol and returns rows as text.
    ///
    /// Every row is gathered before this returns; a result too large to
    /// hold is read with [`Client::simple_query_stream`], one row at a
    /// time in bounded memory.
    pub async fn simple_query(&self, sql: &str) -> Result<Vec<SimpleQueryMessage>, Error> {
        if let Some(hooks) = self.hooks.queries() {
            let pending = self.query_started(hooks, "simple_query", Some(sql), 0);
            let result = pending.in_span(|| self.simple_query_plain(sql)).await;
            let rows = result.as_ref().map(|m| {
                Some(
                    m.iter()
                        .filter(|m| matches!(m, SimpleQueryMessage::Row(_)))
                        .count() as u64,
                )
            });
            self.query_ended(hooks, pending, "simple_query", Some(sql), rows);
            return result;
        }
        self.simple_query_plain(sql).await
    }

    async fn simple_query_plain(&self, sql: &str) -> Result<Vec<SimpleQueryMessage>, Error> {
        refuse_copy_stdio(sql)?;
        self.timed(|| async {
            let mut responses = self
                .request(1, RequestKind::Simple, |out| {
                    frontend::query(out, sql).map_err(input_error)
                })
                .await
                .map_err(|e| e.with_effect(Effect::of_sql(sql)))?;
            responses.set_effect(Effect::of_sql(sql));
            let mut result = Vec::new();
            let mut cols: Option<Arc<[Column]>> = None;
            loop {
                match responses.next().await? {
                    BackendMessage::ReadyForQuery(_) => return Ok(result),
                    BackendMessage::RowDescription(d) => cols = Some(columns(&d)),
                    BackendMessage::DataRow(row) => {
                        let c = cols.clone().ok_or_else(|| {
                            Error::msg(ErrorKind::Protocol, "DataRow before RowDescription")
                        })?;
                        result.push(SimpleQueryMessage::Row(SimpleQueryRow::new(c, row)?));
                    }
                    BackendMessage::CommandComplete(c) => {
                        cols = None;
                        result.push(SimpleQueryMessage::CommandComplete(c.rows()));
                    }
                    BackendMessage::CopyInResponse(_) => {
                        return Err(copy_needs_copy_api(CopyStdio::In, true));
                    }
                    BackendMessage::CopyOutResponse(_) => {
                        return Err(copy_needs_copy_api(CopyStdio::Out, true));
                    }
                    other if passes_in_simple_query(&other) => {}
                    other => return Err(responses.violation(&other, "a simple query response")),
                }
            }
        })
        .await
    }

    /// Prepares a statement on the server; its parameter types are inferred
    /// by the server. The statement is closed when its last clone is dropped.
    pub async fn prepare(&self, sql: &str) -> Result<Statement, Error> {
        self.prepare_typed(sql, &[]).await
    }

    /// Prepares a statement, declaring the types of some or all parameters.
    pub async fn prepare_typed(&self, sql: &str, types: &[Type]) -> Result<Statement, Error> {
        if let Some(hooks) = self.hooks.prepares() {
            let (pending, evictions) = self.prepare_started(hooks, sql, false, false);
            let result = pending
                .in_span(|| self.prepare_typed_plain(sql, types))
                .await;
            let error = result.as_ref().err();
            self.prepare_ended(hooks, pending, sql, false, false, evictions, error);
            return result;
        }
        self.prepare_typed_plain(sql, types).await
    }

    async fn prepare_typed_plain(&self, sql: &str, types: &[Type]) -> Result<Statement, Error> {
        let id = self.inner.next_statement.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}s{id}", self.shared().statement_prefix);
        let owner = Some(Arc::downgrade(self.shared()));
        let unprepared = Unprepared::new(self.shared(), name.clone());
        let statement = self
            .timed(|| self.prepare_named(name, sql, types, owner))
            .await?;
        unprepared.owned();
        Ok(statement)
    }

    /// Parse + Describe + Sync under `name`.
    pub(crate) async fn prepare_named(
        &self,
        name: String,
        sql: &str,
        types: &[Type],
        owner: Option<Weak<Shared>>,
    ) -> Result<Statement, Error> {
        // A prepared COPY FROM STDIN would start COPY when executed, with
        // other requests possibly pipelined behind it.
        refuse_copy_stdio(sql)?;
        let mut responses = self
            .request(1, RequestKind::Extended, |out| {
                let oids: Vec<u32> = types.iter().map(|t| t.oid()).collect();
                frontend::parse(out, &name, sql, &oids).map_err(input_error)?;
                frontend::describe(out, Target::Statement, &name).map_err(input_error)?;
                frontend::sync(out);
                Ok(())
            })
            .await
            .map_err(|e| e.with_effect(Effect::Nothing))?;
        responses.set_effect(Effect::Nothing);
        let mut params = Vec::new();
        let mut cols: Arc<[Column]> = Arc::new([]);
        loop {
            match responses.next().await {
                Err(e) => {
                    if e.kind() == ErrorKind::Db {
                        responses.finish().await?;
                    }
                    return Err(e);
                }
                Ok(BackendMessage::ParseComplete | BackendMessage::CloseComplete) => {}
                Ok(BackendMessage::ParameterDescription(p)) => {
                    params = p.types().map(Type::from_oid).collect();
                }
                Ok(BackendMessage::RowDescription(d)) => cols = columns(&d),
                Ok(BackendMessage::NoData) => {}
                Ok(BackendMessage::ReadyForQuery(_)) => {
                    return Ok(Statement::new(name, sql, params, cols, owner));
                }
                Ok(other) => return Err(responses.violation(&other, "a Parse/Describe response")),
            }
        }
    }

    /// Requests queued or in flight on the connection whose replies have not
    /// all arrived yet (a caller may have stopped waiting for them).
    /// [`transaction_status`](Self::transaction_status) is settled only when
    /// this is 0.
    pub fn pending_requests(&self) -> usize {
        self.shared()
            .outstanding
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Closes the connection at once: the socket is closed without waiting
    /// for requests in flight, which fail with a closed error. (A query
    /// running on the server stops when the server notices; send a cancel
    /// first to stop it promptly.)
    pub async fn abort(&self) {
        self.shared().end(Lifecycle::Aborting);
        let mut done = self.inner.driver_done.clone();
        let _ = done.wait_for(|d| *d).await;
    }

    /// Closes the connection: what is already queued is sent, then
    /// Terminate, and the socket is closed; replies still due are not waited
    /// for (their callers get a closed error). Other clones see the
    /// connection as closed.
    pub async fn close(&self) -> Result<(), Error> {
        self.shared().end(Lifecycle::Closing);
        let mut done = self.inner.driver_done.clone();
        // An error means the driver is gone, which is what we wait for.
        let _ = done.wait_for(|d| *d).await;
        Ok(())
    }
}

/// Replies a simple query may carry that a plain call skips: empty
/// queries and the CloseComplete of evicted statements riding along.
pub(crate) fn passes_in_simple_query(message: &BackendMessage) -> bool {
    matches!(
        message,
        BackendMessage::EmptyQueryResponse | BackendMessage::CloseComplete
    )
}

/// The error of a COPY run through a call other than the COPY API:
/// refused before it was sent (`sent` false, found by
/// [`copy_stdio`](crate::conn::client::copy_sql::copy_stdio)), or at its
/// CopyInResponse or CopyOutResponse.
///
/// At a response, the caller returns it at once and drops its replies:
/// the driver has already failed a COPY FROM STDIN (CopyFail), and reads
/// and discards the rest, a COPY TO STDOUT's data included, so the
/// connection stays in step. The server's own error for the CopyFail
/// (57014, query_canceled) would read as a cancellation; this says what to
/// do.
pub(crate) fn copy_needs_copy_api(direction: CopyStdio, sent: bool) -> Error {
    let text = match (direction, sent) {
        (CopyStdio::In, false) => {
            "COPY ... FROM STDIN cannot run through this call; use Client::copy_in \
             (nothing was sent)"
        }
        (CopyStdio::In, true) => {
            "COPY ... FROM STDIN cannot run through this call; use Client::copy_in \
             (the COPY was failed, nothing was stored)"
        }
        (CopyStdio::Out, false) => {
            "COPY ... TO STDOUT cannot run through this call; use Client::copy_out \
             (nothing was sent)"
        }
        (CopyStdio::Out, true) => {
            "COPY ... TO STDOUT cannot run through this call; use Client::copy_out \
             (its output was discarded)"
        }
    };
    Error::msg(ErrorKind::InvalidInput, text)
}

/// Refuses SQL that would start COPY FROM STDIN or TO STDOUT, before it
/// is sent by a call that is not the COPY API.
pub(crate) fn refuse_copy_stdio(sql: &str) -> Result<(), Error> {
    match copy_stdio(sql) {
        Some(direction) => Err(copy_needs_copy_api(direction, false)),
        None => Ok(()),
    }
}

pub(crate) fn unexpected(message: &BackendMessage, expected: &str) -> Error {
    Error::msg(
        ErrorKind::Protocol,
        format!(
            "unexpected {} from the server; expected {expected}",
            message.name()
        ),
    )
}
