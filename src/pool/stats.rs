//! Pool counters and their snapshot.
//!
//! Owns the atomic counters the pool bumps on its hot path, the
//! acquire-latency histogram, and [`PoolStats`], the plain snapshot callers
//! read. It must not lock, allocate per event or do I/O.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Why the pool closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// It reached `max_lifetime`.
    Lifetime,
    /// It stayed idle past `idle_timeout` while more than `min_idle` were idle.
    Idle,
    /// It was found closed or broken (server gone, I/O error).
    Broken,
    /// It failed a health check round trip (background or on acquire).
    HealthCheck,
    /// Rolling back an open transaction or running the reset SQL failed.
    ResetFailure,
    /// The pool was closed.
    PoolClosed,
}

impl CloseReason {
    /// Every reason, in the order of [`ClosedCounts`] fields.
    pub const ALL: [Self; 6] = [
        Self::Lifetime,
        Self::Idle,
        Self::Broken,
        Self::HealthCheck,
        Self::ResetFailure,
        Self::PoolClosed,
    ];

    fn index(self) -> usize {
        match self {
            Self::Lifetime => 0,
            Self::Idle => 1,
            Self::Broken => 2,
            Self::HealthCheck => 3,
            Self::ResetFailure => 4,
            Self::PoolClosed => 5,
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Lifetime => "max lifetime reached",
            Self::Idle => "idle timeout",
            Self::Broken => "broken",
            Self::HealthCheck => "health check failed",
            Self::ResetFailure => "reset failed",
            Self::PoolClosed => "pool closed",
        })
    }
}

/// Connections closed, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClosedCounts {
    /// Reached `max_lifetime`.
    pub lifetime: u64,
    /// Idle past `idle_timeout`.
    pub idle: u64,
    /// Found broken.
    pub broken: u64,
    /// Failed a health check.
    pub health_check: u64,
    /// Rollback or reset failed.
    pub reset_failure: u64,
    /// Closed with the pool.
    pub pool_closed: u64,
}

impl ClosedCounts {
    /// The count for one reason.
    pub fn get(&self, reason: CloseReason) -> u64 {
        match reason {
            CloseReason::Lifetime => self.lifetime,
            CloseReason::Idle => self.idle,
            CloseReason::Broken => self.broken,
            CloseReason::HealthCheck => self.health_check,
            CloseReason::ResetFailure => self.reset_failure,
            CloseReason::PoolClosed => self.pool_closed,
        }
    }

    /// All reasons together.
    pub fn total(&self) -> u64 {
        CloseReason::ALL.iter().map(|r| self.get(*r)).sum()
    }
}

/// Number of acquire-latency buckets: bucket `i` counts acquires that took
/// less than `2^i` µs (the last one: everything slower).
pub const LATENCY_BUCKETS: usize = 24;

/// Acquire latencies in power-of-two microsecond buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: [u64; LATENCY_BUCKETS],
}

impl LatencyHistogram {
    /// Acquires per bucket; bucket `i` holds those under
    /// [`bucket_limit(i)`](Self::bucket_limit).
    pub fn counts(&self) -> &[u64; LATENCY_BUCKETS] {
        &self.counts
    }

    /// The upper bound of bucket `i` (`2^i` µs); the last bucket has none and
    /// reports `Duration::MAX`.
    pub fn bucket_limit(i: usize) -> Duration {
        if i + 1 >= LATENCY_BUCKETS {
            Duration::MAX
        } else {
            Duration::from_micros(1u64 << i)
        }
    }

    /// Number of acquires recorded.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// An upper bound of the `q` quantile (`q` in `[0, 1]`): the limit of the
    /// bucket it falls in. `None` when nothing was recorded.
    pub fn quantile_upper_bound(&self, q: f64) -> Option<Duration> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(Self::bucket_limit(i));
            }
        }
        Some(Duration::MAX)
    }
}

fn latency_bucket(latency: Duration) -> usize {
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    // The smallest i with micros < 2^i.
    let i = (u64::BITS - micros.leading_zeros()) as usize;
    i.min(LATENCY_BUCKETS - 1)
}

/// A snapshot of the pool's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections plus those being opened.
    pub size: usize,
    /// Connections idle in the pool.
    pub idle: usize,
    /// Connections handed out.
    pub in_use: usize,
    /// Acquires waiting for a connection.
    pub waiters: usize,
    /// The configured maximum size.
    pub max_size: usize,
    /// Successful acquires since the pool started.
    pub acquires: u64,
    /// Acquires that timed out.
    pub acquire_timeouts: u64,
    /// Connections opened.
    pub created: u64,
    /// Connect attempts that failed.
    pub connect_failures: u64,
    /// Connections closed, by reason.
    pub closed: ClosedCounts,
    /// Connections reported held past the leak threshold.
    pub leaks: u64,
    /// How long acquires took.
    pub acquire_latency: LatencyHistogram,
}

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
