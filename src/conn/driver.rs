//! The connection driver: the task that owns the socket.
//!
//! Owns one read buffer, one write buffer and the queue of requests in
//! flight. Requests arrive already encoded; their bytes are appended to the
//! write buffer, so requests issued together leave in one write. Backend
//! messages are routed to the oldest request until its last ReadyForQuery.
//! Messages that belong to no request (ParameterStatus, NoticeResponse,
//! NotificationResponse) are handled here.
//!
//! A request whose caller went away (its future dropped) stays in the queue:
//! its responses are read and thrown away, so the connection never loses its
//! place in the protocol. When the socket fails, every request waiting is
//! failed, none is left hanging.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::AsyncWrite;
use tokio::sync::{mpsc, watch};

use super::socket::Socket;
use crate::error::{Error, ErrorKind};
use crate::proto::{BackendMessage, FrameSplitter, TransactionStatus, frontend};

/// Where a request's responses go, and how many ReadyForQuery end it.
#[derive(Debug)]
pub(crate) struct ResponseSink {
    tx: mpsc::UnboundedSender<BackendMessage>,
    ready_left: usize,
    /// Sent with the extended protocol (ends with Sync) rather than Query.
    extended: bool,
}

/// One request: encoded frontend messages and the sink for its responses.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) messages: BytesMut,
    pub(crate) sink: Option<ResponseSink>,
    /// Close the connection after the requests queued before this one.
    pub(crate) terminate: bool,
}

impl Request {
    /// A request whose responses end after `ready` ReadyForQuery messages;
    /// returns the request and the receiving end.
    pub(crate) fn new(
        messages: BytesMut,
        ready: usize,
        extended: bool,
    ) -> (Self, mpsc::UnboundedReceiver<BackendMessage>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let sink = ResponseSink {
            tx,
            ready_left: ready,
            extended,
        };
        (
            Self {
                messages,
                sink: Some(sink),
                terminate: false,
            },
            rx,
        )
    }

    /// Asks the driver to finish the requests before it, send Terminate and
    /// close the socket. `messages` is ignored.
    pub(crate) fn terminate(messages: BytesMut) -> Self {
        Self {
            messages,
            sink: None,
            terminate: true,
        }
    }
}

/// State shared between the driver and its clients.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Server parameters (ParameterStatus), updated as the server reports them.
    pub(crate) parameters: Mutex<Vec<(String, String)>>,
    /// Why the connection closed, once it has.
    pub(crate) closed: Mutex<Option<String>>,
    /// The status byte of the last ReadyForQuery (`I`, `T` or `E`).
    pub(crate) transaction_status: AtomicU8,
}

impl Shared {
    pub(crate) fn new(parameters: Vec<(String, String)>, status: TransactionStatus) -> Self {
        Self {
            parameters: Mutex::new(parameters),
            closed: Mutex::new(None),
            transaction_status: AtomicU8::new(status.as_byte()),
        }
    }

    /// The transaction status as of the last ReadyForQuery received.
    pub(crate) fn transaction_status(&self) -> TransactionStatus {
        match self.transaction_status.load(Ordering::Acquire) {
            b'T' => TransactionStatus::InTransaction,
            b'E' => TransactionStatus::Failed,
            _ => TransactionStatus::Idle,
        }
    }

    pub(crate) fn parameter(&self, name: &str) -> Option<String> {
        let params = self.parameters.lock().unwrap_or_else(|e| e.into_inner());
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    fn set_parameter(&self, name: &str, value: &str) {
        let mut params = self.parameters.lock().unwrap_or_else(|e| e.into_inner());
        match params.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.to_owned(),
            None => params.push((name.to_owned(), value.to_owned())),
        }
    }

    fn close(&self, reason: String) {
        let mut closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        closed.get_or_insert(reason);
    }

    /// The error a caller gets once the connection is gone.
    pub(crate) fn closed_error(&self) -> Error {
        let closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        match closed.as_deref() {
            Some(reason) => Error::msg(ErrorKind::Closed, reason.to_owned()),
            None => Error::closed(),
        }
    }
}

const READ_CHUNK: usize = 16 * 1024;

/// The driver's state; [`Driver::run`] is spawned as a task.
pub(crate) struct Driver {
    socket: Socket,
    requests: mpsc::UnboundedReceiver<Request>,
    pending: VecDeque<Option<ResponseSink>>,
    read_buf: BytesMut,
    write_buf: BytesMut,
    splitter: FrameSplitter,
    shared: Arc<Shared>,
    done: watch::Sender<bool>,
    /// No more requests can arrive (every client handle dropped).
    requests_closed: bool,
    /// Terminate has been queued.
    terminate_sent: bool,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("pending", &self.pending.len())
            .field("read_buf", &self.read_buf.len())
            .field("write_buf", &self.write_buf.len())
            .finish_non_exhaustive()
    }
}

enum Exit {
    /// Every client is gone and every response was read; Terminate was sent.
    Clean,
    /// The connection failed.
    Failed(String),
}

impl Driver {
    pub(crate) fn new(
        socket: Socket,
        read_buf: BytesMut,
        requests: mpsc::UnboundedReceiver<Request>,
        splitter: FrameSplitter,
        shared: Arc<Shared>,
        done: watch::Sender<bool>,
    ) -> Self {
        Self {
            socket,
            requests,
            pending: VecDeque::new(),
            read_buf,
            write_buf: BytesMut::with_capacity(8 * 1024),
            splitter,
            shared,
            done,
            requests_closed: false,
            terminate_sent: false,
        }
    }

    /// Runs until every client handle is dropped or the connection fails.
    pub(crate) async fn run(mut self) {
        let exit = poll_fn(|cx| self.poll_step(cx)).await;
        let reason = match exit {
            Exit::Clean => "the connection was closed by the client".to_owned(),
            Exit::Failed(reason) => {
                tracing::debug!(%reason, "connection closed");
                reason
            }
        };
        self.shared.close(reason);
        self.done.send_replace(true);
        // Dropping the sinks wakes every waiting caller with a closed error.
        self.pending.clear();
        self.requests.close();
        while let Ok(request) = self.requests.try_recv() {
            drop(request);
        }
    }

    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Exit> {
        loop {
            self.take_requests(cx);
            if let Err(reason) = self.poll_write(cx) {
                return Poll::Ready(Exit::Failed(reason));
            }
            match self.poll_read(cx) {
                Poll::Ready(Ok(true)) => continue,
                Poll::Ready(Ok(false)) => {}
                Poll::Ready(Err(reason)) => return Poll::Ready(Exit::Failed(reason)),
                Poll::Pending => {}
            }
            if self.requests_closed && self.pending.is_empty() && self.write_buf.is_empty() {
                return self.poll_terminate(cx);
            }
            return Poll::Pending;
        }
    }

    /// Moves queued requests into the write buffer.
    fn take_requests(&mut self, cx: &mut Context<'_>) {
        while !self.requests_closed {
            match self.requests.poll_recv(cx) {
                Poll::Ready(Some(request)) if request.terminate => {
                    self.requests_closed = true;
                }
                Poll::Ready(Some(request)) => {
                    if self.write_buf.is_empty() {
                        // Take the request's buffer as ours: no copy.
                        let spare = std::mem::replace(&mut self.write_buf, request.messages);
                        drop(spare);
                    } else {
                        self.write_buf.extend_from_slice(&request.messages);
                    }
                    if let Some(sink) = request.sink {
                        self.pending.push_back(Some(sink));
                    }
                }
                Poll::Ready(None) => self.requests_closed = true,
                Poll::Pending => break,
            }
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>) -> Result<(), String> {
        while !self.write_buf.is_empty() {
            match Pin::new(&mut self.socket).poll_write(cx, &self.write_buf) {
                Poll::Ready(Ok(0)) => return Err("the server closed the connection".into()),
                Poll::Ready(Ok(n)) => self.write_buf.advance(n),
                Poll::Ready(Err(e)) => return Err(format!("writing to the server failed: {e}")),
                Poll::Pending => return Ok(()),
            }
        }
        match Pin::new(&mut self.socket).poll_flush(cx) {
            Poll::Ready(Err(e)) => Err(format!("flushing to the server failed: {e}")),
            _ => Ok(()),
        }
    }

    /// Reads what is available and routes every complete message. `Ok(true)`
    /// means progress was made and the loop should run again.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool, String>> {
        if self.read_buf.capacity() - self.read_buf.len() < READ_CHUNK / 4 {
            self.read_buf.reserve(READ_CHUNK);
        }
        match tokio_util::io::poll_read_buf(Pin::new(&mut self.socket), cx, &mut self.read_buf) {
            Poll::Ready(Ok(0)) => Poll::Ready(Err("the server closed the connection".into())),
            Poll::Ready(Ok(_)) => Poll::Ready(self.route_frames().map(|()| true)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(format!("reading from the server failed: {e}"))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn route_frames(&mut self) -> Result<(), String> {
        loop {
            let frame = match self.splitter.split(&mut self.read_buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(()),
                Err(e) => return Err(format!("protocol error: {e}")),
            };
            let message =
                BackendMessage::parse(frame).map_err(|e| format!("protocol error: {e}"))?;
            self.route(message)?;
        }
    }

    fn route(&mut self, message: BackendMessage) -> Result<(), String> {
        match message {
            BackendMessage::ParameterStatus(status) => {
                self.shared.set_parameter(status.name(), status.value());
                return Ok(());
            }
            BackendMessage::NoticeResponse(fields) => {
                let notice = fields.to_db_error();
                tracing::info!(target: "pgline::notice", code = %notice.code(), "{}", notice.message());
                return Ok(());
            }
            BackendMessage::NotificationResponse(n) => {
                tracing::debug!(
                    channel = n.channel(),
                    "notification received with no listener"
                );
                return Ok(());
            }
            _ => {}
        }
        let Some(slot) = self.pending.front_mut() else {
            return Err(match message {
                BackendMessage::ErrorResponse(fields) => {
                    let e = fields.to_db_error();
                    format!("the server closed the session: {e}")
                }
                other => format!(
                    "protocol error: the server sent {} when no request was waiting",
                    other.name()
                ),
            });
        };
        if let BackendMessage::CopyInResponse(_) = message {
            // No request of this layer streams COPY data: refuse at once, or
            // the server would wait for data forever and every later request
            // behind this one would hang. The server ignored the request's
            // own Sync while in copy-in mode, so an extended-protocol request
            // needs a new one to end the error. (A request pipelined behind a
            // COPY FROM STDIN can still be disturbed; COPY streams get their
            // own request kind.)
            frontend::copy_fail(
                &mut self.write_buf,
                "COPY FROM STDIN is not supported by this call",
            )
            .map_err(|e| format!("protocol error: {e}"))?;
            if slot.as_ref().is_some_and(|sink| sink.extended) {
                frontend::sync(&mut self.write_buf);
            }
        }
        let ready = match &message {
            BackendMessage::ReadyForQuery(status) => {
                self.shared
                    .transaction_status
                    .store(status.as_byte(), Ordering::Release);
                true
            }
            _ => false,
        };
        if let Some(sink) = slot {
            // A closed receiver means the caller went away; keep counting.
            let _ = sink.tx.send(message);
            if ready {
                sink.ready_left -= 1;
                if sink.ready_left == 0 {
                    self.pending.pop_front();
                }
            }
        }
        Ok(())
    }

    fn poll_terminate(&mut self, cx: &mut Context<'_>) -> Poll<Exit> {
        if !self.terminate_sent {
            frontend::terminate(&mut self.write_buf);
            self.terminate_sent = true;
        }
        match self.poll_write(cx) {
            Err(reason) => return Poll::Ready(Exit::Failed(reason)),
            Ok(()) if !self.write_buf.is_empty() => return Poll::Pending,
            Ok(()) => {}
        }
        match Pin::new(&mut self.socket).poll_shutdown(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(Exit::Clean),
        }
    }
}
