//! What the router knows about each node, and the cluster as a whole.
//!
//! Owns [`NodeId`], [`Role`], [`Zone`], the RTT estimate ([`RttEwma`] and
//! its pure update [`ewma`]), [`NodeState`] (one per host: role, up or down,
//! zone, weight, requests in flight, RTT, last LSN and timeline), and the
//! [`Topology`] that holds them with the current primary and the primary's
//! LSN samples. It is plain data updated by the driver from probe replies
//! ([`Topology::record_probe`], which returns a [`NodeChange`] for the node
//! up/down and role events); it must not read a clock or do I/O, and it
//! does not decide who the primary is: the failover machine does, and the
//! driver writes its answer in with [`Topology::set_primary`].

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::lsn::Lsn;
use super::probe::ProbeReport;
use super::staleness::{PrimarySamples, Staleness, lag_bytes};

/// A node's index in the [`Topology`], in the order the hosts were given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(usize);

impl NodeId {
    /// The node at `index`.
    pub const fn new(index: usize) -> Self {
        Self(index)
    }

    /// The node's index.
    pub const fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {}", self.0)
    }
}

/// A node's role as its server last reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Role {
    /// Not in recovery: accepts writes.
    Primary,
    /// In recovery (a hot standby, streaming or replaying archives).
    Standby,
    /// Not probed successfully yet.
    #[default]
    Unknown,
}

impl Role {
    /// The role reported by `pg_is_in_recovery()` (or the
    /// `in_hot_standby` parameter status).
    pub const fn from_in_recovery(in_recovery: bool) -> Self {
        if in_recovery {
            Self::Standby
        } else {
            Self::Primary
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Primary => "primary",
            Self::Standby => "standby",
            Self::Unknown => "unknown",
        })
    }
}

/// An availability zone (or data centre, or rack) name. Cheap to clone;
/// compared by content.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Zone(Arc<str>);

impl Zone {
    /// The zone called `name`.
    pub fn new(name: &str) -> Self {
        Self(Arc::from(name))
    }

    /// The zone's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The smoothing factor of the RTT estimate: each sample counts for a fifth.
pub const RTT_ALPHA: f64 = 0.2;

/// One step of an exponentially weighted moving average:
/// `alpha * sample + (1 - alpha) * previous`, with `alpha` clamped to
/// `[0, 1]` (NaN counts as 0).
pub fn ewma(previous: Duration, sample: Duration, alpha: f64) -> Duration {
    let alpha = if alpha.is_nan() {
        0.0
    } else {
        alpha.clamp(0.0, 1.0)
    };
    sample.mul_f64(alpha) + previous.mul_f64(1.0 - alpha)
}

/// A node's round-trip time, smoothed with [`RTT_ALPHA`]. The first sample
/// is taken as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RttEwma {
    estimate: Option<Duration>,
    samples: u32,
}

impl RttEwma {
    /// No samples yet.
    pub const fn new() -> Self {
        Self {
            estimate: None,
            samples: 0,
        }
    }

    /// The estimate with `sample` taken in.
    #[must_use]
    pub fn updated(self, sample: Duration) -> Self {
        let estimate = match self.estimate {
            None => sample,
            Some(previous) => ewma(previous, sample, RTT_ALPHA),
        };
        Self {
            estimate: Some(estimate),
            samples: self.samples.saturating_add(1),
        }
    }

    /// The current estimate, once there is a sample.
    pub fn estimate(&self) -> Option<Duration> {
        self.estimate
    }

    /// How many samples it has taken in.
    pub fn samples(&self) -> u32 {
        self.samples
    }
}

/// What the router knows about one node.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NodeState {
    /// The role last reported.
    pub role: Role,
    /// Whether the last probe (or connection attempt) succeeded.
    pub up: bool,
    /// The node's zone, if configured.
    pub zone: Option<Zone>,
    /// Its weight for the weighted balancer.
    pub weight: NonZeroU32,
    /// Requests running on it now.
    pub in_flight: u32,
    /// Its round-trip time.
    pub rtt: RttEwma,
    /// The LSN last reported (insert position on a primary, replay position
    /// on a standby).
    pub lsn: Option<Lsn>,
    /// The timeline last reported.
    pub timeline: Option<u32>,
    /// `transaction_read_only` as last reported.
    pub read_only: bool,
}

impl NodeState {
    /// A node not probed yet: role unknown, down, weight 1, no zone.
    pub fn new() -> Self {
        Self {
            role: Role::Unknown,
            up: false,
            zone: None,
            weight: NonZeroU32::MIN,
            in_flight: 0,
            rtt: RttEwma::new(),
            lsn: None,
            timeline: None,
            read_only: false,
        }
    }

    /// The same node with weight `weight`.
    #[must_use]
    pub fn with_weight(mut self, weight: NonZeroU32) -> Self {
        self.weight = weight;
        self
    }

    /// The same node in `zone`.
    #[must_use]
    pub fn with_zone(mut self, zone: Zone) -> Self {
        self.zone = Some(zone);
        self
    }

    /// Whether the node is in `zone`.
    pub fn in_zone(&self, zone: &Zone) -> bool {
        self.zone.as_ref() == Some(zone)
    }
}

impl Default for NodeState {
    fn default() -> Self {
        Self::new()
    }
}

/// What one probe result changed about a node, for the cluster's node
/// up/down and role-changed events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeChange {
    /// Whether the node was up before.
    pub was_up: bool,
    /// Whether it is up now.
    pub up: bool,
    /// The role before.
    pub previous_role: Role,
    /// The role now.
    pub role: Role,
}

impl NodeChange {
    /// The node was down (or never probed) and is up now.
    pub fn came_up(&self) -> bool {
        !self.was_up && self.up
    }

    /// The node was up and is down now.
    pub fn went_down(&self) -> bool {
        self.was_up && !self.up
    }

    /// The role before and after, when it changed from one known role to
    /// another or was learned for the first time.
    pub fn role_changed(&self) -> Option<(Role, Role)> {
        (self.previous_role != self.role).then_some((self.previous_role, self.role))
    }
}

/// A node id outside the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownNode {
    /// The id given.
    pub node: NodeId,
    /// How many nodes there are.
    pub nodes: usize,
}

impl fmt::Display for UnknownNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not in the cluster ({} nodes)",
            self.node, self.nodes
        )
    }
}

impl std::error::Error for UnknownNode {}

/// Everything the router knows: each node's state, which node is the
/// primary now, the primary's recent LSN samples and the local zone.
#[derive(Debug, Clone)]
pub struct Topology {
    nodes: Vec<NodeState>,
    primary: Option<NodeId>,
    samples: PrimarySamples,
    /// The primary whose positions `samples` holds; kept while there is no
    /// primary so the replicas' bounds go on aging from its last sample.
    sampled: Option<NodeId>,
    local_zone: Option<Zone>,
}

impl Topology {
    /// A topology of `nodes` (their [`NodeId`]s are their indexes), no
    /// primary yet, an empty sample ring of `sample_capacity`.
    pub fn new(nodes: Vec<NodeState>, local_zone: Option<Zone>, sample_capacity: usize) -> Self {
        Self {
            nodes,
            primary: None,
            samples: PrimarySamples::new(sample_capacity),
            sampled: None,
            local_zone,
        }
    }

    /// Every node's state, indexed by [`NodeId::index`].
    pub fn nodes(&self) -> &[NodeState] {
        &self.nodes
    }

    /// Every node's id.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.nodes.len()).map(NodeId)
    }

    /// How many nodes there are.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// One node's state.
    pub fn node(&self, id: NodeId) -> Option<&NodeState> {
        self.nodes.get(id.0)
    }

    /// One node's state, to update (in-flight count, up or down).
    pub fn node_mut(&mut self, id: NodeId) -> Option<&mut NodeState> {
        self.nodes.get_mut(id.0)
    }

    /// The node writes go to, as the failover machine last decided.
    pub fn primary(&self) -> Option<NodeId> {
        self.primary
    }

    /// Sets the node writes go to (`None` while the failover machine has
    /// none). A different primary than the one sampled so far forgets the
    /// old LSN samples: positions on a new timeline do not extend the old
    /// history. `None` keeps them, so while a failover runs the replicas'
    /// bounds keep aging from the last sample (and the same primary confirmed
    /// again keeps its history).
    pub fn set_primary(&mut self, primary: Option<NodeId>) {
        self.primary = primary;
        if primary.is_some() && primary != self.sampled {
            self.samples.clear();
            self.sampled = primary;
        }
    }

    /// The zone reads prefer.
    pub fn local_zone(&self) -> Option<&Zone> {
        self.local_zone.as_ref()
    }

    /// The primary's recent LSN samples.
    pub fn samples(&self) -> &PrimarySamples {
        &self.samples
    }

    /// Takes in a successful probe of `id` whose reply arrived at `at` after
    /// `rtt`: the node is up with the reported role, LSN and timeline, and,
    /// when it is the current primary reporting as a primary, its position
    /// is sampled. Returns what changed, for the node up/down and role
    /// events.
    pub fn record_probe(
        &mut self,
        id: NodeId,
        report: &ProbeReport,
        rtt: Duration,
        at: Instant,
    ) -> Result<NodeChange, UnknownNode> {
        let nodes = self.nodes.len();
        let node = self
            .nodes
            .get_mut(id.0)
            .ok_or(UnknownNode { node: id, nodes })?;
        let change = NodeChange {
            was_up: node.up,
            up: true,
            previous_role: node.role,
            role: report.role(),
        };
        node.up = true;
        node.role = report.role();
        node.lsn = Some(report.lsn);
        node.timeline = Some(report.timeline);
        node.read_only = report.read_only;
        node.rtt = node.rtt.updated(rtt);
        if self.primary == Some(id) && node.role == Role::Primary {
            self.samples.record(report.lsn, at);
        }
        Ok(change)
    }

    /// Takes in a failed probe (or connection attempt) of `id`: the node is
    /// down; its last known role and positions are kept. Returns what
    /// changed.
    pub fn record_failure(&mut self, id: NodeId) -> Result<NodeChange, UnknownNode> {
        let nodes = self.nodes.len();
        let node = self
            .nodes
            .get_mut(id.0)
            .ok_or(UnknownNode { node: id, nodes })?;
        let change = NodeChange {
            was_up: node.up,
            up: false,
            previous_role: node.role,
            role: node.role,
        };
        node.up = false;
        Ok(change)
    }

    /// Bytes of log `id` has yet to replay from the primary's latest sample;
    /// `None` without a primary sample or a position for the node.
    pub fn lag_bytes(&self, id: NodeId) -> Option<u64> {
        let primary = self.samples.latest()?.lsn;
        let replay = self.node(id)?.lsn?;
        Some(lag_bytes(primary, replay))
    }

    /// How stale `id`'s data may be at `now`: zero for the current primary,
    /// the LSN-sample bound for any other node.
    pub fn staleness(&self, id: NodeId, now: Instant) -> Staleness {
        if self.primary == Some(id) {
            return Staleness::AtMost(Duration::ZERO);
        }
        match self.node(id).and_then(|n| n.lsn) {
            Some(replay) => self.samples.staleness(replay, now),
            None => Staleness::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const SEC: Duration = Duration::from_secs(1);

    fn report(in_recovery: bool, lsn: u64) -> ProbeReport {
        ProbeReport {
            in_recovery,
            lsn: Lsn::new(lsn),
            timeline: 1,
            read_only: in_recovery,
        }
    }

    #[test]
    fn ewma_weights_a_sample_by_a_fifth() {
        assert_eq!(ewma(MS * 10, MS * 60, RTT_ALPHA), MS * 20);
        assert_eq!(ewma(MS * 10, MS * 60, 0.0), MS * 10);
        assert_eq!(ewma(MS * 10, MS * 60, 1.0), MS * 60);
        assert_eq!(ewma(MS * 10, MS * 60, f64::NAN), MS * 10);
        assert_eq!(ewma(MS * 10, MS * 60, 7.0), MS * 60);

        let first = RttEwma::new().updated(MS * 5);
        assert_eq!(first.estimate(), Some(MS * 5));
        let second = first.updated(MS * 10);
        assert_eq!(second.estimate(), Some(MS * 6));
        assert_eq!(second.samples(), 2);
        assert_eq!(RttEwma::new().estimate(), None);
    }

    #[test]
    fn ewma_converges_on_a_step() {
        // 1 ms, then 51 ms from the 11th sample on: after 20 samples at the
        // new level the estimate is within 1.2% of the step.
        let mut rtt = RttEwma::new();
        for _ in 0..10 {
            rtt = rtt.updated(MS);
        }
        for _ in 0..20 {
            rtt = rtt.updated(MS * 51);
        }
        let est = rtt.estimate().unwrap();
        assert!(est > MS * 50 && est < MS * 51, "{est:?}");
    }

    #[test]
    fn probes_update_the_node_and_sample_only_the_primary() {
        let t0 = Instant::now();
        let mut topo = Topology::new(vec![NodeState::new(), NodeState::new()], None, 8);
        let (p, r) = (NodeId::new(0), NodeId::new(1));
        assert!(!topo.node(p).unwrap().up);
        let first = topo.record_probe(p, &report(false, 500), MS, t0).unwrap();
        assert!(first.came_up());
        assert_eq!(first.role_changed(), Some((Role::Unknown, Role::Primary)));
        topo.record_probe(r, &report(true, 400), MS * 2, t0)
            .unwrap();
        let again = topo
            .record_probe(r, &report(true, 400), MS * 2, t0)
            .unwrap();
        assert!(!again.came_up() && !again.went_down());
        assert_eq!(again.role_changed(), None);
        // Not yet designated primary: no sample.
        assert!(topo.samples().is_empty());
        assert_eq!(topo.lag_bytes(r), None);
        assert_eq!(topo.staleness(r, t0), Staleness::Unknown);

        topo.set_primary(Some(p));
        topo.record_probe(p, &report(false, 600), MS, t0 + MS * 100)
            .unwrap();
        assert_eq!(topo.samples().len(), 1);
        assert_eq!(topo.lag_bytes(r), Some(200));
        assert_eq!(
            topo.staleness(p, t0 + MS * 500),
            Staleness::AtMost(Duration::ZERO)
        );
        // The replica is behind the only sample.
        assert_eq!(
            topo.staleness(r, t0 + MS * 500),
            Staleness::BeyondSamples { at_least: MS * 400 }
        );
        topo.record_probe(r, &report(true, 600), MS * 2, t0 + MS * 200)
            .unwrap();
        assert_eq!(
            topo.staleness(r, t0 + MS * 500),
            Staleness::AtMost(MS * 400)
        );
        let node = topo.node(r).unwrap();
        assert_eq!(node.role, Role::Standby);
        assert!(node.up && node.read_only);
        assert_eq!(node.rtt.samples(), 3);

        assert!(topo.record_failure(r).unwrap().went_down());
        assert!(!topo.node(r).unwrap().up);
        assert_eq!(topo.node(r).unwrap().role, Role::Standby, "kept");
        assert!(!topo.record_failure(r).unwrap().went_down(), "once");
        let unknown = UnknownNode {
            node: NodeId::new(9),
            nodes: 2,
        };
        assert_eq!(topo.record_failure(NodeId::new(9)), Err(unknown));
        assert_eq!(
            topo.record_probe(NodeId::new(9), &report(true, 1), MS, t0),
            Err(unknown)
        );
        // Promotion seen by the monitor: a role change.
        let promoted = topo.record_probe(r, &report(false, 700), MS, t0).unwrap();
        assert!(promoted.came_up());
        assert_eq!(
            promoted.role_changed(),
            Some((Role::Standby, Role::Primary))
        );

        // No primary for a while (a failover running): the history stays and
        // the replica's bound keeps aging; the same primary back keeps it.
        topo.set_primary(None);
        assert_eq!(topo.samples().len(), 1);
        assert_eq!(topo.staleness(p, t0 + SEC), Staleness::AtMost(MS * 900));
        topo.set_primary(Some(p));
        assert_eq!(topo.samples().len(), 1);
        // A new primary starts a new history.
        topo.set_primary(Some(r));
        assert!(topo.samples().is_empty());
    }

    #[test]
    fn zones_compare_by_name() {
        let node = NodeState::new().with_zone(Zone::new("eu-1a"));
        assert!(node.in_zone(&Zone::new("eu-1a")));
        assert!(!node.in_zone(&Zone::new("eu-1b")));
        assert!(!NodeState::new().in_zone(&Zone::new("eu-1a")));
        assert_eq!(format!("{:?}", Zone::new("eu-1a")), "\"eu-1a\"");
    }
}
