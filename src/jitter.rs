//! The crate's one source of jitter: the random values that spread out
//! retries and reconnects (see `crate::backoff`).
//!
//! Owns a lock-free SplitMix64 generator seeded from the OS once, and a
//! process-wide one ([`unit`]) for callers that keep none of their own.
//! Policy code never calls it: callers (the pool, the cluster, the
//! transaction retry helper, the listener) draw a value here and pass it
//! in, so policies stay replayable.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A shared generator of values in `[0, 1)` and of shuffles; not for
/// cryptography.
#[derive(Debug)]
pub(crate) struct Jitter {
    state: AtomicU64,
}

impl Jitter {
    /// A generator seeded from the OS, or from the clock if that fails.
    pub(crate) fn from_os() -> Self {
        let seed = getrandom::u64().unwrap_or_else(|_| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
        Self::with_seed(seed)
    }

    pub(crate) fn with_seed(seed: u64) -> Self {
        Self {
            state: AtomicU64::new(seed),
        }
    }

    fn next_u64(&self) -> u64 {
        let mut z = self.state.fetch_add(GAMMA, Relaxed).wrapping_add(GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The next value in `[0, 1)`.
    pub(crate) fn unit(&self) -> f64 {
        // 53 random bits as a fraction of 2^53.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A value in `0..=max`, uniform up to a bias below 2^-60 for the list
    /// lengths it is used on.
    fn up_to(&self, max: usize) -> usize {
        let span = max as u128 + 1;
        ((self.next_u64() as u128 * span) >> 64) as usize
    }

    /// Shuffles `items` uniformly (Fisher–Yates).
    pub(crate) fn shuffle<T>(&self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.up_to(i);
            items.swap(i, j);
        }
    }
}

/// The next value in `[0, 1)` of the process-wide generator.
pub(crate) fn unit() -> f64 {
    static SHARED: OnceLock<Jitter> = OnceLock::new();
    SHARED.get_or_init(Jitter::from_os).unit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_in_unit_interval_and_vary() {
        let j = Jitter::with_seed(42);
        let values: Vec<f64> = (0..1000).map(|_| j.unit()).collect();
        assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert!((0.4..0.6).contains(&mean), "mean {mean}");
        assert_ne!(values[0], values[1]);
    }

    #[test]
    fn the_shared_generator_is_in_the_unit_interval_and_varies() {
        let values: Vec<f64> = (0..100).map(|_| unit()).collect();
        assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
        assert!(values.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn same_seed_same_sequence() {
        let a = Jitter::with_seed(7);
        let b = Jitter::with_seed(7);
        assert_eq!(a.unit(), b.unit());
        assert_eq!(a.unit(), b.unit());
    }
}
