//! Pool policy: when a connection expires, which idle connections to close,
//! how many connections to open. (The wait before the next connect attempt
//! is the crate's one backoff rule, `crate::backoff`.)
//!
//! Owns plain functions of state, `now` and an injected random value in
//! `[0, 1)`. It must not read a clock, draw random numbers or do I/O, so
//! every decision can be replayed in tests without sleeping.

use std::time::{Duration, Instant};

/// The lifetime of a new connection: `max_lifetime` shortened by up to
/// `jitter` (a fraction, clamped to `[0, 1]`) of itself, scaled by `unit`
/// (a random value in `[0, 1)`), so connections opened together do not all
/// expire together.
pub(crate) fn jittered_lifetime(max_lifetime: Duration, jitter: f64, unit: f64) -> Duration {
    let jitter = clamp_unit(jitter);
    let unit = clamp_unit(unit);
    max_lifetime.mul_f64(1.0 - jitter * unit)
}

/// Whether a connection created at `expires_at` has reached the end of its
/// life at `now`.
pub(crate) fn lifetime_expired(expires_at: Option<Instant>, now: Instant) -> bool {
    expires_at.is_some_and(|at| now >= at)
}

/// How many of the oldest idle connections to close for idling too long.
///
/// `idle_since` lists the idle connections from the longest idle to the most
/// recently returned. Connections idle for at least `idle_timeout` are
/// closed, but never so many that fewer than `min_idle` stay idle.
pub(crate) fn idle_to_close(
    idle_since: impl IntoIterator<Item = Instant>,
    now: Instant,
    idle_timeout: Option<Duration>,
    min_idle: usize,
) -> usize {
    let Some(timeout) = idle_timeout else {
        return 0;
    };
    let mut idle = 0usize;
    let mut expired = 0usize;
    for since in idle_since {
        idle += 1;
        if now.saturating_duration_since(since) >= timeout {
            expired += 1;
        }
    }
    expired.min(idle.saturating_sub(min_idle))
}

/// Whether a connection idle since `idle_since` must pass a round trip
/// before it is handed out.
pub(crate) fn needs_test_on_acquire(
    idle_since: Instant,
    now: Instant,
    threshold: Option<Duration>,
) -> bool {
    threshold.is_some_and(|t| now.saturating_duration_since(idle_since) >= t)
}

/// How many connections to open so that `min_idle` are idle, without the
/// pool growing past `max_size`. `size` counts open connections and those
/// being opened; `opening` the latter.
pub(crate) fn connections_to_open(
    idle: usize,
    opening: usize,
    size: usize,
    min_idle: usize,
    max_size: usize,
) -> usize {
    min_idle
        .saturating_sub(idle + opening)
        .min(max_size.saturating_sub(size))
}

fn clamp_unit(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn lifetime_jitter_shortens_within_the_fraction() {
        let max = Duration::from_secs(1000);
        assert_eq!(jittered_lifetime(max, 0.1, 0.0), max);
        assert_eq!(jittered_lifetime(max, 0.1, 0.5), Duration::from_secs(950));
        assert_eq!(jittered_lifetime(max, 0.0, 0.9), max);
        // Out-of-range inputs are clamped instead of producing odd values.
        assert_eq!(jittered_lifetime(max, 2.0, 0.5), Duration::from_secs(500));
        assert_eq!(jittered_lifetime(max, 0.1, f64::NAN), max);
    }

    #[test]
    fn lifetimes_from_different_draws_differ() {
        let max = Duration::from_secs(600);
        let a = jittered_lifetime(max, 0.2, 0.1);
        let b = jittered_lifetime(max, 0.2, 0.7);
        assert_eq!(a, Duration::from_secs(588));
        assert_eq!(b, Duration::from_secs(516));
    }

    #[test]
    fn lifetime_expiry() {
        let t0 = Instant::now();
        assert!(!lifetime_expired(None, t0 + 1000 * SEC));
        assert!(!lifetime_expired(Some(t0 + SEC), t0));
        assert!(lifetime_expired(Some(t0 + SEC), t0 + SEC));
    }

    #[test]
    fn idle_expiry_keeps_min_idle() {
        let t0 = Instant::now();
        let now = t0 + 100 * SEC;
        // Oldest first: idle 100 s, 90 s, 50 s, 1 s.
        let idle = [t0, t0 + 10 * SEC, t0 + 50 * SEC, t0 + 99 * SEC];
        assert_eq!(idle_to_close(idle, now, Some(60 * SEC), 0), 2);
        assert_eq!(idle_to_close(idle, now, Some(60 * SEC), 3), 1);
        assert_eq!(idle_to_close(idle, now, Some(60 * SEC), 4), 0);
        assert_eq!(idle_to_close(idle, now, Some(SEC), 0), 4);
        assert_eq!(idle_to_close(idle, now, None, 0), 0);
        assert_eq!(idle_to_close([], now, Some(SEC), 0), 0);
    }

    #[test]
    fn test_on_acquire_after_threshold() {
        let t0 = Instant::now();
        assert!(!needs_test_on_acquire(t0, t0 + SEC, None));
        assert!(!needs_test_on_acquire(t0, t0 + SEC, Some(2 * SEC)));
        assert!(needs_test_on_acquire(t0, t0 + 2 * SEC, Some(2 * SEC)));
        assert!(needs_test_on_acquire(t0, t0, Some(Duration::ZERO)));
    }

    #[test]
    fn open_up_to_min_idle_within_max_size() {
        assert_eq!(connections_to_open(0, 0, 0, 4, 10), 4);
        assert_eq!(connections_to_open(1, 2, 3, 4, 10), 1);
        assert_eq!(connections_to_open(0, 0, 9, 4, 10), 1);
        assert_eq!(connections_to_open(5, 0, 5, 4, 10), 0);
        assert_eq!(connections_to_open(0, 0, 10, 4, 10), 0);
    }
}
