//! Pool counters and their snapshot.
//!
//! Owns the atomic counters the pool bumps on its hot path and the
//! acquire-latency histogram's buckets; the snapshot callers read,
//! [`PoolStats`], lives with `observe`. It must not lock, allocate per
//! event or do I/O.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::observe::pool_stats::latency_bucket;
pub use crate::observe::{CloseReason, ClosedCounts, LATENCY_BUCKETS, LatencyHistogram, PoolStats};

/// The live counters, bumped without locks.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    acquires: AtomicU64,
    acquire_timeouts: AtomicU64,
    created: AtomicU64,
    connect_failures: AtomicU64,
    closed: [AtomicU64; CloseReason::ALL.len()],
    leaks: AtomicU64,
    latency: [AtomicU64; LATENCY_BUCKETS],
}

impl Counters {
    pub(crate) fn acquired(&self, latency: Duration) {
        self.acquires.fetch_add(1, Relaxed);
        self.latency[latency_bucket(latency)].fetch_add(1, Relaxed);
    }

    pub(crate) fn acquire_timed_out(&self) {
        self.acquire_timeouts.fetch_add(1, Relaxed);
    }

    pub(crate) fn connection_created(&self) {
        self.created.fetch_add(1, Relaxed);
    }

    pub(crate) fn connect_failed(&self) {
        self.connect_failures.fetch_add(1, Relaxed);
    }

    pub(crate) fn connection_closed(&self, reason: CloseReason) {
        self.closed[reason.index()].fetch_add(1, Relaxed);
    }

    pub(crate) fn leak_reported(&self) {
        self.leaks.fetch_add(1, Relaxed);
    }

    /// The counters, with the live figures the caller read from the pool
    /// state.
    pub(crate) fn snapshot(&self, live: LiveFigures) -> PoolStats {
        let closed = |r: CloseReason| self.closed[r.index()].load(Relaxed);
        let mut counts = [0; LATENCY_BUCKETS];
        for (out, bucket) in counts.iter_mut().zip(&self.latency) {
            *out = bucket.load(Relaxed);
        }
        PoolStats {
            size: live.size,
            idle: live.idle,
            in_use: live.in_use,
            waiters: live.waiters,
            max_size: live.max_size,
            acquires: self.acquires.load(Relaxed),
            acquire_timeouts: self.acquire_timeouts.load(Relaxed),
            created: self.created.load(Relaxed),
            connect_failures: self.connect_failures.load(Relaxed),
            closed: ClosedCounts {
                lifetime: closed(CloseReason::Lifetime),
                idle: closed(CloseReason::Idle),
                broken: closed(CloseReason::Broken),
                health_check: closed(CloseReason::HealthCheck),
                reset_failure: closed(CloseReason::ResetFailure),
                pool_closed: closed(CloseReason::PoolClosed),
                hook: closed(CloseReason::Hook),
            },
            leaks: self.leaks.load(Relaxed),
            acquire_latency: LatencyHistogram { counts },
        }
    }
}

/// Figures read from the pool state at snapshot time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LiveFigures {
    pub(crate) size: usize,
    pub(crate) idle: usize,
    pub(crate) in_use: usize,
    pub(crate) waiters: usize,
    pub(crate) max_size: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> LiveFigures {
        LiveFigures {
            size: 3,
            idle: 1,
            in_use: 2,
            waiters: 5,
            max_size: 4,
        }
    }

    #[test]
    fn buckets_are_powers_of_two_microseconds() {
        assert_eq!(latency_bucket(Duration::ZERO), 0);
        assert_eq!(latency_bucket(Duration::from_micros(1)), 1);
        assert_eq!(latency_bucket(Duration::from_micros(3)), 2);
        assert_eq!(latency_bucket(Duration::from_micros(4)), 3);
        assert_eq!(latency_bucket(Duration::from_millis(1)), 10);
        assert_eq!(
            latency_bucket(Duration::from_secs(3600)),
            LATENCY_BUCKETS - 1
        );
        assert_eq!(latency_bucket(Duration::MAX), LATENCY_BUCKETS - 1);
    }

    #[test]
    fn snapshot_reports_every_counter() {
        let c = Counters::default();
        c.acquired(Duration::from_micros(3));
        c.acquired(Duration::from_micros(3));
        c.acquired(Duration::from_millis(1));
        c.acquire_timed_out();
        c.connection_created();
        c.connection_created();
        c.connect_failed();
        c.connection_closed(CloseReason::Lifetime);
        c.connection_closed(CloseReason::Idle);
        c.connection_closed(CloseReason::Idle);
        c.connection_closed(CloseReason::ResetFailure);
        c.leak_reported();
        let s = c.snapshot(live());
        assert_eq!(
            (s.size, s.idle, s.in_use, s.waiters, s.max_size),
            (3, 1, 2, 5, 4)
        );
        assert_eq!(s.acquires, 3);
        assert_eq!(s.acquire_timeouts, 1);
        assert_eq!(s.created, 2);
        assert_eq!(s.connect_failures, 1);
        assert_eq!(
            s.closed,
            ClosedCounts {
                lifetime: 1,
                idle: 2,
                broken: 0,
                health_check: 0,
                reset_failure: 1,
                pool_closed: 0,
                hook: 0,
            }
        );
        assert_eq!(s.closed.total(), 4);
        assert_eq!(s.closed.get(CloseReason::Idle), 2);
        assert_eq!(s.leaks, 1);
        assert_eq!(s.acquire_latency.counts()[2], 2);
        assert_eq!(s.acquire_latency.counts()[10], 1);
        assert_eq!(s.acquire_latency.total(), 3);
    }

    #[test]
    fn quantiles_are_bucket_limits() {
        let c = Counters::default();
        assert_eq!(
            c.snapshot(live()).acquire_latency.quantile_upper_bound(0.5),
            None
        );
        for _ in 0..9 {
            c.acquired(Duration::from_micros(5));
        }
        c.acquired(Duration::from_millis(2));
        let h = c.snapshot(live()).acquire_latency;
        assert_eq!(h.quantile_upper_bound(0.5), Some(Duration::from_micros(8)));
        assert_eq!(h.quantile_upper_bound(0.9), Some(Duration::from_micros(8)));
        assert_eq!(
            h.quantile_upper_bound(1.0),
            Some(Duration::from_micros(2048))
        );
        assert_eq!(
            LatencyHistogram::bucket_limit(LATENCY_BUCKETS - 1),
            Duration::MAX
        );
    }
}
