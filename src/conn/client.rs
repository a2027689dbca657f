//! The client handle: queries over a connection driven by its own task.
//!
//! Owns the request/response exchange of each call: encoding the frontend
//! messages of a request into one buffer, queueing it to the driver, and
//! reading the responses routed back to it. The handle is cheap to clone and
//! many tasks may use it at once; their requests are pipelined by the driver.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use tokio::sync::{mpsc, watch};

use super::cancel::CancelToken;
use super::driver::{Request, Shared};
use super::row::{Column, Row, SimpleQueryMessage, SimpleQueryRow, columns};
use crate::error::{Error, ErrorKind};
use crate::proto::frontend::{self, BindError, ProtocolVersion, Target};
use crate::proto::{BackendMessage, ProtoError, TransactionStatus};
use crate::types::{Encode, Type};

/// Result columns are always requested in binary.
const BINARY: i16 = 1;

pub(crate) struct ClientInner {
    pub(crate) requests: mpsc::UnboundedSender<Request>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) driver_done: watch::Receiver<bool>,
    pub(crate) cancel: CancelToken,
    pub(crate) protocol: ProtocolVersion,
    pub(crate) next_statement: AtomicU64,
    pub(crate) types: crate::types::TypeCache,
}

/// A connection to a PostgreSQL server.
///
/// Cheap to clone: clones share the connection, and requests from several
/// tasks are pipelined (sent without waiting for earlier replies). The
/// connection closes when the last clone is dropped, or at
/// [`close`](Self::close).
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<ClientInner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("process_id", &self.inner.cancel.process_id())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// A statement prepared on the server, with its parameter and result types.
#[derive(Debug, Clone)]
pub struct Statement {
    name: String,
    params: Vec<Type>,
    columns: Arc<[Column]>,
}

impl Statement {
    /// The server-side name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The parameter types, as the server inferred or was told.
    pub fn params(&self) -> &[Type] {
        &self.params
    }
    /// The result columns (empty for statements that return no rows).
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }
}

/// What to run: SQL text (parsed as an unnamed statement) or a prepared
/// [`Statement`].
pub trait ToStatement: sealed::Sealed {}
impl ToStatement for str {}
impl ToStatement for String {}
impl ToStatement for Statement {}

mod sealed {
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

fn proto_error(e: ProtoError) -> Error {
    Error::with_source(ErrorKind::Protocol, None, e)
}

fn unexpected(message: &BackendMessage, expected: &str) -> Error {
    Error::msg(
        ErrorKind::Protocol,
        format!(
            "unexpected {} from the server; expected {expected}",
            message.name()
        ),
    )
}

/// The responses of one request.
struct Responses {
    rx: mpsc::UnboundedReceiver<BackendMessage>,
    shared: Arc<Shared>,
}

impl Responses {
    async fn next(&mut self) -> Result<BackendMessage, Error> {
        match self.rx.recv().await {
            Some(BackendMessage::ErrorResponse(fields)) => Err(Error::db(fields.to_db_error())),
            Some(message) => Ok(message),
            None => Err(self.shared.closed_error()),
        }
    }

    /// Reads up to the end of the request after an error, so the error the
    /// caller sees is the server's and not a later one.
    async fn finish(&mut self) -> Result<(), Error> {
        loop {
            if let BackendMessage::ReadyForQuery(_) = self.next().await? {
                return Ok(());
            }
        }
    }
}

impl Client {
    pub(crate) fn new(inner: ClientInner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    fn send(&self, messages: BytesMut, ready: usize, extended: bool) -> Result<Responses, Error> {
        let (request, rx) = Request::new(messages, ready, extended);
        self.inner
            .requests
            .send(request)
            .map_err(|_| self.inner.shared.closed_error())?;
        Ok(Responses {
            rx,
            shared: self.inner.shared.clone(),
        })
    }

    /// A server parameter as last reported by the server (`server_version`,
    /// `TimeZone`, `in_hot_standby`, `default_transaction_read_only`, …).
    pub fn parameter(&self, name: &str) -> Option<String> {
        self.inner.shared.parameter(name)
    }

    /// The transaction status as of the last reply from the server: idle,
    /// in a transaction, or in a failed transaction. Requests still in
    /// flight may change it.
    pub fn transaction_status(&self) -> TransactionStatus {
        self.inner.shared.transaction_status()
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

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        *self.inner.driver_done.borrow() || self.inner.requests.is_closed()
    }

    /// Runs one or more SQL statements separated by semicolons, with the
    /// simple protocol, discarding any rows. Stops at the first error.
    pub async fn batch_execute(&self, sql: &str) -> Result<(), Error> {
        let mut out = BytesMut::new();
        frontend::query(&mut out, sql).map_err(proto_error)?;
        let mut responses = self.send(out, 1, false)?;
        loop {
            match responses.next().await? {
                BackendMessage::ReadyForQuery(_) => return Ok(()),
                BackendMessage::RowDescription(_)
                | BackendMessage::DataRow(_)
                | BackendMessage::CommandComplete(_)
                | BackendMessage::EmptyQueryResponse
                | BackendMessage::CopyOutResponse(_)
                | BackendMessage::CopyData(_)
                | BackendMessage::CopyDone
                | BackendMessage::CopyInResponse(_) => {}
                other => return Err(unexpected(&other, "a simple query response")),
            }
        }
    }

    /// Runs SQL with the simple protocol and returns rows as text.
    pub async fn simple_query(&self, sql: &str) -> Result<Vec<SimpleQueryMessage>, Error> {
        let mut out = BytesMut::new();
        frontend::query(&mut out, sql).map_err(proto_error)?;
        let mut responses = self.send(out, 1, false)?;
        let mut result = Vec::new();
        let mut columns: Option<Arc<[Column]>> = None;
        loop {
            match responses.next().await? {
                BackendMessage::ReadyForQuery(_) => return Ok(result),
                BackendMessage::RowDescription(d) => columns = Some(self::columns(&d)),
                BackendMessage::DataRow(row) => {
                    let cols = columns.clone().ok_or_else(|| {
                        Error::msg(ErrorKind::Protocol, "DataRow before RowDescription")
                    })?;
                    result.push(SimpleQueryMessage::Row(SimpleQueryRow::new(cols, &row)?));
                }
                BackendMessage::CommandComplete(c) => {
                    columns = None;
                    result.push(SimpleQueryMessage::CommandComplete(c.rows()));
                }
                BackendMessage::EmptyQueryResponse => {}
                other => return Err(unexpected(&other, "a simple query response")),
            }
        }
    }

    /// Prepares a statement on the server; its parameter types are inferred
    /// by the server.
    pub async fn prepare(&self, sql: &str) -> Result<Statement, Error> {
        self.prepare_typed(sql, &[]).await
    }

    /// Prepares a statement, declaring the types of some or all parameters.
    pub async fn prepare_typed(&self, sql: &str, types: &[Type]) -> Result<Statement, Error> {
        let id = self.inner.next_statement.fetch_add(1, Ordering::Relaxed);
        let name = format!("pgline_s{id}");
        let oids: Vec<u32> = types.iter().map(|t| t.oid()).collect();
        let mut out = BytesMut::new();
        frontend::parse(&mut out, &name, sql, &oids).map_err(proto_error)?;
        frontend::describe(&mut out, Target::Statement, &name).map_err(proto_error)?;
        frontend::sync(&mut out);
        let mut responses = self.send(out, 1, true)?;
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
                Ok(BackendMessage::ParseComplete) => {}
                Ok(BackendMessage::ParameterDescription(p)) => {
                    params = p.types().map(Type::from_oid).collect();
                }
                Ok(BackendMessage::RowDescription(d)) => cols = columns(&d),
                Ok(BackendMessage::NoData) => {}
                Ok(BackendMessage::ReadyForQuery(_)) => {
                    return Ok(Statement {
                        name,
                        params,
                        columns: cols,
                    });
                }
                Ok(other) => return Err(unexpected(&other, "a Parse/Describe response")),
            }
        }
    }

    /// Runs a statement with the extended protocol and returns every row.
    ///
    /// Parameters are sent in binary; with SQL text, their types are those of
    /// the Rust values (`i32` is `int4`, `&str` is `text`, …) and the whole
    /// exchange takes one round trip.
    pub async fn query<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &[&(dyn Encode + Sync)],
    ) -> Result<Vec<Row>, Error> {
        self.run(statement, params).await.map(|(rows, _)| rows)
    }

    /// Runs a statement and returns exactly one row; zero or several rows are
    /// an error.
    pub async fn query_one<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &[&(dyn Encode + Sync)],
    ) -> Result<Row, Error> {
        let rows = self.query(statement, params).await?;
        let count = rows.len();
        let mut rows = rows.into_iter();
        match (rows.next(), count) {
            (Some(row), 1) => Ok(row),
            _ => Err(Error::msg(
                ErrorKind::Type,
                format!("query_one expected exactly one row, got {count}"),
            )),
        }
    }

    /// Runs a statement and returns at most one row; several rows are an error.
    pub async fn query_opt<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &[&(dyn Encode + Sync)],
    ) -> Result<Option<Row>, Error> {
        let rows = self.query(statement, params).await?;
        if rows.len() > 1 {
            return Err(Error::msg(
                ErrorKind::Type,
                format!("query_opt expected at most one row, got {}", rows.len()),
            ));
        }
        Ok(rows.into_iter().next())
    }

    /// Runs a statement and returns the number of rows it affected.
    pub async fn execute<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &[&(dyn Encode + Sync)],
    ) -> Result<u64, Error> {
        self.run(statement, params)
            .await
            .map(|(_, n)| n.unwrap_or(0))
    }

    async fn run<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &[&(dyn Encode + Sync)],
    ) -> Result<(Vec<Row>, Option<u64>), Error> {
        let mut out = BytesMut::new();
        let mut known_columns = None;
        let types: Vec<Type> = match statement.kind() {
            sealed::Kind::Sql(sql) => {
                let types: Vec<Type> = params.iter().map(|p| p.preferred_type()).collect();
                let oids: Vec<u32> = types.iter().map(|t| t.oid()).collect();
                frontend::parse(&mut out, "", sql, &oids).map_err(proto_error)?;
                types
            }
            sealed::Kind::Prepared(stmt) => {
                known_columns = Some(stmt.columns.clone());
                stmt.params.clone()
            }
        };
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
        let name = match statement.kind() {
            sealed::Kind::Sql(_) => "",
            sealed::Kind::Prepared(stmt) => stmt.name.as_str(),
        };
        let bound = frontend::bind(
            &mut out,
            "",
            name,
            &[BINARY],
            params.len(),
            |i, buf| {
                let (param, ty) = (params[i], types[i]);
                if ty != Type::UNKNOWN_PARAM && !param.accepts(ty) {
                    return Err(crate::types::TypeError::WrongType {
                        rust: "the parameter's Rust type",
                        pg: ty,
                    });
                }
                param.encode(ty, buf)
            },
            &[BINARY],
        );
        match bound {
            Ok(()) => {}
            Err(BindError::Proto(e)) => return Err(proto_error(e)),
            Err(BindError::Param(i, e)) => {
                return Err(Error::with_source(
                    ErrorKind::Type,
                    Some(format!("parameter ${}", i + 1)),
                    e,
                ));
            }
        }
        if known_columns.is_none() {
            frontend::describe(&mut out, Target::Portal, "").map_err(proto_error)?;
        }
        frontend::execute(&mut out, "", 0).map_err(proto_error)?;
        frontend::sync(&mut out);
        let mut responses = self.send(out, 1, true)?;
        let mut rows = Vec::new();
        let mut affected = None;
        loop {
            let message = match responses.next().await {
                Ok(m) => m,
                Err(e) => {
                    if e.kind() == ErrorKind::Db {
                        responses.finish().await?;
                    }
                    return Err(e);
                }
            };
            match message {
                BackendMessage::ParseComplete | BackendMessage::BindComplete => {}
                BackendMessage::RowDescription(d) => known_columns = Some(columns(&d)),
                BackendMessage::NoData => known_columns = Some(Arc::new([])),
                BackendMessage::DataRow(data) => {
                    let cols = known_columns.clone().ok_or_else(|| {
                        Error::msg(ErrorKind::Protocol, "DataRow before RowDescription")
                    })?;
                    rows.push(Row::new(cols, &data)?);
                }
                BackendMessage::CommandComplete(c) => affected = c.rows(),
                // COPY is refused by the driver (FROM STDIN) or its data
                // discarded (TO STDOUT) until a COPY stream is asked for.
                BackendMessage::EmptyQueryResponse
                | BackendMessage::CopyInResponse(_)
                | BackendMessage::CopyOutResponse(_)
                | BackendMessage::CopyData(_)
                | BackendMessage::CopyDone => {}
                BackendMessage::ReadyForQuery(_) => return Ok((rows, affected)),
                other => return Err(unexpected(&other, "an extended query response")),
            }
        }
    }

    /// Starts a transaction (`BEGIN`). It is rolled back unless
    /// [`Transaction::commit`] is called.
    pub async fn transaction(&self) -> Result<Transaction<'_>, Error> {
        self.batch_execute("BEGIN").await?;
        Ok(Transaction {
            client: self,
            done: false,
        })
    }

    /// Closes the connection: queued requests finish, then Terminate is sent
    /// and the socket closed. Other clones see the connection as closed.
    pub async fn close(&self) -> Result<(), Error> {
        let mut out = BytesMut::new();
        frontend::terminate(&mut out);
        let _ = self.inner.requests.send(Request::terminate(out));
        let mut done = self.inner.driver_done.clone();
        // An error means the driver is gone, which is what we wait for.
        let _ = done.wait_for(|d| *d).await;
        Ok(())
    }
}

/// A transaction on a [`Client`]. Dereferences to the client, so queries run
/// inside it. Dropped without [`commit`](Self::commit), it is rolled back.
#[derive(Debug)]
pub struct Transaction<'a> {
    client: &'a Client,
    done: bool,
}

impl Transaction<'_> {
    /// Commits the transaction.
    pub async fn commit(mut self) -> Result<(), Error> {
        self.done = true;
        self.client.batch_execute("COMMIT").await
    }

    /// Rolls the transaction back.
    pub async fn rollback(mut self) -> Result<(), Error> {
        self.done = true;
        self.client.batch_execute("ROLLBACK").await
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Queued behind everything sent so far; nobody waits for it.
            let mut out = BytesMut::new();
            if frontend::query(&mut out, "ROLLBACK").is_ok() {
                let _ = self.client.send(out, 1, false);
            }
        }
    }
}
