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
//! | [`causal`] | [`CausalToken`], a session's read-your-writes position |
//! | [`probe`] | [`ProbeReport`] and reading it from a probe's reply |
//! | [`topology`] | per-node knowledge ([`NodeState`]) and the [`Topology`] |
//! | [`staleness`] | replication lag in bytes and the staleness bound |
//! | [`balancer`] | the balancers that pick one node among candidates |
//! | [`select`] | the eligible set for a read policy, then the balancer |
//! | [`failover`] | the failover state machine |
//!
//! How the tokio layer above drives it:
//!
//! 1. validate the settings ([`ReadPolicy::validate`],
//!    [`preference::validate_monitor_interval`]);
//! 2. on each probe reply, update the [`Topology`]
//!    ([`Topology::record_probe`] with the [`ProbeReport`] and the round
//!    trip, or [`Topology::record_failure`]) and feed the same result to the
//!    [`Failover`] machine; then put [`Failover::primary`] into the topology
//!    ([`Topology::set_primary`]);
//! 3. on each checkout, call [`select::select`] with the policy, a reused
//!    candidate buffer and two random values, and keep the nodes' in-flight
//!    counts current;
//! 4. report I/O errors on primary connections
//!    ([`Failover::handle_primary_io_error`]), probe the nodes
//!    [`Failover::poll_probe`] names, wake at [`Failover::poll_timeout`],
//!    publish [`Failover::poll_event`]'s events and close a fenced node's
//!    connections as they are released ([`Failover::is_fenced`]).

pub mod balancer;
pub mod causal;
pub mod error;
pub mod failover;
pub mod lsn;
pub mod preference;
pub mod probe;
pub mod select;
pub mod staleness;
pub mod topology;

#[cfg(test)]
mod scenarios;
#[cfg(test)]
mod testing;

pub use balancer::{Balancer, BalancerState, Candidate};
pub use causal::CausalToken;
pub use error::ClusterConfigError;
pub use failover::{Failover, FailoverConfig, FailoverError, FailoverEvent, FailoverState};
pub use lsn::{Lsn, LsnParseError};
pub use preference::{ReadPolicy, ReadPreference};
pub use probe::{ProbeParseError, ProbeReport};
pub use select::{NoEligibleNode, Pick};
pub use staleness::{Crossing, PrimarySamples, Staleness};
pub use topology::{NodeChange, NodeId, NodeState, Role, RttEwma, Topology, UnknownNode, Zone};
