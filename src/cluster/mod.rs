//! The cluster layer: one handle over a primary and its replicas, and the
//! decision core under it (read preferences, what the router knows about
//! each node, LSNs and staleness, balancers, the choice of a node for a
//! request, the failover state machine).
//!
//! The modules listed first own plain data and pure functions of state,
//! `now` and injected random values. None of them reads a clock, draws a
//! random number, sleeps or does I/O, so every routing and failover
//! decision can be replayed in a test; they must not depend on `pool` or
//! `conn`: the tokio layer (the monitor with its probe connections, one
//! pool per host, the `Cluster` handle) feeds probe results, I/O errors and
//! timer wake-ups in, and acts on the decisions that come out.
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
//! | [`events`] | [`ClusterEvent`], what subscribers are told |
//!
//! With the `runtime` feature, the tokio layer sits in files of its own:
//!
//! | module | owns |
//! |---|---|
//! | `builder` | [`ClusterBuilder`]: settings, one pool per host, the start |
//! | `handle` | [`Cluster`], checkouts ([`ClusterClient`]), [`Route`], stats, close |
//! | `monitor` | the probe task per node and the failover timer task |
//! | `readiness` | [`Readiness`]: whether a service over the cluster can work now (`/readyz`) |
//! | `session` | [`Session`]: read-your-writes with a [`CausalToken`] |
//! | `transaction` | `Cluster::transaction_with_retry` over the primary |
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
#[cfg(feature = "runtime")]
mod builder;
pub mod causal;
pub mod error;
pub mod events;
pub mod failover;
#[cfg(feature = "runtime")]
mod handle;
pub mod lsn;
#[cfg(feature = "runtime")]
mod monitor;
pub mod preference;
pub mod probe;
#[cfg(feature = "runtime")]
mod readiness;
pub mod select;
#[cfg(feature = "runtime")]
mod session;
pub mod staleness;
pub mod topology;
#[cfg(feature = "runtime")]
mod transaction;

#[cfg(test)]
mod scenarios;
#[cfg(test)]
mod testing;

pub use balancer::{Balancer, BalancerState, Candidate};
#[cfg(feature = "runtime")]
pub use builder::{
    ClusterBuilder, DEFAULT_IDLE_PING, DEFAULT_RYW_TIMEOUT, DEFAULT_SELECTION_TIMEOUT,
};
pub use causal::CausalToken;
pub use error::ClusterConfigError;
pub use events::ClusterEvent;
pub use failover::{Failover, FailoverConfig, FailoverError, FailoverEvent, FailoverState};
#[cfg(feature = "runtime")]
pub use handle::{Cluster, ClusterClient, ClusterError, ClusterStats, Route};
pub use lsn::{Lsn, LsnParseError};
#[cfg(feature = "runtime")]
pub use monitor::PROBE_SQL;
pub use preference::{ReadPolicy, ReadPreference};
pub use probe::{ProbeParseError, ProbeReport};
#[cfg(feature = "runtime")]
pub use readiness::{NodeReadiness, Readiness};
pub use select::{NoEligibleNode, Pick};
#[cfg(feature = "runtime")]
pub use session::{CausalRoute, Session};
pub use staleness::{Crossing, PrimarySamples, Staleness};
pub use topology::{NodeChange, NodeId, NodeState, Role, RttEwma, Topology, UnknownNode, Zone};
