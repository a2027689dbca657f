//! What the cluster tells its subscribers: [`ClusterEvent`].
//!
//! Owns the event enum only. The tokio layer publishes events on a bounded
//! broadcast channel: a subscriber that falls behind loses the oldest events
//! (and is told how many), and publishing never waits for anyone, so a slow
//! subscriber cannot delay a query or a probe.

use std::time::Duration;

use super::failover::FailoverEvent;
use super::staleness::Crossing;
use super::topology::{NodeId, Role};

/// Something that changed in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterEvent {
    /// A node answered its probe after being down (or on its first probe).
    NodeUp {
        /// The node.
        node: NodeId,
    },
    /// A node's probe failed: it serves nothing until it answers again.
    NodeDown {
        /// The node.
        node: NodeId,
    },
    /// A node's probe reported a different role than the previous one
    /// (e.g. a standby promoted).
    RoleChanged {
        /// The node.
        node: NodeId,
        /// The role it had.
        from: Role,
        /// The role it has now.
        to: Role,
    },
    /// A replica's lag in bytes crossed the configured threshold.
    LagThresholdCrossed {
        /// The node.
        node: NodeId,
        /// Which way it crossed.
        crossing: Crossing,
        /// Its lag in bytes at the probe.
        lag_bytes: u64,
    },
    /// A replica's staleness bound crossed the configured threshold.
    StalenessThresholdCrossed {
        /// The node.
        node: NodeId,
        /// Which way it crossed.
        crossing: Crossing,
        /// Its staleness upper bound at the probe, when known.
        staleness: Option<Duration>,
    },
    /// The failover machine decided something (primary lost or elected,
    /// split brain, no primary).
    Failover(FailoverEvent),
}
