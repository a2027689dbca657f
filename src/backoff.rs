//! The one backoff rule of the crate: how long to wait before attempt
//! number `n + 1` after `n` failures in a row.
//!
//! Owns [`exponential`], a plain function of the attempt number, a base, a
//! cap and a random value passed in. The pool's reconnects, the transaction
//! retry helper and anything else that retries use it, so they space out in
//! the same way. It must not read a clock, draw random numbers or sleep:
//! callers draw the random value and do the waiting, so every delay can be
//! replayed in tests.

use std::time::Duration;

/// The wait after `failures` failed attempts in a row (`failures >= 1`;
/// zero is taken as one): `base` doubled for each failure after the first,
/// capped at `cap`, with "equal jitter": half of it fixed, half scaled by
/// `unit`, a random value in `[0, 1)` (clamped; NaN counts as 0). Sessions
/// that failed together then retry at different times, yet none waits less
/// than half its share.
pub(crate) fn exponential(failures: u32, base: Duration, cap: Duration, unit: f64) -> Duration {
    let exponent = failures.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exponent).min(cap);
    let half = full / 2;
    half + half.mul_f64(clamp_unit(unit))
}

fn clamp_unit(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_base_with_equal_jitter_up_to_the_cap() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        let ms = |d: Duration| d.as_millis();
        assert_eq!(ms(exponential(1, base, cap, 0.0)), 50);
        assert_eq!(ms(exponential(1, base, cap, 0.999_999)), 99);
        assert_eq!(ms(exponential(2, base, cap, 0.0)), 100);
        assert_eq!(ms(exponential(3, base, cap, 0.5)), 300);
        assert_eq!(ms(exponential(5, base, cap, 1.0)), 1600);
        assert_eq!(ms(exponential(6, base, cap, 1.0)), 2000);
        assert_eq!(ms(exponential(40, base, cap, 0.0)), 1000);
        assert_eq!(ms(exponential(u32::MAX, base, cap, 1.0)), 2000);
        assert_eq!(ms(exponential(0, base, cap, 0.0)), 50);
    }

    #[test]
    fn random_values_outside_the_unit_interval_are_clamped() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        assert_eq!(exponential(1, base, cap, f64::NAN), base / 2);
        assert_eq!(exponential(1, base, cap, -3.0), base / 2);
        assert_eq!(exponential(1, base, cap, 7.0), base);
        assert_eq!(exponential(1, base, cap, f64::INFINITY), base);
    }

    #[test]
    fn zero_base_or_zero_cap_waits_nothing() {
        let sec = Duration::from_secs(1);
        assert_eq!(exponential(3, Duration::ZERO, sec, 0.7), Duration::ZERO);
        assert_eq!(exponential(3, sec, Duration::ZERO, 0.7), Duration::ZERO);
    }
}
