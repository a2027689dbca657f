//! The names of the metrics pgline records, and their suggested buckets.
//!
//! Owns the names (OpenTelemetry's database semantic conventions where
//! they have one, `pgline.*` otherwise) and the label keys, so a dashboard,
//! an alert rule and the recorder spell them the same way. Prometheus
//! exporters turn the dots into underscores and add unit suffixes
//! (`db_client_operation_duration_seconds`).

/// Histogram, seconds: each operation (query, prepare, batch, COPY).
pub const OPERATION_DURATION: &str = "db.client.operation.duration";
/// Gauge, connections: the pool's connections by `state` (`idle`, `used`).
pub const CONNECTION_COUNT: &str = "db.client.connection.count";
/// Gauge: the pool's maximum size.
pub const CONNECTION_MAX: &str = "db.client.connection.max";
/// Gauge: the most idle connections the pool keeps (its maximum size).
pub const CONNECTION_IDLE_MAX: &str = "db.client.connection.idle.max";
/// Gauge: the fewest idle connections the pool keeps (`min_idle`).
pub const CONNECTION_IDLE_MIN: &str = "db.client.connection.idle.min";
/// Gauge: acquires waiting for a connection.
pub const CONNECTION_PENDING: &str = "db.client.connection.pending_requests";
/// Counter: acquires that timed out.
pub const CONNECTION_TIMEOUTS: &str = "db.client.connection.timeouts";
/// Histogram, seconds: opening a connection for an acquire.
pub const CONNECTION_CREATE_TIME: &str = "db.client.connection.create_time";
/// Histogram, seconds: an acquire, from call to connection.
pub const CONNECTION_WAIT_TIME: &str = "db.client.connection.wait_time";
/// Histogram, seconds: how long an acquired connection was held.
pub const CONNECTION_USE_TIME: &str = "db.client.connection.use_time";
/// Counter: statement-cache lookups that found the statement prepared.
pub const STATEMENT_CACHE_HITS: &str = "pgline.statement_cache.hits";
/// Counter: statement-cache lookups that had to prepare.
pub const STATEMENT_CACHE_MISSES: &str = "pgline.statement_cache.misses";
/// Counter: statements evicted from the cache to make room.
pub const STATEMENT_CACHE_EVICTIONS: &str = "pgline.statement_cache.evictions";
/// Counter, rows: rows copied, by `pgline.copy.direction` (`in`, `out`).
pub const COPY_ROWS: &str = "pgline.copy.rows";
/// Counter, bytes: COPY data bytes, by `pgline.copy.direction`.
pub const COPY_BYTES: &str = "pgline.copy.bytes";
/// Counter: failed operations, by `error.type` and `db.operation.name`.
pub const ERRORS: &str = "pgline.errors";
/// Counter: connect attempts (one per host tried), by `pgline.outcome`
/// (`ok`, `error`).
pub const CONNECT_ATTEMPTS: &str = "pgline.connect.attempts";
/// Counter: calls run a second time, by `pgline.retry.class` (the
/// [`RetryClass`](crate::error::RetryClass) of the error that caused it).
pub const RETRIES: &str = "pgline.retries";
/// Gauge, per node (`server.address`, `server.port`) and
/// `pgline.cluster.role` (`primary`, `standby`, `fenced`, `down`,
/// `unknown`): 1 for the role the router sees the node in, 0 for the
/// others.
pub const CLUSTER_NODE_ROLE: &str = "pgline.cluster.node.role";
/// Gauge, per node: 1 while its probes answer, else 0.
pub const CLUSTER_NODE_UP: &str = "pgline.cluster.node.up";
/// Gauge, bytes, per node: how far its replay is behind the primary's
/// log (0 on the primary; NaN when unknown).
pub const CLUSTER_NODE_LAG: &str = "pgline.cluster.node.lag";
/// Gauge, seconds, per node: the upper bound of how stale its data is
/// (0 on the primary; NaN when unknown).
pub const CLUSTER_NODE_STALENESS: &str = "pgline.cluster.node.staleness";
/// Counter, per node: roles a node's probe reported that differ from the
/// previous known one (a role learned at the first probe is no change).
pub const CLUSTER_ROLE_CHANGES: &str = "pgline.cluster.role_changes";
/// Counter, per new primary: primaries elected after one was lost.
pub const CLUSTER_FAILOVERS: &str = "pgline.cluster.failovers";
/// Counter: the monitor's and the failover machine's decisions, by
/// `pgline.cluster.change` (`primary_lost`, `primary_elected`,
/// `split_brain`, `fenced`, `no_primary`, `node_down`, …).
pub const CLUSTER_CHANGES: &str = "pgline.cluster.changes";
/// Counter: cluster checkouts routed, by `pgline.cluster.read_preference`
/// (`primary` for writes), `pgline.cluster.role` and node.
pub const CLUSTER_ROUTED: &str = "pgline.cluster.routed";
/// Counter: cluster checkouts that found no eligible node, by
/// `pgline.cluster.read_preference` and `pgline.cluster.reason`
/// (`no_primary`, `no_replica`, `all_too_stale`, `not_caught_up`,
/// `all_down`).
pub const CLUSTER_REJECTED: &str = "pgline.cluster.rejected";

/// `db.system.name`; always `postgresql`.
pub const DB_SYSTEM_NAME: &str = "db.system.name";
/// `db.namespace`: the database name.
pub const DB_NAMESPACE: &str = "db.namespace";
/// `db.operation.name`: the API verb (`query`, `execute`, `prepare`,
/// `batch`, `COPY FROM`, …), never text parsed from the SQL.
pub const DB_OPERATION_NAME: &str = "db.operation.name";
/// `server.address`.
pub const SERVER_ADDRESS: &str = "server.address";
/// `server.port`.
pub const SERVER_PORT: &str = "server.port";
/// `error.type`: the SQLSTATE of a server error, else the error kind
/// (`io`, `timeout`, `closed`, …).
pub const ERROR_TYPE: &str = "error.type";
/// `db.response.status_code`: the SQLSTATE of a server error.
pub const DB_RESPONSE_STATUS_CODE: &str = "db.response.status_code";
/// `db.client.connection.pool.name`.
pub const POOL_NAME: &str = "db.client.connection.pool.name";
/// `db.client.connection.state`: `idle` or `used`.
pub const CONNECTION_STATE: &str = "db.client.connection.state";
/// `pgline.copy.direction`: `in` or `out`.
pub const COPY_DIRECTION: &str = "pgline.copy.direction";
/// `pgline.outcome`: `ok` or `error`.
pub const OUTCOME: &str = "pgline.outcome";
/// `pgline.retry.class`: `not_executed`, `retry_transaction`,
/// `outcome_unknown`.
pub const RETRY_CLASS: &str = "pgline.retry.class";
/// `pgline.cluster.role`: a node's role as the router sees it.
pub const CLUSTER_ROLE: &str = "pgline.cluster.role";
/// `pgline.cluster.change`: what the monitor or failover machine decided.
pub const CLUSTER_CHANGE: &str = "pgline.cluster.change";
/// `pgline.cluster.read_preference`: `primary`, `replica-preferred`, ….
pub const CLUSTER_READ_PREFERENCE: &str = "pgline.cluster.read_preference";
/// `pgline.cluster.reason`: why a checkout found no eligible node.
pub const CLUSTER_REASON: &str = "pgline.cluster.reason";

/// The bucket bounds (seconds) OpenTelemetry suggests for
/// [`OPERATION_DURATION`]; buckets are the exporter's business, e.g.
/// `PrometheusBuilder::set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), &DURATION_BUCKETS)`.
pub const DURATION_BUCKETS: [f64; 9] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0];
