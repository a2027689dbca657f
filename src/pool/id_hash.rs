//! Hashing of connection ids for the pool's in-use registry.
//!
//! Owns [`IdMap`]: a map keyed by the pool's own connection ids. The ids
//! are a sequence this pool hands out, never chosen by anyone else, so a
//! keyed hash built to resist crafted keys (the standard SipHash) buys
//! nothing here and costs most of a check-out; a Fibonacci multiply spreads
//! the ids over the table instead.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map from connection id to `V`.
pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// 2^64 divided by the golden ratio: consecutive ids land far apart, in
/// the high bits the table probes by as well as the low ones.
const SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;

/// The hasher behind [`IdMap`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(SPREAD);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(SPREAD);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn consecutive_ids_spread_over_the_high_bits() {
        let build = BuildHasherDefault::<IdHasher>::default();
        let tops: std::collections::HashSet<u64> =
            (0..128u64).map(|id| build.hash_one(id) >> 57).collect();
        assert!(
            tops.len() > 64,
            "only {} of 128 distinct top-7-bit groups",
            tops.len()
        );
    }

    #[test]
    fn the_map_keeps_every_id() {
        let mut map = IdMap::default();
        for id in 0..10_000u64 {
            map.insert(id, id * 2);
        }
        assert_eq!(map.len(), 10_000);
        assert!((0..10_000u64).all(|id| map.get(&id) == Some(&(id * 2))));
        assert_eq!(map.remove(&4_321), Some(8_642));
        assert_eq!(map.get(&4_321), None);
    }
}
