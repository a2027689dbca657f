//! Pool statistics as callers read them.
//!
//! Owns [`PoolStats`] and its parts: plain snapshots, `#[non_exhaustive]`
//! so a counter can be added without breaking anyone. The pool's live
//! counters (`pool::stats`) fill them in.

use std::fmt;
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
    /// An acquire or release hook asked for it.
    Hook,
}

impl CloseReason {
    /// Every reason, in the order of [`ClosedCounts`] fields.
    pub const ALL: [Self; 7] = [
        Self::Lifetime,
        Self::Idle,
        Self::Broken,
        Self::HealthCheck,
        Self::ResetFailure,
        Self::PoolClosed,
        Self::Hook,
    ];

    /// The reason as a metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lifetime => "lifetime",
            Self::Idle => "idle",
            Self::Broken => "broken",
            Self::HealthCheck => "health_check",
            Self::ResetFailure => "reset_failure",
            Self::PoolClosed => "pool_closed",
            Self::Hook => "hook",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Self::Lifetime => 0,
            Self::Idle => 1,
            Self::Broken => 2,
            Self::HealthCheck => 3,
            Self::ResetFailure => 4,
            Self::PoolClosed => 5,
            Self::Hook => 6,
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
            Self::Hook => "discarded by a hook",
        })
    }
}

/// Connections closed, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
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
    /// Discarded by an acquire or release hook.
    pub hook: u64,
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
            CloseReason::Hook => self.hook,
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
#[non_exhaustive]
pub struct LatencyHistogram {
    pub(crate) counts: [u64; LATENCY_BUCKETS],
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

pub(crate) fn latency_bucket(latency: Duration) -> usize {
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    // The smallest i with micros < 2^i.
    let i = (u64::BITS - micros.leading_zeros()) as usize;
    i.min(LATENCY_BUCKETS - 1)
}

/// A snapshot of the pool's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
