//! The response slot of one request in flight.
//!
//! Owns the hand-over of backend messages from the driver task to the caller
//! waiting for them: a small queue, the caller's waker, how many
//! ReadyForQuery messages end the request, and the flow control that makes
//! the driver stop reading the socket while a slow caller has a full queue
//! (so a huge result never sits in memory whole). A caller that goes away
//! marks its slot abandoned; the driver then reads and discards the rest of
//! the request's replies, keeping the connection in step.
//!
//! Also owns the record of how much of the request reached the socket
//! when the connection ended it ([`Delivery`]): the slot keeps where the
//! request's first byte sits in the stream of bytes the connection writes
//! ([`Slot::position`]), and the driver compares that with the bytes it
//! has written when it fails the request.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use crate::conn::engine::close_reason::CloseReason;
use crate::conn::engine::gate::Pass;
use crate::error::{Delivery, Scope};
use crate::proto::BackendMessage;

/// Messages queued in a slot before the driver stops reading the socket.
pub(crate) const SLOT_HIGH_WATER: usize = 1024;
/// Bytes of row or COPY data queued in a slot before the driver stops
/// reading the socket (so a few huge rows are bounded too).
pub(crate) const SLOT_HIGH_WATER_BYTES: usize = 4 << 20;

/// What the driver hands a request: one decoded message, or a run of
/// frames cut off the read buffer in one piece, which the caller splits and
/// decodes as it reads them (so the driver only walks their headers).
#[derive(Debug)]
pub(crate) enum Reply {
    Message(BackendMessage),
    Frames {
        frames: usize,
        /// The last frame is a ReadyForQuery.
        ready: bool,
        /// Whole frames, headers included.
        bytes: Bytes,
    },
}

impl Reply {
    /// The payload size a reply holds on to (rows and COPY data; other
    /// messages are small).
    fn payload_size(&self) -> usize {
        match self {
            Self::Message(BackendMessage::DataRow(row)) => row.body().len(),
            Self::Message(BackendMessage::CopyData(data)) => data.data().len(),
            Self::Message(_) => 0,
            Self::Frames { bytes, .. } => bytes.len(),
        }
    }

    /// Backend messages before a final ReadyForQuery, and whether one ends
    /// the reply.
    fn replies_and_ready(&self) -> (usize, bool) {
        match self {
            Self::Message(BackendMessage::ReadyForQuery(_)) => (0, true),
            Self::Message(_) => (1, false),
            Self::Frames { frames, ready, .. } => (frames - usize::from(*ready), *ready),
        }
    }
}

/// What the driver should do after handing over a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Push {
    /// Keep going.
    Accepted,
    /// The caller is behind: stop reading until the slot wakes the driver.
    Full,
}

/// One message taken from the slot, or why none can come.
#[derive(Debug)]
pub(crate) enum Pop {
    Reply(Reply),
    /// The connection closed before the request was answered in full.
    Closed(Cut),
}

/// Where a request stood when the connection ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cut {
    /// How much of the request had reached the socket.
    pub(crate) delivery: Delivery,
    /// Bytes of a later request had reached the socket too.
    pub(crate) followed: bool,
}

/// What a caller that finds nothing routed yet leaves behind.
enum Wait<'a, 'b> {
    /// Its waker, to be woken by the next message.
    Register(&'a mut Context<'b>),
    /// A mark that it reads the socket itself and needs no wake.
    Quiet,
    /// Nothing: it only looked.
    Leave,
}

#[derive(Debug, Default)]
struct State {
    messages: VecDeque<Reply>,
    /// Payload bytes in `messages`.
    bytes: usize,
    /// Messages received since the last ReadyForQuery (or the start).
    since_ready: usize,
    waker: Option<Waker>,
    /// The caller is reading the socket itself right now: what is routed to
    /// it meanwhile needs no wake (it looks before it waits).
    quiet: bool,
    driver_waker: Option<Waker>,
    /// The connection closed with this request unanswered, standing so.
    closed: Option<Cut>,
    /// The caller went away: drop whatever arrives.
    abandoned: bool,
    /// Held while the request is in flight; bounds the pipeline depth.
    permit: Option<Pass>,
    kind: RequestKind,
    /// The caller's queue, kept here between requests so a reused slot
    /// allocates nothing.
    spare: VecDeque<Reply>,
}

impl State {
    /// Empties the state for a new request; returns the spare queue.
    #[inline]
    fn clear(&mut self, permit: Option<Pass>, kind: RequestKind) -> VecDeque<Reply> {
        self.kind = kind;
        self.messages.clear();
        self.bytes = 0;
        self.since_ready = 0;
        self.waker = None;
        self.quiet = false;
        self.driver_waker = None;
        self.closed = None;
        self.abandoned = false;
        self.permit = permit;
        std::mem::take(&mut self.spare)
    }
}

/// How a request was sent, which decides how the driver treats COPY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum RequestKind {
    /// A Query message (simple protocol).
    #[default]
    Simple,
    /// Extended protocol, ending with Sync.
    Extended,
    /// A Query running COPY: its CopyInResponse goes to the caller, who
    /// streams the data.
    Copy,
}

/// A request's responses, shared by the driver and the caller.
///
/// The driver hands messages over in batches (one lock per batch); the
/// caller takes everything queued at once into a queue of its own (see
/// [`Slot::reset`]) and pops from there without any lock.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    state: Mutex<State>,
    /// Where the request's first byte sits. Its frame of reference moves
    /// with the bytes, and each move happens under the shared write lock
    /// or in the driver, so relaxed ordering suffices:
    ///
    /// ```text
    ///   submit ──► offset in the callers' buffer (or the COPY-deferred one)
    ///   copy_end ─► deferred offset + where the deferred bytes land
    ///   taken ───► + bytes the driver had written: a stream position
    /// ```
    ///
    /// Only a stream position (a slot the driver holds) is ever compared
    /// with bytes written; a slot failed before the driver took it sent
    /// nothing. No allocation and one relaxed store per request.
    position: AtomicU64,
    /// Whether a transaction block was open when the request was queued
    /// ([`Scope`] as a byte), set under the shared write lock like
    /// `position` and read by the caller after the slot closed.
    scope: AtomicU8,
    /// ReadyForQuery messages still expected. Written in `reset` (under
    /// the state lock, or with the slot held by nobody else) before the
    /// slot is queued under the shared write lock, and then only in
    /// `push_batch`, by whoever holds the driver, under the state lock; so
    /// a reader under either lock sees it in order: the driver reads it for
    /// its receive low-water mark, and a caller driving the socket reads it
    /// to learn that its routing answered its request. Relaxed suffices.
    ready_left: AtomicUsize,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tests: the queue the caller pops from, empty (as [`Slot::reset`]
    /// returns it).
    #[cfg(test)]
    pub(crate) fn take_queue(&self) -> VecDeque<Reply> {
        std::mem::take(&mut self.lock().spare)
    }

    /// Prepares a (new or reused) slot for a request ending after `ready`
    /// ReadyForQuery messages, and returns the queue its caller pops from:
    /// empty, the one the slot's previous caller gave back (so a reused
    /// slot allocates nothing). A slot nobody else holds (one from the pool,
    /// or a new one) is prepared without its lock.
    // Once per request on every query: inlinable whatever the codegen
    // units, so the query path's cost does not move with the split.
    #[inline]
    pub(crate) fn reset(
        this: &mut Arc<Self>,
        ready: usize,
        permit: Option<Pass>,
        kind: RequestKind,
    ) -> VecDeque<Reply> {
        let queue = match Arc::get_mut(this) {
            Some(slot) => {
                *slot.ready_left.get_mut() = ready;
                let state = slot.state.get_mut().unwrap_or_else(|e| e.into_inner());
                state.clear(permit, kind)
            }
            None => {
                let mut s = this.lock();
                this.ready_left.store(ready, Ordering::Relaxed);
                s.clear(permit, kind)
            }
        };
        this.set_scope(Scope::Unknown);
        queue
    }

    /// Driver side: hands over messages from the front of `batch` until the
    /// request's last ReadyForQuery (what follows it stays in `batch` for
    /// the next request). Returns whether the request is complete, whether
    /// to pause reading, and the caller's waker (once per batch): the
    /// driver wakes it after its own bookkeeping, so a caller that sees its
    /// last reply also sees the request counted as answered.
    ///
    /// A ReadyForQuery with nothing before it cannot answer any request this
    /// layer sends (each has at least one reply before its ReadyForQuery):
    /// the server is out of step, and that is an error, not a reply.
    // Once per request on every query: inlinable whatever the codegen
    // units, so the query path's cost does not move with the split.
    #[inline]
    pub(crate) fn push_batch(
        &self,
        batch: &mut VecDeque<Reply>,
        driver: &Waker,
    ) -> Result<(bool, Push, Option<Waker>), CloseReason> {
        let mut s = self.lock();
        // Find where this request's replies end, then move them in one go.
        let mut done = false;
        let mut end = batch.len();
        let mut bytes = 0;
        for (i, reply) in batch.iter().enumerate() {
            let (replies, ready) = reply.replies_and_ready();
            s.since_ready += replies;
            if ready && s.since_ready == 0 {
                return Err(CloseReason::ReadyWithoutReply);
            }
            if ready {
                s.since_ready = 0;
            }
            bytes += reply.payload_size();
            if ready {
                let left = self.ready_left().saturating_sub(1);
                self.ready_left.store(left, Ordering::Relaxed);
                if left == 0 {
                    done = true;
                    s.permit = None;
                    end = i + 1;
                    break;
                }
            }
        }
        if s.abandoned {
            batch.drain(..end);
        } else {
            s.bytes += bytes;
            if s.messages.is_empty() && end == batch.len() {
                // The common case: the whole batch is this request's.
                std::mem::swap(&mut s.messages, batch);
            } else {
                s.messages.extend(batch.drain(..end));
            }
        }
        let full = s.messages.len() >= SLOT_HIGH_WATER || s.bytes >= SLOT_HIGH_WATER_BYTES;
        let push = if !s.abandoned && !done && full {
            s.driver_waker = Some(driver.clone());
            Push::Full
        } else {
            Push::Accepted
        };
        let wake = if s.quiet { None } else { s.waker.take() };
        Ok((done, push, wake))
    }

    /// Whether the caller has stopped listening.
    pub(crate) fn is_abandoned(&self) -> bool {
        self.lock().abandoned
    }

    /// Driver side: whether the caller is still behind (the driver stays
    /// paused); registers the driver to be woken when it catches up.
    pub(crate) fn still_full(&self, driver: &Waker) -> bool {
        let mut s = self.lock();
        if s.abandoned || (s.messages.len() < SLOT_HIGH_WATER && s.bytes < SLOT_HIGH_WATER_BYTES) {
            return false;
        }
        s.driver_waker = Some(driver.clone());
        true
    }

    /// How the request was sent.
    pub(crate) fn kind(&self) -> RequestKind {
        self.lock().kind
    }

    /// Where the request's first byte sits (see the field's docs).
    pub(crate) fn position(&self) -> u64 {
        self.position.load(Ordering::Relaxed)
    }

    /// Sets where the request's first byte sits in the buffer it was
    /// encoded into (under the shared write lock).
    pub(crate) fn set_position(&self, offset: u64) {
        self.position.store(offset, Ordering::Relaxed);
    }

    /// Driver side: the ReadyForQuery messages the request still expects.
    #[inline]
    pub(crate) fn ready_left(&self) -> usize {
        self.ready_left.load(Ordering::Relaxed)
    }

    /// Moves the request's position by `base`: its bytes moved to a buffer
    /// (or into the stream) that starts `base` bytes further on.
    pub(crate) fn shift_position(&self, base: u64) {
        self.position.fetch_add(base, Ordering::Relaxed);
    }

    /// Records whether a transaction block was open when the request was
    /// queued (under the shared write lock).
    pub(crate) fn set_scope(&self, scope: Scope) {
        let byte = match scope {
            Scope::Autocommit => 0,
            Scope::InBlock => 1,
            Scope::Unknown => 2,
        };
        self.scope.store(byte, Ordering::Relaxed);
    }

    /// Whether a transaction block was open when the request was queued.
    pub(crate) fn scope(&self) -> Scope {
        match self.scope.load(Ordering::Relaxed) {
            0 => Scope::Autocommit,
            1 => Scope::InBlock,
            _ => Scope::Unknown,
        }
    }

    /// The connection is gone; wake the caller. `delivery` is how much of
    /// the request reached the socket, `followed` whether bytes of a later
    /// request did too.
    pub(crate) fn close(&self, delivery: Delivery, followed: bool) {
        let mut s = self.lock();
        s.closed = Some(Cut { delivery, followed });
        s.permit = None;
        let waker = s.waker.take();
        drop(s);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Caller side: the next message, waiting for it if needed. `queue` is
    /// the caller's own (from [`Slot::reset`]): everything the driver
    /// handed over is moved into it at once.
    #[inline]
    pub(crate) fn poll_pop(&self, queue: &mut VecDeque<Reply>, cx: &mut Context<'_>) -> Poll<Pop> {
        self.pop(queue, Wait::Register(cx))
    }

    /// Caller side: [`Slot::poll_pop`] for a caller about to read the socket
    /// itself: until its next `poll_pop`, what is routed to the slot wakes
    /// nobody (waking the caller that is running would only make its
    /// runtime poll it once more). That `poll_pop` must follow.
    #[inline]
    pub(crate) fn try_pop(&self, queue: &mut VecDeque<Reply>) -> Poll<Pop> {
        self.pop(queue, Wait::Quiet)
    }

    /// Caller side: the next message if one has been routed, leaving how the
    /// caller is woken as it was. For a look between other work (a COPY IN
    /// checking for the server's error while it sends): nothing is
    /// registered, so the driver task keeps reading the socket.
    #[inline]
    pub(crate) fn peek_pop(&self, queue: &mut VecDeque<Reply>) -> Poll<Pop> {
        self.pop(queue, Wait::Leave)
    }

    #[inline]
    fn pop(&self, queue: &mut VecDeque<Reply>, wait: Wait<'_, '_>) -> Poll<Pop> {
        if let Some(message) = queue.pop_front() {
            return Poll::Ready(Pop::Reply(message));
        }
        let mut s = self.lock();
        if !s.messages.is_empty() {
            // Take the whole queue (the empty one goes back to the driver).
            std::mem::swap(&mut s.messages, queue);
            s.bytes = 0;
            let wake_driver = s.driver_waker.take();
            drop(s);
            if let Some(w) = wake_driver {
                w.wake();
            }
            if let Some(message) = queue.pop_front() {
                return Poll::Ready(Pop::Reply(message));
            }
            return Poll::Pending;
        }
        if let Some(cut) = s.closed {
            return Poll::Ready(Pop::Closed(cut));
        }
        match wait {
            Wait::Register(cx) => {
                s.quiet = false;
                match &s.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => s.waker = Some(cx.waker().clone()),
                }
            }
            Wait::Quiet => s.quiet = true,
            Wait::Leave => {}
        }
        Poll::Pending
    }

    /// Caller side: the caller stops listening and gives its queue back.
    /// Returns whether the request was complete (so the slot can be reused).
    // Once per request on every query: inlinable whatever the codegen
    // units, so the query path's cost does not move with the split.
    #[inline]
    pub(crate) fn abandon(&self, mut queue: VecDeque<Reply>) -> bool {
        queue.clear();
        let mut s = self.lock();
        s.spare = queue;
        s.abandoned = true;
        s.messages.clear();
        s.bytes = 0;
        s.waker = None;
        let complete = self.ready_left() == 0 || s.closed.is_some();
        let driver = s.driver_waker.take();
        drop(s);
        if let Some(w) = driver {
            w.wake();
        }
        complete
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slot is reset alike whether another holder keeps it (the reset
    /// then takes its lock) or nobody does (it needs none): the queue its
    /// last caller gave back returns with its room, and nothing of the
    /// previous request (replies, count, kind, scope, abandonment) stays.
    #[test]
    fn a_reset_slot_starts_over_with_or_without_other_holders() {
        let unread = || VecDeque::from([Reply::Message(BackendMessage::BindComplete)]);
        for held_elsewhere in [false, true] {
            let mut slot = Arc::new(Slot::default());
            let _ = Slot::reset(&mut slot, 1, None, RequestKind::Extended);
            assert!(!slot.abandon(VecDeque::with_capacity(8)));

            let other = held_elsewhere.then(|| slot.clone());
            let queue = Slot::reset(&mut slot, 1, None, RequestKind::Extended);
            assert!(
                queue.capacity() >= 8,
                "the caller's queue was not handed back"
            );
            let (done, _, _) = slot.push_batch(&mut unread(), Waker::noop()).unwrap();
            assert!(!done && !slot.is_abandoned());
            slot.set_scope(Scope::InBlock);

            let mut queue = Slot::reset(&mut slot, 2, None, RequestKind::Simple);
            assert!(slot.peek_pop(&mut queue).is_pending(), "a stale reply");
            assert_eq!(slot.ready_left(), 2);
            assert_eq!(slot.kind(), RequestKind::Simple);
            assert_eq!(slot.scope(), Scope::Unknown);
            drop(other);
        }
    }
}
