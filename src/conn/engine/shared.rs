//! State shared by the driver task and every client handle of a connection.
//!
//! Owns the write side of the pipeline: callers encode their messages
//! straight into one shared write buffer (under a short lock), each with a
//! response [`Slot`] queued in the same order, so requests issued together
//! leave in one write and their replies are routed back in order. Also owns
//! what the server reports outside any request: parameter statuses, the
//! transaction status, notifications and notices; and the reason the
//! connection closed.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::task::Waker;

use bytes::BytesMut;
use tokio::sync::{Notify, Semaphore, mpsc};

use crate::conn::client::notify::Notification;
use crate::conn::client::stmt_cache::{StatementCache, statement_prefix};
use crate::conn::engine::close_reason::CloseReason;
use crate::conn::engine::gate::{Gate, Pass, Waiting};
use crate::conn::engine::io::Io;
use crate::conn::engine::lifecycle::Lifecycle;
use crate::conn::engine::role_cell::RoleCell;
use crate::conn::engine::slot::{Reply, RequestKind, Slot};
use crate::conn::engine::sync;
use crate::error::{DbError, Delivery, Ended, Error, ErrorKind, Scope};
use crate::proto::{ProtoError, TransactionStatus, frontend};

/// A callback for server notices (NoticeResponse).
pub(crate) type NoticeHandler = Arc<dyn Fn(&DbError) + Send + Sync>;

/// Notifications a connection holds until they are read, whether or not
/// the stream was taken (see [`Notifications`](crate::Notifications)).
pub(crate) const NOTIFICATION_BUFFER: usize = 8192;

/// Slots kept for reuse, so a steady stream of requests allocates none.
const SLOT_POOL_SIZE: usize = 64;

/// Counters of one connection's traffic, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConnectionStats {
    /// Requests queued (each ends with its own Sync or Query).
    pub requests: u64,
    /// Successful write calls on the socket: requests issued together share
    /// one, which is what pipelining saves.
    pub socket_writes: u64,
    /// Successful read calls on the socket.
    pub socket_reads: u64,
    /// Bytes written to the socket.
    pub bytes_written: u64,
    /// Bytes read from the socket.
    pub bytes_read: u64,
    /// The most requests that were in flight at once.
    pub max_in_flight: u64,
    /// Times the socket's receive low-water mark was raised, so that the
    /// kernel wakes the connection once for several replies or once per
    /// 64 KiB of a large result, instead of once per server write
    /// (`Config::coalesce_replies`, `Config::coalesce_large_results`).
    pub low_water_raises: u64,
    /// Times bytes waited under a raised mark for a whole tick of the
    /// stall watch (1 to 2 ms) and the mark was lowered to let them in: a
    /// request in flight waited for something outside the connection, or a
    /// large result ended (or paused) with less than a mark's worth to come.
    pub low_water_stalls: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) socket_writes: AtomicU64,
    pub(crate) socket_reads: AtomicU64,
    pub(crate) bytes_written: AtomicU64,
    pub(crate) bytes_read: AtomicU64,
    pub(crate) max_in_flight: AtomicU64,
    pub(crate) low_water_raises: AtomicU64,
    pub(crate) low_water_stalls: AtomicU64,
}

impl Counters {
    /// Adds `n` to a counter. Every counter has one writer at a time (the
    /// driver's counters change under the driver's lock, `requests` under
    /// the shared write lock), so a plain load and store suffice: no
    /// read-modify-write, which costs a locked instruction per request.
    /// Readers elsewhere (metrics, the stall watch) see some recent value.
    #[inline]
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.store(
            counter.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Raises a counter to `value` if it is lower (one writer at a time,
    /// as for [`Counters::add`]).
    #[inline]
    pub(crate) fn raise(counter: &AtomicU64, value: u64) {
        if value > counter.load(Ordering::Relaxed) {
            counter.store(value, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> ConnectionStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ConnectionStats {
            requests: get(&self.requests),
            socket_writes: get(&self.socket_writes),
            socket_reads: get(&self.socket_reads),
            bytes_written: get(&self.bytes_written),
            bytes_read: get(&self.bytes_read),
            max_in_flight: get(&self.max_in_flight),
            low_water_raises: get(&self.low_water_raises),
            low_water_stalls: get(&self.low_water_stalls),
        }
    }
}

/// Releases the write state and wakes the driver task to take what was
/// queued (the waker is taken under the lock and woken after it).
#[inline]
fn wake_driver_after(mut w: MutexGuard<'_, WriteState>) {
    let waker = w.driver_waker.take();
    drop(w);
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// The queue of encoded requests not yet taken by the driver.
#[derive(Debug, Default)]
pub(crate) struct WriteState {
    pub(crate) buf: BytesMut,
    pub(crate) queued: VecDeque<Arc<Slot>>,
    /// Statements to close, riding along with the next request.
    pub(crate) pending_close: Vec<String>,
    pub(crate) driver_waker: Option<Waker>,
    /// Whether requests are accepted and how the connection is to end.
    pub(crate) lifecycle: Lifecycle,
    /// A COPY FROM STDIN owns the connection's input: the server takes
    /// nothing but copy data until it ends, so other requests wait in
    /// `deferred` (in order) and follow CopyDone/CopyFail.
    pub(crate) copy_active: bool,
    pub(crate) deferred: BytesMut,
    pub(crate) deferred_slots: VecDeque<Arc<Slot>>,
}

/// The shared state.
pub(crate) struct Shared {
    write: Mutex<WriteState>,
    /// Woken when the driver takes the write buffer (callers waiting for room).
    write_room: Notify,
    /// Callers waiting on `write_room`: the driver wakes them only when
    /// there are some.
    room_waiters: sync::AtomicUsize,
    pub(crate) max_write_buffer: usize,
    /// Bounds the requests in flight.
    pub(crate) in_flight: Arc<Gate>,
    /// One COPY FROM STDIN at a time.
    pub(crate) copy_lock: Arc<Semaphore>,
    slot_pool: Mutex<Vec<Arc<Slot>>>,
    parameters: Mutex<Vec<(String, String)>>,
    /// The role parameters among `parameters`, readable without the lock.
    pub(crate) role: RoleCell,
    transaction_status: AtomicU8,
    closed_reason: Mutex<Option<CloseReason>>,
    pub(crate) statements: Mutex<StatementCache>,
    /// The start of this connection's statement names (random per connection,
    /// see `stmt_cache`), for the cache's and for explicitly prepared ones.
    pub(crate) statement_prefix: String,
    /// Bounded at [`NOTIFICATION_BUFFER`]: see `notify` for the overflow
    /// policy.
    notifications_tx: Mutex<Option<mpsc::Sender<Notification>>>,
    notifications_rx: Mutex<Option<mpsc::Receiver<Notification>>>,
    /// Notifications dropped because the buffer was full.
    notifications_dropped: Arc<AtomicU64>,
    /// The notification stream was taken: someone listens besides the
    /// callers waiting for replies.
    notifications_taken: AtomicBool,
    notice_handler: Mutex<Option<NoticeHandler>>,
    /// Shared with the stall watch, which reads `socket_reads`.
    pub(crate) counters: Arc<Counters>,
    /// Requests queued or in flight whose replies have not all arrived.
    pub(crate) outstanding: AtomicUsize,
    /// Requests were unanswered when the connection closed: the last
    /// ReadyForQuery's status may not be the session's last state.
    closed_mid_request: AtomicBool,
    /// The driver, for callers that read their own replies. Weak: the
    /// driver task owns it, so a runtime that drops the task closes the
    /// socket.
    io: OnceLock<Weak<Io>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("transaction_status", &self.transaction_status())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Settings the shared state is built from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_in_flight: usize,
    pub(crate) max_write_buffer: usize,
    pub(crate) statement_cache_capacity: usize,
}

impl Shared {
    pub(crate) fn new(
        parameters: Vec<(String, String)>,
        status: TransactionStatus,
        limits: Limits,
    ) -> Self {
        let (notifications_tx, notifications_rx) = mpsc::channel(NOTIFICATION_BUFFER);
        // Without a random source, names fall back to a fixed tag: still unique
        // within the connection, only not across clients of a shared session.
        let statement_prefix = statement_prefix(getrandom::u64().unwrap_or(0));
        Self {
            write: Mutex::new(WriteState::default()),
            write_room: Notify::new(),
            room_waiters: sync::AtomicUsize::new(0),
            max_write_buffer: limits.max_write_buffer,
            in_flight: Gate::new(limits.max_in_flight),
            copy_lock: Arc::new(Semaphore::new(1)),
            slot_pool: Mutex::new(Vec::new()),
            role: RoleCell::from_parameters(parameters.iter().map(|(n, v)| (&**n, &**v))),
            parameters: Mutex::new(parameters),
            transaction_status: AtomicU8::new(status.as_byte()),
            closed_reason: Mutex::new(None),
            statements: Mutex::new(StatementCache::new(
                limits.statement_cache_capacity,
                statement_prefix.clone(),
            )),
            statement_prefix,
            notifications_tx: Mutex::new(Some(notifications_tx)),
            notifications_rx: Mutex::new(Some(notifications_rx)),
            notifications_dropped: Arc::default(),
            notifications_taken: AtomicBool::new(false),
            notice_handler: Mutex::new(None),
            counters: Arc::default(),
            outstanding: AtomicUsize::new(0),
            closed_mid_request: AtomicBool::new(false),
            io: OnceLock::new(),
        }
    }

    /// Attaches the driver (once, when the connection starts).
    pub(crate) fn set_io(&self, io: &Arc<Io>) {
        let _ = self.io.set(Arc::downgrade(io));
    }

    /// The driver, while it runs.
    pub(crate) fn io(&self) -> Option<Arc<Io>> {
        self.io.get().and_then(Weak::upgrade)
    }

    pub(crate) fn write(&self) -> MutexGuard<'_, WriteState> {
        lock(&self.write)
    }

    /// A slot for a new request, reused when one is free, with the queue
    /// its caller reads replies into (see [`Responses::new`]).
    ///
    /// [`Responses::new`]: crate::conn::engine::responses::Responses::new
    pub(crate) fn slot(
        &self,
        ready: usize,
        permit: Option<Pass>,
        kind: RequestKind,
    ) -> (Arc<Slot>, VecDeque<Reply>) {
        let mut slot = lock(&self.slot_pool).pop().unwrap_or_default();
        let queue = Slot::reset(&mut slot, ready, permit, kind);
        (slot, queue)
    }

    /// Returns a slot nobody else holds to the pool.
    pub(crate) fn recycle(&self, slot: Arc<Slot>) {
        if Arc::strong_count(&slot) == 1 {
            let mut pool = lock(&self.slot_pool);
            if pool.len() < SLOT_POOL_SIZE {
                pool.push(slot);
            }
        }
    }

    /// Queues an encoded request: `encode` appends its messages to the write
    /// buffer (after any pending Close of evicted statements). On an encode
    /// error nothing is queued and the buffer is left as it was. The caller
    /// then writes it itself or wakes the driver ([`Shared::wake_driver`]).
    pub(crate) fn submit<E>(
        &self,
        slot: Option<Arc<Slot>>,
        encode: impl FnOnce(&mut BytesMut) -> Result<(), E>,
    ) -> Result<(), Result<E, Error>> {
        self.submit_locked(self.write(), slot, encode)
    }

    /// [`Shared::submit`] once the write buffer is under the connection's
    /// bound (as [`Shared::wait_for_room`]). The room is checked under the
    /// lock the request is queued under, so a request that finds room takes
    /// the lock once.
    pub(crate) async fn submit_with_room<E>(
        &self,
        slot: Option<Arc<Slot>>,
        encode: impl FnOnce(&mut BytesMut) -> Result<(), E>,
    ) -> Result<(), Result<E, Error>> {
        loop {
            {
                let w = self.write();
                if self.has_room(&w, usize::MAX) {
                    return self.submit_locked(w, slot, encode);
                }
            }
            self.wait_for_room(usize::MAX).await;
        }
    }

    fn submit_locked<E>(
        &self,
        mut w: MutexGuard<'_, WriteState>,
        slot: Option<Arc<Slot>>,
        encode: impl FnOnce(&mut BytesMut) -> Result<(), E>,
    ) -> Result<(), Result<E, Error>> {
        if !w.lifecycle.accepts_requests() {
            return Err(Err(self.refused_error()));
        }
        let ws = &mut *w;
        let deferred = ws.copy_active;
        let buf = if deferred {
            &mut ws.deferred
        } else {
            &mut ws.buf
        };
        let start = buf.len();
        // Close replies are routed to the request they ride with, so only a
        // request that waits for replies carries them.
        let closes = if slot.is_some() {
            std::mem::take(&mut ws.pending_close)
        } else {
            Vec::new()
        };
        for name in &closes {
            if let Err(e) = frontend::close(buf, frontend::Target::Statement, name) {
                buf.truncate(start);
                ws.pending_close = closes;
                return Err(Err(proto_error(e)));
            }
        }
        let first_byte = buf.len();
        if let Err(e) = encode(buf) {
            buf.truncate(start);
            ws.pending_close = closes;
            return Err(Ok(e));
        }
        if let Some(slot) = slot {
            // The request's own bytes start after the Closes riding along:
            // those have no effect a caller could see.
            slot.set_position(first_byte as u64);
            slot.set_scope(self.scope_of_next());
            if deferred {
                ws.deferred_slots.push_back(slot);
            } else {
                ws.queued.push_back(slot);
            }
            Counters::add(&self.counters.requests, 1);
            self.outstanding.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Wakes the driver task to take what callers queued. [`Shared::submit`]
    /// leaves this to its caller, which first tries to write its request
    /// itself (`Io::write_if_idle`): waking the task for a request it then
    /// finds already written costs a turn of the scheduler per query, and
    /// on a multi-thread runtime a thread's wake.
    pub(crate) fn wake_driver(&self) {
        wake_driver_after(self.write());
    }

    /// Queues the Query of a COPY FROM STDIN and gives the connection's input
    /// to it: later requests are deferred until [`Shared::copy_end`].
    pub(crate) fn copy_start(&self, slot: Arc<Slot>, sql: &str) -> Result<(), Error> {
        let mut w = self.write();
        if !w.lifecycle.accepts_requests() {
            return Err(self.refused_error());
        }
        let first_byte = w.buf.len();
        frontend::query(&mut w.buf, sql).map_err(input_error)?;
        slot.set_position(first_byte as u64);
        w.queued.push_back(slot);
        w.copy_active = true;
        Counters::add(&self.counters.requests, 1);
        self.outstanding.fetch_add(1, Ordering::AcqRel);
        wake_driver_after(w);
        Ok(())
    }

    /// Appends copy data (or anything else the COPY owner writes).
    pub(crate) fn copy_append(
        &self,
        write: impl FnOnce(&mut BytesMut) -> Result<(), ProtoError>,
    ) -> Result<(), Error> {
        let mut w = self.write();
        if !w.lifecycle.takes_bytes() {
            return Err(self.closed_error());
        }
        write(&mut w.buf).map_err(input_error)?;
        wake_driver_after(w);
        Ok(())
    }

    /// Ends the COPY's hold on the input: `last` writes its final message
    /// (CopyDone or CopyFail, or nothing), then the deferred requests follow.
    pub(crate) fn copy_end(&self, last: impl FnOnce(&mut BytesMut)) {
        let mut w = self.write();
        if !w.copy_active {
            return;
        }
        last(&mut w.buf);
        w.copy_active = false;
        let deferred = std::mem::take(&mut w.deferred);
        let base = w.buf.len() as u64;
        w.buf.extend_from_slice(&deferred);
        let slots = std::mem::take(&mut w.deferred_slots);
        for slot in &slots {
            slot.shift_position(base);
        }
        w.queued.extend(slots);
        wake_driver_after(w);
    }

    /// Waits until the write buffer holds fewer than `limit` bytes (and
    /// fewer than the connection's bound), or the connection is closed.
    pub(crate) async fn wait_for_room(&self, limit: usize) {
        if self.room_or_closed(limit) {
            return;
        }
        loop {
            // Created before the check: a buffer taken after it still wakes
            // this caller.
            let room = self.write_room.notified();
            let _waiting = Waiting::enter(&self.room_waiters);
            if self.room_or_closed(limit) {
                return;
            }
            room.await;
        }
    }

    fn room_or_closed(&self, limit: usize) -> bool {
        self.has_room(&self.write(), limit)
    }

    /// Whether a writer may go on: the buffer holds fewer than `limit`
    /// bytes (and fewer than the connection's bound), or it takes no more
    /// bytes at all (closed: the writer then learns why).
    fn has_room(&self, w: &WriteState, limit: usize) -> bool {
        !w.lifecycle.takes_bytes() || w.buf.len() < limit.min(self.max_write_buffer)
    }

    /// The driver took the write buffer: wakes the callers waiting for room.
    pub(crate) fn room_made(&self) {
        if self.room_waiters.load(Ordering::SeqCst) > 0 {
            self.write_room.notify_waiters();
        }
    }

    /// Asks for statements to be closed with the next request.
    pub(crate) fn close_statement_later(&self, name: String) {
        self.write().pending_close.push(name);
    }

    pub(crate) fn parameter(&self, name: &str) -> Option<String> {
        lock(&self.parameters)
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    pub(crate) fn set_parameter(&self, name: &str, value: &str) {
        self.role.observe(name, value);
        let mut params = lock(&self.parameters);
        match params.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.to_owned(),
            None => params.push((name.to_owned(), value.to_owned())),
        }
    }

    pub(crate) fn transaction_status(&self) -> TransactionStatus {
        // Only `set_transaction_status` stores, and only a status's byte.
        TransactionStatus::from_byte(self.transaction_status.load(Ordering::Acquire))
            .unwrap_or(TransactionStatus::Idle)
    }

    pub(crate) fn set_transaction_status(&self, status: TransactionStatus) {
        self.transaction_status
            .store(status.as_byte(), Ordering::Release);
    }

    /// Takes the notification stream's receiver (once), with the counter
    /// of notifications dropped on overflow.
    pub(crate) fn take_notifications(
        &self,
    ) -> Option<(mpsc::Receiver<Notification>, Arc<AtomicU64>)> {
        let rx = lock(&self.notifications_rx).take();
        if rx.is_some() {
            self.notifications_taken.store(true, Ordering::Relaxed);
        }
        rx.map(|rx| (rx, self.notifications_dropped.clone()))
    }

    /// Whether the notification stream was taken.
    pub(crate) fn notifications_taken(&self) -> bool {
        self.notifications_taken.load(Ordering::Relaxed)
    }

    pub(crate) fn notify(&self, notification: Notification) {
        // Overflow policy: a full buffer drops the newest notification and
        // counts it. Waiting for the reader instead would stall every reply
        // on the connection behind a slow listener. A dropped stream means
        // nobody listens: nothing is counted then.
        let sent = match lock(&self.notifications_tx).as_ref() {
            Some(tx) => tx.try_send(notification),
            None => return,
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = sent {
            self.notifications_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn notice(&self, notice: &DbError) {
        let handler = lock(&self.notice_handler).clone();
        match handler {
            Some(handler) => handler(notice),
            None => tracing::info!(
                target: "pgline::notice",
                code = %notice.code(),
                severity = notice.severity_localized(),
                "{}",
                notice.message()
            ),
        }
    }

    pub(crate) fn set_notice_handler(&self, handler: Option<NoticeHandler>) {
        *lock(&self.notice_handler) = handler;
    }

    /// Records why the connection closed (the first reason wins) and refuses
    /// further requests.
    pub(crate) fn close(&self, reason: CloseReason) {
        lock(&self.closed_reason).get_or_insert(reason);
        // Ends the notification stream.
        lock(&self.notifications_tx).take();
        let mut w = self.write();
        w.lifecycle.advance(Lifecycle::Closed);
        let mut queued = std::mem::take(&mut w.queued);
        queued.extend(std::mem::take(&mut w.deferred_slots));
        drop(w);
        // Not taken by the driver: none of their bytes were written.
        for slot in queued {
            slot.close(Delivery::Unsent, false);
        }
        if self.outstanding.swap(0, Ordering::AcqRel) != 0 {
            self.closed_mid_request.store(true, Ordering::Release);
        }
        self.write_room.notify_waiters();
        // Wakes every caller waiting for room in the pipeline.
        self.in_flight.close();
        self.copy_lock.close();
    }

    /// Whether requests are refused: the connection is closed or closing.
    pub(crate) fn is_closed(&self) -> bool {
        !self.write().lifecycle.accepts_requests()
    }

    /// Asks the driver to end the connection as `to` says (see
    /// [`Lifecycle`]) and wakes it for that.
    pub(crate) fn end(&self, to: Lifecycle) {
        let mut w = self.write();
        w.lifecycle.advance(to);
        wake_driver_after(w);
    }

    /// The server broke the protocol (a caller found an impossible reply):
    /// nothing that follows on this connection can be trusted, so it is
    /// closed, and every request waiting gets this reason.
    pub(crate) fn poison(&self, reason: CloseReason) {
        self.abort(reason);
    }

    /// Closes the connection at once for `reason`: new requests are refused
    /// from now on, and the driver drops the socket without writing what is
    /// queued (a connection that may never answer again must not hold
    /// anyone).
    pub(crate) fn abort(&self, reason: CloseReason) {
        lock(&self.closed_reason).get_or_insert(reason);
        // Refused from now on, before the driver has even woken up.
        self.end(Lifecycle::Aborting);
    }

    /// The error for a request refused because the connection is closed:
    /// kind `Closed` (with the close's cause as its source), none of it
    /// written, in the block (or not) the last reply left open.
    pub(crate) fn refused_error(&self) -> Error {
        let error = match lock(&self.closed_reason).as_ref() {
            Some(reason) => reason.refusal(),
            None => Error::closed(),
        };
        error.with_ended(Ended {
            scope: self.scope_of_next(),
            ..Ended::unsent()
        })
    }

    /// The error of a request the close ended: the kind of its cause
    /// ([`CloseReason::to_error`]).
    pub(crate) fn closed_error(&self) -> Error {
        match lock(&self.closed_reason).as_ref() {
            Some(reason) => reason.to_error(),
            None => Error::closed(),
        }
    }

    /// Whether a request queued now runs in an open transaction block:
    /// known from the last ReadyForQuery when no request is unanswered
    /// (the driver records a status before it counts the request that
    /// brought it as answered) and none was when the connection closed.
    fn scope_of_next(&self) -> Scope {
        if self.outstanding.load(Ordering::Acquire) != 0
            || self.closed_mid_request.load(Ordering::Acquire)
        {
            return Scope::Unknown;
        }
        match self.transaction_status() {
            TransactionStatus::Idle => Scope::Autocommit,
            TransactionStatus::InTransaction | TransactionStatus::Failed => Scope::InBlock,
        }
    }
}

/// What the server sent broke the protocol.
pub(crate) fn proto_error(e: ProtoError) -> Error {
    Error::with_source(ErrorKind::Protocol, None, e)
}

/// A frontend encoder refused the caller's argument (a NUL byte in a
/// string, a count or length the protocol cannot carry): the caller's
/// input, not the server's fault, and nothing was written.
pub(crate) fn input_error(e: ProtoError) -> Error {
    Error::with_source(ErrorKind::InvalidInput, None, e)
}
