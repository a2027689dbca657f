//! The connection pool.
//!
//! Owns [`Pool`]: warming, FIFO-fair acquire, release and recycling, health
//! checks with connect backoff, graceful close, leak watch, stats and
//! events. It uses only the public [`Client`] API and knows nothing of other
//! hosts or server roles: the cluster layer owns one pool per host and
//! watches it through [`Pool::health`], [`Pool::subscribe`] and
//! [`Pool::stats`].
//!
//! New connections come from the [`Connect`] the pool was built with:
//! [`Pool::builder`] uses a [`Connector`](crate::Connector) over the whole
//! `Config`; [`Pool::with_connector`] takes any, e.g. one bound to a host.
//!
//! Files, one concern each: `builder` (settings), `connect` (the [`Connect`]
//! seam), `shared` (state and acquire
//! queue), `slots` (idle list, in-use registry, size), `guard`
//! ([`PooledClient`]), `policy` and `health` (decisions as plain functions of
//! state and `now`), `maintenance` (the background task), `stats`, `events`,
//! `rng` (jitter source).
//!
//! Fairness: acquires queue on a tokio `Semaphore` with `max_size` permits,
//! which hands permits out strictly first come, first served. A permit
//! holder takes an idle connection (the fast path: one uncontended permit
//! plus one short lock) or opens one.

mod builder;
mod connect;
mod events;
mod guard;
mod health;
mod id_hash;
mod maintenance;
mod policy;
mod shared;
mod slots;
mod stats;

use std::future::Future;
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;
use tokio::task::JoinSet;

pub use builder::{PoolBuilder, ResetOnRelease, WarmUp};
pub use connect::{Connect, ConnectFn, ConnectFuture, connect_fn};
pub use events::PoolEvent;
pub use guard::PooledClient;
pub use health::{Backoff, HealthChange, HealthState};
pub use stats::{CloseReason, ClosedCounts, LATENCY_BUCKETS, LatencyHistogram, PoolStats};

use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::types::Encode;
use crate::{Client, Row, SimpleQueryMessage, ToStatement};
use builder::PoolSettings;
use shared::{PoolShared, lock};

/// How long a forced close waits for each connection's cancel and Terminate.
const FORCE_CLOSE_WAIT: Duration = Duration::from_secs(2);

/// A pool of connections to one server.
///
/// Cheap to clone; clones share the pool. Use [`acquire`](Self::acquire) to
/// hold a connection for several statements (or a transaction, or
/// pipelining), or the query methods on the pool itself for one statement.
///
/// The pool's background task stops when the pool is closed or when the
/// last handle and the last [`PooledClient`] are dropped.
#[derive(Debug, Clone)]
pub struct Pool {
    shared: Arc<PoolShared>,
}

/// How [`Pool::close`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseOutcome {
    /// Every connection in use came back in time.
    Graceful,
    /// The timeout passed: this many connections still in use were
    /// cancelled and closed.
    Forced {
        /// Connections closed while in use.
        connections: usize,
    },
    /// The pool was already closed (or being closed) by an earlier call.
    AlreadyClosed,
}

impl Pool {
    /// A builder for a pool of connections made with `config` (to any of
    /// its hosts, by libpq's rules: see [`Connector`](crate::Connector)).
    pub fn builder(config: Config) -> PoolBuilder {
        PoolBuilder::new(config)
    }

    /// A builder for a pool whose connections `connector` opens, e.g.
    /// [`Connector::for_host`](crate::Connector::for_host) for a pool of one
    /// host.
    pub fn with_connector(connector: impl Connect) -> PoolBuilder {
        PoolBuilder::with_connector(connector)
    }

    /// A pool with default settings for a URL or key=value string.
    pub async fn connect(conninfo: &str) -> Result<Self, Error> {
        let config: Config = conninfo
            .parse()
            .map_err(|e| Error::with_source(ErrorKind::Config, None, e))?;
        PoolBuilder::new(config).connect().await
    }

    pub(crate) async fn start(
        connector: Arc<dyn Connect>,
        settings: PoolSettings,
    ) -> Result<Self, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::msg(
                ErrorKind::Config,
                "a pool must be started within a tokio runtime",
            )
        })?;
        let warm_up = settings.warm_up;
        let shared = Arc::new(PoolShared::new(connector, settings, runtime));
        let pool = Self { shared };
        if warm_up == builder::WarmUp::Wait {
            if let Err(err) = pool.shared.replenish().await {
                pool.shared.begin_close();
                return Err(err);
            }
        }
        let task = maintenance::run(Arc::downgrade(&pool.shared), Arc::clone(&pool.shared.wake));
        pool.shared.runtime.spawn(task);
        Ok(pool)
    }

    /// Waits for a connection, in arrival order, up to the acquire timeout.
    ///
    /// Errors: a timeout (its message gives the pool size, connections in use
    /// and waiters), the pool being closed, or the connect error when a new
    /// connection was needed and could not be opened. The call site is
    /// recorded for the leak watch.
    #[track_caller]
    pub fn acquire(&self) -> impl Future<Output = Result<PooledClient, Error>> + Send + '_ {
        let site = Location::caller();
        self.shared.acquire(site)
    }

    /// Acquires a connection, runs `query` on it, and releases it.
    #[track_caller]
    pub fn query<'a, S: ToStatement + ?Sized + Sync>(
        &'a self,
        statement: &'a S,
        params: &'a [&'a (dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send + 'a {
        let site = Location::caller();
        async move {
            self.shared
                .acquire(site)
                .await?
                .query(statement, params)
                .await
        }
    }

    /// Acquires a connection, runs `query_one` on it, and releases it.
    #[track_caller]
    pub fn query_one<'a, S: ToStatement + ?Sized + Sync>(
        &'a self,
        statement: &'a S,
        params: &'a [&'a (dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Row, Error>> + Send + 'a {
        let site = Location::caller();
        async move {
            let client = self.shared.acquire(site).await?;
            client.query_one(statement, params).await
        }
    }

    /// Acquires a connection, runs `query_opt` on it, and releases it.
    #[track_caller]
    pub fn query_opt<'a, S: ToStatement + ?Sized + Sync>(
        &'a self,
        statement: &'a S,
        params: &'a [&'a (dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Option<Row>, Error>> + Send + 'a {
        let site = Location::caller();
        async move {
            let client = self.shared.acquire(site).await?;
            client.query_opt(statement, params).await
        }
    }

    /// Acquires a connection, runs `execute` on it, and releases it.
    #[track_caller]
    pub fn execute<'a, S: ToStatement + ?Sized + Sync>(
        &'a self,
        statement: &'a S,
        params: &'a [&'a (dyn Encode + Sync)],
    ) -> impl Future<Output = Result<u64, Error>> + Send + 'a {
        let site = Location::caller();
        async move {
            let client = self.shared.acquire(site).await?;
            client.execute(statement, params).await
        }
    }

    /// Acquires a connection, runs `batch_execute` on it, and releases it.
    #[track_caller]
    pub fn batch_execute<'a>(
        &'a self,
        sql: &'a str,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        let site = Location::caller();
        async move { self.shared.acquire(site).await?.batch_execute(sql).await }
    }

    /// Acquires a connection, runs `simple_query` on it, and releases it.
    #[track_caller]
    pub fn simple_query<'a>(
        &'a self,
        sql: &'a str,
    ) -> impl Future<Output = Result<Vec<SimpleQueryMessage>, Error>> + Send + 'a {
        let site = Location::caller();
        async move { self.shared.acquire(site).await?.simple_query(sql).await }
    }

    /// A snapshot of the pool's figures.
    pub fn stats(&self) -> PoolStats {
        self.shared.stats()
    }

    /// The health state, from recent connect attempts.
    pub fn health(&self) -> HealthState {
        self.shared.health_state()
    }

    /// A stream of the pool's events (health changes, closes, leaks).
    /// Events sent before subscribing are not seen.
    pub fn subscribe(&self) -> broadcast::Receiver<PoolEvent> {
        self.shared.subscribe()
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Closes the pool: new acquires fail with a closed error at once, idle
    /// connections are closed, connections in use are waited for up to
    /// `timeout` and then cancelled and closed. Every connection gets a
    /// Terminate. A second call waits for the first to finish.
    pub async fn close(&self, timeout: Duration) -> CloseOutcome {
        let shared = &self.shared;
        if !shared.begin_close() {
            let mut done = shared.close_done.subscribe();
            let _ = done.wait_for(|d| *d).await;
            return CloseOutcome::AlreadyClosed;
        }
        let deadline = Instant::now() + timeout;
        let idle: Vec<_> = lock(&shared.slots).idle.drain(..).collect();
        let mut closing = JoinSet::new();
        for idle in idle {
            shared.counters.connection_closed(CloseReason::PoolClosed);
            shared.emit(PoolEvent::ConnectionClosed(CloseReason::PoolClosed));
            closing.spawn(async move {
                let _ = tokio::time::timeout(FORCE_CLOSE_WAIT, idle.conn.client.close()).await;
            });
        }
        while !lock(&shared.slots).in_use.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            tokio::time::sleep((deadline - now).min(Duration::from_millis(5))).await;
        }
        let still_in_use: Vec<Client> = lock(&shared.slots)
            .in_use
            .values()
            .map(|held| held.client.clone())
            .collect();
        let forced = still_in_use.len();
        for client in still_in_use {
            closing.spawn(force_close(client));
        }
        while closing.join_next().await.is_some() {}
        shared.emit(PoolEvent::Closed);
        shared.close_done.send_replace(true);
        if forced == 0 {
            CloseOutcome::Graceful
        } else {
            tracing::warn!(
                target: "pgline::pool",
                connections = forced,
                "pool close timed out; closed connections still in use"
            );
            CloseOutcome::Forced {
                connections: forced,
            }
        }
    }
}

/// Cancels whatever runs on a connection in use, then closes it.
async fn force_close(client: Client) {
    let cancel = client.cancel_token();
    let _ = tokio::time::timeout(FORCE_CLOSE_WAIT, cancel.cancel_query()).await;
    let _ = tokio::time::timeout(FORCE_CLOSE_WAIT, client.abort()).await;
}
