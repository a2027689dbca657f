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

/// The bucket bounds (seconds) OpenTelemetry suggests for
/// [`OPERATION_DURATION`]; buckets are the exporter's business, e.g.
/// `PrometheusBuilder::set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), &DURATION_BUCKETS)`.
pub const DURATION_BUCKETS: [f64; 9] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0];
