//! Choosing the node for a request: the eligible set for a read policy,
//! then the balancer.
//!
//! Owns the eligibility rules and [`NoEligibleNode`], the typed reason when
//! nothing qualifies. A node is eligible as
//!
//! - **the primary** when it is the primary the failover machine chose
//!   ([`Topology::primary`]), is up and last reported itself primary. A
//!   node that claims to be primary without being chosen (a split-brain
//!   loser, or before an election) serves nothing;
//! - **a replica** when it is up, last reported itself a standby and, if the
//!   policy has a `max_staleness`, its staleness bound at `now` is within it
//!   (an unknown staleness does not qualify), and, if the policy carries a
//!   causal token (`min_replay_lsn`), its last known replay position is at
//!   or past it. When no replica has caught up with a token, the driver may
//!   choose one without the token and wait for it to replay, or use the
//!   primary; that is its policy, not this module's.
//!
//! The eligible nodes are then tried in tiers, the first non-empty tier
//! going to the balancer:
//!
//! | preference | tiers, in order |
//! |---|---|
//! | `Primary` | primary |
//! | `PrimaryPreferred` | primary; local replicas; all replicas |
//! | `ReplicaPreferred` | local replicas; all replicas; primary |
//! | `ReplicaOnly` | local replicas; all replicas |
//! | `Nearest` | local primary and replicas; all of them |
//!
//! "Local" means in the topology's local zone; without one every node is
//! local. So reads never leave the local zone while it has an eligible
//! node, for every preference that reads from replicas (the issue asks it of
//! `Nearest` and `ReplicaPreferred`; `ReplicaOnly` and the fallback of
//! `PrimaryPreferred` follow the same rule because a cross-zone replica
//! read costs the same whichever preference led to it).
//!
//! Everything here is a pure function of the topology, the policy, `now`
//! and two random values; the candidate buffer is the caller's, reused, so
//! a pick allocates nothing once the buffer has grown to the node count.

use std::fmt;
use std::time::Instant;

use super::balancer::{Balancer, BalancerState, Candidate};
use super::preference::{ReadPolicy, ReadPreference};
use super::topology::{NodeId, NodeState, Role, Topology};

/// Why no node could serve a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NoEligibleNode {
    /// The request needs the primary (or prefers it and no replica
    /// qualifies) and there is no primary up.
    NoPrimary,
    /// The request needs a replica (or prefers one and there is no primary
    /// either) and no standby is up.
    NoReplica,
    /// Standbys are up, but none is within `max_staleness` (and no primary
    /// may serve instead).
    AllTooStale,
    /// Standbys within `max_staleness` are up, but none has replayed up to
    /// the causal token (and no primary may serve instead).
    NotCaughtUp,
    /// No node is up at all.
    AllDown,
}

impl NoEligibleNode {
    /// A short name for metrics labels (`no_primary`, `all_too_stale`).
    pub fn name(self) -> &'static str {
        match self {
            Self::NoPrimary => "no_primary",
            Self::NoReplica => "no_replica",
            Self::AllTooStale => "all_too_stale",
            Self::NotCaughtUp => "not_caught_up",
            Self::AllDown => "all_down",
        }
    }
}

impl fmt::Display for NoEligibleNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoPrimary => "no primary is available",
            Self::NoReplica => "no replica is available",
            Self::AllTooStale => "every replica is staler than max_staleness",
            Self::NotCaughtUp => "no replica has replayed up to the causal token",
            Self::AllDown => "every node is down",
        })
    }
}

impl std::error::Error for NoEligibleNode {}

/// The node chosen for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick {
    /// The node.
    pub node: NodeId,
    /// Its role: [`Role::Primary`] or [`Role::Standby`].
    pub role: Role,
    /// Whether it lies outside the local zone (a local zone is configured
    /// and the node is not in it).
    pub crossed_zone: bool,
}

/// Which eligible nodes a tier admits.
#[derive(Debug, Clone, Copy)]
struct Tier {
    primary: bool,
    replicas: bool,
    local_only: bool,
}

const PRIMARY: Tier = Tier {
    primary: true,
    replicas: false,
    local_only: false,
};
const LOCAL_REPLICAS: Tier = Tier {
    primary: false,
    replicas: true,
    local_only: true,
};
const ALL_REPLICAS: Tier = Tier {
    primary: false,
    replicas: true,
    local_only: false,
};
const LOCAL_ANY: Tier = Tier {
    primary: true,
    replicas: true,
    local_only: true,
};
const ALL_ANY: Tier = Tier {
    primary: true,
    replicas: true,
    local_only: false,
};

fn tiers(preference: ReadPreference) -> &'static [Tier] {
    match preference {
        ReadPreference::Primary => &[PRIMARY],
        ReadPreference::PrimaryPreferred => &[PRIMARY, LOCAL_REPLICAS, ALL_REPLICAS],
        ReadPreference::ReplicaPreferred => &[LOCAL_REPLICAS, ALL_REPLICAS, PRIMARY],
        ReadPreference::ReplicaOnly => &[LOCAL_REPLICAS, ALL_REPLICAS],
        ReadPreference::Nearest => &[LOCAL_ANY, ALL_ANY],
    }
}

/// How one node stands for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Primary,
    FreshReplica,
    StaleReplica,
    BehindToken,
    Ineligible,
}

fn standing(
    topology: &Topology,
    id: NodeId,
    node: &NodeState,
    policy: &ReadPolicy,
    now: Instant,
) -> Standing {
    if !node.up {
        return Standing::Ineligible;
    }
    match node.role {
        Role::Primary if topology.primary() == Some(id) => Standing::Primary,
        Role::Standby => {
            if policy
                .max_staleness
                .is_some_and(|max| !topology.staleness(id, now).within(max))
            {
                Standing::StaleReplica
            } else if policy
                .min_replay_lsn
                .is_some_and(|token| node.lsn.is_none_or(|replayed| replayed < token))
            {
                Standing::BehindToken
            } else {
                Standing::FreshReplica
            }
        }
        Role::Primary | Role::Unknown => Standing::Ineligible,
    }
}

/// Fills `out` with the first non-empty tier of eligible nodes for `policy`
/// at `now` (see the module documentation), or says why there is none.
pub fn eligible(
    topology: &Topology,
    policy: &ReadPolicy,
    now: Instant,
    out: &mut Vec<Candidate>,
) -> Result<(), NoEligibleNode> {
    let local = topology.local_zone();
    for tier in tiers(policy.preference) {
        out.clear();
        for (id, node) in topology.ids().zip(topology.nodes()) {
            let admitted = match standing(topology, id, node, policy, now) {
                Standing::Primary => tier.primary,
                Standing::FreshReplica => tier.replicas,
                Standing::StaleReplica | Standing::BehindToken | Standing::Ineligible => false,
            };
            let in_scope = !tier.local_only || local.is_none_or(|z| node.in_zone(z));
            if admitted && in_scope {
                out.push(Candidate::new(id, node));
            }
        }
        if !out.is_empty() {
            return Ok(());
        }
    }
    Err(why_none(topology, policy, now))
}

/// The reason nothing qualified, from what is up.
fn why_none(topology: &Topology, policy: &ReadPolicy, now: Instant) -> NoEligibleNode {
    let mut any_up = false;
    let mut replicas_up = false;
    let mut behind_token = false;
    for (id, node) in topology.ids().zip(topology.nodes()) {
        any_up |= node.up;
        let standing = standing(topology, id, node, policy, now);
        replicas_up |= matches!(
            standing,
            Standing::FreshReplica | Standing::StaleReplica | Standing::BehindToken
        );
        behind_token |= standing == Standing::BehindToken;
    }
    if !any_up {
        return NoEligibleNode::AllDown;
    }
    match policy.preference {
        ReadPreference::Primary => NoEligibleNode::NoPrimary,
        _ if behind_token => NoEligibleNode::NotCaughtUp,
        _ if replicas_up => NoEligibleNode::AllTooStale,
        ReadPreference::ReplicaOnly | ReadPreference::ReplicaPreferred => NoEligibleNode::NoReplica,
        ReadPreference::PrimaryPreferred | ReadPreference::Nearest => NoEligibleNode::NoPrimary,
    }
}

/// Chooses the node for a request under `policy` at `now`: the eligible set
/// ([`eligible`], into the reused `scratch` buffer), then `balancer` with
/// its `state` and the two random values in `[0, 1)`.
pub fn select(
    topology: &Topology,
    policy: &ReadPolicy,
    balancer: &Balancer,
    state: &mut BalancerState,
    random: [f64; 2],
    now: Instant,
    scratch: &mut Vec<Candidate>,
) -> Result<Pick, NoEligibleNode> {
    eligible(topology, policy, now, scratch)?;
    // The set is non-empty and every balancer picks one of its members.
    let node = balancer
        .pick(scratch, state, random)
        .ok_or(NoEligibleNode::AllDown)?;
    let state = topology.node(node).ok_or(NoEligibleNode::AllDown)?;
    Ok(Pick {
        node,
        role: state.role,
        crossed_zone: topology.local_zone().is_some_and(|z| !state.in_zone(z)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::lsn::Lsn;
    use crate::cluster::probe::ProbeReport;
    use crate::cluster::testing::SeededUnits;
    use crate::cluster::topology::Zone;
    use proptest::prelude::*;
    use std::time::Duration;

    const MS: Duration = Duration::from_millis(1);
    const SEC: Duration = Duration::from_secs(1);

    /// Node 0 the primary in zone b; nodes 1 (zone a), 2 and 3 (zone b)
    /// standbys; the local zone is a. Every node probed at `t0`, caught up
    /// at LSN 1000.
    fn cluster(t0: Instant) -> Topology {
        let zones = ["b", "a", "b", "b"];
        let nodes = zones
            .iter()
            .map(|z| NodeState::new().with_zone(Zone::new(z)))
            .collect();
        let mut topo = Topology::new(nodes, Some(Zone::new("a")), 16);
        topo.set_primary(Some(NodeId::new(0)));
        for i in 0..4 {
            probe(&mut topo, i, i != 0, 1000, t0);
        }
        topo
    }

    fn probe(topo: &mut Topology, node: usize, in_recovery: bool, lsn: u64, at: Instant) {
        let report = ProbeReport {
            in_recovery,
            lsn: Lsn::new(lsn),
            timeline: 1,
            read_only: in_recovery,
        };
        topo.record_probe(NodeId::new(node), &report, MS, at)
            .unwrap();
    }

    fn set_of(
        topo: &Topology,
        policy: impl Into<ReadPolicy>,
        now: Instant,
    ) -> Result<Vec<usize>, NoEligibleNode> {
        let mut out = Vec::new();
        eligible(topo, &policy.into(), now, &mut out)?;
        Ok(out.iter().map(|c| c.node.index()).collect())
    }

    fn down(topo: &mut Topology, node: usize) {
        topo.record_failure(NodeId::new(node)).unwrap();
    }

    #[test]
    fn tiers_per_preference() {
        use ReadPreference::*;
        let t0 = Instant::now();
        let mut topo = cluster(t0);
        assert_eq!(set_of(&topo, Primary, t0), Ok(vec![0]));
        assert_eq!(set_of(&topo, PrimaryPreferred, t0), Ok(vec![0]));
        assert_eq!(set_of(&topo, ReplicaPreferred, t0), Ok(vec![1]));
        assert_eq!(set_of(&topo, ReplicaOnly, t0), Ok(vec![1]));
        assert_eq!(set_of(&topo, Nearest, t0), Ok(vec![1]));

        // The local replica goes down: replicas of other zones, and for
        // Nearest the primary with them.
        down(&mut topo, 1);
        assert_eq!(set_of(&topo, ReplicaPreferred, t0), Ok(vec![2, 3]));
        assert_eq!(set_of(&topo, ReplicaOnly, t0), Ok(vec![2, 3]));
        assert_eq!(set_of(&topo, Nearest, t0), Ok(vec![0, 2, 3]));

        // The primary goes down too: PrimaryPreferred falls back.
        down(&mut topo, 0);
        assert_eq!(set_of(&topo, PrimaryPreferred, t0), Ok(vec![2, 3]));
        assert_eq!(set_of(&topo, Primary, t0), Err(NoEligibleNode::NoPrimary));

        // Only the primary left: ReplicaPreferred falls back to it.
        let mut topo = cluster(t0);
        for i in 1..4 {
            down(&mut topo, i);
        }
        assert_eq!(set_of(&topo, ReplicaPreferred, t0), Ok(vec![0]));
        assert_eq!(
            set_of(&topo, ReplicaOnly, t0),
            Err(NoEligibleNode::NoReplica)
        );
    }

    #[test]
    fn no_local_zone_means_every_node_is_local() {
        let t0 = Instant::now();
        let nodes = vec![NodeState::new(), NodeState::new(), NodeState::new()];
        let mut topo = Topology::new(nodes, None, 16);
        topo.set_primary(Some(NodeId::new(0)));
        for i in 0..3 {
            probe(&mut topo, i, i != 0, 1000, t0);
        }
        assert_eq!(
            set_of(&topo, ReadPreference::Nearest, t0),
            Ok(vec![0, 1, 2])
        );
        assert_eq!(
            set_of(&topo, ReadPreference::ReplicaOnly, t0),
            Ok(vec![1, 2])
        );
    }

    #[test]
    fn zones_never_cross_while_the_local_zone_has_an_eligible_node() {
        let t0 = Instant::now();
        let mut topo = cluster(t0);
        let mut rng = SeededUnits::new(42);
        let mut state = BalancerState::new(4);
        let mut scratch = Vec::new();
        for preference in [ReadPreference::ReplicaPreferred, ReadPreference::Nearest] {
            for balancer in [Balancer::Random, Balancer::RoundRobin, Balancer::default()] {
                for _ in 0..1_000 {
                    let pick = select(
                        &topo,
                        &preference.into(),
                        &balancer,
                        &mut state,
                        rng.pair(),
                        t0,
                        &mut scratch,
                    )
                    .unwrap();
                    assert_eq!(pick.node, NodeId::new(1));
                    assert!(!pick.crossed_zone);
                }
            }
        }
        // Once the local replica is down, reads cross and say so.
        down(&mut topo, 1);
        let policy = ReadPolicy::new(ReadPreference::ReplicaOnly);
        let mut crossed = [0usize; 4];
        for _ in 0..1_000 {
            let pick = select(
                &topo,
                &policy,
                &Balancer::Random,
                &mut state,
                rng.pair(),
                t0,
                &mut scratch,
            )
            .unwrap();
            assert!(pick.crossed_zone);
            assert_eq!(pick.role, Role::Standby);
            crossed[pick.node.index()] += 1;
        }
        assert_eq!(crossed[0] + crossed[1], 0);
        assert!(crossed[2] > 400 && crossed[3] > 400, "{crossed:?}");
    }

    #[test]
    fn max_staleness_filters_replicas_and_local_staleness_crosses_zones() {
        let t0 = Instant::now();
        let mut topo = cluster(t0);
        // The primary writes on; the monitor samples it each second. Node 1
        // (local) stops replaying at 1000, node 2 follows, node 3 was never
        // probed for a position since (it stays at 1000 too).
        for s in 1..=5u32 {
            probe(&mut topo, 0, false, 1000 + u64::from(s) * 100, t0 + SEC * s);
        }
        probe(&mut topo, 2, true, 1500, t0 + SEC * 5);
        let now = t0 + SEC * 5 + MS * 200;
        let bounded = ReadPreference::ReplicaPreferred.with_max_staleness(SEC * 3);
        // Node 1 replayed up to the t0 sample: 5.2 s stale, beyond 3 s.
        assert_eq!(
            topo.staleness(NodeId::new(1), now).upper_bound(),
            Some(MS * 5200)
        );
        assert_eq!(set_of(&topo, bounded, now), Ok(vec![2]));
        // Without a bound the local replica serves, however stale.
        assert_eq!(
            set_of(&topo, ReadPreference::ReplicaPreferred, now),
            Ok(vec![1])
        );
        // Everything stale: ReplicaOnly fails, ReplicaPreferred and Nearest
        // fall back to the primary.
        down(&mut topo, 2);
        let only = ReadPreference::ReplicaOnly.with_max_staleness(SEC * 3);
        assert_eq!(set_of(&topo, only, now), Err(NoEligibleNode::AllTooStale));
        assert_eq!(set_of(&topo, bounded, now), Ok(vec![0]));
        let nearest = ReadPreference::Nearest.with_max_staleness(SEC * 3);
        assert_eq!(set_of(&topo, nearest, now), Ok(vec![0]));
    }

    #[test]
    fn unknown_staleness_fails_a_bound() {
        let t0 = Instant::now();
        let mut topo = cluster(t0);
        // The primary changed (away and back): its samples start over, so
        // no replica has a bound.
        topo.set_primary(Some(NodeId::new(1)));
        topo.set_primary(Some(NodeId::new(0)));
        let bounded = ReadPreference::ReplicaOnly.with_max_staleness(SEC * 3);
        assert_eq!(set_of(&topo, bounded, t0), Err(NoEligibleNode::AllTooStale));
        assert_eq!(set_of(&topo, ReadPreference::ReplicaOnly, t0), Ok(vec![1]));
    }

    #[test]
    fn a_causal_token_admits_only_replicas_that_replayed_it() {
        use ReadPreference::*;
        let t0 = Instant::now();
        let mut topo = cluster(t0);
        // Replays: node 1 (local) at 1000, node 2 at 1500, node 3 at 1200.
        probe(&mut topo, 2, true, 1500, t0);
        probe(&mut topo, 3, true, 1200, t0);
        let causal =
            |p: ReadPreference, lsn: u64| ReadPolicy::new(p).with_min_replay_lsn(Lsn::new(lsn));
        assert_eq!(set_of(&topo, causal(ReplicaOnly, 1000), t0), Ok(vec![1]));
        // The local replica is behind the token: caught-up ones elsewhere.
        assert_eq!(set_of(&topo, causal(ReplicaOnly, 1200), t0), Ok(vec![2, 3]));
        assert_eq!(set_of(&topo, causal(ReplicaOnly, 1500), t0), Ok(vec![2]));
        // Nobody has it: the primary (which always has it), or a reason.
        assert_eq!(
            set_of(&topo, causal(ReplicaPreferred, 1501), t0),
            Ok(vec![0])
        );
        assert_eq!(set_of(&topo, causal(Nearest, 1501), t0), Ok(vec![0]));
        assert_eq!(
            set_of(&topo, causal(ReplicaOnly, 1501), t0),
            Err(NoEligibleNode::NotCaughtUp)
        );
        // Staleness is checked first: too stale is reported as such.
        let both = ReplicaOnly
            .with_max_staleness(SEC * 3)
            .with_min_replay_lsn(Lsn::new(1501));
        assert_eq!(
            set_of(&topo, both, t0 + SEC * 10),
            Err(NoEligibleNode::AllTooStale)
        );
        assert_eq!(set_of(&topo, both, t0), Err(NoEligibleNode::NotCaughtUp));
    }

    #[test]
    fn reasons_when_nothing_is_eligible() {
        use ReadPreference::*;
        let t0 = Instant::now();
        let mut topo = cluster(t0);
        for i in 0..4 {
            down(&mut topo, i);
        }
        for preference in ReadPreference::ALL {
            assert_eq!(set_of(&topo, preference, t0), Err(NoEligibleNode::AllDown));
        }
        let empty = Topology::new(Vec::new(), None, 1);
        assert_eq!(set_of(&empty, Nearest, t0), Err(NoEligibleNode::AllDown));

        // Only a node of unknown role is up.
        let mut topo = Topology::new(vec![NodeState::new(), NodeState::new()], None, 4);
        topo.node_mut(NodeId::new(1)).unwrap().up = true;
        assert_eq!(set_of(&topo, Primary, t0), Err(NoEligibleNode::NoPrimary));
        assert_eq!(
            set_of(&topo, PrimaryPreferred, t0),
            Err(NoEligibleNode::NoPrimary)
        );
        assert_eq!(set_of(&topo, Nearest, t0), Err(NoEligibleNode::NoPrimary));
        assert_eq!(
            set_of(&topo, ReplicaPreferred, t0),
            Err(NoEligibleNode::NoReplica)
        );
        assert_eq!(
            set_of(&topo, ReplicaOnly, t0),
            Err(NoEligibleNode::NoReplica)
        );
        assert_eq!(NoEligibleNode::AllTooStale.name(), "all_too_stale");
    }

    #[test]
    fn a_primary_not_chosen_by_failover_serves_nothing() {
        use ReadPreference::*;
        let t0 = Instant::now();
        let mut topo = cluster(t0);
        // Node 2 was promoted behind our back (split brain) but the failover
        // machine still names node 0.
        probe(&mut topo, 2, false, 2000, t0);
        assert_eq!(set_of(&topo, Primary, t0), Ok(vec![0]));
        down(&mut topo, 1);
        assert_eq!(set_of(&topo, Nearest, t0), Ok(vec![0, 3]));
        // No primary chosen yet: writes have nowhere to go.
        topo.set_primary(None);
        assert_eq!(set_of(&topo, Primary, t0), Err(NoEligibleNode::NoPrimary));
        assert_eq!(set_of(&topo, PrimaryPreferred, t0), Ok(vec![3]));
    }

    proptest! {
        /// Whatever the nodes report, a request for the primary is served
        /// only by the chosen primary while it is up and reports itself
        /// primary, and a replica-only request only by an up standby.
        #[test]
        fn roles_are_never_crossed(
            reports in proptest::collection::vec((any::<bool>(), any::<bool>(), any::<bool>()), 1..6),
            chosen in proptest::option::of(0usize..6),
            random in proptest::array::uniform2(0.0f64..1.0),
        ) {
            let t0 = Instant::now();
            let mut topo = Topology::new(vec![NodeState::new(); reports.len()], None, 4);
            topo.set_primary(chosen.map(NodeId::new));
            for (i, (probed, in_recovery, up)) in reports.iter().enumerate() {
                if *probed {
                    probe(&mut topo, i, *in_recovery, 10, t0);
                }
                if !*up {
                    down(&mut topo, i);
                }
            }
            let mut state = BalancerState::new(0);
            let mut scratch = Vec::new();
            let mut pick = |p: ReadPreference| {
                select(&topo, &p.into(), &Balancer::Random, &mut state, random, t0, &mut scratch)
            };
            if let Ok(p) = pick(ReadPreference::Primary) {
                let node = topo.node(p.node).unwrap();
                prop_assert_eq!(Some(p.node), topo.primary());
                prop_assert!(node.up && node.role == Role::Primary);
            }
            if let Ok(p) = pick(ReadPreference::ReplicaOnly) {
                let node = topo.node(p.node).unwrap();
                prop_assert!(node.up && node.role == Role::Standby);
            }
            for preference in ReadPreference::ALL {
                if let Ok(p) = pick(preference) {
                    prop_assert!(p.role != Role::Unknown);
                    prop_assert!(topo.node(p.node).unwrap().up);
                }
            }
        }
    }
}
