//! Fewer wakeups: the socket's receive low-water mark (`SO_RCVLOWAT`).
//!
//! Left to itself the kernel wakes the connection for every write the
//! server makes. Each wake costs the client a wait and a read, and, when
//! the connection's thread was asleep, costs the server the wakeup itself
//! inside its `send` (an inter-processor interrupt, dear in a virtual
//! machine): while the server is the bottleneck that cost comes straight
//! out of its throughput. The kernel can instead hold the wake until a
//! given number of bytes wait; a read still takes whatever is there. The
//! mark is raised in two cases.
//!
//! **Deep pipelines** (opt-in, `Config::coalesce_replies`). With hundreds
//! of requests in flight the server answers one request at a time, each
//! with its own small write. The mark may only be raised to what the server
//! is bound to send without any further word from the client: each request
//! in flight ends with a ReadyForQuery (six bytes), which the server
//! flushes before it waits for more input, and has at least one message
//! before it (the slot refuses a ReadyForQuery that answers nothing), five
//! bytes at the least. Only the oldest request can have had part of its
//! reply already, so it counts its ReadyForQuery alone ([`bound_bytes`]).
//! The driver computes that floor (requests written and unanswered, less
//! the bytes of them it already holds) and leaves it at zero while anything
//! could make the server wait for the client (a COPY taking input, bytes
//! not yet written). The mark is half the floor, rounded down to a power of
//! two so that it seldom changes, and raised only when at least
//! [`MIN_MARK`] bytes are worth one wake; otherwise it is the kernel's
//! default of one byte.
//!
//! **Large results** (on by default, `Config::coalesce_large_results`). A
//! reply whose every wake has brought at least a full server write
//! ([`FULL_READ`]) for [`STREAM_MARK_AFTER`] since its first such wake (a
//! ReadyForQuery starts over) gets the largest mark, [`MAX_MARK`]: a large
//! result or COPY OUT arriving as fast as the server makes it. Nothing
//! bounds what is still to come, so the end of the result normally waits
//! under the mark until the stall watch lets it in: 1 to 2 ms, once per
//! such result, at most a twentieth of the time it had taken. A wake that
//! brings less than a full write (the server slowed down) drops the mark
//! and starts the clock over; so does a stall (the server paused, or made
//! less than a mark's worth in a tick, or this process was not run for
//! one): the mark comes back only after the result has again streamed in
//! full writes for [`STREAM_MARK_AFTER`]. Every wait for the stall watch
//! thus follows at least that long at full speed, so waits under a large
//! mark take at most a twentieth of a result's time, however often it
//! halts; and one pause early in a long result does not cost it the mark
//! for the rest.
//!
//! **Large batches** (with large results). A batch with a Sync per
//! statement is one request expecting a ReadyForQuery per statement, and
//! the server flushes each: left alone the kernel wakes the connection
//! once per statement. Its replies are bound to arrive exactly as a deep
//! pipeline's are ([`bound_bytes`] of the ReadyForQuery messages it still
//! expects), and only its caller waits for them, taking them whole; so
//! while it is the oldest request in flight the mark follows that floor.
//! Being at most half of what is bound to follow, it never holds the
//! batch's last replies, nor any reply of a later request. Statements
//! slower than a tick for a mark's worth of replies make the stall watch
//! fire, which delays only replies the caller is not waiting for yet.
//!
//! What the floor cannot see: a request that waits for something outside
//! the connection (a lock held by a transaction that goes on only once an
//! earlier reply here has been read), or the end of a large result. Those
//! bytes would wait under the mark. While the mark is raised the
//! connection is registered with the stall watch, which wakes the driver
//! task when nothing was read for a whole tick; the task lowers the mark
//! (the kernel then reports the waiting bytes at once) and keeps it down
//! until something is read. A reply stuck this way waits 1 to 2 ms, never
//! longer.
//!
//! Only plain TCP on Linux takes a mark (see
//! [`Socket::has_receive_low_water`]); elsewhere this does nothing.
//!
//! Owns: the mark's policy and each connection's mark, and whether a large
//! result is streaming in. Must not: read or write the socket.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Waker;
use std::time::{Duration, Instant};

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

/// The largest mark raised: a wake every 64 KiB at most, half the default
/// receive buffer (`tcp_rmem`), which the kernel enlarges to twice the mark
/// when it takes one.
const MAX_MARK: usize = 64 * 1024;

/// A read at least this large took a full server write (the server's
/// output buffer is 8 KiB): bytes arrive faster than they are taken.
const FULL_READ: usize = 8 * 1024;

/// How long a reply must stream in full writes before it gets the large
/// mark: twenty times the longest wait the stall watch lets its end have
/// (the public [`LARGE_RESULT_AFTER`](crate::config::LARGE_RESULT_AFTER)).
const STREAM_MARK_AFTER: Duration = crate::config::LARGE_RESULT_AFTER;

// The end of a large result waits under the mark for one to two ticks of
// the stall watch: at most a twentieth of the time it has streamed.
const _: () = assert!(STREAM_MARK_AFTER.as_nanos() >= 40 * stall_watch::TICK.as_nanos());
// A mark holds several full server writes.
const _: () = assert!(MAX_MARK >= 4 * FULL_READ);

/// The floor a streaming result stands for: enough that [`mark_for`] gives
/// [`MAX_MARK`] even after the bytes of a partial message are taken off.
const STREAM_FLOOR: usize = 4 * MAX_MARK;

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
    /// Deep pipelines may raise the mark (`coalesce_replies`).
    replies: bool,
    /// Large results may raise the mark (`coalesce_large_results`).
    streams: bool,
    /// The connection's bytes read (`Counters::bytes_read`) when the
    /// socket was last found empty.
    bytes_at_drain: u64,
    /// When the reply now arriving first filled a read ([`FULL_READ`]);
    /// cleared by each ReadyForQuery, by a wake that brought less and by a
    /// stall.
    streaming_since: Option<Instant>,
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
    /// The mark state of a new connection on `socket`; `replies` and
    /// `streams` are the connection's `coalesce_replies` and
    /// `coalesce_large_results` settings.
    pub(crate) fn new(socket: &Socket, replies: bool, streams: bool) -> Self {
        let usable = (replies || streams) && socket.has_receive_low_water();
        Self {
            usable,
            current: DEFAULT_MARK,
            watched: None,
            held_down_at: None,
            replies,
            streams: streams && usable,
            bytes_at_drain: 0,
            streaming_since: None,
        }
    }

    /// A ReadyForQuery arrived: no reply is streaming any more.
    #[inline]
    pub(crate) fn reply_ended(&mut self) {
        self.streaming_since = None;
    }

    /// The socket was found empty, with `in_flight` requests written and
    /// not fully answered, the oldest of which still expects
    /// `oldest_ready_left` ReadyForQuery messages (`c`: the connection's
    /// counters, for the bytes read since): the floor to tune the
    /// mark for. That is what they are bound to send when deep pipelines
    /// coalesce; with large replies, what the oldest request alone is bound
    /// to send (a batch with a Sync per statement: only its caller waits for
    /// those replies, and it takes them whole), and at least
    /// [`STREAM_FLOOR`] while a large result streams in: the wake that just
    /// ended brought a full server write or more, and every wake has since
    /// the reply's first such one, [`STREAM_MARK_AFTER`] ago or more.
    #[inline]
    pub(crate) fn drained(
        &mut self,
        in_flight: usize,
        oldest_ready_left: usize,
        c: &Counters,
    ) -> usize {
        let read = c.bytes_read.load(Ordering::Relaxed);
        let brought = read.saturating_sub(self.bytes_at_drain);
        self.bytes_at_drain = read;
        if !self.usable {
            return 0;
        }
        let bound = if self.replies {
            bound_bytes(in_flight)
        } else {
            0
        };
        if !self.streams {
            return bound;
        }
        let bound = bound.max(bound_bytes(oldest_ready_left));
        // A second look with nothing read in between (the task's turn after
        // a caller's) changes nothing.
        if brought > 0 {
            if brought < FULL_READ as u64 {
                self.streaming_since = None;
                return bound;
            }
            if self.streaming_since.is_none() {
                self.streaming_since = Some(Instant::now());
                return bound;
            }
        }
        match self.streaming_since {
            Some(since) if since.elapsed() >= STREAM_MARK_AFTER => bound.max(STREAM_FLOOR),
            _ => bound,
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
        // The clock starts over: the large mark comes back only after
        // another STREAM_MARK_AFTER of full writes.
        self.streaming_since = None;
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
            let lw = state(true, true);
            if lw.stays_down(floor) {
                assert_eq!(mark_for(floor), DEFAULT_MARK, "{floor}");
            }
        }
        assert!(mark_for(2 * MIN_MARK) > DEFAULT_MARK);
    }

    /// A read of `n` bytes, as the driver counts it.
    fn read(c: &Counters, n: usize) {
        Counters::add(&c.bytes_read, n as u64);
    }

    fn state(replies: bool, streams: bool) -> LowWater {
        LowWater {
            usable: true,
            current: DEFAULT_MARK,
            watched: None,
            held_down_at: None,
            replies,
            streams,
            bytes_at_drain: 0,
            streaming_since: None,
        }
    }

    #[test]
    fn a_result_gets_the_large_mark_only_after_streaming_full_writes_for_a_while() {
        let mut lw = state(false, true);
        let c = Counters::default();
        // Small wakes (sequential queries) never start the clock.
        read(&c, FULL_READ - 1);
        assert_eq!(lw.drained(1, 1, &c), bound_bytes(1));
        assert!(lw.streaming_since.is_none());
        // A wake that brought a full server write, in two reads, starts it.
        read(&c, FULL_READ / 2);
        read(&c, FULL_READ / 2);
        assert_eq!(lw.drained(1, 1, &c), bound_bytes(1));
        assert!(lw.streaming_since.is_some());
        // Just started: the end may be near, the mark stays down.
        read(&c, FULL_READ);
        assert_eq!(lw.drained(1, 1, &c), bound_bytes(1));
        // Streaming in full writes for longer than STREAM_MARK_AFTER.
        lw.streaming_since = Instant::now().checked_sub(STREAM_MARK_AFTER * 2);
        assert!(lw.streaming_since.is_some());
        read(&c, 3 * FULL_READ);
        read(&c, 17);
        assert_eq!(lw.drained(1, 1, &c), STREAM_FLOOR);
        // A second look with nothing read since keeps it.
        assert_eq!(lw.drained(1, 1, &c), STREAM_FLOOR);
        // The largest mark, even with a partial message already held.
        assert_eq!(mark_for(STREAM_FLOOR - 2 * FULL_READ), MAX_MARK as u32);
        // A wake that brought less (the server slowed down) ends it.
        read(&c, FULL_READ - 1);
        assert_eq!(lw.drained(1, 1, &c), bound_bytes(1));
        assert!(lw.streaming_since.is_none());
        // So does a ReadyForQuery.
        lw.streaming_since = Instant::now().checked_sub(STREAM_MARK_AFTER * 2);
        lw.reply_ended();
        read(&c, FULL_READ);
        assert_eq!(lw.drained(1, 1, &c), bound_bytes(1));
    }

    #[tokio::test]
    async fn after_a_stall_the_large_mark_waits_for_another_spell_of_full_writes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, _peer) = tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        let socket = Socket::Tcp(client.unwrap());
        let counters = Counters::default();
        let mut lw = state(false, true);
        let c = Counters::default();
        lw.streaming_since = Instant::now().checked_sub(STREAM_MARK_AFTER * 2);
        read(&c, FULL_READ);
        assert_eq!(lw.drained(1, 1, &c), STREAM_FLOOR);
        lw.lower_after_stall(&socket, &counters);
        assert_eq!(counters.low_water_stalls.load(Ordering::Relaxed), 1);
        assert!(lw.streaming_since.is_none());
        // Full writes again, within the same reply (no ReadyForQuery): the
        // clock starts over at the first, and the mark stays down until it
        // has run STREAM_MARK_AFTER.
        for _ in 0..3 {
            read(&c, 4 * FULL_READ);
            assert_eq!(lw.drained(1, 1, &c), bound_bytes(1));
        }
        let restarted = lw.streaming_since.expect("the clock started over");
        assert!(restarted.elapsed() < STREAM_MARK_AFTER);
        // A batch's own floor is what it is bound to send: it holds meanwhile.
        assert_eq!(lw.drained(1, 1000, &c), bound_bytes(1000));
        // After another STREAM_MARK_AFTER of full writes the mark is back,
        // for the same request.
        lw.streaming_since = Instant::now().checked_sub(STREAM_MARK_AFTER * 2);
        read(&c, FULL_READ);
        assert_eq!(lw.drained(1, 1, &c), STREAM_FLOOR);
        // The mark went down on the socket and is tuned up again from there.
        assert_eq!(lw.current, DEFAULT_MARK);
    }

    #[test]
    fn each_setting_raises_only_its_own_mark() {
        // (replies, streams, in flight, the oldest's ReadyForQuery left,
        // the floor): replies off, a deep pipeline's bound does not count,
        // only the oldest request's own; large replies on, the oldest
        // request's own replies count, with or without deep-pipeline
        // coalescing; large replies off, they do not.
        let cases = [
            (false, true, 256, 1, bound_bytes(1)),
            (true, false, 256, 1, bound_bytes(256)),
            (false, true, 1, 1000, bound_bytes(1000)),
            (true, true, 300, 1000, bound_bytes(1000)),
            (true, false, 1, 1000, bound_bytes(1)),
        ];
        for (replies, streams, in_flight, ready_left, floor) in cases {
            let mut lw = state(replies, streams);
            let c = Counters::default();
            assert_eq!(
                lw.drained(in_flight, ready_left, &c),
                floor,
                "replies {replies}, streams {streams}, {in_flight} in flight, {ready_left} left"
            );
        }
        // Both on, the larger of the two bounds, whichever it is.
        let mut lw = state(true, true);
        let c = Counters::default();
        assert_eq!(lw.drained(1000, 300, &c), bound_bytes(1000));
        // Streams off: full writes are not even timed.
        let mut lw = state(true, false);
        let c = Counters::default();
        read(&c, 4 * FULL_READ);
        assert_eq!(lw.drained(1, 1, &c), bound_bytes(1));
        assert!(lw.streaming_since.is_none());
        // A socket that takes no mark: nothing is ever raised.
        let mut lw = state(true, true);
        let c = Counters::default();
        lw.usable = false;
        read(&c, 4 * FULL_READ);
        assert_eq!(lw.drained(10_000, 10_000, &c), 0);
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
