//! The pool's health state machine, driven by connect outcomes.
//!
//! Owns [`HealthState`] and the tracker that moves between states and holds
//! the connect backoff. It is a plain state machine fed with `now` and a
//! random value: it must not read a clock, sleep or connect.
//!
//! ```text
//!            failure                failure (n+1 < down_after)
//!  Healthy ──────────► Degraded(1) ───────────► Degraded(n+1)
//!     ▲                     │ failure (n+1 >= down_after)
//!     │ success             ▼
//!     └───────────────── Down ◄── failure
//! ```
//!
//! Every failure schedules the next attempt after an exponential, jittered,
//! capped backoff; a success clears it.

use std::fmt;
use std::time::{Duration, Instant};

use crate::backoff;

/// How the pool's host looks from its connect attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HealthState {
    /// The last connect attempt succeeded (or none was needed yet).
    Healthy,
    /// Recent connect attempts failed, fewer than the `down_after` threshold
    /// in a row.
    Degraded,
    /// At least `down_after` connect attempts failed in a row: acquires that
    /// need a new connection fail at once until the next retry is due.
    Down,
}

impl fmt::Display for HealthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Down => "down",
        })
    }
}

/// A change of [`HealthState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthChange {
    /// The state before.
    pub from: HealthState,
    /// The state after.
    pub to: HealthState,
}

/// How connect failures are spaced out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure (before jitter).
    pub base: Duration,
    /// The longest wait between attempts.
    pub cap: Duration,
    /// Failures in a row after which the pool is [`HealthState::Down`].
    pub down_after: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
            down_after: 3,
        }
    }
}

/// The health state plus the failure count and next retry time.
#[derive(Debug, Clone)]
pub(crate) struct HealthTracker {
    state: HealthState,
    failures: u32,
    retry_at: Option<Instant>,
    backoff: Backoff,
}

impl HealthTracker {
    pub(crate) fn new(backoff: Backoff) -> Self {
        Self {
            state: HealthState::Healthy,
            failures: 0,
            retry_at: None,
            backoff,
        }
    }

    /// The current state.
    pub(crate) fn state(&self) -> HealthState {
        self.state
    }

    /// Connect failures in a row.
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }

    /// When the next connect attempt is due, after failures.
    pub(crate) fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// Whether a background connect attempt may be made at `now`.
    pub(crate) fn may_retry(&self, now: Instant) -> bool {
        self.retry_at.is_none_or(|at| now >= at)
    }

    /// Whether an acquire that needs a new connection should fail at once:
    /// the pool is down and the next retry is not due yet.
    pub(crate) fn fail_fast(&self, now: Instant) -> bool {
        self.state == HealthState::Down && !self.may_retry(now)
    }

    /// A connect attempt succeeded.
    pub(crate) fn handle_success(&mut self) -> Option<HealthChange> {
        self.failures = 0;
        self.retry_at = None;
        self.move_to(HealthState::Healthy)
    }

    /// A connect attempt failed at `now`; `unit` is a random value in
    /// `[0, 1)` for the backoff jitter.
    pub(crate) fn handle_failure(&mut self, now: Instant, unit: f64) -> Option<HealthChange> {
        self.failures = self.failures.saturating_add(1);
        let wait = backoff::exponential(self.failures, self.backoff.base, self.backoff.cap, unit);
        self.retry_at = Some(now + wait);
        let next = if self.failures >= self.backoff.down_after.max(1) {
            HealthState::Down
        } else {
            HealthState::Degraded
        };
        self.move_to(next)
    }

    fn move_to(&mut self, to: HealthState) -> Option<HealthChange> {
        let from = std::mem::replace(&mut self.state, to);
        (from != to).then_some(HealthChange { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker() -> HealthTracker {
        HealthTracker::new(Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            down_after: 3,
        })
    }

    fn change(from: HealthState, to: HealthState) -> Option<HealthChange> {
        Some(HealthChange { from, to })
    }

    #[test]
    fn failures_degrade_then_bring_down_then_success_heals() {
        use HealthState::*;
        let t0 = Instant::now();
        let mut h = tracker();
        assert_eq!(h.state(), Healthy);
        assert!(h.may_retry(t0));

        assert_eq!(h.handle_failure(t0, 0.0), change(Healthy, Degraded));
        assert_eq!(h.retry_at(), Some(t0 + Duration::from_millis(50)));
        assert!(!h.may_retry(t0 + Duration::from_millis(49)));
        assert!(h.may_retry(t0 + Duration::from_millis(50)));
        assert!(!h.fail_fast(t0), "degraded pools still try to connect");

        assert_eq!(h.handle_failure(t0, 0.0), None);
        assert_eq!(h.state(), Degraded);
        assert_eq!(h.retry_at(), Some(t0 + Duration::from_millis(100)));

        assert_eq!(h.handle_failure(t0, 0.0), change(Degraded, Down));
        assert_eq!(h.failures(), 3);
        assert!(h.fail_fast(t0 + Duration::from_millis(199)));
        assert!(!h.fail_fast(t0 + Duration::from_millis(200)));

        // Capped: many more failures never wait past the cap.
        for _ in 0..20 {
            assert_eq!(h.handle_failure(t0, 0.999), None);
        }
        let wait = h.retry_at().unwrap() - t0;
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert!(wait >= Duration::from_millis(999), "{wait:?}");

        assert_eq!(h.handle_success(), change(Down, Healthy));
        assert_eq!(h.failures(), 0);
        assert_eq!(h.retry_at(), None);
        assert_eq!(h.handle_success(), None);
    }

    #[test]
    fn down_after_one_goes_straight_down() {
        let t0 = Instant::now();
        let mut h = HealthTracker::new(Backoff {
            down_after: 1,
            ..Backoff::default()
        });
        assert_eq!(
            h.handle_failure(t0, 0.5),
            change(HealthState::Healthy, HealthState::Down)
        );
        // Zero is treated as one rather than "never healthy".
        let mut h = HealthTracker::new(Backoff {
            down_after: 0,
            ..Backoff::default()
        });
        assert_eq!(
            h.handle_failure(t0, 0.5).map(|c| c.to),
            Some(HealthState::Down)
        );
    }

    #[test]
    fn degraded_recovers_on_success() {
        let t0 = Instant::now();
        let mut h = tracker();
        h.handle_failure(t0, 0.3);
        assert_eq!(
            h.handle_success(),
            change(HealthState::Degraded, HealthState::Healthy)
        );
        assert!(h.may_retry(t0));
    }
}
