//! The cluster layer's decision core: read preferences, what the router
//! knows about each node, LSNs and staleness, balancers, the choice of a node
//! for a request, and the failover state machine.
//!
//! Owns plain data and pure functions of state, `now` and injected random
//! values. Nothing here reads a clock, draws a random number, sleeps or does
//! I/O, so every routing and failover decision can be replayed in a test. It
//! must not depend on `pool` or `conn`: the tokio layer above (the monitor
//! with its probe connections, one pool per host, the `Cluster` handle) feeds
//! probe results, I/O errors and timer wake-ups in, and acts on the decisions
//! that come out.
//!
//! | module | owns |
//! |---|---|
//! | [`preference`] | [`ReadPreference`], [`ReadPolicy`] and their validation |
//! | [`error`] | [`ClusterConfigError`] |
//! | [`lsn`] | [`Lsn`], PostgreSQL's `X/Y` write-ahead log position |
//! | [`topology`] | per-node knowledge ([`NodeState`]) and the [`Topology`] |
//! | [`staleness`] | replication lag in bytes and the staleness bound |
//! | [`balancer`] | the balancers that pick one node among candidates |
//! | [`select`] | the eligible set for a read policy, then the balancer |

pub mod balancer;
pub mod error;
pub mod lsn;
pub mod preference;
pub mod select;
pub mod staleness;
pub mod topology;

#[cfg(test)]
mod testing;

pub use balancer::{Balancer, BalancerState, Candidate};
pub use error::ClusterConfigError;
pub use lsn::{Lsn, LsnParseError};
pub use preference::{ReadPolicy, ReadPreference};
pub use select::{NoEligibleNode, Pick};
pub use staleness::{PrimarySamples, Staleness};
pub use topology::{NodeId, NodeState, ProbeReport, Role, RttEwma, Topology, Zone};
