//! Metrics through the `metrics` facade (feature `metrics`).
//!
//! Owns [`Metrics`], a hook for every phase that records what the phase
//! reports under the names in [`metric_names`](super::metric_names). The
//! application installs the exporter (a Prometheus endpoint, OTLP, …)
//! and this hook ([`Hooks::all`](super::Hooks::all)); with neither, nothing
//! is recorded and nothing is paid. Labels are bounded: server, database,
//! API verb, error type, pool name; the SQL text never is one.

use std::fmt;
use std::sync::{Arc, OnceLock};

use metrics::{Counter, Histogram, Label, SharedString, Unit};

use super::metric_names as n;
use super::{
    AcquireEnd, AcquireHook, BatchEnd, BatchHook, ClusterChange, ClusterHook, ClusterNode,
    ConnectEnd, ConnectHook, CopyDirection, CopyEnd, CopyHook, HookData, NodeRole, NodeSample,
    PoolFigures, PrepareEnd, PrepareHook, QueryEnd, QueryHook, Release, ReleaseDecision,
    ReleaseHook, Retried, Routing, ServerInfo,
};
use crate::error::Error;

/// Records pgline's metrics; install with `Hooks::new().all(Metrics::new())`
/// on a [`Config`](crate::Config) or a [`PoolBuilder`](crate::PoolBuilder).
///
/// The histogram of successful operations and the statement-cache
/// counters are registered at first use on a connection and kept with the
/// connection (in its [`ServerInfo`]), so a query costs an index into
/// them rather than building its labels: install the recorder before the
/// first operation is recorded.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    _private: (),
}

/// The operations whose successful durations a connection keeps a
/// histogram handle for: the API verbs, `prepare`, `batch` and the COPY
/// directions.
const KEPT_OPERATIONS: [&str; 11] = [
    "query",
    "query_one",
    "query_opt",
    "execute",
    "query_stream",
    "simple_query",
    "batch_execute",
    "prepare",
    "batch",
    "COPY FROM",
    "COPY TO",
];

/// One connection's kept metric handles, each registered on first use
/// and shared by the clones of the connection's [`ServerInfo`], whose
/// labels they carry: the duration histograms of successful operations
/// by operation ([`KEPT_OPERATIONS`]), and the statement-cache counters.
#[derive(Default)]
pub(crate) struct ConnectionMetrics {
    durations: [OnceLock<Histogram>; KEPT_OPERATIONS.len()],
    cache_hits: OnceLock<Counter>,
    cache_misses: OnceLock<Counter>,
    cache_evictions: OnceLock<Counter>,
}

impl fmt::Debug for ConnectionMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kept = self.durations.iter().filter(|h| h.get().is_some()).count();
        f.debug_struct("ConnectionMetrics")
            .field("durations", &kept)
            .finish_non_exhaustive()
    }
}

impl ConnectionMetrics {
    /// The histogram of `operation`'s successes on `server`'s connection,
    /// registered on first use; `None` for an operation not kept.
    fn duration(&self, server: &ServerInfo, operation: &'static str) -> Option<&Histogram> {
        let slot = self.durations.get(kept_index(operation)?)?;
        Some(slot.get_or_init(|| {
            metrics::histogram!(n::OPERATION_DURATION, server_labels(server, operation, 0))
        }))
    }

    /// The statement-cache counter `name` (hits, misses or evictions) of
    /// `server`'s database, registered on first use.
    fn cache_counter(&self, server: &ServerInfo, name: &'static str) -> &Counter {
        let slot = match name {
            n::STATEMENT_CACHE_HITS => &self.cache_hits,
            n::STATEMENT_CACHE_MISSES => &self.cache_misses,
            _ => &self.cache_evictions,
        };
        slot.get_or_init(|| {
            let db = vec![Label::new(n::DB_NAMESPACE, shared(&server.namespace))];
            metrics::counter!(name, db)
        })
    }
}

/// Where `operation` sits in [`KEPT_OPERATIONS`].
fn kept_index(operation: &str) -> Option<usize> {
    KEPT_OPERATIONS.iter().position(|&o| o == operation)
}

impl Metrics {
    /// The hook. Describes the metrics (units and help text) to the
    /// recorder installed now.
    pub fn new() -> Self {
        Self::describe();
        Self::default()
    }

    /// Records an operation's duration, and its error if it failed.
    fn operation(
        &self,
        server: &ServerInfo,
        operation: &'static str,
        seconds: f64,
        error: Option<&Error>,
    ) {
        if error.is_some() {
            return failed_operation(server, operation, seconds, error);
        }
        match server.metrics.duration(server, operation) {
            Some(histogram) => histogram.record(seconds),
            None => {
                metrics::histogram!(n::OPERATION_DURATION, server_labels(server, operation, 0))
                    .record(seconds);
            }
        }
    }

    /// Describes every metric (unit, help text) to the current recorder.
    pub fn describe() {
        use metrics::{describe_counter, describe_gauge, describe_histogram};
        describe_histogram!(
            n::OPERATION_DURATION,
            Unit::Seconds,
            "Duration of database client operations."
        );
        describe_gauge!(
            n::CONNECTION_COUNT,
            "Connections in the pool, by state (idle, used)."
        );
        describe_gauge!(n::CONNECTION_MAX, "The pool's maximum size.");
        describe_gauge!(n::CONNECTION_IDLE_MAX, "Most idle connections allowed.");
        describe_gauge!(n::CONNECTION_IDLE_MIN, "Fewest idle connections kept.");
        describe_gauge!(n::CONNECTION_PENDING, "Acquires waiting for a connection.");
        describe_counter!(n::CONNECTION_TIMEOUTS, "Acquires that timed out.");
        describe_histogram!(
            n::CONNECTION_CREATE_TIME,
            Unit::Seconds,
            "Time to open a connection for an acquire."
        );
        describe_histogram!(
            n::CONNECTION_WAIT_TIME,
            Unit::Seconds,
            "Time to obtain a connection from the pool."
        );
        describe_histogram!(
            n::CONNECTION_USE_TIME,
            Unit::Seconds,
            "Time a connection was held between acquire and release."
        );
        describe_counter!(n::STATEMENT_CACHE_HITS, "Statement cache hits.");
        describe_counter!(n::STATEMENT_CACHE_MISSES, "Statement cache misses.");
        describe_counter!(n::STATEMENT_CACHE_EVICTIONS, "Statement cache evictions.");
        describe_counter!(n::COPY_ROWS, "Rows copied by COPY.");
        describe_counter!(n::COPY_BYTES, Unit::Bytes, "COPY data bytes.");
        describe_counter!(n::ERRORS, "Failed operations by error type.");
        describe_counter!(n::CONNECT_ATTEMPTS, "Connect attempts, one per host tried.");
        describe_counter!(n::RETRIES, "Calls retried automatically, by retry class.");
        describe_gauge!(
            n::CLUSTER_NODE_ROLE,
            "1 for the role the router sees each node in, 0 for the others."
        );
        describe_gauge!(n::CLUSTER_NODE_UP, "Whether the node answers its probes.");
        describe_gauge!(
            n::CLUSTER_NODE_LAG,
            Unit::Bytes,
            "How far the node's replay is behind the primary's log."
        );
        describe_gauge!(
            n::CLUSTER_NODE_STALENESS,
            Unit::Seconds,
            "Upper bound of how stale the node's data is."
        );
        describe_counter!(
            n::CLUSTER_ROLE_CHANGES,
            "Role changes a node's probe reported."
        );
        describe_counter!(n::CLUSTER_FAILOVERS, "Primaries elected after a loss.");
        describe_counter!(
            n::CLUSTER_CHANGES,
            "Monitor and failover decisions, by kind."
        );
        describe_counter!(n::CLUSTER_ROUTED, "Cluster checkouts routed to a node.");
        describe_counter!(
            n::CLUSTER_REJECTED,
            "Cluster checkouts that found no eligible node, by reason."
        );
    }
}

fn shared(s: &Arc<str>) -> SharedString {
    SharedString::from_shared(Arc::clone(s))
}

/// The labels every operation metric carries.
fn server_labels(server: &ServerInfo, operation: &'static str, n: usize) -> Vec<Label> {
    let mut labels = Vec::with_capacity(5 + n);
    labels.push(Label::from_static_parts(n::DB_SYSTEM_NAME, "postgresql"));
    labels.push(Label::new(n::DB_NAMESPACE, shared(&server.namespace)));
    labels.push(Label::from_static_parts(n::DB_OPERATION_NAME, operation));
    labels.push(Label::new(n::SERVER_ADDRESS, shared(&server.address)));
    labels.push(Label::new(n::SERVER_PORT, server.port.to_string()));
    labels
}

/// `error.type`: the SQLSTATE when the server sent one, else the kind.
fn error_type(error: &Error) -> SharedString {
    match error.code() {
        Some(code) => SharedString::from_owned(code.code().to_owned()),
        None => SharedString::const_str(super::error_kind_name(error.kind())),
    }
}

/// Records an operation's duration, and its error if it failed.
fn failed_operation(
    server: &ServerInfo,
    operation: &'static str,
    seconds: f64,
    error: Option<&Error>,
) {
    let mut labels = server_labels(server, operation, 2);
    if let Some(error) = error {
        let kind = error_type(error);
        labels.push(Label::new(n::ERROR_TYPE, kind.clone()));
        if let Some(code) = error.code() {
            labels.push(Label::new(
                n::DB_RESPONSE_STATUS_CODE,
                code.code().to_owned(),
            ));
        }
        let errors = vec![
            Label::new(n::ERROR_TYPE, kind),
            Label::from_static_parts(n::DB_OPERATION_NAME, operation),
            Label::new(n::DB_NAMESPACE, shared(&server.namespace)),
        ];
        metrics::counter!(n::ERRORS, errors).increment(1);
    }
    metrics::histogram!(n::OPERATION_DURATION, labels).record(seconds);
}

fn pool_label(pool: &PoolFigures<'_>) -> Label {
    Label::new(n::POOL_NAME, pool.name.to_owned())
}

/// Sets the pool gauges from an event's figures.
fn pool_gauges(pool: &PoolFigures<'_>) {
    let name = pool_label(pool);
    let state = |s: &'static str| {
        vec![
            name.clone(),
            Label::from_static_parts(n::CONNECTION_STATE, s),
        ]
    };
    metrics::gauge!(n::CONNECTION_COUNT, state("idle")).set(pool.idle as f64);
    metrics::gauge!(n::CONNECTION_COUNT, state("used")).set(pool.used as f64);
    metrics::gauge!(n::CONNECTION_MAX, vec![name.clone()]).set(pool.max as f64);
    metrics::gauge!(n::CONNECTION_IDLE_MAX, vec![name.clone()]).set(pool.max as f64);
    metrics::gauge!(n::CONNECTION_IDLE_MIN, vec![name.clone()]).set(pool.min_idle as f64);
    metrics::gauge!(n::CONNECTION_PENDING, vec![name]).set(pool.pending as f64);
}

impl QueryHook for Metrics {
    fn query_end(&self, _: HookData, q: &QueryEnd<'_>) {
        self.operation(q.server, q.operation, q.elapsed.as_secs_f64(), q.error);
    }
}

impl PrepareHook for Metrics {
    fn prepare_end(&self, _: HookData, p: &PrepareEnd<'_>) {
        if p.from_cache {
            let kept = &p.server.metrics;
            let name = if p.already_prepared {
                n::STATEMENT_CACHE_HITS
            } else {
                n::STATEMENT_CACHE_MISSES
            };
            kept.cache_counter(p.server, name).increment(1);
            // Only a miss can evict; counted even when 0, so the series
            // exists from the first miss on.
            if !p.already_prepared {
                kept.cache_counter(p.server, n::STATEMENT_CACHE_EVICTIONS)
                    .increment(p.evicted);
            }
        }
        if !p.already_prepared {
            self.operation(p.server, "prepare", p.elapsed.as_secs_f64(), p.error);
        }
    }
}

impl BatchHook for Metrics {
    fn batch_end(&self, _: HookData, b: &BatchEnd<'_>) {
        self.operation(b.server, "batch", b.elapsed.as_secs_f64(), b.error);
    }
}

impl CopyHook for Metrics {
    fn copy_end(&self, _: HookData, c: &CopyEnd<'_>) {
        let direction = match c.direction {
            CopyDirection::In => "in",
            _ => "out",
        };
        let labels = || {
            vec![
                Label::from_static_parts(n::COPY_DIRECTION, direction),
                Label::new(n::DB_NAMESPACE, shared(&c.server.namespace)),
            ]
        };
        metrics::counter!(n::COPY_ROWS, labels()).increment(c.rows.unwrap_or(0));
        metrics::counter!(n::COPY_BYTES, labels()).increment(c.bytes);
        self.operation(
            c.server,
            c.direction.operation_name(),
            c.elapsed.as_secs_f64(),
            c.error,
        );
    }
}

impl ConnectHook for Metrics {
    fn connect_end(&self, _: HookData, c: &ConnectEnd<'_>) {
        let outcome = if c.error.is_none() { "ok" } else { "error" };
        let labels = vec![
            Label::from_static_parts(n::OUTCOME, outcome),
            Label::new(n::SERVER_ADDRESS, c.host.to_owned()),
            Label::new(n::SERVER_PORT, c.port.to_string()),
        ];
        metrics::counter!(n::CONNECT_ATTEMPTS, labels).increment(1);
    }
}

impl AcquireHook for Metrics {
    fn acquire_end(&self, _: HookData, a: &AcquireEnd<'_>) {
        let name = || vec![pool_label(&a.pool)];
        metrics::histogram!(n::CONNECTION_WAIT_TIME, name()).record(a.elapsed.as_secs_f64());
        if let Some(connect) = a.connect {
            metrics::histogram!(n::CONNECTION_CREATE_TIME, name()).record(connect.as_secs_f64());
        }
        // Counted even when 0, so the series exists before the first
        // timeout (alerts on its rate need it).
        metrics::counter!(n::CONNECTION_TIMEOUTS, name()).increment(u64::from(a.timed_out));
        pool_gauges(&a.pool);
    }
}

impl ReleaseHook for Metrics {
    fn release(&self, r: &Release<'_>) -> ReleaseDecision {
        metrics::histogram!(n::CONNECTION_USE_TIME, vec![pool_label(&r.pool)])
            .record(r.held_for.as_secs_f64());
        // The figures are from before the connection is back.
        let mut after = r.pool;
        after.used = after.used.saturating_sub(1);
        after.idle += 1;
        pool_gauges(&after);
        ReleaseDecision::Keep
    }
}

/// The retry classes a cluster retries (`RetryClass::name`).
const RETRIED_CLASSES: [&str; 3] = ["not_executed", "retry_transaction", "outcome_unknown"];

/// The changes alerts watch the increase of (`ClusterChange::name`).
const ALERTED_CHANGES: [&str; 3] = ["split_brain", "primary_lost", "no_primary"];

/// The labels naming a cluster node.
fn node_labels(node: &ClusterNode<'_>, extra: usize) -> Vec<Label> {
    let mut labels = Vec::with_capacity(2 + extra);
    labels.push(Label::new(n::SERVER_ADDRESS, node.address.to_owned()));
    labels.push(Label::new(n::SERVER_PORT, node.port.to_string()));
    labels
}

/// A gauge value that may be unknown: NaN, which no alert threshold
/// matches and a dashboard draws as a gap.
fn known(value: Option<f64>) -> f64 {
    value.unwrap_or(f64::NAN)
}

impl ClusterHook for Metrics {
    fn node_sample(&self, s: &NodeSample<'_>) {
        for role in NodeRole::ALL {
            let mut labels = node_labels(&s.node, 1);
            labels.push(Label::from_static_parts(n::CLUSTER_ROLE, role.name()));
            metrics::gauge!(n::CLUSTER_NODE_ROLE, labels).set(f64::from(u8::from(s.role == role)));
        }
        metrics::gauge!(n::CLUSTER_NODE_UP, node_labels(&s.node, 0)).set(f64::from(u8::from(s.up)));
        metrics::gauge!(n::CLUSTER_NODE_LAG, node_labels(&s.node, 0))
            .set(known(s.lag_bytes.map(|b| b as f64)));
        metrics::gauge!(n::CLUSTER_NODE_STALENESS, node_labels(&s.node, 0))
            .set(known(s.staleness.map(|d| d.as_secs_f64())));
        // Counted even when 0, so the series exist before the first role
        // change, failover and retry (alerts on their increase need them).
        metrics::counter!(n::CLUSTER_ROLE_CHANGES, node_labels(&s.node, 0)).increment(0);
        metrics::counter!(n::CLUSTER_FAILOVERS, node_labels(&s.node, 0)).increment(0);
        for change in ALERTED_CHANGES {
            let labels = vec![Label::from_static_parts(n::CLUSTER_CHANGE, change)];
            metrics::counter!(n::CLUSTER_CHANGES, labels).increment(0);
        }
        for class in RETRIED_CLASSES {
            let labels = vec![Label::from_static_parts(n::RETRY_CLASS, class)];
            metrics::counter!(n::RETRIES, labels).increment(0);
        }
    }

    fn cluster_change(&self, change: &ClusterChange<'_>) {
        let kind = vec![Label::from_static_parts(n::CLUSTER_CHANGE, change.name())];
        metrics::counter!(n::CLUSTER_CHANGES, kind).increment(1);
        match change {
            // A role learned for the first time is no change.
            ClusterChange::RoleChanged { node, from, .. } if *from != NodeRole::Unknown => {
                metrics::counter!(n::CLUSTER_ROLE_CHANGES, node_labels(node, 0)).increment(1);
            }
            ClusterChange::PrimaryElected {
                node,
                after: Some(_),
                ..
            } => {
                metrics::counter!(n::CLUSTER_FAILOVERS, node_labels(node, 0)).increment(1);
            }
            _ => {}
        }
    }

    fn routing(&self, r: &Routing<'_>) {
        let preference = Label::from_static_parts(n::CLUSTER_READ_PREFERENCE, r.preference);
        if let Some((node, role)) = &r.routed {
            let mut labels = node_labels(node, 2);
            labels.push(preference);
            labels.push(Label::from_static_parts(n::CLUSTER_ROLE, role.name()));
            metrics::counter!(n::CLUSTER_ROUTED, labels).increment(1);
        } else if let Some(reason) = r.rejected {
            let labels = vec![
                preference,
                Label::from_static_parts(n::CLUSTER_REASON, reason),
            ];
            metrics::counter!(n::CLUSTER_REJECTED, labels).increment(1);
        }
    }

    fn retried(&self, r: &Retried) {
        let labels = vec![Label::from_static_parts(n::RETRY_CLASS, r.class)];
        metrics::counter!(n::RETRIES, labels).increment(1);
    }
}
