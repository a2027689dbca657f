//! Fewer wakeups for deep pipelines: the socket's receive low-water mark.
//!
//! With hundreds of requests in flight the server is the bottleneck and
//! answers one request at a time, each with its own small write. Left to
//! itself the kernel wakes the connection for every one of them, and each
//! wake costs a wait, a read and a write for one or two replies. The kernel
//! can instead hold the wake until a given number of bytes wait
//! (`SO_RCVLOWAT`); a read still takes whatever is there.
//!
//! The mark may only be raised to what the server is bound to send without
//! any further word from the client: each request in flight ends with a
//! ReadyForQuery (six bytes), which the server flushes before it waits for
//! more input, and has at least one message before it (the slot refuses a
//! ReadyForQuery that answers nothing), five bytes at the least. Only the
//! oldest request can have had part of its reply already, so it counts its
//! ReadyForQuery alone ([`bound_bytes`]). The driver computes that floor
//! (requests written and unanswered, less the bytes of them it already
//! holds) and leaves it at
//! zero while anything could make the server wait for the client (a COPY
//! taking input, bytes not yet written). The mark is half the floor,
//! rounded down to a power of two so that it seldom changes, and raised only
//! when at least [`MIN_MARK`] bytes are worth one wake; otherwise it is the
//! kernel's default of one byte.
//!
//! What the floor cannot see: a request that waits for something outside
//! the connection (a lock held by a transaction that goes on only once an
//! earlier reply here has been read). Those earlier replies would wait
//! under the mark. While the mark is raised the connection is registered
//! with the stall watch, which wakes the driver task when nothing was read
//! for a whole tick; the task lowers the mark (the kernel then reports the
//! waiting bytes at once) and keeps it down until something is read. A
//! reply stuck this way waits 1 to 2 ms, never longer.
//!
//! Only plain TCP on Linux takes a mark (see
//! [`Socket::has_receive_low_water`]); elsewhere this does nothing.
//!
//! Owns: the mark's policy and each connection's mark. Must not: read or
//! write the socket.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Waker;

use crate::conn::engine::shared::Counters;
use crate::conn::engine::stall_watch::{self, Watched};
use crate::conn::transport::socket::Socket;

/// The bytes every request in flight is bound to receive last: its
/// ReadyForQuery ('Z', length, status).
const READY_FOR_QUERY_LEN: usize = 6;

/// The smallest backend message (a tag and a length, no body: BindComplete,
/// EmptyQueryResponse, …). Every request gets one before its
/// ReadyForQuery.
const SMALLEST_MESSAGE_LEN: usize = 5;

/// The bytes the server is bound to send for `in_flight` requests written
/// and not fully answered: a ReadyForQuery for each, and a message before it
/// for all but the oldest (whose first replies may have arrived already).
#[inline]
pub(crate) fn bound_bytes(in_flight: usize) -> usize {
    READY_FOR_QUERY_LEN * in_flight + SMALLEST_MESSAGE_LEN * in_flight.saturating_sub(1)
}

/// The smallest mark worth raising (about six small replies).
const MIN_MARK: usize = 256;

/// The largest mark raised: a wake every 16 KiB at most, well inside the
/// socket's receive buffer.
const MAX_MARK: usize = 16 * 1024;

/// The kernel's default mark: readable as soon as one byte waits.
const DEFAULT_MARK: u32 = 1;

/// A connection's receive low-water mark.
#[derive(Debug)]
pub(crate) struct LowWater {
    /// The socket takes a mark (false from the start on other sockets, or
    /// after the kernel refused one).
    usable: bool,
    /// The mark set on the socket.
    current: u32,
    /// The stall watch's view of this connection, while the mark is up.
    watched: Option<Arc<Watched>>,
    /// After a stall: the mark stays down until the connection's read count
    /// (`Counters::socket_reads`) passes this.
    held_down_at: Option<u64>,
}

/// The mark for `floor` bytes bound to arrive.
pub(crate) fn mark_for(floor: usize) -> u32 {
    let half = (floor / 2).min(MAX_MARK);
    if half < MIN_MARK {
        return DEFAULT_MARK;
    }
    // A power of two at most `half`.
    let mark = 1usize << (usize::BITS - 1 - half.leading_zeros());
    u32::try_from(mark).unwrap_or(DEFAULT_MARK)
}

impl LowWater {
    /// The mark state of a new connection on `socket`; `enabled` is the
    /// connection's `coalesce_replies` setting.
    pub(crate) fn new(socket: &Socket, enabled: bool) -> Self {
        Self {
            usable: enabled && socket.has_receive_low_water(),
            current: DEFAULT_MARK,
            watched: None,
            held_down_at: None,
        }
    }

    /// Whether the stall watch found replies waiting under the mark.
    #[inline]
    pub(crate) fn stalled(&self) -> bool {
        self.watched.as_ref().is_some_and(|w| w.is_stalled())
    }

    /// Whether the mark for at most `floor` bytes is the one already set
    /// and nothing else can change it: the sequential connection's case,
    /// checked before anything else is computed.
    #[inline]
    pub(crate) fn stays_down(&self, floor: usize) -> bool {
        self.current == DEFAULT_MARK && floor < 2 * MIN_MARK
    }

    /// Sets the mark for `floor` bytes bound to arrive (`task` is the
    /// driver task, which the stall watch wakes).
    pub(crate) fn tune(&mut self, socket: &Socket, floor: usize, task: &Waker, c: &Arc<Counters>) {
        if !self.usable {
            return;
        }
        let reads = c.socket_reads.load(Ordering::Relaxed);
        let held_down = self.held_down_at.is_some_and(|at| reads <= at);
        if !held_down {
            self.held_down_at = None;
        }
        let mark = if held_down {
            DEFAULT_MARK
        } else {
            mark_for(floor)
        };
        if mark == self.current {
            return;
        }
        if mark > DEFAULT_MARK && self.watched.is_none() {
            let watched = Arc::new(Watched::new(task.clone(), c.clone()));
            if !stall_watch::watch(watched.clone()) {
                self.usable = false;
                return;
            }
            self.watched = Some(watched);
        }
        if let Err(e) = socket.set_receive_low_water(mark) {
            tracing::debug!(error = %e, mark, "the socket refused a receive low-water mark");
            self.usable = false;
            self.release();
            return;
        }
        if self.current == DEFAULT_MARK {
            Counters::add(&c.low_water_raises, 1);
        }
        self.current = mark;
        if mark == DEFAULT_MARK {
            self.release();
        }
    }

    /// The stall watch found the connection stalled: lowers the mark (the
    /// kernel then reports whatever waits) until the next read.
    pub(crate) fn lower_after_stall(&mut self, socket: &Socket, c: &Counters) {
        self.release();
        self.held_down_at = Some(c.socket_reads.load(Ordering::Relaxed));
        Counters::add(&c.low_water_stalls, 1);
        if let Err(e) = socket.set_receive_low_water(DEFAULT_MARK) {
            // Setting an option fails only on a broken socket, which the
            // next read reports; no mark is raised again either way.
            tracing::debug!(error = %e, "lowering the receive low-water mark failed");
            self.usable = false;
        }
        self.current = DEFAULT_MARK;
    }

    fn release(&mut self) {
        if let Some(watched) = self.watched.take() {
            watched.release();
        }
    }
}

impl Drop for LowWater {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shallow_pipelines_keep_the_default_mark() {
        for in_flight in [0, 1, 16, 46] {
            assert_eq!(mark_for(bound_bytes(in_flight)), DEFAULT_MARK);
        }
        // The shortcut agrees with the policy on every floor it covers.
        for floor in 0..4 * MIN_MARK {
            let lw = LowWater {
                usable: true,
                current: DEFAULT_MARK,
                watched: None,
                held_down_at: None,
            };
            if lw.stays_down(floor) {
                assert_eq!(mark_for(floor), DEFAULT_MARK, "{floor}");
            }
        }
        assert!(mark_for(2 * MIN_MARK) > DEFAULT_MARK);
    }

    #[test]
    fn the_bound_counts_a_ready_for_query_each_and_a_message_for_all_but_the_oldest() {
        assert_eq!(bound_bytes(0), 0);
        assert_eq!(bound_bytes(1), 6);
        assert_eq!(bound_bytes(2), 6 + 5 + 6);
        assert_eq!(bound_bytes(256), 256 * 11 - 5);
    }

    #[test]
    fn the_mark_is_a_power_of_two_at_most_half_the_floor() {
        for floor in (2 * MIN_MARK..4 * MAX_MARK).step_by(7) {
            let mark = mark_for(floor) as usize;
            assert!(mark.is_power_of_two(), "{floor} -> {mark}");
            assert!(mark <= floor / 2 && mark > floor / 4 || mark == MAX_MARK);
            assert!((MIN_MARK..=MAX_MARK).contains(&mark));
        }
        assert_eq!(mark_for(bound_bytes(256)), 1024);
        assert_eq!(mark_for(bound_bytes(47)), 256);
        assert_eq!(mark_for(usize::MAX), MAX_MARK as u32);
    }
}
