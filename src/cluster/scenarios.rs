//! Scenario tests: the topology, the failover machine and selection driven
//! together, the way the monitor task will drive them, through a failover
//! with a split brain and a rejoin.

use std::time::{Duration, Instant};

use super::balancer::{Balancer, BalancerState, Candidate};
use super::failover::{Failover, FailoverConfig, FailoverEvent, FailoverState};
use super::lsn::Lsn;
use super::preference::{ReadPolicy, ReadPreference};
use super::probe::ProbeReport;
use super::select::{NoEligibleNode, Pick, select};
use super::testing::SeededUnits;
use super::topology::{NodeId, NodeState, Role, Topology};

const MS: Duration = Duration::from_millis(1);

/// The pure pieces, wired as the driver will wire them.
struct Rig {
    topology: Topology,
    failover: Failover,
    balancer: BalancerState,
    scratch: Vec<Candidate>,
    rng: SeededUnits,
    events: Vec<FailoverEvent>,
    t0: Instant,
}

impl Rig {
    fn new(nodes: usize, t0: Instant) -> Self {
        let topology = Topology::new(vec![NodeState::new(); nodes], None, 64);
        let failover = Failover::new(nodes, FailoverConfig::default(), t0);
        Self {
            topology,
            failover,
            balancer: BalancerState::new(nodes),
            scratch: Vec::new(),
            rng: SeededUnits::new(2024),
            events: Vec::new(),
            t0,
        }
    }

    fn at(&self, ms: u32) -> Instant {
        self.t0 + MS * ms
    }

    fn sync(&mut self) {
        self.topology.set_primary(self.failover.primary());
        self.events
            .extend(std::iter::from_fn(|| self.failover.poll_event()));
    }

    fn report(&mut self, node: usize, in_recovery: bool, timeline: u32, lsn: u64, ms: u32) {
        let report = ProbeReport {
            in_recovery,
            lsn: Lsn::new(lsn),
            timeline,
            read_only: in_recovery,
        };
        let now = self.at(ms);
        let id = NodeId::new(node);
        // The failover machine first, so a newly elected primary's own
        // report is already sampled as the primary's.
        self.failover.handle_probe_report(id, &report, now).unwrap();
        self.topology.set_primary(self.failover.primary());
        self.topology.record_probe(id, &report, MS, now).unwrap();
        self.sync();
    }

    fn failure(&mut self, node: usize, ms: u32) {
        let id = NodeId::new(node);
        self.failover.handle_probe_failure(id, self.at(ms)).unwrap();
        self.topology.record_failure(id).unwrap();
        self.sync();
    }

    fn io_error(&mut self, node: usize, ms: u32) {
        self.failover
            .handle_primary_io_error(NodeId::new(node), self.at(ms))
            .unwrap();
        self.sync();
    }

    fn timeout(&mut self, ms: u32) {
        self.failover.handle_timeout(self.at(ms)).unwrap();
        self.sync();
    }

    fn pick(&mut self, policy: impl Into<ReadPolicy>, ms: u32) -> Result<Pick, NoEligibleNode> {
        let now = self.at(ms);
        let random = self.rng.pair();
        select(
            &self.topology,
            &policy.into(),
            &Balancer::RoundRobin,
            &mut self.balancer,
            random,
            now,
            &mut self.scratch,
        )
    }

    /// The nodes 100 picks under `policy` landed on, as a sorted set.
    fn spread(&mut self, policy: impl Into<ReadPolicy> + Copy, ms: u32) -> Vec<usize> {
        let mut seen: Vec<usize> = (0..100)
            .filter_map(|_| self.pick(policy, ms).ok())
            .map(|p| p.node.index())
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen
    }
}

#[test]
fn failover_split_brain_and_rejoin_route_writes_only_to_the_elected_primary() {
    use ReadPreference::*;
    let mut rig = Rig::new(3, Instant::now());
    let (p, r1, r2) = (0, 1, 2);

    // Start: P primary on timeline 1, both replicas caught up.
    rig.report(p, false, 1, 1000, 0);
    rig.report(r1, true, 1, 1000, 0);
    rig.report(r2, true, 1, 1000, 0);
    assert_eq!(
        rig.events,
        [FailoverEvent::PrimaryElected {
            node: NodeId::new(p),
            timeline: 1
        }]
    );
    // The elected primary's next probe is its first sample.
    rig.report(p, false, 1, 1000, 1000);
    rig.report(r1, true, 1, 1000, 1000);
    rig.report(r2, true, 1, 1000, 1000);
    assert_eq!(rig.pick(Primary, 1000).map(|p| p.node.index()), Ok(p));
    assert_eq!(rig.spread(ReplicaOnly, 1000), [r1, r2]);
    let bounded = ReplicaOnly.with_max_staleness(MS * 3000);
    assert_eq!(rig.spread(bounded, 1500), [r1, r2]);

    // P is killed: a connection breaks, then its probe fails.
    rig.io_error(p, 2500);
    assert_eq!(rig.pick(Primary, 2500), Err(NoEligibleNode::NoPrimary));
    assert_eq!(rig.failover.write_deadline(), Some(rig.at(7500)));
    rig.failure(p, 2510);
    assert!(matches!(
        rig.failover.state(),
        FailoverState::Discovering { .. }
    ));
    // Reads go on from the replicas, and the staleness bound keeps aging
    // from the last sample rather than vanishing.
    assert_eq!(rig.spread(ReplicaOnly, 2600), [r1, r2]);
    assert_eq!(rig.spread(bounded, 3900), [r1, r2]);
    assert_eq!(rig.pick(bounded, 4001), Err(NoEligibleNode::AllTooStale));
    // PrimaryPreferred falls back to replicas meanwhile.
    assert_eq!(rig.spread(PrimaryPreferred, 2600), [r1, r2]);

    // The first discovery round finds no primary.
    rig.failure(p, 2520);
    rig.report(r1, true, 1, 1000, 2520);
    rig.report(r2, true, 1, 1000, 2520);
    assert_eq!(rig.failover.primary(), None);
    // R1 is promoted (timeline 2) and R2 repointed; the next round elects.
    rig.timeout(3010);
    rig.failure(p, 3020);
    rig.report(r2, true, 1, 1000, 3020);
    rig.report(r1, false, 2, 1100, 3030);
    assert_eq!(rig.failover.primary(), Some(NodeId::new(r1)));
    assert_eq!(rig.pick(Primary, 3030).map(|p| p.node.index()), Ok(r1));
    assert_eq!(
        rig.events[1..],
        [
            FailoverEvent::PrimaryLost {
                node: NodeId::new(p)
            },
            FailoverEvent::PrimaryElected {
                node: NodeId::new(r1),
                timeline: 2
            },
        ]
    );
    // A new primary starts a new sample history: R2 has not replayed past
    // its first sample, so bounded reads fall back to the primary.
    let bounded_preferred = ReplicaPreferred.with_max_staleness(MS * 3000);
    assert_eq!(rig.spread(bounded_preferred, 3100), [r1]);
    rig.report(r2, true, 2, 1100, 3500);
    assert_eq!(rig.spread(bounded_preferred, 3600), [r2]);

    // The old primary comes back, not rewound, still on timeline 1.
    rig.report(p, false, 1, 1050, 4000);
    assert!(rig.failover.is_fenced(NodeId::new(p)));
    assert_eq!(
        rig.events.last(),
        Some(&FailoverEvent::SplitBrainSuspected {
            winner: NodeId::new(r1),
            loser: NodeId::new(p),
            loser_timeline: 1
        })
    );
    // No write and no read reaches it, under any preference.
    for preference in ReadPreference::ALL {
        assert!(!rig.spread(preference, 4000).contains(&p), "{preference}");
    }
    assert_eq!(
        rig.topology.node(NodeId::new(p)).unwrap().role,
        Role::Primary
    );

    // Rewound and restarted as a standby of R1: it rejoins and serves reads.
    rig.report(p, true, 2, 1100, 5000);
    assert!(!rig.failover.is_fenced(NodeId::new(p)));
    assert_eq!(
        rig.events.last(),
        Some(&FailoverEvent::RejoinedAsStandby {
            node: NodeId::new(p)
        })
    );
    assert_eq!(rig.spread(ReplicaOnly, 5000), [p, r2]);
    assert_eq!(rig.pick(Primary, 5000).map(|p| p.node.index()), Ok(r1));
}

#[test]
fn writes_fail_at_primary_wait_while_reads_keep_working() {
    let mut rig = Rig::new(2, Instant::now());
    rig.report(0, false, 1, 10, 0);
    rig.report(1, true, 1, 10, 0);
    rig.io_error(0, 100);
    rig.failure(0, 110);
    // Nobody claims primary; the driver wakes at every timeout.
    let mut ms = 110;
    while !matches!(rig.failover.state(), FailoverState::NoPrimary { .. }) {
        let next = rig.failover.poll_timeout().unwrap();
        ms = u32::try_from((next - rig.t0).as_millis()).unwrap();
        rig.timeout(ms);
        rig.failure(0, ms);
        rig.report(1, true, 1, 10, ms);
    }
    assert_eq!(ms, 5100, "primary_wait after the first sign of loss");
    assert_eq!(
        rig.events.last(),
        Some(&FailoverEvent::NoPrimary { since: rig.at(100) })
    );
    assert!(rig.failover.write_deadline().unwrap() <= rig.at(ms));
    assert_eq!(
        rig.pick(ReadPreference::Primary, ms),
        Err(NoEligibleNode::NoPrimary)
    );
    assert_eq!(
        rig.pick(ReadPreference::ReplicaPreferred, ms)
            .map(|p| p.node),
        Ok(NodeId::new(1))
    );
}
