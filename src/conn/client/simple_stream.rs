//! A simple-protocol query read as it arrives.
//!
//! Owns [`SimpleQueryStream`], from [`Client::simple_query_stream`]: the
//! same messages as [`Client::simple_query`], one at a time, so a result
//! larger than memory can be read (the driver's buffers bound what is held,
//! as for [`RowStream`](crate::RowStream)).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::conn::client::copy_sql::CopyStdio;
use crate::conn::client::handle::{
    Client, copy_needs_copy_api, passes_in_simple_query, refuse_copy_stdio,
};
use crate::conn::client::row::{Column, SimpleQueryMessage, SimpleQueryRow, columns};
use crate::conn::engine::responses::{Responses, poll_stream, violation};
use crate::conn::engine::shared::input_error;
use crate::conn::engine::slot::RequestKind;
use crate::error::{Error, ErrorKind};
use crate::proto::{BackendMessage, frontend};

impl Client {
    /// Runs SQL (one or more statements) with the simple protocol and
    /// streams its replies: each row as text, and a
    /// [`SimpleQueryMessage::CommandComplete`] after each statement. Unlike
    /// [`Client::simple_query`], nothing is gathered: memory stays bounded
    /// whatever the result's size.
    ///
    /// An error (a failing statement) is the stream's last item; the
    /// statements after it do not run. Dropping the stream half-read is
    /// fine: the rest is discarded. The handle's timeout (if any) covers
    /// sending the query, not reading the replies.
    ///
    /// ```no_run
    /// # async fn run(client: &pgline::Client) -> Result<(), pgline::Error> {
    /// use pgline::SimpleQueryMessage;
    /// let mut stream = client.simple_query_stream("SELECT g FROM generate_series(1, 1000000) g").await?;
    /// while let Some(message) = stream.next().await {
    ///     if let SimpleQueryMessage::Row(row) = message? {
    ///         let _text: Option<&str> = row.get(0);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn simple_query_stream(&self, sql: &str) -> Result<SimpleQueryStream, Error> {
        refuse_copy_stdio(sql)?;
        let responses = self
            .timed(|| async {
                self.request(1, RequestKind::Simple, |out| {
                    frontend::query(out, sql).map_err(input_error)
                })
                .await
            })
            .await?;
        Ok(SimpleQueryStream {
            responses: Some(responses),
            columns: None,
        })
    }
}

/// The replies of a simple query as they arrive: a [`Stream`] of
/// `Result<SimpleQueryMessage, Error>`. From
/// [`Client::simple_query_stream`].
///
/// `next` is an inherent method, so reading needs no extra import; with
/// `futures::StreamExt` in scope, `.next()` still resolves to it and yields
/// exactly what `StreamExt::next` would.
#[derive(Debug)]
pub struct SimpleQueryStream {
    /// `None` once the query has ended (or failed).
    responses: Option<Responses>,
    /// The current statement's columns, from its RowDescription.
    columns: Option<Arc<[Column]>>,
}

impl SimpleQueryStream {
    /// The next row or statement completion, or `None` at the end.
    pub async fn next(&mut self) -> Option<Result<SimpleQueryMessage, Error>> {
        std::future::poll_fn(|cx| self.poll_message(cx)).await
    }

    fn poll_message(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<SimpleQueryMessage, Error>>> {
        loop {
            let message = match poll_stream(&mut self.responses, cx) {
                Poll::Ready(Some(Ok(m))) => m,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            };
            let item = match message {
                BackendMessage::ReadyForQuery(_) => {
                    self.responses = None;
                    return Poll::Ready(None);
                }
                BackendMessage::RowDescription(d) => {
                    self.columns = Some(columns(&d));
                    continue;
                }
                BackendMessage::DataRow(row) => match &self.columns {
                    Some(c) => SimpleQueryRow::new(c.clone(), row).map(SimpleQueryMessage::Row),
                    None => Err(Error::msg(
                        ErrorKind::Protocol,
                        "DataRow before RowDescription",
                    )),
                },
                BackendMessage::CommandComplete(c) => {
                    self.columns = None;
                    Ok(SimpleQueryMessage::CommandComplete(c.rows()))
                }
                // The driver fails a COPY FROM STDIN and discards a COPY
                // TO STDOUT's data once the replies are dropped here.
                BackendMessage::CopyInResponse(_) => Err(copy_needs_copy_api(CopyStdio::In, true)),
                BackendMessage::CopyOutResponse(_) => {
                    Err(copy_needs_copy_api(CopyStdio::Out, true))
                }
                ref other if passes_in_simple_query(other) => continue,
                other => Err(violation(
                    &self.responses,
                    &other,
                    "a simple query response",
                )),
            };
            if item.is_err() {
                // The rest of the replies are discarded by the driver.
                self.responses = None;
            }
            return Poll::Ready(Some(item));
        }
    }
}

impl Stream for SimpleQueryStream {
    type Item = Result<SimpleQueryMessage, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_message(cx)
    }
}
