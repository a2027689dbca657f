//! Replication lag and the staleness bound of a replica.
//!
//! Owns [`lag_bytes`], the [`PrimarySamples`] ring of the primary's recent
//! (LSN, time) samples and the [`Staleness`] answer computed from it. It is
//! pure: time comes in as the `at` of each sample and the `now` of each
//! question, so a bound is aged at read time, never stored.
//!
//! # The bound
//!
//! A replica that has replayed the log up to `R` holds everything the
//! primary held at any moment its position was `<= R`. The latest sample
//! `(L, t)` with `L <= R` is such a moment, so the replica's data is no older
//! than it was at `t`: its staleness is at most `now - t`. When the primary
//! is idle its position stays at `L` and every new sample refreshes `t`, so a
//! caught-up replica's bound stays within one sample interval; the
//! replica-side `now() - pg_last_xact_replay_timestamp()` would instead grow
//! without limit while nothing is written.
//!
//! When `R` is older than the oldest sample in the ring the replica lacks
//! log the primary had already written at that sample's time, so its
//! staleness is at least `now - t_oldest`, with no upper bound known: the
//! answer says so ([`Staleness::BeyondSamples`]) and counts as too stale for
//! any bound. Size the ring with [`PrimarySamples::capacity_for`] so that
//! this happens only to replicas already beyond `max_staleness`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::lsn::Lsn;

/// Bytes of log the replica has yet to replay: `primary - replica_replay`,
/// or zero when the replica is level or (between two probes) ahead.
pub fn lag_bytes(primary: Lsn, replica_replay: Lsn) -> u64 {
    primary.bytes_since(replica_replay)
}

/// Which way a measure crossed its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossing {
    /// From at or below the threshold (or unknown) to above it.
    Above,
    /// From above the threshold to at or below it.
    Below,
}

/// Whether a lag measure (bytes, or a staleness bound) crossed `threshold`
/// between two probes, for the cluster's "lag threshold crossed" event.
/// An unknown previous value counts as below, so a node first seen lagging
/// reports [`Crossing::Above`]; an unknown current value reports nothing.
/// One probe gives at most one crossing, so a lag hovering at the threshold
/// emits at most one event per monitor interval.
pub fn threshold_crossing<T: PartialOrd>(
    previous: Option<T>,
    current: Option<T>,
    threshold: T,
) -> Option<Crossing> {
    let current = current?;
    let was_above = previous.is_some_and(|p| p > threshold);
    let is_above = current > threshold;
    match (was_above, is_above) {
        (false, true) => Some(Crossing::Above),
        (true, false) => Some(Crossing::Below),
        _ => None,
    }
}

/// How stale a replica's data may be, at the `now` it was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staleness {
    /// The replica's data is no older than this.
    AtMost(Duration),
    /// The replica has not replayed up to the oldest sample in the ring: its
    /// data is at least this old and no upper bound is known.
    BeyondSamples {
        /// The age of the oldest sample, a lower bound on the staleness.
        at_least: Duration,
    },
    /// Nothing is known: no primary samples yet, or no replay position for
    /// the replica.
    Unknown,
}

impl Staleness {
    /// Whether the replica is certainly within `max_staleness`. Only an
    /// upper bound can show that; the other answers never qualify.
    pub fn within(self, max_staleness: Duration) -> bool {
        matches!(self, Self::AtMost(bound) if bound <= max_staleness)
    }

    /// The upper bound, when one is known.
    pub fn upper_bound(self) -> Option<Duration> {
        match self {
            Self::AtMost(bound) => Some(bound),
            Self::BeyondSamples { .. } | Self::Unknown => None,
        }
    }
}

/// One observation of the primary's log position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// The primary's position.
    pub lsn: Lsn,
    /// When it was observed (when the probe's reply arrived).
    pub at: Instant,
}

/// What [`PrimarySamples::record`] did with a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A new position was appended (the oldest sample may have been dropped
    /// to make room).
    Appended,
    /// The position had not moved: the latest sample's time was refreshed.
    Refreshed,
    /// The position went backwards (a different primary, or a restored
    /// one): the history was cleared and starts again with this sample.
    Restarted,
    /// The sample is older than the latest one and was ignored.
    OutOfOrder,
}

/// A bounded ring of the primary's recent (LSN, time) samples, positions
/// and times both non-decreasing, oldest first.
#[derive(Debug, Clone)]
pub struct PrimarySamples {
    ring: VecDeque<Sample>,
    capacity: usize,
}

impl PrimarySamples {
    /// The ring size used when none is configured: a minute of history at
    /// the default one-second monitor interval (more while the primary is
    /// idle, since unchanged positions share one entry).
    pub const DEFAULT_CAPACITY: usize = 64;

    /// An empty ring of `capacity` samples (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            ring: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// A ring size that keeps at least `max_staleness` of history when the
    /// primary is sampled every `interval`, plus two samples of margin; at
    /// least [`Self::DEFAULT_CAPACITY`].
    pub fn capacity_for(max_staleness: Duration, interval: Duration) -> usize {
        if interval.is_zero() {
            return Self::DEFAULT_CAPACITY;
        }
        let spans = max_staleness.as_nanos().div_ceil(interval.as_nanos());
        usize::try_from(spans)
            .unwrap_or(usize::MAX)
            .saturating_add(2)
            .max(Self::DEFAULT_CAPACITY)
    }

    /// How many samples the ring holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many samples the ring holds.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// The newest sample.
    pub fn latest(&self) -> Option<Sample> {
        self.ring.back().copied()
    }

    /// The oldest sample.
    pub fn oldest(&self) -> Option<Sample> {
        self.ring.front().copied()
    }

    /// Forgets every sample (the primary changed).
    pub fn clear(&mut self) {
        self.ring.clear();
    }

    /// Adds the primary's position `lsn` observed at `at`.
    pub fn record(&mut self, lsn: Lsn, at: Instant) -> Recorded {
        let Some(last) = self.ring.back_mut() else {
            self.ring.push_back(Sample { lsn, at });
            return Recorded::Appended;
        };
        if at < last.at {
            return Recorded::OutOfOrder;
        }
        if lsn == last.lsn {
            // The latest moment at a position is the one that bounds a
            // replica at that position most tightly.
            last.at = at;
            return Recorded::Refreshed;
        }
        if lsn < last.lsn {
            self.ring.clear();
            self.ring.push_back(Sample { lsn, at });
            return Recorded::Restarted;
        }
        if self.ring.len() == self.capacity {
            self.ring.pop_front();
        }
        self.ring.push_back(Sample { lsn, at });
        Recorded::Appended
    }

    /// The staleness bound at `now` of a replica that has replayed up to
    /// `replay` (see the module documentation).
    pub fn staleness(&self, replay: Lsn, now: Instant) -> Staleness {
        let Some(oldest) = self.ring.front() else {
            return Staleness::Unknown;
        };
        // Positions are non-decreasing, so the samples at or below `replay`
        // form a prefix; the last of them is the tightest bound.
        let at_or_below = self.ring.partition_point(|s| s.lsn <= replay);
        match at_or_below.checked_sub(1).and_then(|i| self.ring.get(i)) {
            Some(sample) => Staleness::AtMost(now.saturating_duration_since(sample.at)),
            None => Staleness::BeyondSamples {
                at_least: now.saturating_duration_since(oldest.at),
            },
        }
    }
}

impl Default for PrimarySamples {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);
    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn caught_up_replica_of_idle_primary_stays_within_one_interval() {
        let t0 = Instant::now();
        let interval = SEC;
        let mut samples = PrimarySamples::default();
        let idle_at = Lsn::new(0x0400_3A88);
        samples.record(Lsn::new(0x0400_0000), t0);
        let mut next_sample = t0 + interval;
        let mut worst = Duration::ZERO;
        // Ten idle seconds, asked every 50 ms; the monitor samples once a
        // second and the position never moves after the first write.
        for step in 1..=200u32 {
            let now = t0 + MS * 50 * step;
            if now >= next_sample {
                samples.record(idle_at, next_sample);
                next_sample += interval;
            }
            if now < t0 + interval {
                continue;
            }
            let bound = samples.staleness(idle_at, now).upper_bound().unwrap();
            worst = worst.max(bound);
            assert!(bound <= interval, "{bound:?} at step {step}");
        }
        assert_eq!(worst, MS * 950);
        // Unchanged positions share one entry.
        assert_eq!(samples.len(), 2);
    }

    #[test]
    fn bound_is_the_latest_sample_at_or_below_the_replay_position() {
        let t0 = Instant::now();
        let mut samples = PrimarySamples::new(8);
        for (i, lsn) in [100u64, 200, 300, 400].into_iter().enumerate() {
            assert_eq!(
                samples.record(Lsn::new(lsn), t0 + SEC * i as u32),
                Recorded::Appended
            );
        }
        let now = t0 + SEC * 10;
        let at = |r: u64| samples.staleness(Lsn::new(r), now);
        assert_eq!(at(400), Staleness::AtMost(SEC * 7));
        assert_eq!(at(10_000), Staleness::AtMost(SEC * 7));
        assert_eq!(at(399), Staleness::AtMost(SEC * 8));
        assert_eq!(at(200), Staleness::AtMost(SEC * 9));
        assert_eq!(at(100), Staleness::AtMost(SEC * 10));
        // Older than every sample: a lower bound only, never within a bound.
        assert_eq!(at(99), Staleness::BeyondSamples { at_least: SEC * 10 });
        assert!(!at(99).within(Duration::MAX));
        // Aged at read time: the same state answers differently later.
        assert_eq!(
            samples.staleness(Lsn::new(400), now + SEC),
            Staleness::AtMost(SEC * 8)
        );
    }

    #[test]
    fn ring_drops_the_oldest_and_restarts_on_a_lower_position() {
        let t0 = Instant::now();
        let mut samples = PrimarySamples::new(3);
        for i in 1..=5u32 {
            samples.record(Lsn::new(u64::from(i) * 10), t0 + SEC * i);
        }
        assert_eq!(samples.len(), 3);
        assert_eq!(samples.oldest().map(|s| s.lsn), Some(Lsn::new(30)));
        assert_eq!(
            samples.staleness(Lsn::new(20), t0 + SEC * 6),
            Staleness::BeyondSamples { at_least: SEC * 3 }
        );
        assert_eq!(
            samples.record(Lsn::new(40), t0 + SEC),
            Recorded::OutOfOrder,
            "older than the latest sample"
        );
        assert_eq!(
            samples.record(Lsn::new(50), t0 + SEC * 7),
            Recorded::Refreshed
        );
        assert_eq!(samples.latest().map(|s| s.at), Some(t0 + SEC * 7));
        assert_eq!(
            samples.record(Lsn::new(45), t0 + SEC * 8),
            Recorded::Restarted
        );
        assert_eq!(samples.len(), 1);
        samples.clear();
        assert_eq!(
            samples.staleness(Lsn::new(45), t0 + SEC * 9),
            Staleness::Unknown
        );
    }

    #[test]
    fn capacity_covers_max_staleness() {
        assert_eq!(PrimarySamples::capacity_for(SEC * 3, SEC), 64);
        assert_eq!(PrimarySamples::capacity_for(SEC * 100, SEC), 102);
        assert_eq!(PrimarySamples::capacity_for(SEC * 100, MS * 300), 336);
        assert_eq!(PrimarySamples::capacity_for(SEC, Duration::ZERO), 64);
        assert_eq!(PrimarySamples::new(0).capacity(), 1);
    }

    #[test]
    fn threshold_crossings() {
        let t = 1_000u64;
        assert_eq!(
            threshold_crossing(Some(10), Some(1_001), t),
            Some(Crossing::Above)
        );
        assert_eq!(
            threshold_crossing(Some(2_000), Some(1_000), t),
            Some(Crossing::Below)
        );
        assert_eq!(threshold_crossing(Some(2_000), Some(3_000), t), None);
        assert_eq!(
            threshold_crossing(Some(10), Some(1_000), t),
            None,
            "at is not above"
        );
        assert_eq!(
            threshold_crossing(None, Some(5_000), t),
            Some(Crossing::Above)
        );
        assert_eq!(threshold_crossing(None, Some(5), t), None);
        assert_eq!(threshold_crossing(Some(5_000), None, t), None);
        assert_eq!(
            threshold_crossing(Some(SEC), Some(SEC * 4), SEC * 3),
            Some(Crossing::Above)
        );
    }

    #[test]
    fn lag_in_bytes() {
        assert_eq!(
            lag_bytes(Lsn::new(0x0400_3A88), Lsn::new(0x0400_0000)),
            0x3A88
        );
        assert_eq!(lag_bytes(Lsn::new(5), Lsn::new(9)), 0);
    }

    proptest! {
        #[test]
        fn lag_is_never_negative(primary: u64, replica: u64) {
            let lag = lag_bytes(Lsn::new(primary), Lsn::new(replica));
            if primary >= replica {
                prop_assert_eq!(lag, primary - replica);
            } else {
                prop_assert_eq!(lag, 0);
            }
        }

        /// Against a primary whose position moves at random moments and is
        /// sampled every `interval`, the answer brackets the true staleness
        /// (`now` minus the moment the primary first moved past the
        /// replica's position): an upper bound at most one interval above it,
        /// or a lower bound when the ring no longer reaches back far enough.
        #[test]
        fn bound_brackets_the_true_staleness(
            steps in proptest::collection::vec((1u64..3_000, 1u64..1_000), 1..40),
            interval_ms in 100u64..2_000,
            capacity in 2usize..20,
            replay_pick in 0.0f64..1.0,
            extra_ms in 0u64..5_000,
        ) {
            let t0 = Instant::now();
            // The primary's history: (time in ms, position) at each write.
            let mut writes = vec![(0u64, 0u64)];
            for (dt, dlsn) in &steps {
                let (t, lsn) = *writes.last().unwrap();
                writes.push((t + dt, lsn + dlsn));
            }
            let position_at = |t: u64| {
                writes.iter().rev().find(|(wt, _)| *wt <= t).map_or(0, |w| w.1)
            };
            let now_ms = writes.last().unwrap().0 + extra_ms;
            let mut samples = PrimarySamples::new(capacity);
            let mut t = 0;
            while t <= now_ms {
                samples.record(Lsn::new(position_at(t)), t0 + MS * t as u32);
                t += interval_ms;
            }
            let top = position_at(now_ms);
            let replay = (top as f64 * replay_pick) as u64;
            let truth = writes
                .iter()
                .find(|(wt, lsn)| *lsn > replay && *wt <= now_ms)
                .map_or(Duration::ZERO, |(wt, _)| MS * (now_ms - wt) as u32);
            let now = t0 + MS * now_ms as u32;
            match samples.staleness(Lsn::new(replay), now) {
                Staleness::AtMost(bound) => {
                    prop_assert!(bound >= truth, "{:?} < {:?}", bound, truth);
                    prop_assert!(bound <= truth + MS * interval_ms as u32, "{:?} vs {:?}", bound, truth);
                }
                Staleness::BeyondSamples { at_least } => {
                    prop_assert!(at_least <= truth, "{:?} > {:?}", at_least, truth);
                }
                Staleness::Unknown => prop_assert!(false, "samples were recorded"),
            }
        }
    }
}
