//! Hooks, metrics and spans: how an operator sees what pgline does.
//!
//! Owns the hook traits (one per phase, each a start/end pair where the
//! start returns a [`HookData`] handed to the end; the cluster's are
//! points), the [`Hooks`] set that a [`Config`](crate::Config), a
//! [`PoolBuilder`](crate::PoolBuilder) or a cluster builder carries, and
//! the event structs the layers fill in. Every layer calls
//! it; it calls none of them. With no hook installed a call site costs a
//! pointer test: no clock read, no allocation.
//!
//! | phase | trait | called around |
//! |---|---|---|
//! | connect | [`ConnectHook`] | each host a connect tries |
//! | acquire | [`AcquireHook`] | a pool checkout (queue wait, connect, ping), with a keep/discard verdict |
//! | release | [`ReleaseHook`] | a pooled connection coming back, with a keep/discard verdict |
//! | prepare | [`PrepareHook`] | explicit prepares and statement-cache lookups |
//! | query | [`QueryHook`] | each query call |
//! | batch | [`BatchHook`] | a batch, and each statement's outcome |
//! | COPY | [`CopyHook`] | COPY IN and COPY OUT |
//! | cluster | [`ClusterHook`] | each monitor step (node role, up, lag, staleness), role changes, failover, split brain, fencing, lag thresholds, routing, retries |
//!
//! Two hooks come with the crate, each implementing every phase:
//! `Metrics` (feature `metrics`: OpenTelemetry-named metrics through the
//! `metrics` facade, names in [`metric_names`]) and `Spans` (feature
//! `runtime`: a `tracing` span per operation). Install them with
//! `Hooks::new().all(Metrics::new()).all(Spans)`.
//!
//! The stats snapshots ([`PoolStats`] and the connection's counters) live
//! here too, `#[non_exhaustive]`, so adding a counter breaks no one.

// Without the runtime nothing calls the hooks; the types stay public.
#![cfg_attr(not(feature = "runtime"), allow(dead_code, unused_imports))]

mod acquire;
mod batch;
mod cluster;
mod connect;
mod copy;
mod error_kind;
mod hook_data;
mod hooks;
pub mod metric_names;
#[cfg(feature = "metrics")]
mod metrics;
mod pool_figures;
pub(crate) mod pool_stats;
mod prepare;
mod query;
mod release;
mod server;
#[cfg(feature = "runtime")]
mod spans;

pub use acquire::{AcquireEnd, AcquireHook, AcquireStart, Checkout, CheckoutDecision};
pub use batch::{BatchEnd, BatchHook, BatchStart, BatchStatement};
pub use cluster::{
    ClusterChange, ClusterHook, ClusterNode, NodeRole, NodeSample, Retried, Routing,
};
pub use connect::{ConnectEnd, ConnectHook, ConnectStart};
pub use copy::{CopyDirection, CopyEnd, CopyHook, CopyStart};
pub(crate) use error_kind::error_kind_name;
pub use hook_data::HookData;
pub(crate) use hooks::Pending;
pub use hooks::{AllHooks, Hooks};
#[cfg(feature = "metrics")]
pub use metrics::Metrics;
pub use pool_figures::PoolFigures;
pub use pool_stats::{CloseReason, ClosedCounts, LATENCY_BUCKETS, LatencyHistogram, PoolStats};
pub use prepare::{PrepareEnd, PrepareHook, PrepareStart};
pub use query::{QueryEnd, QueryHook, QueryStart};
pub use release::{Release, ReleaseDecision, ReleaseHook};
pub use server::ServerInfo;
#[cfg(feature = "runtime")]
pub use spans::Spans;

/// Per-connection and per-pool counters, re-exported where the rest of
/// the stats live.
#[cfg(feature = "runtime")]
pub use crate::conn::{BufferPoolStats, ConnectionStats, StatementCacheStats};
