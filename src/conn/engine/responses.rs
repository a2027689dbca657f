//! The caller's end of a request: reading its replies.
//!
//! Owns [`Responses`], which takes replies from the request's slot
//! (decoding the frames the driver cut off in one piece), reads the socket
//! itself while its reply has not arrived (see `io.rs`), turns an
//! ErrorResponse into the server's error, and on drop tells the driver to
//! discard whatever is still to come (so a dropped future never leaves the
//! connection out of step).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};

use crate::conn::engine::close_reason::CloseReason;
use crate::conn::engine::shared::{Shared, proto_error};
use crate::conn::engine::slot::{Cut, Pop, Reply, Slot};
use crate::error::{Delivery, Effect, Ended, Error, Scope, Severity};
use crate::proto::backend::{CopyData, DataRow, tag};
use crate::proto::frame::HEADER_LEN;
use crate::proto::frame_run::{next_in_run, peek_in_run};
use crate::proto::{BackendMessage, Frame, TransactionStatus};

/// The replies of one request.
#[derive(Debug)]
pub(crate) struct Responses {
    slot: Option<Arc<Slot>>,
    /// Replies taken from the slot, popped without a lock.
    queue: VecDeque<Reply>,
    /// The rest of a run of frames being read (see [`Reply::Frames`]).
    run: Bytes,
    shared: Arc<Shared>,
    /// Registered with the driver to be woken by socket readiness.
    driving: bool,
    /// Registered with the slot to be woken by what is routed to it (so
    /// reading the socket first needs the slot marked quiet).
    registered: bool,
    /// What the request does to the transaction block, as its sender
    /// said: part of the record an error that ends it carries.
    effect: Effect,
}

impl Responses {
    /// The replies of the request in `slot`, read through `queue` (both
    /// from [`Shared::slot`]).
    pub(crate) fn new(slot: Arc<Slot>, queue: VecDeque<Reply>, shared: Arc<Shared>) -> Self {
        Self {
            queue,
            run: Bytes::new(),
            slot: Some(slot),
            shared,
            driving: false,
            registered: false,
            effect: Effect::Unknown,
        }
    }

    /// Says what the request does to the transaction block (before its
    /// replies are read; unknown by default, which counts as possibly
    /// committing).
    pub(crate) fn set_effect(&mut self, effect: Effect) {
        self.effect = effect;
    }

    /// The error of this request, ended by the connection's close as `cut`
    /// records.
    #[cold]
    fn cut_error(&self, cut: Cut) -> Error {
        let scope = self.slot.as_ref().map_or(Default::default(), |s| s.scope());
        self.shared.closed_error().with_ended(Ended {
            delivery: cut.delivery,
            followed: cut.followed,
            scope,
            effect: self.effect,
        })
    }

    /// A message as the request's result: an ErrorResponse becomes the
    /// server's error, marked when the request was queued inside a
    /// transaction block (the error aborts it). A FATAL one ends the
    /// session with the request in flight: its error records that, as a
    /// lost connection's would. The server stops at it, so no later request
    /// ran.
    #[inline]
    fn server_error(
        &self,
        message: Result<BackendMessage, Error>,
    ) -> Result<BackendMessage, Error> {
        match message {
            Ok(BackendMessage::ErrorResponse(fields)) => {
                let db = fields.to_db_error();
                let fatal = matches!(db.severity(), Some(Severity::Fatal | Severity::Panic));
                if fatal {
                    // The session is over: refuse new requests from now on,
                    // rather than from when the driver reads the socket's
                    // end (a request queued in between would be taken for a
                    // live connection's).
                    self.shared
                        .abort(CloseReason::ServerEnded(Box::new(db.clone())));
                }
                let error = Error::db(db);
                let scope = self.slot.as_ref().map_or(Default::default(), |s| s.scope());
                if !fatal {
                    return Err(if scope == Scope::InBlock {
                        error.in_block()
                    } else {
                        error
                    });
                }
                Err(error.with_ended(Ended {
                    // The server answered it: all of it had arrived.
                    delivery: Delivery::Written { bytes: u64::MAX },
                    followed: false,
                    scope,
                    effect: self.effect,
                }))
            }
            other => other,
        }
    }

    /// The next message as sent, ErrorResponse included.
    // Always inlined: its caller matches on the message it returns, and
    // out of line (as some codegen-unit splits chose) the large result
    // goes through memory, +90 instructions per point select.
    #[inline(always)]
    pub(crate) fn poll_message(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<BackendMessage, Error>> {
        if !self.run.is_empty() {
            return Poll::Ready(self.next_in_run());
        }
        if let Some(reply) = self.queue.pop_front() {
            // Taken from the slot earlier: no lock, nothing to drive.
            return Poll::Ready(self.open(reply));
        }
        let Some(slot) = &self.slot else {
            return Poll::Ready(Err(self.shared.closed_error()));
        };
        // Until this caller has registered with the slot, nothing routed to
        // it wakes anyone: it can read the socket without marking the slot
        // quiet first (a look and a mark that cost a lock).
        let mut pop = if self.registered {
            slot.try_pop(&mut self.queue)
        } else {
            Poll::Pending
        };
        let id = Arc::as_ptr(slot) as usize;
        if pop.is_pending() {
            // Nothing routed yet: read the socket here rather than wait for
            // the driver task to do it and wake us. Registered with the slot
            // only after that, so a reply this caller routes itself does not
            // wake it.
            match self.shared.io() {
                Some(io) => {
                    let answered = io.drive(id, cx.waker(), || slot.ready_left() == 0);
                    pop = slot.poll_pop(&mut self.queue, cx);
                    self.driving = pop.is_pending();
                    if !self.driving && !answered {
                        io.release(id);
                    }
                }
                None => pop = slot.poll_pop(&mut self.queue, cx),
            }
            self.registered |= pop.is_pending();
        } else if std::mem::take(&mut self.driving) {
            if let Some(io) = self.shared.io() {
                io.release(id);
            }
        }
        match pop {
            Poll::Ready(Pop::Reply(reply)) => Poll::Ready(self.open(reply)),
            Poll::Ready(Pop::Closed(cut)) => Poll::Ready(Err(self.cut_error(cut))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The next message if it has already arrived, without reading the
    /// socket or registering to be woken: the driver task goes on reading
    /// for this request. An ErrorResponse becomes the server's error.
    pub(crate) fn try_next(&mut self) -> Option<Result<BackendMessage, Error>> {
        // The start of `poll_message`, without its waiting. (A shared helper
        // returning an `Option` of the message cost `poll_message` 65
        // instructions per query in moves; callgrind, point_select.)
        let message = if !self.run.is_empty() {
            self.next_in_run()
        } else if let Some(reply) = self.queue.pop_front() {
            self.open(reply)
        } else {
            let Some(slot) = &self.slot else {
                return Some(Err(self.shared.closed_error()));
            };
            if std::mem::take(&mut self.driving) {
                // A caller that looks without waiting must not hold the
                // socket's reading to itself.
                if let Some(io) = self.shared.io() {
                    io.release(Arc::as_ptr(slot) as usize);
                }
            }
            match slot.peek_pop(&mut self.queue) {
                Poll::Pending => return None,
                Poll::Ready(Pop::Reply(reply)) => self.open(reply),
                Poll::Ready(Pop::Closed(cut)) => Err(self.cut_error(cut)),
            }
        };
        Some(self.server_error(message))
    }

    /// The first message of a reply.
    fn open(&mut self, reply: Reply) -> Result<BackendMessage, Error> {
        match reply {
            Reply::Message(message) => Ok(message),
            Reply::Frames { bytes, .. } => {
                self.run = bytes;
                self.next_in_run()
            }
        }
    }

    /// The next COPY data of the run being read, if that is what comes next.
    #[inline]
    pub(crate) fn next_copy_data(&mut self) -> Option<Bytes> {
        if self.run.first() == Some(&tag::COPY_DATA) {
            next_in_run(&mut self.run).map(|frame| frame.body)
        } else {
            None
        }
    }

    /// The size, header included, of the COPY data frame at the head of
    /// the run, if that is what comes next. With [`head_body`](Self::head_body)
    /// and [`advance_run`](Self::advance_run) a caller reads the frame in
    /// place, without taking a share of the run (no reference count).
    #[inline]
    pub(crate) fn copy_data_head(&self) -> Option<usize> {
        if self.run.first() != Some(&tag::COPY_DATA) {
            return None;
        }
        peek_in_run(&self.run).map(|(_, _, size)| size)
    }

    /// The body of the frame of `size` bytes at the head of the run (from
    /// [`copy_data_head`](Self::copy_data_head)).
    #[inline]
    pub(crate) fn head_body(&self, size: usize) -> &[u8] {
        self.run.get(HEADER_LEN..size).unwrap_or_default()
    }

    /// Moves past the `size` bytes at the head of the run: a frame read in
    /// place.
    #[inline]
    pub(crate) fn advance_run(&mut self, size: usize) {
        self.run.advance(size.min(self.run.len()));
    }

    /// The next message of the run being read. A message that does not
    /// decode means the server is out of step: the connection is closed.
    fn next_in_run(&mut self) -> Result<BackendMessage, Error> {
        // A message that keeps nothing of its body (BindComplete,
        // ReadyForQuery, …) is decoded in place, without a share of the run.
        let unowned = peek_in_run(&self.run).and_then(|(tag, body, size)| {
            BackendMessage::parse_unowned(tag, body).map(|decoded| (decoded, size))
        });
        let decoded = if let Some((decoded, size)) = unowned {
            self.run.advance(size);
            decoded
        } else {
            self.next_owned()
        };
        decoded.map_err(|e| {
            self.run = Bytes::new();
            self.shared.poison(CloseReason::from(e.clone()));
            proto_error(e)
        })
    }

    /// The next message of the run, sharing the run's memory.
    fn next_owned(&mut self) -> Result<BackendMessage, crate::proto::ProtoError> {
        match next_in_run(&mut self.run) {
            Some(Frame {
                tag: tag::DATA_ROW,
                body,
            }) => DataRow::parse(body).map(BackendMessage::DataRow),
            Some(Frame {
                tag: tag::COPY_DATA,
                body,
            }) => Ok(BackendMessage::CopyData(CopyData::parse(body))),
            Some(frame) => BackendMessage::parse(frame),
            // The driver checked every frame of the run.
            None => Err(crate::proto::ProtoError::Truncated {
                message: "frame run",
            }),
        }
    }

    /// The next message as sent, ErrorResponse included.
    pub(crate) async fn message(&mut self) -> Result<BackendMessage, Error> {
        poll_fn(|cx| self.poll_message(cx)).await
    }

    /// The next message; an ErrorResponse becomes the server's error.
    #[inline]
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<BackendMessage, Error>> {
        match self.poll_message(cx) {
            Poll::Ready(message) => Poll::Ready(self.server_error(message)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The next message; an ErrorResponse becomes the server's error.
    pub(crate) async fn next(&mut self) -> Result<BackendMessage, Error> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// A reply the protocol does not allow here: the connection is out of
    /// step and is closed; the error says what came instead.
    pub(crate) fn violation(&self, message: &BackendMessage, expected: &str) -> Error {
        let error = crate::conn::client::handle::unexpected(message, expected);
        self.shared
            .poison(CloseReason::Violation(Arc::new(error.repeat())));
        error
    }

    /// Reads up to the request's final ReadyForQuery and returns its
    /// transaction status.
    pub(crate) async fn finish(&mut self) -> Result<TransactionStatus, Error> {
        loop {
            if let BackendMessage::ReadyForQuery(status) = self.message().await? {
                return Ok(status);
            }
        }
    }
}

/// The next message of a streamed request (rows, COPY data): `None` once
/// the request has ended. An error ends it too; the rest of its replies are
/// then discarded by the driver.
#[inline]
pub(crate) fn poll_stream(
    responses: &mut Option<Responses>,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<BackendMessage, Error>>> {
    let Some(current) = responses else {
        return Poll::Ready(None);
    };
    match current.poll_next(cx) {
        Poll::Ready(Ok(message)) => Poll::Ready(Some(Ok(message))),
        Poll::Ready(Err(e)) => {
            *responses = None;
            Poll::Ready(Some(Err(e)))
        }
        Poll::Pending => Poll::Pending,
    }
}

/// [`Responses::violation`] for a streamed request still open.
pub(crate) fn violation(
    responses: &Option<Responses>,
    message: &BackendMessage,
    expected: &str,
) -> Error {
    match responses {
        Some(r) => r.violation(message, expected),
        None => crate::conn::client::handle::unexpected(message, expected),
    }
}

impl Drop for Responses {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            if self.driving {
                if let Some(io) = self.shared.io() {
                    io.release(Arc::as_ptr(&slot) as usize);
                }
            }
            if slot.abandon(std::mem::take(&mut self.queue)) {
                self.shared.recycle(slot);
            }
        }
    }
}
