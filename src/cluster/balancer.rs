//! Balancers: which one of several eligible nodes serves a request.
//!
//! Owns [`Candidate`] (the little a balancer needs to know of a node),
//! [`Balancer`] (the choice of algorithm), [`BalancerState`] (the round-robin
//! cursor and the smooth weighted round-robin's current weights, the only
//! state any of them keeps) and one pure function per algorithm. Random
//! values come in as arguments in `[0, 1)`; nothing here draws them, reads a
//! clock or does I/O, so a seeded sequence replays exactly.
//!
//! None of the algorithms needs the time: the RTT estimates they compare are
//! refreshed by the monitor's probes, and a node whose probe fails is marked
//! down and never becomes a candidate.
//!
//! | algorithm | picks | state |
//! |---|---|---|
//! | [`round_robin`] | the next node after the last one picked, by id | last pick |
//! | [`random`] | uniformly at random | none |
//! | [`smooth_weighted`] | nginx's smooth weighted round-robin | current weights |
//! | [`least_in_flight`] | the fewest requests in flight, ties at random | none |
//! | [`latency_aware`] | within `window` of the fastest RTT, the fewer in flight of two random picks | none |

use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use super::error::ClusterConfigError;
use super::preference::name_matches;
use super::topology::{NodeId, NodeState};

/// The default latency window of [`Balancer::LatencyAware`].
pub const DEFAULT_LATENCY_WINDOW: Duration = Duration::from_millis(15);

/// What a balancer sees of one eligible node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// The node.
    pub node: NodeId,
    /// Its weight.
    pub weight: NonZeroU32,
    /// Requests running on it now.
    pub in_flight: u32,
    /// Its smoothed round-trip time, once measured.
    pub rtt: Option<Duration>,
}

impl Candidate {
    /// The candidate view of node `node` in state `state`.
    pub fn new(node: NodeId, state: &NodeState) -> Self {
        Self {
            node,
            weight: state.weight,
            in_flight: state.in_flight,
            rtt: state.rtt.estimate(),
        }
    }
}

/// How one node is chosen among the eligible ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Balancer {
    /// Each node in turn.
    RoundRobin,
    /// Uniformly at random.
    Random,
    /// In proportion to the nodes' weights, interleaved (nginx's smooth
    /// weighted round-robin: weights 1:2:3 give `c b a c b c`).
    WeightedRoundRobin,
    /// The node with the fewest requests in flight.
    LeastInFlight,
    /// Among the nodes whose RTT estimate is within `window` of the fastest
    /// (nodes not measured yet count as inside), the one with fewer requests
    /// in flight of two picked at random (the power of two choices).
    LatencyAware {
        /// How much slower than the fastest node a node may be.
        window: Duration,
    },
}

impl Default for Balancer {
    /// [`Balancer::LatencyAware`] with [`DEFAULT_LATENCY_WINDOW`].
    fn default() -> Self {
        Self::LatencyAware {
            window: DEFAULT_LATENCY_WINDOW,
        }
    }
}

impl Balancer {
    /// The balancer's name in configuration text.
    pub fn name(&self) -> &'static str {
        match self {
            Self::RoundRobin => "round-robin",
            Self::Random => "random",
            Self::WeightedRoundRobin => "weighted-round-robin",
            Self::LeastInFlight => "least-in-flight",
            Self::LatencyAware { .. } => "latency-aware",
        }
    }

    /// Picks one of `candidates` (none when it is empty), updating `state`
    /// for the algorithms that keep some. `random` holds two values in
    /// `[0, 1)`; the algorithms that need fewer ignore the rest.
    pub fn pick(
        &self,
        candidates: &[Candidate],
        state: &mut BalancerState,
        random: [f64; 2],
    ) -> Option<NodeId> {
        match self {
            Self::RoundRobin => round_robin(candidates, &mut state.last),
            Self::Random => self::random(candidates, random[0]),
            Self::WeightedRoundRobin => smooth_weighted(candidates, &mut state.current),
            Self::LeastInFlight => least_in_flight(candidates, random[0]),
            Self::LatencyAware { window } => latency_aware(candidates, *window, random),
        }
    }
}

impl FromStr for Balancer {
    type Err = ClusterConfigError;

    /// Parses [`Balancer::name`]'s spelling, ASCII case-insensitive, with
    /// `_` accepted for `-`; `latency-aware` gets [`DEFAULT_LATENCY_WINDOW`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const ALL: [Balancer; 5] = [
            Balancer::RoundRobin,
            Balancer::Random,
            Balancer::WeightedRoundRobin,
            Balancer::LeastInFlight,
            Balancer::LatencyAware {
                window: DEFAULT_LATENCY_WINDOW,
            },
        ];
        ALL.into_iter()
            .find(|b| name_matches(b.name(), s))
            .ok_or_else(|| ClusterConfigError::InvalidValue {
                setting: "balancer",
                value: s.to_owned(),
                expected: "round-robin, random, weighted-round-robin, least-in-flight, latency-aware",
            })
    }
}

/// The state the balancers keep between picks: the last round-robin pick and
/// the smooth weighted round-robin's current weights, one per node.
#[derive(Debug, Clone, Default)]
pub struct BalancerState {
    last: Option<NodeId>,
    current: Vec<i64>,
}

impl BalancerState {
    /// Fresh state for a topology of `nodes` nodes (it grows if a larger id
    /// shows up).
    pub fn new(nodes: usize) -> Self {
        Self {
            last: None,
            current: vec![0; nodes],
        }
    }
}

/// The candidate after `last` in id order, wrapping around; the first when
/// nothing was picked yet. Following ids rather than positions keeps the
/// rotation fair when the candidate set changes between picks.
pub fn round_robin(candidates: &[Candidate], last: &mut Option<NodeId>) -> Option<NodeId> {
    let after = |c: &&Candidate| last.is_none_or(|l| c.node > l);
    let next = candidates
        .iter()
        .filter(after)
        .min_by_key(|c| c.node)
        .or_else(|| candidates.iter().min_by_key(|c| c.node))?
        .node;
    *last = Some(next);
    Some(next)
}

/// The candidate at `unit` (in `[0, 1)`) of the way through the list.
pub fn random(candidates: &[Candidate], unit: f64) -> Option<NodeId> {
    candidates
        .get(scaled_index(unit, candidates.len()))
        .map(|c| c.node)
}

/// nginx's smooth weighted round-robin: each candidate's current weight
/// grows by its weight, the largest is picked (the first among equals) and
/// loses the total. Over any `W` picks from a fresh state, with `W` the sum
/// of the weights, each node is picked exactly its weight's number of times,
/// interleaved rather than in runs. `current` is indexed by node id; nodes
/// absent from `candidates` keep their current weight.
pub fn smooth_weighted(candidates: &[Candidate], current: &mut Vec<i64>) -> Option<NodeId> {
    let needed = candidates.iter().map(|c| c.node.index() + 1).max()?;
    if current.len() < needed {
        current.resize(needed, 0);
    }
    let mut total: i64 = 0;
    let mut best: Option<usize> = None;
    for c in candidates {
        let weight = i64::from(c.weight.get());
        let i = c.node.index();
        current[i] = current[i].saturating_add(weight);
        total = total.saturating_add(weight);
        if best.is_none_or(|b| current[i] > current[b]) {
            best = Some(i);
        }
    }
    let best = best?;
    current[best] = current[best].saturating_sub(total);
    Some(NodeId::new(best))
}

/// The candidate with the fewest requests in flight; `unit` (in `[0, 1)`)
/// chooses among ties, so equal nodes share the load.
pub fn least_in_flight(candidates: &[Candidate], unit: f64) -> Option<NodeId> {
    let fewest = candidates.iter().map(|c| c.in_flight).min()?;
    let tied = candidates.iter().filter(|c| c.in_flight == fewest);
    let k = scaled_index(unit, tied.clone().count());
    tied.map(|c| c.node).nth(k)
}

/// Latency-aware choice: the candidates whose RTT estimate is at most
/// `window` above the fastest form the window (candidates not measured yet
/// belong to it); two distinct members, drawn with `random`, are compared
/// and the one with fewer requests in flight wins, then the lower RTT (an
/// unmeasured node counting as the fastest), then the first drawn.
pub fn latency_aware(
    candidates: &[Candidate],
    window: Duration,
    random: [f64; 2],
) -> Option<NodeId> {
    if candidates.is_empty() {
        return None;
    }
    let fastest = candidates.iter().filter_map(|c| c.rtt).min();
    let limit = fastest.map(|f| f.saturating_add(window));
    let inside = |c: &&Candidate| match (c.rtt, limit) {
        (Some(rtt), Some(limit)) => rtt <= limit,
        _ => true,
    };
    let n = candidates.iter().filter(inside).count();
    let nth = |k: usize| candidates.iter().filter(inside).nth(k);
    if n == 1 {
        return nth(0).map(|c| c.node);
    }
    let i = scaled_index(random[0], n);
    let mut j = scaled_index(random[1], n - 1);
    if j >= i {
        j += 1;
    }
    let (a, b) = (nth(i)?, nth(j)?);
    let key = |c: &Candidate| (c.in_flight, c.rtt.unwrap_or(Duration::ZERO));
    Some(if key(b) < key(a) { b.node } else { a.node })
}

/// `unit` scaled to an index below `len` (`len > 0`); out-of-range and NaN
/// values are clamped.
fn scaled_index(unit: f64, len: usize) -> usize {
    let unit = if unit.is_nan() {
        0.0
    } else {
        unit.clamp(0.0, 1.0)
    };
    ((unit * len as f64) as usize).min(len.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::testing::SeededUnits;
    use crate::cluster::topology::RttEwma;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    fn nodes(n: usize) -> Vec<Candidate> {
        (0..n)
            .map(|i| Candidate {
                node: NodeId::new(i),
                weight: NonZeroU32::MIN,
                in_flight: 0,
                rtt: None,
            })
            .collect()
    }

    fn weighted(weights: &[u32]) -> Vec<Candidate> {
        let mut c = nodes(weights.len());
        for (c, w) in c.iter_mut().zip(weights) {
            c.weight = NonZeroU32::new(*w).unwrap();
        }
        c
    }

    fn counts(picks: impl IntoIterator<Item = NodeId>, n: usize) -> Vec<usize> {
        let mut counts = vec![0; n];
        for p in picks {
            counts[p.index()] += 1;
        }
        counts
    }

    #[test]
    fn balancer_names_parse() {
        for name in [
            "round-robin",
            "random",
            "weighted-round-robin",
            "least-in-flight",
            "latency-aware",
        ] {
            let balancer: Balancer = name.parse().unwrap();
            assert_eq!(balancer.name(), name);
        }
        assert_eq!("LATENCY_AWARE".parse(), Ok(Balancer::default()));
        assert!(matches!(
            "fastest".parse::<Balancer>(),
            Err(ClusterConfigError::InvalidValue {
                setting: "balancer",
                ..
            })
        ));
        assert!("".parse::<Balancer>().is_err());
    }

    #[test]
    fn round_robin_is_exact_to_one_per_node() {
        for n in 1..=7 {
            let c = nodes(n);
            let mut last = None;
            let picks = 5_000;
            let got = counts((0..picks).map(|_| round_robin(&c, &mut last).unwrap()), n);
            let (lo, hi) = (picks / n, picks.div_ceil(n));
            assert!(got.iter().all(|&k| k == lo || k == hi), "{n}: {got:?}");
        }
        assert_eq!(round_robin(&[], &mut None), None);
    }

    #[test]
    fn round_robin_follows_ids_when_the_set_changes() {
        let all = nodes(4);
        let mut last = None;
        let mut pick = |c: &[Candidate]| round_robin(c, &mut last).unwrap().index();
        assert_eq!(pick(&all), 0);
        assert_eq!(pick(&all), 1);
        // Node 2 leaves: the turn passes to 3, not back to the start.
        let without_2: Vec<_> = all
            .iter()
            .copied()
            .filter(|c| c.node.index() != 2)
            .collect();
        assert_eq!(pick(&without_2), 3);
        assert_eq!(pick(&without_2), 0);
        assert_eq!(pick(&all), 1);
        assert_eq!(pick(&all), 2);
    }

    #[test]
    fn random_is_within_ten_percent() {
        let mut rng = SeededUnits::new(0x5EED);
        let n = 3;
        let c = nodes(n);
        let picks = 30_000;
        let got = counts((0..picks).map(|_| random(&c, rng.unit()).unwrap()), n);
        let expected = picks / n;
        for k in &got {
            assert!(k.abs_diff(expected) * 10 <= expected, "{got:?}");
        }
        assert_eq!(random(&c, 0.999_999_999), Some(NodeId::new(2)));
        assert_eq!(random(&c, 1.5), Some(NodeId::new(2)));
        assert_eq!(random(&c, f64::NAN), Some(NodeId::new(0)));
        assert_eq!(random(&[], 0.5), None);
    }

    #[test]
    fn weighted_one_two_three_is_exact_and_interleaved() {
        let c = weighted(&[1, 2, 3]);
        let mut state = BalancerState::new(3);
        let picks: Vec<NodeId> = (0..6_000)
            .map(|_| {
                Balancer::WeightedRoundRobin
                    .pick(&c, &mut state, [0.0; 2])
                    .unwrap()
            })
            .collect();
        assert_eq!(counts(picks.iter().copied(), 3), [1_000, 2_000, 3_000]);
        let longest_run = picks
            .chunk_by(|a, b| a == b)
            .map(<[NodeId]>::len)
            .max()
            .unwrap();
        assert!(longest_run <= 2, "a run of {longest_run}");
        let first: Vec<usize> = picks[..6].iter().map(|n| n.index()).collect();
        assert_eq!(first, [2, 1, 0, 2, 1, 2]);
    }

    #[test]
    fn weighted_skips_absent_nodes_and_grows_its_state() {
        let mut current = Vec::new();
        let mut c = weighted(&[1, 1, 1]);
        c.remove(0);
        let got = counts(
            (0..100).map(|_| smooth_weighted(&c, &mut current).unwrap()),
            3,
        );
        assert_eq!(got, [0, 50, 50]);
        assert_eq!(current.len(), 3);
        assert_eq!(smooth_weighted(&[], &mut current), None);
    }

    #[test]
    fn least_in_flight_prefers_fewer_and_shares_ties() {
        let mut rng = SeededUnits::new(11);
        let mut c = nodes(2);
        // Eight long queries held on node 0; a hundred short reads, each
        // running while the next is routed.
        c[0].in_flight = 8;
        let mut to_second = 0;
        for _ in 0..100 {
            let node = least_in_flight(&c, rng.unit()).unwrap();
            c[node.index()].in_flight += 1;
            if node.index() == 1 {
                to_second += 1;
            }
            c[node.index()].in_flight -= 1;
        }
        assert_eq!(to_second, 100);

        // Equal load: ties are shared.
        let c = nodes(3);
        let got = counts(
            (0..3_000).map(|_| least_in_flight(&c, rng.unit()).unwrap()),
            3,
        );
        assert!(got.iter().all(|&k| k > 800), "{got:?}");
        assert_eq!(least_in_flight(&[], 0.5), None);
    }

    #[test]
    fn least_in_flight_picks_a_least_loaded_node_as_load_shifts() {
        // Requests of random length start and finish; every pick lands on a
        // node that had the fewest in flight at that moment, and the picks
        // spread over all nodes.
        let mut rng = SeededUnits::new(3);
        let mut c = nodes(3);
        let mut running: Vec<(usize, u32)> = Vec::new();
        let mut picked = [0usize; 3];
        for step in 0..3_000u32 {
            let fewest = c.iter().map(|c| c.in_flight).min().unwrap();
            let node = least_in_flight(&c, rng.unit()).unwrap().index();
            assert_eq!(c[node].in_flight, fewest, "step {step}: {c:?}");
            picked[node] += 1;
            c[node].in_flight += 1;
            running.push((node, step + 1 + (rng.unit() * 20.0) as u32));
            running.retain(|&(n, end)| {
                let done = end <= step;
                if done {
                    c[n].in_flight -= 1;
                }
                !done
            });
        }
        assert!(picked.iter().all(|&k| k > 800), "{picked:?}");
    }

    #[test]
    fn latency_aware_avoids_a_node_fifty_ms_slower() {
        let mut rng = SeededUnits::new(0xC0FFEE);
        let balancer = Balancer::default();
        let mut state = BalancerState::new(2);
        let mut rtt = [RttEwma::new(); 2];
        for _ in 0..10 {
            rtt = rtt.map(|r| r.updated(MS));
        }
        let share_of_second =
            |rtt: &[RttEwma; 2], rng: &mut SeededUnits, state: &mut BalancerState| {
                let mut c = nodes(2);
                for (c, r) in c.iter_mut().zip(rtt) {
                    c.rtt = r.estimate();
                }
                let picks = 1_000;
                let to_second = (0..picks)
                    .filter(|_| balancer.pick(&c, state, rng.pair()) == Some(NodeId::new(1)))
                    .count();
                to_second as f64 / picks as f64
            };
        // Equal RTTs: both share the load (so the check below can fail).
        let before = share_of_second(&rtt, &mut rng, &mut state);
        assert!((0.4..0.6).contains(&before), "{before}");
        // Node 0 gets 50 ms slower; twenty samples later node 1 takes the
        // reads.
        for _ in 0..20 {
            rtt[0] = rtt[0].updated(MS * 51);
            rtt[1] = rtt[1].updated(MS);
        }
        assert_eq!(rtt[0].samples(), 30);
        let after = share_of_second(&rtt, &mut rng, &mut state);
        assert!(after >= 0.9, "{after}");
    }

    #[test]
    fn latency_window_edge_and_two_choices() {
        let mut c = nodes(3);
        c[0].rtt = Some(MS * 10);
        c[1].rtt = Some(MS * 25);
        c[2].rtt = Some(MS * 25 + Duration::from_nanos(1));
        // Node 0 is busier, so node 1 wins whenever it is in the window.
        c[0].in_flight = 1;
        let mut seen = [false; 3];
        let mut rng = SeededUnits::new(5);
        for _ in 0..1_000 {
            let n = latency_aware(&c, MS * 15, rng.pair()).unwrap();
            seen[n.index()] = true;
        }
        assert_eq!(seen, [false, true, false], "exactly at the edge is inside");

        // Of the two drawn, fewer in flight wins; then the lower RTT.
        c[0].in_flight = 3;
        assert_eq!(latency_aware(&c, MS * 15, [0.0, 0.0]), Some(NodeId::new(1)));
        c[1].in_flight = 3;
        assert_eq!(latency_aware(&c, MS * 15, [0.9, 0.0]), Some(NodeId::new(0)));
        // A single member is picked whatever the draw; unmeasured nodes are
        // inside the window.
        assert_eq!(
            latency_aware(&c[..1], MS * 15, [0.7, 0.7]),
            Some(NodeId::new(0))
        );
        let unmeasured = nodes(2);
        assert!(latency_aware(&unmeasured, MS * 15, [0.9, 0.1]).is_some());
        assert_eq!(latency_aware(&[], MS * 15, [0.0, 0.0]), None);
    }

    #[test]
    fn power_of_two_choices_spreads_load_inside_the_window() {
        let mut rng = SeededUnits::new(77);
        let mut c = nodes(4);
        for c in &mut c {
            c.rtt = Some(MS);
        }
        let mut running: Vec<(usize, u32)> = Vec::new();
        let mut worst_gap = 0;
        for step in 0..5_000u32 {
            let node = latency_aware(&c, MS * 15, rng.pair()).unwrap().index();
            c[node].in_flight += 1;
            running.push((node, step + 1 + (rng.unit() * 30.0) as u32));
            running.retain(|&(n, end)| {
                let done = end <= step;
                if done {
                    c[n].in_flight -= 1;
                }
                !done
            });
            let max = c.iter().map(|c| c.in_flight).max().unwrap();
            let min = c.iter().map(|c| c.in_flight).min().unwrap();
            worst_gap = worst_gap.max(max - min);
        }
        // About 15 requests in flight over four nodes: the worst gap is 6
        // with this seed, where uniform random choice (`random`) on the
        // same draws reaches 11.
        assert!(worst_gap <= 6, "{worst_gap}");
    }

    proptest! {
        #[test]
        fn smooth_weighted_is_exact_over_every_cycle(
            weights in proptest::collection::vec(1u32..=20, 1..8),
            cycles in 1usize..5,
        ) {
            let c = weighted(&weights);
            let total: usize = weights.iter().map(|&w| w as usize).sum();
            let mut current = Vec::new();
            for _ in 0..cycles {
                let got = counts((0..total).map(|_| smooth_weighted(&c, &mut current).unwrap()), c.len());
                let want: Vec<usize> = weights.iter().map(|&w| w as usize).collect();
                prop_assert_eq!(got, want);
            }
            prop_assert!(current.iter().all(|&x| x == 0), "a cycle ends where it began");
        }

        #[test]
        fn every_balancer_picks_a_candidate(
            n in 1usize..8,
            in_flight in proptest::collection::vec(0u32..10, 8),
            rtt_ms in proptest::collection::vec(proptest::option::of(0u64..100), 8),
            random in proptest::array::uniform2(0.0f64..1.0),
        ) {
            let mut c = nodes(n);
            for (i, c) in c.iter_mut().enumerate() {
                c.node = NodeId::new(i * 3);
                c.in_flight = in_flight[i];
                c.rtt = rtt_ms[i].map(|ms| MS * ms as u32);
            }
            let mut state = BalancerState::new(0);
            for balancer in [
                Balancer::RoundRobin,
                Balancer::Random,
                Balancer::WeightedRoundRobin,
                Balancer::LeastInFlight,
                Balancer::default(),
            ] {
                let node = balancer.pick(&c, &mut state, random).unwrap();
                prop_assert!(c.iter().any(|c| c.node == node), "{}", balancer.name());
                prop_assert_eq!(balancer.pick(&[], &mut state, random), None);
            }
        }
    }
}
