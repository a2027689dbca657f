//! COPY IN and COPY OUT streams.
//!
//! Owns [`CopyInSink`] (`COPY … FROM STDIN`) and [`CopyOutStream`]
//! (`COPY … TO STDOUT`), their adapters from and to tokio's `AsyncRead`
//! and from a `Stream` of chunks, and their progress counters.
//!
//! COPY IN takes the connection's input for its duration: requests other
//! tasks issue meanwhile are queued behind it, in order, and sent after
//! CopyDone or CopyFail. Data is framed into CopyData messages straight
//! into the connection's write buffer, in large chunks (small writes are
//! gathered in a pooled buffer first); the write buffer's bound gives
//! backpressure. A sink dropped without [`finish`](CopyInSink::finish), or
//! fed a failing stream, sends CopyFail: nothing is committed.
//!
//! Invariant: a COPY FROM STDIN that was queued is always ended, CopyDone
//! or CopyFail, before anything else is written, whatever the caller drops
//! and when. From the moment its Query is queued until the sink exists, a
//! [`CopyStarting`] guard owns the end (CopyFail, which the server ignores
//! if it answered the Query with an error instead of entering COPY mode);
//! then the sink does. Ending only queues bytes and hands the input back
//! to the requests deferred behind the COPY: it needs no await, no task
//! and no live runtime. A `send` dropped while it waits for room has taken
//! nothing out of the sink: the data of earlier sends stays queued in it.
//!
//! COPY OUT hands out each CopyData's payload as a `Bytes` slice of the
//! connection's read buffer, without copying; a slow consumer stops the
//! connection reading the socket. It needs no guard: a `copy_out` future
//! or stream dropped at any point leaves the driver to read and discard
//! the rest of the data, up to the COPY's end.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use futures_core::Stream;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::conn::client::handle::{Client, unexpected};
use crate::conn::client::observed::CopyObserver;
use crate::conn::engine::buf_pool::BufferPool;
use crate::conn::engine::responses::{Responses, poll_stream, violation};
use crate::conn::engine::shared::Shared;
use crate::conn::engine::slot::RequestKind;
use crate::error::{Error, ErrorKind};
use crate::observe::CopyDirection;
use crate::proto::frame::HEADER_LEN;
use crate::proto::{BackendMessage, Format, frontend};

/// Small writes are gathered until this many bytes, then sent as one
/// CopyData message.
const CHUNK: usize = 64 * 1024;
/// Writes of at least this many bytes are framed straight into the
/// connection's write buffer (one copy), not gathered first (two).
const DIRECT: usize = 8 * 1024;
/// COPY data waiting to be written is kept under this (the connection's
/// bound is larger, for requests): data copied in stays in the CPU cache
/// until the kernel copies it out, and a chunk is on the wire sooner.
const COPY_IN_PENDING: usize = 256 * 1024;

/// Progress watchers of COPY IN are told after this many more bytes.
const PROGRESS_BYTES: u64 = 64 * 1024;
/// Progress watchers of COPY OUT are told after this many more rows.
const PROGRESS_ROWS: u64 = 256;

/// How far a COPY has got, readable while it runs (e.g. for a progress bar).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CopyProgress {
    /// Rows so far: counted by the binary row writer and reader, and for
    /// COPY OUT (one CopyData per row); 0 for raw COPY IN data, whose rows
    /// only the server counts.
    pub rows: u64,
    /// Payload bytes so far.
    pub bytes: u64,
}

fn copy_error(message: &str) -> Error {
    Error::msg(ErrorKind::Protocol, message.to_owned())
}

/// A running `COPY … FROM STDIN`. From [`Client::copy_in`].
///
/// ```no_run
/// # async fn run(client: &pgline::Client) -> Result<(), pgline::Error> {
/// let mut sink = client.copy_in("COPY items (id, name) FROM STDIN (FORMAT csv)").await?;
/// sink.send(b"1,apple\n2,bread\n").await?;
/// let rows = sink.finish().await?;
/// assert_eq!(rows, 2);
/// # Ok(()) }
/// ```
pub struct CopyInSink {
    client: Client,
    responses: Option<Responses>,
    gather: BytesMut,
    pool: Arc<BufferPool>,
    progress: watch::Sender<CopyProgress>,
    current: CopyProgress,
    /// Column formats announced by the server.
    format: Format,
    _lock: OwnedSemaphorePermit,
    observer: Option<CopyObserver>,
}

impl std::fmt::Debug for CopyInSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyInSink")
            .field("progress", &self.current)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts `COPY … FROM STDIN` (any format: text, CSV, binary, with
    /// their options) and returns the sink for its data.
    pub async fn copy_in(&self, sql: &str) -> Result<CopyInSink, Error> {
        match CopyObserver::start(self, CopyDirection::In, sql) {
            None => self.copy_in_plain(sql).await,
            Some(observer) => match Box::pin(self.copy_in_plain(sql)).await {
                Ok(mut sink) => {
                    sink.observer = Some(observer);
                    Ok(sink)
                }
                Err(e) => {
                    observer.end(None, 0, Some(&e));
                    Err(e)
                }
            },
        }
    }

    async fn copy_in_plain(&self, sql: &str) -> Result<CopyInSink, Error> {
        let shared = self.shared().clone();
        let lock = shared
            .copy_lock
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| shared.refused_error())?;
        let permit = shared
            .in_flight
            .enter()
            .await
            .map_err(|_| shared.refused_error())?;
        let (slot, queue) = shared.slot(1, Some(permit), RequestKind::Copy);
        shared.copy_start(slot.clone(), sql)?;
        let starting = CopyStarting {
            shared: Some(shared.clone()),
        };
        let mut responses = Responses::new(slot, queue, shared.clone());
        // Until the server answers, the input stays ours; on any other
        // answer it is handed back with nothing more sent.
        let started = async {
            loop {
                match responses.next().await? {
                    BackendMessage::CopyInResponse(r) => return Ok(r.format()),
                    BackendMessage::CloseComplete => {}
                    other => {
                        return Err(unexpected(
                            &other,
                            "CopyInResponse (is it COPY FROM STDIN?)",
                        ));
                    }
                }
            }
        };
        let format = match started.await {
            Ok(format) => format,
            Err(e) => {
                // The server is not in COPY mode: nothing to end there.
                starting.disarm();
                shared.copy_end(|_| {});
                if e.kind() == ErrorKind::Db {
                    let _ = responses.finish().await;
                }
                return Err(e);
            }
        };
        // The sink ends the COPY from here on.
        starting.disarm();
        let pool = BufferPool::global();
        Ok(CopyInSink {
            client: self.clone(),
            responses: Some(responses),
            gather: pool.get(CHUNK),
            pool,
            progress: watch::channel(CopyProgress::default()).0,
            current: CopyProgress::default(),
            format,
            _lock: lock,
            observer: None,
        })
    }
}

/// The end of a COPY FROM STDIN whose Query is queued and whose sink does
/// not exist yet: dropped armed (the `copy_in` future dropped while it
/// waits for the server's answer), it writes CopyFail and hands the
/// connection's input back, so the requests deferred behind the COPY
/// follow it.
struct CopyStarting {
    shared: Option<Arc<Shared>>,
}

impl CopyStarting {
    /// Someone else ends the COPY (or there is nothing to end).
    fn disarm(mut self) {
        self.shared = None;
    }
}

impl Drop for CopyStarting {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.copy_end(|out| {
                let _ = frontend::copy_fail(out, "COPY abandoned by the client before it started");
            });
        }
    }
}

impl CopyInSink {
    /// The overall format the server expects (text/CSV or binary).
    pub fn format(&self) -> Format {
        self.format
    }

    /// Progress so far, as a watch channel that updates while data is sent.
    pub fn progress(&self) -> watch::Receiver<CopyProgress> {
        self.progress.subscribe()
    }

    /// Counts `rows` more rows in the progress (for writers that know them).
    pub(crate) fn add_rows(&mut self, rows: u64) {
        self.current.rows += rows;
    }

    /// An error the server has already reported (bad data on line N, a
    /// constraint violation), without waiting.
    fn server_error(&mut self) -> Result<(), Error> {
        let Some(responses) = &mut self.responses else {
            return Err(copy_error("the COPY has ended"));
        };
        match responses.try_next() {
            None => Ok(()),
            Some(Err(e)) => {
                self.end_after_error();
                Err(e)
            }
            Some(Ok(other)) => {
                let error = responses.violation(&other, "nothing during COPY IN");
                self.end_after_error();
                Err(error)
            }
        }
    }

    /// The server ended the COPY on its side: hand the input back. The
    /// server ignores copy messages still in flight.
    fn end_after_error(&mut self) {
        self.client.shared().copy_end(|_| {});
        self.responses = None;
    }

    /// Sends data. Small pieces (under 8 KiB) are gathered into larger
    /// CopyData messages; larger ones are framed straight into the
    /// connection's write buffer. Waits while that buffer is full.
    ///
    /// Dropped before it returns, it has sent none of `data`, and what
    /// earlier calls sent is kept.
    pub async fn send(&mut self, data: impl AsRef<[u8]>) -> Result<(), Error> {
        let data = data.as_ref();
        if data.len() < DIRECT && self.gather.len() + data.len() <= CHUNK {
            self.gather.extend_from_slice(data);
        } else {
            // The only await: nothing is taken from `gather` before it.
            self.room().await?;
            self.append_gathered()?;
            if data.len() < DIRECT {
                self.gather.extend_from_slice(data);
            } else {
                self.append(data)?;
            }
        }
        self.count(data.len());
        Ok(())
    }

    fn count(&mut self, bytes: usize) {
        let before = self.current.bytes;
        self.current.bytes += bytes as u64;
        // Watchers are told every 64 KiB, not every write.
        if before / PROGRESS_BYTES != self.current.bytes / PROGRESS_BYTES {
            self.progress.send_replace(self.current);
        }
    }

    /// Waits until the connection's write buffer has room for more COPY
    /// data; an error the server has already reported ends the wait.
    async fn room(&mut self) -> Result<(), Error> {
        self.server_error()?;
        self.client.shared().wait_for_room(COPY_IN_PENDING).await;
        Ok(())
    }

    /// Frames the gathered data as one CopyData message.
    fn append_gathered(&mut self) -> Result<(), Error> {
        if self.gather.is_empty() {
            return Ok(());
        }
        let result = self.client.shared().copy_append(|out| {
            frontend::copy_data(out, &self.gather);
            Ok(())
        });
        self.gather.clear();
        result
    }

    /// Frames `data` as one CopyData message.
    fn append(&self, data: &[u8]) -> Result<(), Error> {
        self.client.shared().copy_append(|out| {
            frontend::copy_data(out, data);
            Ok(())
        })
    }

    /// Sends everything `reader` yields, until it ends. Returns the bytes
    /// read. A read error fails the COPY (CopyFail) and is returned.
    pub async fn send_from<R: AsyncRead + Unpin>(&mut self, mut reader: R) -> Result<u64, Error> {
        let mut total = 0u64;
        let mut buf = self.pool.get(CHUNK);
        loop {
            buf.clear();
            let n = match reader.read_buf(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    self.pool.put(buf);
                    let reason = format!("reading the COPY data failed: {e}");
                    self.fail_in_place(&reason);
                    return Err(Error::with_source(ErrorKind::Io, Some(reason), e));
                }
            };
            if n == 0 {
                break;
            }
            total += n as u64;
            self.send(&buf[..]).await?;
        }
        self.pool.put(buf);
        Ok(total)
    }

    /// Sends every chunk of `stream`. An error from the stream fails the
    /// COPY (CopyFail: nothing is committed) and is returned.
    pub async fn send_stream<S, B, E>(&mut self, stream: S) -> Result<(), Error>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
            match item {
                Ok(chunk) => self.send(chunk).await?,
                Err(e) => {
                    let e: Box<dyn std::error::Error + Send + Sync> = e.into();
                    let reason = format!("the COPY data stream failed: {e}");
                    self.fail_in_place(&reason);
                    return Err(Error::with_source(ErrorKind::Io, Some(reason), e));
                }
            }
        }
        Ok(())
    }

    /// Ends the data (CopyDone) and returns the number of rows copied.
    pub async fn finish(mut self) -> Result<u64, Error> {
        let observer = self.observer.take();
        let result = self.finish_data().await;
        if let Some(observer) = observer {
            let rows = result.as_ref().ok().copied();
            observer.end(rows, self.current.bytes, result.as_ref().err());
        }
        result
    }

    async fn finish_data(&mut self) -> Result<u64, Error> {
        if !self.gather.is_empty() {
            self.room().await?;
            self.append_gathered()?;
        }
        self.progress.send_replace(self.current);
        self.server_error()?;
        self.client.shared().copy_end(frontend::copy_done);
        let mut responses = self
            .responses
            .take()
            .ok_or_else(|| copy_error("the COPY has ended"))?;
        let mut rows = 0;
        loop {
            match responses.next().await {
                Ok(BackendMessage::CommandComplete(c)) => rows = c.rows().unwrap_or(0),
                Ok(BackendMessage::ReadyForQuery(_)) => return Ok(rows),
                Ok(_) => {}
                Err(e) => {
                    if e.kind() == ErrorKind::Db {
                        let _ = responses.finish().await;
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Abandons the COPY with CopyFail: the server rolls it back.
    pub async fn abort(mut self, reason: &str) -> Result<(), Error> {
        self.fail_in_place(reason);
        Ok(())
    }

    fn fail_in_place(&mut self, reason: &str) {
        if self.responses.is_some() {
            self.client.shared().copy_end(|out| {
                if frontend::copy_fail(out, reason).is_err() {
                    let _ = frontend::copy_fail(out, "COPY aborted by the client");
                }
            });
            // The driver reads and discards the server's error.
            self.responses = None;
        }
    }
}

impl Drop for CopyInSink {
    fn drop(&mut self) {
        self.fail_in_place("COPY abandoned by the client before it finished");
        let gathered = std::mem::take(&mut self.gather);
        self.pool.put(gathered);
    }
}

/// A running `COPY … TO STDOUT`: a [`Stream`] of data chunks (for text and
/// CSV, one row per chunk). From [`Client::copy_out`].
///
/// `next` is an inherent method, so reading needs no extra import. With
/// `futures::StreamExt` in scope, `.next()` still resolves to it, and it
/// yields exactly what `StreamExt::next` would, so either spelling
/// is right. The other combinators (`map`, `try_collect`, …) come from the
/// `Stream` implementation.
#[derive(Debug)]
pub struct CopyOutStream {
    responses: Option<Responses>,
    /// The size of the frame [`next_borrowed`](Self::next_borrowed) last
    /// lent in place: skipped at the next read.
    lent: usize,
    /// The chunk `next_borrowed` last lent when it came as a message of
    /// its own rather than in place.
    held: Option<Bytes>,
    format: Format,
    progress: watch::Sender<CopyProgress>,
    current: CopyProgress,
    rows_affected: Option<u64>,
    observer: Option<CopyObserver>,
}

impl Client {
    /// Starts `COPY … TO STDOUT` and returns the stream of its data.
    pub async fn copy_out(&self, sql: &str) -> Result<CopyOutStream, Error> {
        match CopyObserver::start(self, CopyDirection::Out, sql) {
            None => self.copy_out_plain(sql).await,
            Some(observer) => match Box::pin(self.copy_out_plain(sql)).await {
                Ok(mut stream) => {
                    stream.observer = Some(observer);
                    Ok(stream)
                }
                Err(e) => {
                    observer.end(None, 0, Some(&e));
                    Err(e)
                }
            },
        }
    }

    async fn copy_out_plain(&self, sql: &str) -> Result<CopyOutStream, Error> {
        let mut responses = self
            .request(1, RequestKind::Simple, |out| {
                frontend::query(out, sql).map_err(crate::conn::engine::shared::input_error)
            })
            .await?;
        loop {
            match responses.next().await? {
                BackendMessage::CopyOutResponse(r) => {
                    return Ok(CopyOutStream {
                        responses: Some(responses),
                        lent: 0,
                        held: None,
                        format: r.format(),
                        progress: watch::channel(CopyProgress::default()).0,
                        current: CopyProgress::default(),
                        rows_affected: None,
                        observer: None,
                    });
                }
                BackendMessage::CloseComplete => {}
                other => {
                    return Err(unexpected(
                        &other,
                        "CopyOutResponse (is it COPY TO STDOUT?)",
                    ));
                }
            }
        }
    }
}

impl CopyOutStream {
    /// The overall format (text/CSV or binary).
    pub fn format(&self) -> Format {
        self.format
    }

    /// Progress so far.
    pub fn progress(&self) -> watch::Receiver<CopyProgress> {
        self.progress.subscribe()
    }

    /// The row count the server reported, once the stream has ended.
    pub fn rows_affected(&self) -> Option<u64> {
        self.rows_affected
    }

    /// The next chunk, or `None` at the end.
    ///
    /// The same as `StreamExt::next` (see the type's docs).
    pub async fn next(&mut self) -> Option<Result<Bytes, Error>> {
        std::future::poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// Counts a chunk into the progress; watchers are told every 256 rows
    /// (and at the end).
    #[inline]
    fn count(&mut self, bytes: Bytes) -> Bytes {
        self.count_len(bytes.len());
        bytes
    }

    /// Counts a chunk of `len` bytes into the progress.
    #[inline]
    fn count_len(&mut self, len: usize) {
        self.current.rows += 1;
        self.current.bytes += len as u64;
        if self.current.rows % PROGRESS_ROWS == 0 {
            self.progress.send_replace(self.current);
        }
    }

    /// The next chunk lent from the connection's read buffer, or `None` at
    /// the end: what [`next`](Self::next) yields, without taking a share of
    /// the buffer (no reference count per chunk), so the fastest way to
    /// read raw COPY data. The slice lives until the next read from this
    /// stream; `next` and `next_borrowed` may be mixed.
    ///
    /// ```no_run
    /// # async fn run(client: &pgline::Client) -> Result<(), pgline::Error> {
    /// let mut out = client.copy_out("COPY t TO STDOUT").await?;
    /// let mut bytes = 0;
    /// while let Some(chunk) = out.next_borrowed().await {
    ///     bytes += chunk?.len();
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn next_borrowed(&mut self) -> Option<Result<&[u8], Error>> {
        self.release_lent();
        // The common case: the next COPY data frame of the run being read,
        // lent in place and skipped at the next read.
        if let Some(size) = self.responses.as_ref().and_then(Responses::copy_data_head) {
            self.lent = size;
            self.count_len(size.saturating_sub(HEADER_LEN));
            return self.responses.as_ref().map(|r| Ok(r.head_body(size)));
        }
        match std::future::poll_fn(|cx| self.poll_chunk(cx)).await? {
            Ok(bytes) => Some(Ok(self.held.insert(bytes))),
            Err(e) => Some(Err(e)),
        }
    }

    /// Skips what `next_borrowed` lent last.
    #[inline]
    fn release_lent(&mut self) {
        if self.lent > 0 {
            if let Some(responses) = self.responses.as_mut() {
                responses.advance_run(self.lent);
            }
            self.lent = 0;
        }
        self.held = None;
    }

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        self.release_lent();
        // The common case, straight from the run of COPY data being read.
        if let Some(bytes) = self.responses.as_mut().and_then(Responses::next_copy_data) {
            return Poll::Ready(Some(Ok(self.count(bytes))));
        }
        loop {
            let message = match poll_stream(&mut self.responses, cx) {
                Poll::Ready(Some(Ok(m))) => m,
                Poll::Ready(Some(Err(e))) => {
                    self.observe_end(Some(&e));
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            };
            match message {
                BackendMessage::CopyData(data) => {
                    return Poll::Ready(Some(Ok(self.count(data.into_bytes()))));
                }
                BackendMessage::CopyDone => {}
                BackendMessage::CommandComplete(c) => self.rows_affected = c.rows(),
                BackendMessage::ReadyForQuery(_) => {
                    self.responses = None;
                    self.progress.send_replace(self.current);
                    self.observe_end(None);
                    return Poll::Ready(None);
                }
                other => {
                    let error = violation(&self.responses, &other, "COPY data");
                    self.responses = None;
                    self.observe_end(Some(&error));
                    return Poll::Ready(Some(Err(error)));
                }
            }
        }
    }

    /// Reports the end to the COPY hooks, if they are watching.
    fn observe_end(&mut self, error: Option<&Error>) {
        if let Some(observer) = self.observer.take() {
            let rows = self.rows_affected.or(Some(self.current.rows));
            let rows = if error.is_some() { None } else { rows };
            observer.end(rows, self.current.bytes, error);
        }
    }

    /// An `AsyncRead` over the data.
    pub fn into_reader(self) -> CopyOutReader {
        CopyOutReader {
            stream: self,
            current: Bytes::new(),
        }
    }
}

impl Stream for CopyOutStream {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_chunk(cx)
    }
}

/// `AsyncRead` over a [`CopyOutStream`].
#[derive(Debug)]
pub struct CopyOutReader {
    stream: CopyOutStream,
    current: Bytes,
}

impl CopyOutReader {
    /// The stream underneath (for its progress and row count).
    pub fn stream(&self) -> &CopyOutStream {
        &self.stream
    }
}

impl AsyncRead for CopyOutReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.current.is_empty() {
            match self.stream.poll_chunk(cx) {
                Poll::Ready(Some(Ok(chunk))) => self.current = chunk,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(io::Error::other(e))),
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
        let n = self.current.len().min(buf.remaining());
        buf.put_slice(&self.current[..n]);
        self.current.advance(n);
        Poll::Ready(Ok(()))
    }
}
