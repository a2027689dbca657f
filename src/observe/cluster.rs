//! The cluster hook: what the monitor and the router of a cluster see.
//!
//! Owns [`ClusterHook`] and its events: the state of each node after a
//! monitor step ([`NodeSample`]), the changes the monitor and the failover
//! machine decide ([`ClusterChange`]), each checkout's routing
//! ([`Routing`]) and each automatic retry ([`Retried`]). Nodes are named
//! by their index in the cluster's host list and their address, so this
//! module needs nothing of the cluster layer's types.
//!
//! Unlike the per-call phases, these are points, not start/end pairs: a
//! failover spans several monitor steps, so its length travels in the
//! event that ends it ([`ClusterChange::PrimaryElected`]'s `after`).

use std::time::Duration;

/// A node as the router sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NodeRole {
    /// The elected primary: writes go to it.
    Primary,
    /// A standby that answers its probes.
    Standby,
    /// Fenced by the failover machine (it lost a split brain, or claimed
    /// primary on an old timeline): nothing is routed to it.
    Fenced,
    /// Its last probe failed.
    Down,
    /// Up but neither elected primary nor a standby (not probed yet, or a
    /// primary claim the failover machine has not decided on).
    Unknown,
}

impl NodeRole {
    /// Every role, in the order the metrics export them.
    pub const ALL: [Self; 5] = [
        Self::Primary,
        Self::Standby,
        Self::Fenced,
        Self::Down,
        Self::Unknown,
    ];

    /// A short name for metrics labels and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Standby => "standby",
            Self::Fenced => "fenced",
            Self::Down => "down",
            Self::Unknown => "unknown",
        }
    }
}

/// One node of a cluster, by index and address.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ClusterNode<'a> {
    /// Its index in the cluster's host list.
    pub index: usize,
    /// Its host (name, IP literal or socket directory).
    pub address: &'a str,
    /// Its port.
    pub port: u16,
}

impl<'a> ClusterNode<'a> {
    pub(crate) fn new(index: usize, address: &'a str, port: u16) -> Self {
        Self {
            index,
            address,
            port,
        }
    }
}

/// A node's state after a monitor step (every node, after every step).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct NodeSample<'a> {
    /// The node.
    pub node: ClusterNode<'a>,
    /// Its role as the router sees it.
    pub role: NodeRole,
    /// Whether its last probe answered.
    pub up: bool,
    /// How many bytes of log it is behind the primary (standbys only).
    pub lag_bytes: Option<u64>,
    /// The upper bound of how stale its data is (standbys only, when
    /// known).
    pub staleness: Option<Duration>,
}

impl<'a> NodeSample<'a> {
    pub(crate) fn new(
        node: ClusterNode<'a>,
        role: NodeRole,
        up: bool,
        lag_bytes: Option<u64>,
        staleness: Option<Duration>,
    ) -> Self {
        Self {
            node,
            role,
            up,
            lag_bytes,
            staleness,
        }
    }
}

/// Something the monitor or the failover machine decided.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum ClusterChange<'a> {
    /// A node's probe reported another role than before.
    RoleChanged {
        /// The node.
        node: ClusterNode<'a>,
        /// The role it reported before (`Primary`, `Standby` or
        /// `Unknown`).
        from: NodeRole,
        /// The role it reports now.
        to: NodeRole,
    },
    /// A node answered its probe after being down.
    NodeUp {
        /// The node.
        node: ClusterNode<'a>,
    },
    /// A node's probe failed: it serves nothing until it answers again.
    NodeDown {
        /// The node.
        node: ClusterNode<'a>,
    },
    /// The primary is gone; a failover starts.
    PrimaryLost {
        /// The lost primary.
        node: ClusterNode<'a>,
    },
    /// A primary was elected.
    PrimaryElected {
        /// The new primary.
        node: ClusterNode<'a>,
        /// Its timeline.
        timeline: u32,
        /// How long there was no primary (the failover's length), when
        /// one was lost before.
        after: Option<Duration>,
    },
    /// Two nodes claimed primary; the loser is fenced.
    SplitBrain {
        /// The node that keeps the primary role.
        winner: ClusterNode<'a>,
        /// The node fenced.
        loser: ClusterNode<'a>,
    },
    /// A node was fenced (banned from routing) for claiming primary on an
    /// old timeline.
    Fenced {
        /// The node.
        node: ClusterNode<'a>,
    },
    /// No primary was elected within `primary_wait`.
    NoPrimary,
    /// A node last seen as primary (or fenced) came back as a standby.
    RejoinedAsStandby {
        /// The node.
        node: ClusterNode<'a>,
    },
    /// A replica's lag crossed the configured threshold.
    LagThreshold {
        /// The node.
        node: ClusterNode<'a>,
        /// Whether it went above (else back below).
        above: bool,
        /// Its lag in bytes at the probe.
        lag_bytes: u64,
    },
    /// A replica's staleness bound crossed the configured threshold.
    StalenessThreshold {
        /// The node.
        node: ClusterNode<'a>,
        /// Whether it went above (else back below).
        above: bool,
        /// Its staleness bound at the probe, when known.
        staleness: Option<Duration>,
    },
}

impl ClusterChange<'_> {
    /// A short name for metrics labels and logs (`primary_elected`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::RoleChanged { .. } => "role_changed",
            Self::NodeUp { .. } => "node_up",
            Self::NodeDown { .. } => "node_down",
            Self::PrimaryLost { .. } => "primary_lost",
            Self::PrimaryElected { .. } => "primary_elected",
            Self::SplitBrain { .. } => "split_brain",
            Self::Fenced { .. } => "fenced",
            Self::NoPrimary => "no_primary",
            Self::RejoinedAsStandby { .. } => "rejoined_as_standby",
            Self::LagThreshold { .. } => "lag_threshold",
            Self::StalenessThreshold { .. } => "staleness_threshold",
        }
    }
}

/// Where a cluster checkout went, or why it found no node.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Routing<'a> {
    /// The read preference asked for (`primary` for writes), as named by
    /// the cluster (`primary`, `replica_preferred`, …).
    pub preference: &'static str,
    /// The node and the role it was picked as; `None` when rejected.
    pub routed: Option<(ClusterNode<'a>, NodeRole)>,
    /// Why no node was eligible (`no_primary`, `all_too_stale`, …), when
    /// rejected.
    pub rejected: Option<&'static str>,
}

impl<'a> Routing<'a> {
    pub(crate) fn routed(preference: &'static str, node: ClusterNode<'a>, role: NodeRole) -> Self {
        Self {
            preference,
            routed: Some((node, role)),
            rejected: None,
        }
    }

    pub(crate) fn rejected(preference: &'static str, reason: &'static str) -> Self {
        Self {
            preference,
            routed: None,
            rejected: Some(reason),
        }
    }
}

/// A call the cluster ran a second time.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Retried {
    /// The retry class of the error that caused it (`not_executed`, …).
    pub class: &'static str,
    /// Whether it went to another node (a read lost on its node).
    pub other_node: bool,
}

impl Retried {
    pub(crate) fn new(class: &'static str, other_node: bool) -> Self {
        Self { class, other_node }
    }
}

/// Called by a [`Cluster`](crate::cluster::Cluster)'s monitor and router;
/// installed with [`Hooks::cluster`](super::Hooks::cluster) or
/// [`Hooks::all`](super::Hooks::all) on its builder. Every method has an
/// empty default. The monitor's calls ([`node_sample`](Self::node_sample),
/// [`cluster_change`](Self::cluster_change)) run on its task with the
/// cluster's lock released, off the query path; [`routing`](Self::routing)
/// and [`retried`](Self::retried) run on the caller's task, so they must
/// be quick.
pub trait ClusterHook: Send + Sync + 'static {
    /// Every node's state after each monitor step (a probe, a timer, an
    /// I/O error on the primary).
    fn node_sample(&self, sample: &NodeSample<'_>) {
        let _ = sample;
    }

    /// A change the monitor or the failover machine decided.
    fn cluster_change(&self, change: &ClusterChange<'_>) {
        let _ = change;
    }

    /// A checkout routed, or rejected for want of an eligible node.
    fn routing(&self, routing: &Routing<'_>) {
        let _ = routing;
    }

    /// A call retried automatically.
    fn retried(&self, retried: &Retried) {
        let _ = retried;
    }
}
