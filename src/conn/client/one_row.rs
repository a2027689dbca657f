//! Reading the reply of a query that yields at most one row.
//!
//! Owns [`OneRow`], the reader behind [`Client::query_one`] and
//! [`Client::query_opt`]: it takes the whole reply (BindComplete, the
//! row description when the statement is unnamed, the row,
//! CommandComplete, ReadyForQuery) in one pass, without the general row
//! stream between the caller and its one row. It reads every reply up to
//! ReadyForQuery, an error's included, so the transaction status is current
//! when it returns.
//!
//! [`Client::query_one`]: crate::Client::query_one
//! [`Client::query_opt`]: crate::Client::query_opt

use std::sync::Arc;
use std::task::{Context, Poll, ready};

use crate::conn::client::copy_sql::CopyStdio;
use crate::conn::client::handle::copy_needs_copy_api;
use crate::conn::client::row::{Column, Row, columns};
use crate::conn::engine::responses::Responses;
use crate::error::{Error, ErrorKind, SqlState};
use crate::proto::{BackendMessage, TransactionStatus};

/// How a single-row query ended.
#[derive(Debug)]
pub(crate) enum OneRowOutcome {
    /// The row, if there was one.
    Done(Option<Row>),
    /// The named statement is gone or its plan is stale (the server refused
    /// it before binding): the caller may prepare it again.
    Invalidated(Error, TransactionStatus),
}

impl OneRowOutcome {
    /// The row, or the error, for a caller that does not prepare again.
    pub(crate) fn into_row(self) -> Result<Option<Row>, Error> {
        match self {
            Self::Done(row) => Ok(row),
            Self::Invalidated(e, _) => Err(e),
        }
    }
}

/// The state of a single-row reply being read.
#[derive(Debug)]
pub(crate) struct OneRow {
    columns: Arc<[Column]>,
    /// The columns are still to come (a RowDescription or NoData).
    describing: bool,
    bound: bool,
    first: Option<Row>,
    /// Rows after the first (an error once the reply ends).
    extra: usize,
    /// The server's error, reported once its ReadyForQuery has arrived.
    error: Option<Error>,
}

impl OneRow {
    /// A reader for rows with these columns (a prepared statement's).
    pub(crate) fn new(columns: Arc<[Column]>) -> Self {
        Self::with(columns, false)
    }

    /// A reader for a statement described in its own reply (Describe of
    /// the unnamed portal).
    pub(crate) fn describing() -> Self {
        Self::with(Arc::new([]), true)
    }

    fn with(columns: Arc<[Column]>, describing: bool) -> Self {
        Self {
            columns,
            describing,
            bound: false,
            first: None,
            extra: 0,
            error: None,
        }
    }

    /// Reads replies until the request's ReadyForQuery.
    pub(crate) fn poll(
        &mut self,
        responses: &mut Responses,
        cx: &mut Context<'_>,
    ) -> Poll<Result<OneRowOutcome, Error>> {
        loop {
            match ready!(responses.poll_message(cx))? {
                BackendMessage::BindComplete => self.bound = true,
                // Closes of evicted statements ride along with a request.
                BackendMessage::CloseComplete | BackendMessage::ParseComplete => {}
                BackendMessage::RowDescription(d) if self.bound && self.describing => {
                    self.columns = columns(&d);
                    self.describing = false;
                }
                BackendMessage::NoData if self.bound && self.describing => self.describing = false,
                BackendMessage::DataRow(data) if self.bound && !self.describing => {
                    if self.first.is_none() {
                        self.first = Some(Row::new(self.columns.clone(), data)?);
                    } else {
                        self.extra += 1;
                    }
                }
                BackendMessage::CommandComplete(_)
                | BackendMessage::EmptyQueryResponse
                | BackendMessage::PortalSuspended
                    if self.bound => {}
                // COPY needs the COPY API: the caller drops the replies,
                // and the driver discards the rest.
                BackendMessage::CopyInResponse(_) if self.bound => {
                    return Poll::Ready(Err(copy_needs_copy_api(CopyStdio::In, true)));
                }
                BackendMessage::CopyOutResponse(_) if self.bound => {
                    return Poll::Ready(Err(copy_needs_copy_api(CopyStdio::Out, true)));
                }
                BackendMessage::ErrorResponse(fields) => {
                    self.error
                        .get_or_insert_with(|| Error::db(fields.to_db_error()));
                }
                BackendMessage::ReadyForQuery(status) => return Poll::Ready(self.end(status)),
                other => {
                    let expected = match (self.bound, self.describing) {
                        (false, _) => "BindComplete",
                        (true, true) => "RowDescription or NoData",
                        (true, false) => "a row",
                    };
                    return Poll::Ready(Err(responses.violation(&other, expected)));
                }
            }
        }
    }

    fn end(&mut self, status: TransactionStatus) -> Result<OneRowOutcome, Error> {
        if let Some(error) = self.error.take() {
            let stale = matches!(
                error.code(),
                Some(&SqlState::INVALID_SQL_STATEMENT_NAME | &SqlState::FEATURE_NOT_SUPPORTED)
            );
            return if stale && !self.bound {
                Ok(OneRowOutcome::Invalidated(error, status))
            } else {
                Err(error)
            };
        }
        if self.extra > 0 {
            return Err(Error::msg(
                ErrorKind::Type,
                format!("expected at most one row, got {}", self.extra + 1),
            ));
        }
        Ok(OneRowOutcome::Done(self.first.take()))
    }
}
