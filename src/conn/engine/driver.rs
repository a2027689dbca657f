//! The connection driver: the state that owns the socket.
//!
//! Owns the socket, one read buffer and the queue of requests in flight.
//! Each turn it takes every request queued in the shared write buffer (so
//! requests issued together leave in one write), writes, reads, and routes
//! each backend message to the oldest request in flight until that
//! request's last ReadyForQuery. Messages that belong to no request
//! (ParameterStatus, NoticeResponse, NotificationResponse) are handled here;
//! a ParameterStatus giving a parameter the codecs rely on a value pgline
//! cannot honour (`proto::session`) ends the connection.
//!
//! Three kinds of turn exist: the driver task's full turn
//! ([`Driver::poll_step`]: take requests, write, read, route, close), a
//! waiting caller's read-only turn ([`Driver::drive_read`]), which lets the
//! caller read its own reply without a hop through the task, and a caller's
//! write turn on an idle connection ([`Driver::write_if_idle`]); see
//! `io.rs`.
//! Socket readiness is always registered with the connection's I/O waker;
//! slots that pause reading always wake the task.
//!
//! Wakeups: with many requests in flight, a turn that leaves the socket
//! read dry sets its receive low-water mark for what the server is bound
//! to send (`low_water.rs`), and the task's turn lowers it when the stall
//! watch finds replies stuck under it.
//!
//! Flow control: when the oldest request's caller falls behind (its slot is
//! full), the driver stops reading the socket until the caller catches up,
//! so a large result is never buffered whole. A request whose caller went
//! away stays in the queue: its replies are read and thrown away. When the
//! socket fails, every request waiting is failed; none is left hanging.
//!
//! Delivery: the driver counts the bytes its write calls returned, and a
//! request it takes gets its stream position (see `slot.rs`). A request
//! failed with the connection then says whether any of its bytes were
//! written ([`Delivery`]): the difference between "certainly not executed"
//! and "outcome unknown".

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};

use bytes::{Buf, BytesMut};
use tokio::io::AsyncWrite;
use tokio::sync::watch;

use crate::conn::client::notify::Notification;
use crate::conn::engine::close_reason::{CloseReason, IoOp};
use crate::conn::engine::lifecycle::Lifecycle;
use crate::conn::engine::low_water::LowWater;
use crate::conn::engine::shared::{Counters, Shared};
use crate::conn::engine::slot::{Push, Reply, RequestKind, Slot};
use crate::conn::transport::socket::Socket;
use crate::error::Delivery;
use crate::proto::backend::tag;
use crate::proto::frame_run::{RunStep, next_in_run};
use crate::proto::session::check_parameter;
use crate::proto::{BackendMessage, FrameSplitter, TransactionStatus, frontend};

/// Room reserved for a read at first; it doubles while reads fill it (a
/// large result streaming in) up to [`READ_CHUNK_MAX`], and falls back when
/// they do not. The cap stays under glibc's mmap threshold (128 KiB): larger
/// buffers are mapped and unmapped each time, and their page faults cost
/// more than the reads they save.
const READ_CHUNK: usize = 16 * 1024;
const READ_CHUNK_MAX: usize = 64 * 1024;

/// Messages handed to a slot at once, at most.
const BATCH_MAX: usize = 512;

/// The driver's state, held by the connection's [`Io`](crate::conn::engine::io::Io).
pub(crate) struct Driver {
    socket: Socket,
    in_flight: VecDeque<Arc<Slot>>,
    read_buf: BytesMut,
    write_buf: BytesMut,
    splitter: FrameSplitter,
    shared: Arc<Shared>,
    done: watch::Sender<bool>,
    /// The current read size (adaptive).
    read_chunk: usize,
    /// Replies cut off the read buffer but not yet handed to their
    /// requests' slots.
    batch: VecDeque<Reply>,
    /// Reading is paused until the oldest request's caller catches up.
    paused: bool,
    /// The socket took every byte of `write_buf` but has not flushed them
    /// all (a TLS session holds records the kernel would not take yet):
    /// the task's next turn must flush, whoever that turn's wake came to.
    unflushed: bool,
    /// Terminate has been queued.
    terminate_sent: bool,
    /// A COPY FROM STDIN held the connection's input at the last take: the
    /// server may wait for the client.
    copy_active: bool,
    /// The socket's receive low-water mark (`low_water.rs`).
    low_water: LowWater,
    /// The driver task's waker, for slots that pause reading and for
    /// callers' turns that leave work only the task does.
    task_waker: Option<Waker>,
    /// A caller's turn found the connection broken: the task ends it.
    failed: Option<CloseReason>,
    /// Bytes written to the socket (write calls that returned), since the
    /// start: the stream position of `write_buf`'s first byte once it is
    /// taken. A request in flight reached the socket when this passed its
    /// slot's position.
    written: u64,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("in_flight", &self.in_flight.len())
            .field("read_buf", &self.read_buf.len())
            .field("write_buf", &self.write_buf.len())
            .finish_non_exhaustive()
    }
}

pub(crate) enum Exit {
    /// The client closed the connection; Terminate was sent.
    Clean,
    /// The connection failed.
    Failed(CloseReason),
}

impl Driver {
    pub(crate) fn new(
        socket: Socket,
        read_buf: BytesMut,
        splitter: FrameSplitter,
        shared: Arc<Shared>,
        done: watch::Sender<bool>,
        low_water: LowWater,
    ) -> Self {
        Self {
            socket,
            in_flight: VecDeque::new(),
            read_buf,
            write_buf: BytesMut::with_capacity(8 * 1024),
            splitter,
            shared,
            done,
            batch: VecDeque::new(),
            read_chunk: READ_CHUNK,
            paused: false,
            unflushed: false,
            terminate_sent: false,
            copy_active: false,
            low_water,
            task_waker: None,
            failed: None,
            written: 0,
        }
    }

    /// Ends the connection: records why, fails every request still waiting
    /// and tells the client handles the driver is gone.
    pub(crate) fn finish(mut self, exit: Exit) {
        let reason = match exit {
            Exit::Clean => CloseReason::ClosedByClient,
            Exit::Failed(reason) => {
                tracing::debug!(%reason, "connection closed");
                reason
            }
        };
        self.shared.close(reason);
        let in_flight = std::mem::take(&mut self.in_flight);
        // Whether bytes of a later request reached the socket: the server
        // may then have answered a request in full and gone on.
        let deliveries: Vec<Delivery> = in_flight.iter().map(|s| self.delivery(s)).collect();
        for (i, slot) in in_flight.iter().enumerate() {
            let followed = deliveries[i + 1..]
                .iter()
                .any(|d| matches!(d, Delivery::Written { .. }));
            slot.close(deliveries[i], followed);
        }
        self.done.send_replace(true);
    }

    /// How much of a request the driver holds has reached the socket.
    fn delivery(&self, slot: &Slot) -> Delivery {
        match self.written.checked_sub(slot.position()) {
            Some(bytes) if bytes > 0 => Delivery::Written { bytes },
            _ => Delivery::Unsent,
        }
    }

    /// The driver task's turn: `io` carries the connection's I/O waker,
    /// `task` the task's own. With `caller_reads`, a caller read the socket
    /// until it had nothing more and nothing has arrived since (an arrival
    /// wakes that caller and clears this): the task leaves the reading to
    /// it, so the caller finds its reply itself.
    pub(crate) fn poll_step(
        &mut self,
        io: &mut Context<'_>,
        task: &Waker,
        caller_reads: bool,
    ) -> Poll<Exit> {
        if !self.task_waker.as_ref().is_some_and(|w| w.will_wake(task)) {
            self.task_waker = Some(task.clone());
        }
        if let Some(reason) = self.failed.take() {
            return Poll::Ready(Exit::Failed(reason));
        }
        self.task_step(io, task, caller_reads)
    }

    /// A waiting caller's turn: routes what is buffered and reads until the
    /// socket has nothing more (or a slow caller pauses reading). Writing,
    /// closing and failing stay with the task, which is woken for them.
    /// Returns whether it read until the socket had nothing more (so the
    /// socket's readiness is registered).
    pub(crate) fn drive_read(&mut self, io: &mut Context<'_>) -> bool {
        let Some(task) = self.task_waker.take() else {
            // The task has not run yet: nothing was sent, nothing to read.
            return false;
        };
        let mut drained = false;
        if self.failed.is_none() {
            match self.read_and_route(io, &task) {
                Ok(done) => {
                    drained = done;
                    if done {
                        self.tune_low_water(&task);
                    }
                }
                Err(reason) => self.failed = Some(reason),
            }
        }
        if self.failed.is_some() || !self.write_buf.is_empty() {
            task.wake_by_ref();
        }
        self.task_waker = Some(task);
        drained
    }

    /// Nothing is buffered for the task to go on with: no bytes to write or
    /// flush, none read but not routed, no replies held back for a slow
    /// caller.
    #[inline]
    fn nothing_buffered(&self) -> bool {
        !self.paused && !self.unflushed && self.write_buf.is_empty() && self.read_buf.is_empty()
    }

    /// After a caller's read that found the socket empty: whether that
    /// caller alone can be woken by the next arrival. So when a task turn
    /// would find nothing to do (see [`Driver::nothing_buffered`]; no
    /// failure to report, no COPY, no stalled low-water mark, no Terminate)
    /// and nobody else waits on the connection: at most that caller's
    /// request outstanding, no notification stream taken. A caller that then
    /// stops polling holds up only itself.
    pub(crate) fn only_the_caller_waits(&self) -> bool {
        self.nothing_buffered()
            && self.failed.is_none()
            && !self.copy_active
            && !self.terminate_sent
            && !self.low_water.stalled()
            && self.shared.outstanding.load(Ordering::Relaxed) <= 1
            && !self.shared.notifications_taken()
    }

    /// A caller's write turn, taken only when the connection is idle
    /// (nothing in flight, nothing being written): the request it just
    /// queued leaves at once, before the caller returns to the scheduler.
    /// Under load the task keeps gathering requests into one write. Returns
    /// whether the queued requests were taken here (what the socket did not
    /// take yet leaves when it is writable: its readiness wakes the task);
    /// if not, the task must be woken for them.
    pub(crate) fn write_if_idle(&mut self, io: &mut Context<'_>) -> bool {
        let Some(task) = self.task_waker.take() else {
            return false;
        };
        let mut taken = false;
        if self.in_flight.is_empty()
            && self.write_buf.is_empty()
            && self.failed.is_none()
            && !self.terminate_sent
        {
            if self.take_requests(&task) != Lifecycle::Open {
                task.wake_by_ref();
            } else if let Err(reason) = self.poll_write(io) {
                self.failed = Some(reason);
                task.wake_by_ref();
            }
            taken = true;
        }
        self.task_waker = Some(task);
        taken
    }

    /// Reads and routes until the socket has nothing more (`Ok(true)`) or a
    /// slow caller pauses reading (`Ok(false)`).
    fn read_and_route(&mut self, io: &mut Context<'_>, task: &Waker) -> Result<bool, CloseReason> {
        loop {
            // With nothing read, held back or paused, routing has nothing
            // to do (the common first pass: a caller's turn starts with the
            // buffers empty).
            if self.paused || !self.read_buf.is_empty() || !self.batch.is_empty() {
                self.route_buffered(task)?;
                if self.paused {
                    return Ok(false);
                }
            }
            match self.poll_read(io) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(reason)) => return Err(reason),
                Poll::Pending => return Ok(true),
            }
        }
    }

    fn task_step(&mut self, cx: &mut Context<'_>, task: &Waker, caller_reads: bool) -> Poll<Exit> {
        loop {
            if self.low_water.stalled() {
                self.low_water
                    .lower_after_stall(&self.socket, &self.shared.counters);
            }
            let lifecycle = self.take_requests(task);
            if lifecycle.aborts() {
                return Poll::Ready(Exit::Failed(CloseReason::AbortedByClient));
            }
            // The common wake on a sequential connection: the caller read
            // the reply itself and waits for the next one, and nothing is
            // queued, buffered, held back for a slow caller (paused: a
            // caller that caught up wakes the task to go on routing), left
            // unflushed in a TLS session (the wake may have been the
            // socket's write readiness, taken by the reading caller) or
            // closing. The rest of the turn would find nothing to do.
            if caller_reads && lifecycle == Lifecycle::Open && self.nothing_buffered() {
                return Poll::Pending;
            }
            // Routing may queue bytes of its own (CopyFail), so it goes first.
            if let Err(reason) = self.route_buffered(task) {
                return Poll::Ready(Exit::Failed(reason));
            }
            if let Err(reason) = self.poll_write(cx) {
                return Poll::Ready(Exit::Failed(reason));
            }
            if self.write_buf.is_empty() && !self.shared.write().buf.is_empty() {
                // The batch went out and callers queued more meanwhile.
                continue;
            }
            // Closing: once everything queued is written, Terminate. An
            // explicit close does not wait for replies (as libpq's
            // PQfinish); when the last handle is dropped, requests whose
            // callers still listen (a stream being read) finish first.
            if lifecycle.terminates()
                && self.write_buf.is_empty()
                && self.shared.write().buf.is_empty()
                && (self.terminate_sent
                    || !lifecycle.waits_for_replies()
                    || self.in_flight.iter().all(|slot| slot.is_abandoned()))
            {
                return self.poll_terminate(cx);
            }
            if self.paused {
                return Poll::Pending;
            }
            if caller_reads {
                // The caller read the socket dry; what was just written
                // changes what is bound to arrive.
                self.tune_low_water(task);
                return Poll::Pending;
            }
            match self.poll_read(cx) {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(reason)) => return Poll::Ready(Exit::Failed(reason)),
                Poll::Pending => {
                    self.tune_low_water(task);
                    return Poll::Pending;
                }
            }
        }
    }

    /// Sets the socket's receive low-water mark for what the server is now
    /// bound to send (for every request in flight with deep-pipeline
    /// coalescing, for the oldest one's own replies with large replies),
    /// or for a large result streaming in (see `low_water.rs`); called when
    /// a read found the socket empty.
    #[inline]
    fn tune_low_water(&mut self, task: &Waker) {
        let oldest_ready_left = self.in_flight.front().map_or(0, |slot| slot.ready_left());
        let most = self.low_water.drained(
            self.in_flight.len(),
            oldest_ready_left,
            &self.shared.counters,
        );
        if self.low_water.stays_down(most) {
            return;
        }
        // Nothing is bound to arrive while the server may wait for us: bytes
        // not yet written (or flushed), a COPY taking input, or replies we
        // hold but have not handed over (their requests still count as in
        // flight).
        let floor = if self.paused
            || self.unflushed
            || self.copy_active
            || !self.write_buf.is_empty()
            || !self.batch.is_empty()
        {
            0
        } else {
            most.saturating_sub(self.read_buf.len())
        };
        self.low_water
            .tune(&self.socket, floor, task, &self.shared.counters);
    }

    /// Takes the requests queued by callers. Returns the lifecycle, which
    /// says whether and how the connection is to end.
    fn take_requests(&mut self, task: &Waker) -> Lifecycle {
        let mut w = self.shared.write();
        // Double buffering: callers fill one buffer while the driver writes
        // the other. New bytes are taken only once the previous batch is
        // fully written, so the callers' buffer bound is the connection's.
        let taken = !w.buf.is_empty() && self.write_buf.is_empty();
        if taken {
            // Swap buffers: the callers' bytes become ours without a copy,
            // and our spent buffer becomes theirs.
            std::mem::swap(&mut self.write_buf, &mut w.buf);
            // `write_buf` was empty: its first byte is the next one the
            // socket takes, so offsets in it become stream positions.
            while let Some(slot) = w.queued.pop_front() {
                slot.shift_position(self.written);
                self.in_flight.push_back(slot);
            }
            Counters::raise(
                &self.shared.counters.max_in_flight,
                self.in_flight.len() as u64,
            );
        }
        if !w.driver_waker.as_ref().is_some_and(|d| d.will_wake(task)) {
            w.driver_waker = Some(task.clone());
        }
        self.copy_active = w.copy_active;
        let lifecycle = w.lifecycle;
        drop(w);
        if taken {
            // After the lock: the callers it wakes take it to look.
            self.shared.room_made();
        }
        lifecycle
    }

    fn poll_write(&mut self, cx: &mut Context<'_>) -> Result<(), CloseReason> {
        while !self.write_buf.is_empty() {
            match Pin::new(&mut self.socket).poll_write(cx, &self.write_buf) {
                Poll::Ready(Ok(0)) => return Err(CloseReason::PeerClosed),
                Poll::Ready(Ok(n)) => {
                    self.write_buf.advance(n);
                    self.written += n as u64;
                    let counters = &self.shared.counters;
                    Counters::add(&counters.socket_writes, 1);
                    Counters::add(&counters.bytes_written, n as u64);
                }
                Poll::Ready(Err(e)) => return Err(CloseReason::io(IoOp::Write, e)),
                Poll::Pending => return Ok(()),
            }
        }
        match Pin::new(&mut self.socket).poll_flush(cx) {
            Poll::Ready(Err(e)) => Err(CloseReason::io(IoOp::Flush, e)),
            Poll::Ready(Ok(())) => {
                self.unflushed = false;
                Ok(())
            }
            Poll::Pending => {
                self.unflushed = true;
                Ok(())
            }
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CloseReason>> {
        if self.read_buf.capacity() - self.read_buf.len() < self.read_chunk / 4 {
            self.read_buf.reserve(self.read_chunk);
        }
        let room = self.read_buf.capacity() - self.read_buf.len();
        match tokio_util::io::poll_read_buf(Pin::new(&mut self.socket), cx, &mut self.read_buf) {
            Poll::Ready(Ok(0)) => Poll::Ready(Err(CloseReason::PeerClosed)),
            Poll::Ready(Ok(n)) => {
                let counters = &self.shared.counters;
                Counters::add(&counters.socket_reads, 1);
                Counters::add(&counters.bytes_read, n as u64);
                self.read_chunk = if n == room {
                    (self.read_chunk * 2).min(READ_CHUNK_MAX)
                } else if n < room / 8 {
                    READ_CHUNK
                } else {
                    self.read_chunk
                };
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(CloseReason::io(IoOp::Read, e))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Routes the complete messages in the read buffer, stopping when the
    /// oldest request's caller is behind.
    fn route_buffered(&mut self, task: &Waker) -> Result<(), CloseReason> {
        if self.paused {
            match self.in_flight.front() {
                Some(slot) if slot.still_full(task) => return Ok(()),
                _ => self.paused = false,
            }
        }
        if self.flush(task)? == Push::Full {
            self.paused = true;
            return Ok(());
        }
        loop {
            // Cut every frame up to the next one the driver must look at
            // itself, or up to a ReadyForQuery (which ends a request), in one
            // piece: the frames are checked here, decoded by the caller.
            let mut status = None;
            let run = self
                .splitter
                .run_while(&self.read_buf, |frame_tag, body| match frame_tag {
                    tag::PARAMETER_STATUS
                    | tag::NOTICE_RESPONSE
                    | tag::NOTIFICATION_RESPONSE
                    | tag::COPY_IN_RESPONSE => RunStep::Stop,
                    tag::COMMAND_COMPLETE
                        if matches!(body, b"DISCARD ALL\0" | b"DEALLOCATE ALL\0") =>
                    {
                        RunStep::Stop
                    }
                    // The one place a ReadyForQuery's status is recorded: a
                    // Z that does not decode stops the run, and `parse`
                    // below reports it.
                    tag::READY_FOR_QUERY => match TransactionStatus::parse(body) {
                        Ok(s) => {
                            status = Some(s);
                            RunStep::TakeLast
                        }
                        Err(_) => RunStep::Stop,
                    },
                    _ => RunStep::Take,
                })
                .map_err(CloseReason::from)?;
            if run.frames > 0 {
                if let Some(status) = status {
                    self.shared.set_transaction_status(status);
                    self.low_water.reply_ended();
                }
                let bytes = self.read_buf.split_to(run.len).freeze();
                self.batch.push_back(Reply::Frames {
                    frames: run.frames,
                    ready: status.is_some(),
                    bytes,
                });
                if self.batch.len() >= BATCH_MAX && self.flush(task)? == Push::Full {
                    self.paused = true;
                    return Ok(());
                }
                continue;
            }
            if self.read_buf.is_empty() {
                break;
            }
            // A frame the driver handles itself, an incomplete one, or an
            // invalid one (which `split` and `parse` report).
            let frame = match self.splitter.split(&mut self.read_buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => return Err(e.into()),
            };
            let message = BackendMessage::parse(frame)?;
            self.route(message, task)?;
            if self.batch.len() >= BATCH_MAX && self.flush(task)? == Push::Full {
                self.paused = true;
                return Ok(());
            }
        }
        if self.flush(task)? == Push::Full {
            self.paused = true;
        }
        Ok(())
    }

    /// Hands the batched messages to their requests, oldest first.
    #[inline]
    fn flush(&mut self, task: &Waker) -> Result<Push, CloseReason> {
        // Checked here, inline: most calls find nothing batched, and the
        // hand-over's own frame is large.
        if self.batch.is_empty() {
            return Ok(Push::Accepted);
        }
        self.flush_batch(task)
    }

    fn flush_batch(&mut self, task: &Waker) -> Result<Push, CloseReason> {
        while !self.batch.is_empty() {
            let Some(slot) = self.in_flight.front() else {
                return Err(unrequested(self.batch.pop_front()));
            };
            let (done, push, wake) = slot.push_batch(&mut self.batch, task)?;
            if done {
                self.in_flight.pop_front();
                self.shared.outstanding.fetch_sub(1, Ordering::AcqRel);
            }
            if let Some(caller) = wake {
                caller.wake();
            }
            if push == Push::Full {
                return Ok(Push::Full);
            }
        }
        Ok(Push::Accepted)
    }

    fn route(&mut self, message: BackendMessage, task: &Waker) -> Result<(), CloseReason> {
        match message {
            BackendMessage::ParameterStatus(status) => {
                let (name, value) = (status.name(), status.value());
                self.shared.set_parameter(name, value);
                if let Err(cause) = check_parameter(name, value) {
                    // What arrived before it is the replies of requests the
                    // server answered under the old value: theirs to keep.
                    self.flush(task)?;
                    tracing::debug!(%cause, "session parameter cannot be honoured");
                    return Err(CloseReason::Parameter(Box::new(cause)));
                }
                return Ok(());
            }
            BackendMessage::NoticeResponse(fields) => {
                self.shared.notice(&fields.to_db_error());
                return Ok(());
            }
            BackendMessage::NotificationResponse(n) => {
                self.shared.notify(Notification::new(
                    n.process_id(),
                    n.channel().to_owned(),
                    n.payload().to_owned(),
                ));
                return Ok(());
            }
            BackendMessage::CopyInResponse(_) => {
                // The decision depends on the request this message is for:
                // deliver what precedes it first, so that is the front one.
                self.flush(task)?;
                let slot = self.in_flight.front().ok_or(CloseReason::Unrequested {
                    message: "CopyInResponse",
                })?;
                if slot.kind() != RequestKind::Copy {
                    // No request of this kind streams COPY data: refuse at
                    // once, or the server would wait for data forever and
                    // every later request would hang. The server ignores
                    // Sync in copy-in mode, so an extended request's own
                    // Sync was spent: send another for the error to end
                    // with a ReadyForQuery.
                    frontend::copy_fail(
                        &mut self.write_buf,
                        "COPY FROM STDIN is not supported by this call",
                    )?;
                    if slot.kind() == RequestKind::Extended {
                        frontend::sync(&mut self.write_buf);
                    }
                }
            }
            BackendMessage::CommandComplete(ref c)
                if matches!(c.tag_bytes(), b"DISCARD ALL" | b"DEALLOCATE ALL") =>
            {
                // The server dropped every prepared statement.
                self.shared
                    .statements
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clear();
            }
            _ => {}
        }
        self.batch.push_back(Reply::Message(message));
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

/// Why the connection ends when the server sends something no request
/// waits for: an ErrorResponse (the server is ending the session, e.g. an
/// administrator's terminate), or a protocol error naming the message.
fn unrequested(reply: Option<Reply>) -> CloseReason {
    let message = match reply {
        Some(Reply::Message(message)) => Some(message),
        Some(Reply::Frames { mut bytes, .. }) => {
            next_in_run(&mut bytes).and_then(|frame| BackendMessage::parse(frame).ok())
        }
        None => None,
    };
    match message {
        Some(BackendMessage::ErrorResponse(fields)) => {
            CloseReason::ServerEnded(Box::new(fields.to_db_error()))
        }
        other => CloseReason::Unrequested {
            message: other.as_ref().map_or("a message", BackendMessage::name),
        },
    }
}

#[cfg(test)]
impl Driver {
    /// Tests: the connection's shared state.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

#[cfg(test)]
/// Tests: a driver over one end of a loopback TCP pair (the other end is
/// returned so the socket stays open).
pub(crate) async fn loopback_driver() -> (Driver, tokio::net::TcpStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
    let shared = Arc::new(Shared::new(
        Vec::new(),
        TransactionStatus::Idle,
        crate::conn::engine::shared::Limits {
            max_in_flight: 16,
            max_write_buffer: 1 << 20,
            statement_cache_capacity: 16,
        },
    ));
    let (done, _) = watch::channel(false);
    let socket = Socket::Tcp(client.unwrap());
    let low_water = LowWater::new(&socket, true, true);
    let driver = Driver::new(
        socket,
        BytesMut::new(),
        FrameSplitter::new(crate::proto::frame::DEFAULT_MAX_MESSAGE_LEN),
        shared,
        done,
        low_water,
    );
    (driver, accepted.unwrap().0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request in flight whose whole reply (BindComplete, ReadyForQuery)
    /// sits in the driver's batch, not yet handed to its slot.
    fn answered_request(driver: &mut Driver) -> Arc<Slot> {
        let slot = driver.shared.slot(1, None, RequestKind::Extended).0;
        driver.in_flight.push_back(slot.clone());
        driver
            .batch
            .push_back(Reply::Message(BackendMessage::BindComplete));
        driver
            .batch
            .push_back(Reply::Message(BackendMessage::ReadyForQuery(
                TransactionStatus::Idle,
            )));
        slot
    }

    /// A TLS session can hold records after the write buffer has gone to
    /// it; the task's turn must flush them even when a caller reads the
    /// socket for itself (the writable wake may have gone to that caller).
    #[tokio::test]
    async fn a_turn_left_to_a_reading_caller_still_flushes() {
        let (mut driver, _peer) = loopback_driver().await;
        let mut io = Context::from_waker(Waker::noop());
        driver.unflushed = true;
        assert!(driver.poll_step(&mut io, Waker::noop(), true).is_pending());
        assert!(!driver.unflushed, "the turn returned without flushing");
    }

    /// Replies held back while the oldest caller was behind (paused) are
    /// handed over by the next turn once it has caught up, even when a
    /// caller reads the socket for itself and the read buffer is empty.
    #[tokio::test]
    async fn a_turn_left_to_a_reading_caller_hands_over_held_replies() {
        let (mut driver, _peer) = loopback_driver().await;
        let slot = answered_request(&mut driver);
        driver.paused = true;
        let mut io = Context::from_waker(Waker::noop());
        assert!(driver.poll_step(&mut io, Waker::noop(), true).is_pending());
        let mut queue = slot.take_queue();
        assert!(
            matches!(
                slot.peek_pop(&mut queue),
                Poll::Ready(crate::conn::engine::slot::Pop::Reply(_))
            ),
            "the held replies were not handed over"
        );
        assert!(driver.in_flight.is_empty() && !driver.paused);
    }

    /// A caller woken by its request's last reply finds the request counted
    /// as answered (`Client::pending_requests`): the pool checks that count
    /// right after a reset's reply to decide whether the connection is
    /// clean, and a caller on another thread can run before the driver's
    /// turn ends.
    #[tokio::test]
    async fn a_caller_woken_by_its_last_reply_sees_the_request_answered() {
        use std::sync::atomic::AtomicUsize;
        struct Seen {
            shared: Arc<Shared>,
            outstanding: AtomicUsize,
        }
        impl std::task::Wake for Seen {
            fn wake(self: Arc<Self>) {
                let now = self.shared.outstanding.load(Ordering::Acquire);
                self.outstanding.store(now, Ordering::Release);
            }
        }
        let (mut driver, _peer) = loopback_driver().await;
        let slot = answered_request(&mut driver);
        driver.shared.outstanding.fetch_add(1, Ordering::AcqRel);
        let seen = Arc::new(Seen {
            shared: driver.shared.clone(),
            outstanding: AtomicUsize::new(usize::MAX),
        });
        let caller = Waker::from(seen.clone());
        let mut queue = slot.take_queue();
        assert!(
            slot.poll_pop(&mut queue, &mut Context::from_waker(&caller))
                .is_pending()
        );
        driver.route_buffered(Waker::noop()).unwrap();
        assert_eq!(
            seen.outstanding.load(Ordering::Acquire),
            0,
            "the caller was woken before its request was counted as answered"
        );
    }

    /// The record of how much of each request reached the socket when the
    /// connection fails: whole, in part, or not at all (taken by the
    /// driver but behind bytes the socket would not take, or never taken).
    #[tokio::test]
    async fn a_failed_connection_says_how_much_of_each_request_was_written() {
        use crate::conn::engine::slot::Pop;
        use crate::error::Delivery;
        let (mut driver, _peer) = loopback_driver().await;
        let shared = driver.shared.clone();
        let queue = |bytes: usize| {
            let slot = shared.slot(1, None, RequestKind::Simple).0;
            shared
                .submit(Some(slot.clone()), |buf| {
                    buf.extend_from_slice(&vec![b'x'; bytes]);
                    Ok::<_, ()>(())
                })
                .unwrap();
            slot
        };
        // The peer reads nothing: the socket takes a few MiB of the 64.
        let small = queue(100);
        let large = queue(64 << 20);
        let behind = queue(100);
        let mut io = Context::from_waker(Waker::noop());
        assert!(driver.poll_step(&mut io, Waker::noop(), false).is_pending());
        let never_taken = queue(100);
        let written = driver.written;
        assert!(written > 100 && written < 100 + (64 << 20), "{written}");
        driver.finish(Exit::Failed(CloseReason::PeerClosed));

        let delivery = |slot: &Arc<Slot>| match slot.peek_pop(&mut slot.take_queue()) {
            Poll::Ready(Pop::Closed(cut)) => cut.delivery,
            other => panic!("{other:?}"),
        };
        assert_eq!(delivery(&small), Delivery::Written { bytes: written });
        assert_eq!(
            delivery(&large),
            Delivery::Written {
                bytes: written - 100
            }
        );
        assert_eq!(delivery(&behind), Delivery::Unsent);
        assert_eq!(delivery(&never_taken), Delivery::Unsent);
        // Whether a later request's bytes reached the socket too: the
        // server may then have finished the earlier one.
        let followed = |slot: &Arc<Slot>| match slot.peek_pop(&mut slot.take_queue()) {
            Poll::Ready(Pop::Closed(cut)) => cut.followed,
            other => panic!("{other:?}"),
        };
        assert!(followed(&small));
        assert!(!followed(&large) && !followed(&behind) && !followed(&never_taken));
        // Only the first was queued with nothing unanswered ahead of it: the
        // last ReadyForQuery (idle) says it ran outside a block.
        use crate::error::Scope;
        assert_eq!(small.scope(), Scope::Autocommit);
        for later in [&large, &behind, &never_taken] {
            assert_eq!(later.scope(), Scope::Unknown);
        }
        // Refused once closed: nothing of it was written either.
        let refused = shared.submit(Some(shared.slot(1, None, RequestKind::Simple).0), |_| {
            Ok::<_, ()>(())
        });
        match refused {
            Err(Err(e)) => {
                assert_eq!(e.kind(), crate::error::ErrorKind::Closed, "{e:?}");
                assert_eq!(e.delivery(), Some(Delivery::Unsent), "{e:?}");
                assert_eq!(e.retry_class(), crate::error::RetryClass::NotExecuted);
            }
            other => panic!("{other:?}"),
        }
        assert!(!Delivery::Written { bytes: 100 }.reached(100));
        assert!(Delivery::Written { bytes: 101 }.reached(100));
    }

    /// With nothing to write, route or flush, a turn the caller reads for
    /// ends early and leaves the connection as it was.
    #[tokio::test]
    async fn an_idle_turn_left_to_a_reading_caller_reads_nothing() {
        let (mut driver, _peer) = loopback_driver().await;
        let mut io = Context::from_waker(Waker::noop());
        assert!(driver.poll_step(&mut io, Waker::noop(), true).is_pending());
        let reads = driver.shared.counters.socket_reads.load(Ordering::Relaxed);
        assert_eq!(reads, 0, "a turn left to the caller read the socket");
        assert!(driver.write_buf.is_empty() && driver.in_flight.is_empty());
    }
}
