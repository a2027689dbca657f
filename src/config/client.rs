//! Client-side settings that libpq has no keyword for: the statement cache,
//! pipeline bounds, reply coalescing and the default query timeout.
//!
//! Owns their defaults and setters, and the spelling of the statement
//! cache mode. The query timeout and the statement cache can also be set
//! from connection strings and service files with pgline's own keywords
//! (`pgline_query_timeout`, `pgline_statement_cache_capacity`,
//! `pgline_statement_cache_mode`; see the [module docs](super)); the rest
//! with the builder only. The connection layer reads them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::{Config, ConfigError};

/// How the connection prepares statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatementCacheMode {
    /// Repeated queries are prepared once under a server-side name and kept
    /// in a per-connection LRU cache (the default). Names carry a random
    /// per-connection tag, so behind a transaction-pooling proxy a statement
    /// that is not on the server session a query lands on fails with 26000
    /// (its message names [`StatementCacheMode::UnnamedOnly`]) rather than
    /// running another client's statement.
    #[default]
    Named,
    /// Only the unnamed statement is used and nothing is kept on the server:
    /// for transaction-pooling proxies (PgBouncer in transaction mode), where
    /// consecutive requests may reach different server sessions.
    UnnamedOnly,
}

impl StatementCacheMode {
    /// The spelling in `pgline_statement_cache_mode`: `named` or `unnamed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Named => "named",
            Self::UnnamedOnly => "unnamed",
        }
    }

    /// Parses `value` for the option named `option` (used in the error).
    pub(crate) fn parse_for(option: &'static str, value: &str) -> Result<Self, ConfigError> {
        match value {
            "named" => Ok(Self::Named),
            "unnamed" => Ok(Self::UnnamedOnly),
            _ => Err(ConfigError::InvalidValue {
                option,
                value: value.to_owned(),
                expected: "one of named, unnamed",
            }),
        }
    }
}

impl fmt::Display for StatementCacheMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StatementCacheMode {
    type Err = ConfigError;

    /// `named` or `unnamed`.
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        Self::parse_for("pgline_statement_cache_mode", s)
    }
}

/// Default capacity of the per-connection statement cache.
pub const DEFAULT_STATEMENT_CACHE_CAPACITY: usize = 256;
/// Default bound on requests in flight on one connection.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
/// Default bound on bytes queued for sending on one connection.
pub const DEFAULT_MAX_WRITE_BUFFER: usize = 4 << 20;
/// How long a reply must stream in full server writes before
/// [`Config::coalesce_large_results`] reads it with fewer wakeups: twenty
/// times the longest wait the end of such a result can then have (2 ms).
pub const LARGE_RESULT_AFTER: Duration = Duration::from_millis(40);

/// The settings; `None` is unset (the default applies, and a service
/// file may set it), as for the libpq options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ClientSettings {
    pub(super) statement_cache_capacity: Option<usize>,
    pub(super) statement_cache_mode: Option<StatementCacheMode>,
    max_in_flight: usize,
    max_write_buffer: usize,
    coalesce_replies: bool,
    coalesce_large_results: bool,
    /// `Some(Duration::ZERO)`: explicitly no timeout.
    pub(super) query_timeout: Option<Duration>,
    /// Hooks every connection made from this configuration calls.
    hooks: crate::observe::Hooks,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            statement_cache_capacity: None,
            statement_cache_mode: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_write_buffer: DEFAULT_MAX_WRITE_BUFFER,
            coalesce_replies: false,
            coalesce_large_results: true,
            query_timeout: None,
            hooks: crate::observe::Hooks::new(),
        }
    }
}

/// Client-side settings.
impl Config {
    /// How many prepared statements each connection keeps (LRU); 0 disables
    /// the cache (every query is parsed as the unnamed statement).
    /// Default [`DEFAULT_STATEMENT_CACHE_CAPACITY`]. In a connection string:
    /// `pgline_statement_cache_capacity`.
    pub fn statement_cache_capacity(&mut self, capacity: usize) -> &mut Self {
        self.client.statement_cache_capacity = Some(capacity);
        self
    }

    /// Named (cached) or unnamed-only statements. In a connection string:
    /// `pgline_statement_cache_mode=named` or `unnamed`.
    pub fn statement_cache_mode(&mut self, mode: StatementCacheMode) -> &mut Self {
        self.client.statement_cache_mode = Some(mode);
        self
    }

    /// The most requests in flight on one connection; further callers wait
    /// (backpressure). At least 1. Default [`DEFAULT_MAX_IN_FLIGHT`].
    pub fn max_in_flight(&mut self, requests: usize) -> &mut Self {
        self.client.max_in_flight = requests.max(1);
        self
    }

    /// The most bytes queued for sending before callers wait. Default
    /// [`DEFAULT_MAX_WRITE_BUFFER`].
    pub fn max_write_buffer(&mut self, bytes: usize) -> &mut Self {
        self.client.max_write_buffer = bytes.max(1);
        self
    }

    /// Whether a connection with many requests in flight (47 or more, on
    /// plain TCP on Linux) lets the kernel wake it once for several replies
    /// instead of once for each, by raising the socket's receive low-water
    /// mark (`SO_RCVLOWAT`) to half of what the server is bound to send.
    /// Default false. On, a deep pipeline costs the client less CPU per
    /// query (see `benches/RESULTS.md`); the price is latency: a reply waits
    /// until enough bytes follow it, which is a few replies' time when the
    /// server answers steadily, and at most 1 to 2 ms when a later request
    /// waits on something (a lock, a slow query) and a watch thread lowers
    /// the mark. Many tasks sharing one client measured a higher p99 with
    /// it on at some rates and a lower closed-loop throughput (the README's
    /// "Latency under load"), so it is for throughput work: bulk pipelines
    /// whose caller waits for all the replies anyway.
    ///
    /// ```
    /// let mut config: pgline::Config = "postgres://app@db.example/app".parse().unwrap();
    /// assert!(!config.get_coalesce_replies());
    /// config.coalesce_replies(true);
    /// assert!(config.get_coalesce_replies());
    /// ```
    pub fn coalesce_replies(&mut self, on: bool) -> &mut Self {
        self.client.coalesce_replies = on;
        self
    }

    /// Whether large replies are read with fewer wakeups (plain TCP on
    /// Linux, through the socket's receive low-water mark, `SO_RCVLOWAT`).
    /// Default true. Each wake of a sleeping client costs the server time
    /// inside its `send`, and a server sending a large reply is the
    /// bottleneck, so fewer wakes make the reply arrive faster and cost the
    /// client less CPU (`simple_stream`, `copy_out_*`, `wide_result` and
    /// `batch_1000_sync_each` in `benches/RESULTS.md`). Two kinds of reply:
    ///
    /// - A result or COPY OUT that has streamed in full server writes for
    ///   [`LARGE_RESULT_AFTER`]: the kernel then wakes the connection once
    ///   per 64 KiB instead of once per server write. The price: the end of
    ///   such a result waits for the stall watch, 1 to 2 ms, at most a
    ///   twentieth of the time the result had already taken; a result that
    ///   pauses or slows down in the middle waits for it there and gets the
    ///   large mark back only after another [`LARGE_RESULT_AFTER`] in full
    ///   writes, so its waits stay within that twentieth. Smaller results
    ///   are never held.
    /// - A [`Batch`](crate::Batch) with a Sync per statement
    ///   ([`run_independent`](crate::Batch::run_independent)), while it is
    ///   the oldest request in flight: the connection is woken once for
    ///   several of its replies instead of once per statement, holding only
    ///   replies its caller does not have yet, never its last ones nor any
    ///   other request's. This is [`Config::coalesce_replies`]'s rule, for
    ///   the batch's own replies.
    ///
    /// ```
    /// let mut config: pgline::Config = "postgres://app@db.example/app".parse().unwrap();
    /// assert!(config.get_coalesce_large_results());
    /// config.coalesce_large_results(false);
    /// assert!(!config.get_coalesce_large_results());
    /// ```
    pub fn coalesce_large_results(&mut self, on: bool) -> &mut Self {
        self.client.coalesce_large_results = on;
        self
    }

    /// A default timeout for every query on the connection: when it fires,
    /// a CancelRequest is sent and the call returns a timeout error. A zero
    /// duration means no timeout (the default). In a connection string:
    /// `pgline_query_timeout`, in milliseconds or with a unit (`500ms`,
    /// `5s`, `2min`, `1h`), as PostgreSQL's `statement_timeout`.
    pub fn query_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.client.query_timeout = Some(timeout);
        self
    }

    /// See [`Config::statement_cache_capacity`].
    pub fn get_statement_cache_capacity(&self) -> usize {
        self.client
            .statement_cache_capacity
            .unwrap_or(DEFAULT_STATEMENT_CACHE_CAPACITY)
    }

    /// See [`Config::statement_cache_mode`].
    pub fn get_statement_cache_mode(&self) -> StatementCacheMode {
        self.client.statement_cache_mode.unwrap_or_default()
    }

    /// See [`Config::max_in_flight`].
    pub fn get_max_in_flight(&self) -> usize {
        self.client.max_in_flight
    }

    /// See [`Config::max_write_buffer`].
    pub fn get_max_write_buffer(&self) -> usize {
        self.client.max_write_buffer
    }

    /// See [`Config::coalesce_replies`].
    pub fn get_coalesce_replies(&self) -> bool {
        self.client.coalesce_replies
    }

    /// See [`Config::coalesce_large_results`].
    pub fn get_coalesce_large_results(&self) -> bool {
        self.client.coalesce_large_results
    }

    /// See [`Config::query_timeout`]; `None` when there is none.
    pub fn get_query_timeout(&self) -> Option<Duration> {
        self.client.query_timeout.filter(|t| !t.is_zero())
    }

    /// Installs hooks (replacing earlier ones): every connection made from
    /// this configuration, pooled or not, calls them. See
    /// [`observe`](crate::observe).
    pub fn hooks(&mut self, hooks: crate::observe::Hooks) -> &mut Self {
        self.client.hooks = hooks;
        self
    }

    /// The installed hooks.
    pub fn get_hooks(&self) -> &crate::observe::Hooks {
        &self.client.hooks
    }
}
