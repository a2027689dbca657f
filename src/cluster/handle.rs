//! [`Cluster`]: one handle over a primary and its replicas.
//!
//! Owns the running cluster's shared state (the topology, the failover
//! machine, the balancer state, one pool per host), the checkout that turns a
//! [`ReadPolicy`] into a pooled connection ([`ClusterClient`]), the query
//! helpers, [`Route`] (a per-call policy), stats and close. The monitor that
//! keeps the topology current is [`monitor`](super::monitor)'s; every
//! decision is the pure core's.
//!
//! A checkout never hands out a connection whose live role (the
//! `in_hot_standby` the server reports with every reply, see
//! [`Client::server_role`]) contradicts the role it was picked for: such a
//! connection is pinged once (the reply re-tags it), and if it still
//! disagrees it is closed (picked as primary) or put back (picked as
//! replica), the node is re-probed at once, and the checkout picks again
//! after the probe.

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::error::{Error, ErrorKind, RetryClass, SqlState};
use crate::jitter::Jitter;
use crate::observe::{ClusterNode, NodeRole, Retried, Routing};
use crate::pool::{Pool, PooledClient};
use crate::types::Encode;
use crate::{Client, Row, ToStatement};

use super::balancer::{BalancerState, Candidate};
use super::builder::{ClusterBuilder, ClusterSettings};
use super::causal::CausalToken;
use super::events::ClusterEvent;
use super::failover::{Failover, FailoverState};
use super::preference::{ReadPolicy, ReadPreference};
use super::select::{self, NoEligibleNode};
use super::staleness::Staleness;
use super::topology::{NodeId, NodeState, Role, Topology};

/// How long [`Cluster::close`] waits for each pool's connections in use.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// A primary and its replicas behind one handle.
///
/// Cheap to clone; clones share everything. Build one with
/// [`Cluster::builder`] (per-host weights and zones, preferences, timings)
/// or [`Cluster::connect`] (a multi-host connection string, defaults).
///
/// Reads ([`query`](Self::query), [`query_one`](Self::query_one),
/// [`query_opt`](Self::query_opt)) follow the cluster's read policy; writes
/// ([`execute`](Self::execute), [`batch_execute`](Self::batch_execute)) go
/// to the primary. [`route`](Self::route) overrides the policy for one call,
/// and [`get`](Self::get) holds a connection for several statements.
#[derive(Clone)]
pub struct Cluster {
    pub(super) shared: Arc<Shared>,
}

/// The state every clone of a [`Cluster`] and its tasks share.
pub(super) struct Shared {
    pub(super) config: Config,
    pub(super) pools: Vec<Pool>,
    pub(super) settings: ClusterSettings,
    pub(super) state: Mutex<State>,
    /// Bumped after every change of the topology; checkouts waiting for an
    /// eligible node watch it.
    pub(super) version: watch::Sender<u64>,
    /// One per node: wakes its monitor task for a probe now.
    pub(super) reprobe: Vec<Arc<Notify>>,
    /// Wakes the failover timer task (its deadline may have moved).
    pub(super) timer: Arc<Notify>,
    pub(super) closed: watch::Sender<bool>,
    pub(super) events: broadcast::Sender<ClusterEvent>,
    pub(super) counters: Counters,
    /// Per node, whether the failover machine fenced it: a copy kept
    /// current by the monitor, so a release reads it without the lock.
    pub(super) fenced: Vec<AtomicBool>,
    pub(super) tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Per node, its host and port, for the cluster hooks.
    pub(super) addresses: Vec<(String, u16)>,
}

/// What the router knows and keeps between decisions, behind one lock.
pub(super) struct State {
    pub(super) topology: Topology,
    pub(super) failover: Failover,
    pub(super) balancer: BalancerState,
    pub(super) scratch: Vec<Candidate>,
    pub(super) rng: Jitter,
    /// The last lag in bytes seen per node, for threshold crossings.
    pub(super) last_lag: Vec<Option<u64>>,
    /// The last staleness bound seen per node, for threshold crossings.
    pub(super) last_staleness: Vec<Option<Duration>>,
    /// When the primary was lost, while no new one is elected: the
    /// failover's length goes to the cluster hooks with the election.
    pub(super) primary_lost_at: Option<Instant>,
}

/// The cluster's counters.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) checkouts: Vec<AtomicU64>,
    pub(super) primary_checkouts: AtomicU64,
    pub(super) primary_checkouts_on_standby: AtomicU64,
    pub(super) refused_connections: AtomicU64,
    pub(super) pings_at_checkout: AtomicU64,
    pub(super) probes: AtomicU64,
    pub(super) probe_failures: AtomicU64,
    pub(super) read_only_errors: AtomicU64,
    pub(super) retries: AtomicU64,
}

/// A snapshot of the cluster's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterStats {
    /// Checkouts served, per node.
    pub checkouts: Vec<u64>,
    /// Checkouts served for [`ReadPreference::Primary`] (writes included).
    pub primary_checkouts: u64,
    /// Of those, how many went out on a connection whose last known role
    /// was standby. The checkout refuses such connections, so this stays 0;
    /// it is counted to prove it.
    pub primary_checkouts_on_standby: u64,
    /// Connections refused at checkout because their live role contradicted
    /// the role their node was picked for.
    pub refused_connections: u64,
    /// Pings sent at checkout to re-tag a connection whose role disagreed.
    pub pings_at_checkout: u64,
    /// Probes answered.
    pub probes: u64,
    /// Probes that failed (no connection, an error or no reply in time).
    pub probe_failures: u64,
    /// 25006 (read-only transaction) errors on connections picked as primary.
    pub read_only_errors: u64,
    /// Calls run a second time ([`ClusterBuilder::retry_once`]).
    pub retries: u64,
}

/// Why a checkout found no node: the pure core's reason, and how long the
/// checkout waited for one. Reachable from the returned [`Error`] with
/// [`ClusterError::of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterError {
    /// No node qualified for the policy within the selection timeout.
    NoEligibleNode {
        /// Why the last attempt found none.
        reason: NoEligibleNode,
        /// The preference asked for.
        preference: ReadPreference,
        /// How long the checkout waited.
        waited: Duration,
    },
    /// A causal read found no replica that replayed the session's writes
    /// within `ryw_timeout`, and falling back to the primary is off.
    NotCaughtUp {
        /// The session's token.
        token: CausalToken,
        /// How long the read waited on a replica.
        waited: Duration,
    },
}

impl ClusterError {
    /// The cluster error behind `err`, if it is one.
    pub fn of(err: &Error) -> Option<&Self> {
        std::error::Error::source(err)?.downcast_ref::<Self>()
    }
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoEligibleNode {
                reason,
                preference,
                waited,
            } => write!(
                f,
                "no node for read preference {preference} after {waited:?}: {reason}"
            ),
            Self::NotCaughtUp { token, waited } => write!(
                f,
                "no replica replayed up to the causal token {token} within {waited:?}"
            ),
        }
    }
}

impl std::error::Error for ClusterError {}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn config_error(err: super::error::ClusterConfigError) -> Error {
    Error::with_source(ErrorKind::Config, None, err)
}

impl Cluster {
    /// A builder over `config`'s hosts.
    pub fn builder(config: Config) -> ClusterBuilder {
        ClusterBuilder::new(config)
    }

    /// A cluster with default settings over the hosts of a URL or
    /// key=value string (`host=p,r1,r2`).
    pub async fn connect(conninfo: &str) -> Result<Self, Error> {
        let config: Config = conninfo
            .parse()
            .map_err(|e| Error::with_source(ErrorKind::Config, None, e))?;
        ClusterBuilder::new(config).connect().await
    }

    pub(super) fn start(
        config: Config,
        pools: Vec<Pool>,
        addresses: Vec<(String, u16)>,
        nodes: Vec<NodeState>,
        sample_capacity: usize,
        settings: ClusterSettings,
    ) -> Self {
        let n = nodes.len();
        let now = Instant::now();
        let rng = settings
            .seed
            .map_or_else(Jitter::from_os, Jitter::with_seed);
        let state = State {
            topology: Topology::new(nodes, settings.local_zone.clone(), sample_capacity),
            failover: Failover::new(n, settings.failover, now),
            balancer: BalancerState::new(n),
            scratch: Vec::with_capacity(n),
            rng,
            last_lag: vec![None; n],
            last_staleness: vec![None; n],
            primary_lost_at: None,
        };
        let counters = Counters {
            checkouts: (0..n).map(|_| AtomicU64::new(0)).collect(),
            ..Counters::default()
        };
        let shared = Arc::new(Shared {
            config,
            pools,
            settings,
            state: Mutex::new(state),
            version: watch::Sender::new(0),
            reprobe: (0..n).map(|_| Arc::new(Notify::new())).collect(),
            timer: Arc::new(Notify::new()),
            closed: watch::Sender::new(false),
            events: broadcast::Sender::new(super::builder::EVENT_CAPACITY),
            counters,
            fenced: (0..n).map(|_| AtomicBool::new(false)).collect(),
            tasks: Mutex::new(Vec::new()),
            addresses,
        });
        super::monitor::spawn(&shared);
        Self { shared }
    }

    /// A connection to the primary.
    pub async fn primary(&self) -> Result<ClusterClient, Error> {
        self.get(ReadPreference::Primary).await
    }

    /// A connection to a replica ([`ReadPreference::ReplicaOnly`] with the
    /// cluster's staleness bound).
    pub async fn replica(&self) -> Result<ClusterClient, Error> {
        let mut policy = self.shared.settings.policy;
        policy.preference = ReadPreference::ReplicaOnly;
        self.get(policy).await
    }

    /// A connection chosen by `policy` (a [`ReadPreference`] or a
    /// [`ReadPolicy`] with a staleness bound or a causal token).
    ///
    /// Waits up to the selection timeout for an eligible node (the first
    /// probes, a re-probe after a refused connection), then fails with a
    /// [`ClusterError::NoEligibleNode`] ([`ErrorKind::Timeout`]). A policy
    /// the pure core refuses (a staleness bound with `Primary`, or below
    /// three monitor intervals) is an [`ErrorKind::Config`] error at once.
    pub async fn get(&self, policy: impl Into<ReadPolicy>) -> Result<ClusterClient, Error> {
        self.checkout(policy.into()).await
    }

    /// A connection to `node` whatever its role, counted in its in-flight
    /// requests like any checkout (for administration, and to load one
    /// node on purpose). An unknown node is an [`ErrorKind::Config`] error.
    pub async fn get_node(&self, node: NodeId) -> Result<ClusterClient, Error> {
        let shared = &self.shared;
        let pool = shared.pools.get(node.index()).ok_or_else(|| {
            Error::msg(
                ErrorKind::Config,
                format!("node {node} is not one of the {} nodes", shared.pools.len()),
            )
        })?;
        let role = {
            let mut state = shared.lock();
            let node = state.topology.node_mut(node).ok_or_else(Error::closed)?;
            node.in_flight = node.in_flight.saturating_add(1);
            node.role
        };
        let in_flight = InFlight {
            shared: Arc::clone(shared),
            node,
        };
        let conn = pool.acquire().await?;
        shared.counters.checkouts[node.index()].fetch_add(1, Relaxed);
        Ok(ClusterClient {
            conn: Some(conn),
            role,
            in_flight: Some(in_flight),
        })
    }

    /// The cluster with `policy` for the calls made through the returned
    /// [`Route`].
    pub fn route(&self, policy: impl Into<ReadPolicy>) -> Route<'_> {
        Route {
            cluster: self,
            policy: policy.into(),
        }
    }

    /// `ryw_timeout` and whether causal reads fall back to the primary.
    pub(super) fn ryw_settings(&self) -> (Duration, bool) {
        let s = &self.shared.settings;
        (s.ryw_timeout, s.ryw_fallback_to_primary)
    }

    /// The cluster's default read policy.
    pub fn read_policy(&self) -> ReadPolicy {
        self.shared.settings.policy
    }

    /// Runs a read by the cluster's read policy.
    pub async fn query<S: ToStatement + ?Sized + Sync>(
        &self,
        statement: &S,
        params: &[&(dyn Encode + Sync)],
    ) -> Result<Vec<Row>, Error> {
        self.route(self.read_policy())
            .query(statement, params)
            .await
    }

    /// Runs a read returning one row by the cluster's read policy.
    pub async fn query_one<S: ToStatement + ?Sized + Sync>(
        &self,
        statement: &S,
        params: &[&(dyn Encode + Sync)],
    ) -> Result<Row, Error> {
        self.route(self.read_policy())
            .query_one(statement, params)
            .await
    }

    /// Runs a read returning at most one row by the cluster's read policy.
    pub async fn query_opt<S: ToStatement + ?Sized + Sync>(
        &self,
        statement: &S,
        params: &[&(dyn Encode + Sync)],
    ) -> Result<Option<Row>, Error> {
        self.route(self.read_policy())
            .query_opt(statement, params)
            .await
    }

    /// Runs a statement on the primary; returns the rows affected.
    pub async fn execute<S: ToStatement + ?Sized + Sync>(
        &self,
        statement: &S,
        params: &[&(dyn Encode + Sync)],
    ) -> Result<u64, Error> {
        self.route(ReadPreference::Primary)
            .execute(statement, params)
            .await
    }

    /// Runs SQL text (several statements allowed) on the primary.
    pub async fn batch_execute(&self, sql: &str) -> Result<(), Error> {
        self.route(ReadPreference::Primary).batch_execute(sql).await
    }

    /// A copy of what the router knows now.
    pub fn topology(&self) -> Topology {
        lock(&self.shared.state).topology.clone()
    }

    /// How stale `node`'s data may be now.
    pub fn staleness(&self, node: NodeId) -> Staleness {
        lock(&self.shared.state)
            .topology
            .staleness(node, Instant::now())
    }

    /// Where the failover machine stands.
    pub fn failover_state(&self) -> FailoverState {
        lock(&self.shared.state).failover.state()
    }

    /// The pool of `node`, e.g. for its stats.
    pub fn pool(&self, node: NodeId) -> Option<&Pool> {
        self.shared.pools.get(node.index())
    }

    /// How many nodes the cluster has.
    pub fn len(&self) -> usize {
        self.shared.pools.len()
    }

    /// Whether the cluster has no nodes (never true for a started one).
    pub fn is_empty(&self) -> bool {
        self.shared.pools.is_empty()
    }

    /// The configuration the cluster connects with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ClusterStats {
        let c = &self.shared.counters;
        ClusterStats {
            checkouts: c.checkouts.iter().map(|n| n.load(Relaxed)).collect(),
            primary_checkouts: c.primary_checkouts.load(Relaxed),
            primary_checkouts_on_standby: c.primary_checkouts_on_standby.load(Relaxed),
            refused_connections: c.refused_connections.load(Relaxed),
            pings_at_checkout: c.pings_at_checkout.load(Relaxed),
            probes: c.probes.load(Relaxed),
            probe_failures: c.probe_failures.load(Relaxed),
            read_only_errors: c.read_only_errors.load(Relaxed),
            retries: c.retries.load(Relaxed),
        }
    }

    /// A stream of the cluster's events. A subscriber that falls more than
    /// 256 events behind loses the oldest; publishing never waits for it.
    pub fn subscribe(&self) -> broadcast::Receiver<ClusterEvent> {
        self.shared.events.subscribe()
    }

    /// Waits until the monitor's next round of probes has changed the
    /// topology (or `timeout` passes); returns whether it did.
    pub async fn wait_for_probe(&self, timeout: Duration) -> bool {
        let mut version = self.shared.version.subscribe();
        version.mark_unchanged();
        matches!(
            tokio::time::timeout(timeout, version.changed()).await,
            Ok(Ok(()))
        )
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        *self.shared.closed.borrow()
    }

    /// Closes the cluster: the monitor stops, its probe connections get a
    /// Terminate, new checkouts fail with a closed error, and every pool is
    /// closed gracefully (connections in use are waited for up to 5 s).
    pub async fn close(&self) {
        if self.shared.closed.send_replace(true) {
            return;
        }
        lock(&self.shared.state).failover.close();
        let tasks =
            std::mem::take(&mut *self.shared.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
        for pool in &self.shared.pools {
            pool.close(CLOSE_WAIT).await;
        }
    }

    pub(super) async fn checkout(&self, policy: ReadPolicy) -> Result<ClusterClient, Error> {
        let wait = self.shared.settings.selection_timeout;
        self.checkout_within(policy, wait).await
    }

    /// A checkout that waits at most `wait` for an eligible node (zero: take
    /// one now or fail); requests for the primary still wait for an
    /// election that is running.
    pub(super) async fn checkout_within(
        &self,
        policy: ReadPolicy,
        wait: Duration,
    ) -> Result<ClusterClient, Error> {
        self.checkout_excluding(policy, wait, None).await
    }

    /// A checkout as [`checkout_within`](Self::checkout_within) that does
    /// not pick `exclude` (a node a read was just lost on).
    async fn checkout_excluding(
        &self,
        policy: ReadPolicy,
        wait: Duration,
        exclude: Option<NodeId>,
    ) -> Result<ClusterClient, Error> {
        let shared = &self.shared;
        policy
            .validate(shared.settings.monitor_interval)
            .map_err(config_error)?;
        let started = Instant::now();
        let deadline = started + wait;
        // Subscribed on the first miss only (the fast path needs no
        // receiver); a pick is retried right after subscribing, so no
        // change between the miss and the wait is lost.
        let mut version: Option<watch::Receiver<u64>> = None;
        let mut now = started;
        loop {
            if self.is_closed() {
                return Err(Error::msg(ErrorKind::Closed, "the cluster is closed"));
            }
            if let Some(version) = &mut version {
                version.mark_unchanged();
            }
            let picked = {
                let mut state = lock(&shared.state);
                let random = [state.rng.unit(), state.rng.unit()];
                let State {
                    topology,
                    balancer,
                    scratch,
                    ..
                } = &mut *state;
                // An excluded node counts as down for this pick only: the
                // lock is held throughout, so nobody else sees it.
                let hidden = exclude
                    .and_then(|x| topology.node_mut(x))
                    .map(|n| std::mem::replace(&mut n.up, false));
                let pick = select::select(
                    topology,
                    &policy,
                    &shared.settings.balancer,
                    balancer,
                    random,
                    now,
                    scratch,
                );
                if let (Some(up), Some(node)) = (hidden, exclude.and_then(|x| topology.node_mut(x)))
                {
                    node.up = up;
                }
                if let Ok(pick) = pick {
                    if let Some(node) = topology.node_mut(pick.node) {
                        node.in_flight = node.in_flight.saturating_add(1);
                    }
                }
                pick
            };
            let pick = match picked {
                Ok(pick) => pick,
                Err(reason) => {
                    now = Instant::now();
                    let Some(version) = &mut version else {
                        version = Some(shared.version.subscribe());
                        continue;
                    };
                    let limit = self.wait_limit(&policy, deadline);
                    if now >= limit {
                        shared.routed(policy.preference, Err(reason));
                        return Err(Error::with_source(
                            ErrorKind::Timeout,
                            None,
                            ClusterError::NoEligibleNode {
                                reason,
                                preference: policy.preference,
                                waited: now - started,
                            },
                        ));
                    }
                    let _ = tokio::time::timeout_at(limit.into(), version.changed()).await;
                    now = Instant::now();
                    continue;
                }
            };
            let in_flight = InFlight {
                shared: Arc::clone(shared),
                node: pick.node,
            };
            let pool = &shared.pools[pick.node.index()];
            let conn = match pool.acquire().await {
                Ok(conn) => conn,
                Err(err) => {
                    if self.is_closed() || Instant::now() >= self.wait_limit(&policy, deadline) {
                        return Err(err);
                    }
                    // The node's pool cannot connect although its last
                    // probe answered: tell the failover machine when it is
                    // the primary, probe it now, and pick again after.
                    drop(in_flight);
                    if pick.role == Role::Primary {
                        shared.primary_io_error(pick.node);
                    }
                    let version = version.get_or_insert_with(|| shared.version.subscribe());
                    version.mark_unchanged();
                    shared.reprobe[pick.node.index()].notify_one();
                    let limit = self.wait_limit(&policy, deadline);
                    let _ = tokio::time::timeout_at(limit.into(), version.changed()).await;
                    now = Instant::now();
                    continue;
                }
            };
            match self.check_role(&conn, pick.role).await {
                RoleCheck::Agrees => {}
                RoleCheck::Disagrees => {
                    shared.counters.refused_connections.fetch_add(1, Relaxed);
                    if pick.role == Role::Primary {
                        // A standby's connection must not serve writes
                        // again: close it before it goes back.
                        conn.abort().await;
                    }
                    drop(conn);
                    drop(in_flight);
                    let version = version.get_or_insert_with(|| shared.version.subscribe());
                    version.mark_unchanged();
                    shared.reprobe[pick.node.index()].notify_one();
                    let _ = tokio::time::timeout_at(deadline.into(), version.changed()).await;
                    now = Instant::now();
                    continue;
                }
            }
            shared.counters.checkouts[pick.node.index()].fetch_add(1, Relaxed);
            shared.routed(policy.preference, Ok((pick.node, pick.role)));
            if policy.preference == ReadPreference::Primary {
                shared.counters.primary_checkouts.fetch_add(1, Relaxed);
                if conn.server_role().is_standby() == Some(true) {
                    shared
                        .counters
                        .primary_checkouts_on_standby
                        .fetch_add(1, Relaxed);
                }
            }
            return Ok(ClusterClient {
                conn: Some(conn),
                role: pick.role,
                in_flight: Some(in_flight),
            });
        }
    }

    /// Until when a checkout may wait for a node: the selection deadline,
    /// except that a request for the primary waits for an election while
    /// the failover machine runs one (its write deadline, `primary_wait`
    /// after the loss; already past once it has given up).
    fn wait_limit(&self, policy: &ReadPolicy, deadline: Instant) -> Instant {
        if policy.preference != ReadPreference::Primary {
            return deadline;
        }
        lock(&self.shared.state)
            .failover
            .write_deadline()
            .unwrap_or(deadline)
    }

    /// Whether `conn`'s live role agrees with `role`, pinging it once when
    /// it does not (its tag may predate a promotion it has not been told
    /// of yet).
    async fn check_role(&self, conn: &PooledClient, role: Role) -> RoleCheck {
        let agrees = |conn: &PooledClient| {
            !matches!(
                (role, conn.server_role().is_standby()),
                (Role::Primary, Some(true)) | (Role::Standby, Some(false))
            )
        };
        if agrees(conn) {
            return RoleCheck::Agrees;
        }
        self.shared.counters.pings_at_checkout.fetch_add(1, Relaxed);
        if conn.batch_execute("").await.is_ok() && agrees(conn) {
            RoleCheck::Agrees
        } else {
            RoleCheck::Disagrees
        }
    }
}

enum RoleCheck {
    Agrees,
    Disagrees,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("nodes", &self.shared.pools.len())
            .field("policy", &self.shared.settings.policy)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Node `node` for the cluster hooks.
    pub(super) fn hook_node(&self, node: NodeId) -> ClusterNode<'_> {
        let (address, port) = self
            .addresses
            .get(node.index())
            .map_or(("", 0), |(a, p)| (a.as_str(), *p));
        ClusterNode::new(node.index(), address, port)
    }

    /// Tells the cluster hooks where a checkout went, or why it found no
    /// node.
    fn routed(&self, preference: ReadPreference, outcome: Result<(NodeId, Role), NoEligibleNode>) {
        let Some(hooks) = self.settings.hooks.clusters() else {
            return;
        };
        let routing = match outcome {
            Ok((node, role)) => Routing::routed(
                preference.name(),
                self.hook_node(node),
                match role {
                    Role::Primary => NodeRole::Primary,
                    Role::Standby => NodeRole::Standby,
                    Role::Unknown => NodeRole::Unknown,
                },
            ),
            Err(reason) => Routing::rejected(preference.name(), reason.name()),
        };
        for hook in hooks {
            hook.routing(&routing);
        }
    }

    /// Tells the cluster hooks a call is run again.
    fn retried(&self, class: RetryClass, other_node: bool) {
        let Some(hooks) = self.settings.hooks.clusters() else {
            return;
        };
        let retried = Retried::new(class.name(), other_node);
        for hook in hooks {
            hook.retried(&retried);
        }
    }
}

/// Counts one request in flight on a node for the balancers; the count
/// drops when this does.
struct InFlight {
    shared: Arc<Shared>,
    node: NodeId,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(node) = lock(&self.shared.state).topology.node_mut(self.node) {
            node.in_flight = node.in_flight.saturating_sub(1);
        }
    }
}

/// A connection checked out of a [`Cluster`].
///
/// Dereferences to [`Client`]. Dropping it returns the connection to its
/// node's pool, except that a connection picked as primary whose server
/// now reports standby, or whose node was fenced as a split-brain loser,
/// is closed instead.
pub struct ClusterClient {
    conn: Option<PooledClient>,
    role: Role,
    in_flight: Option<InFlight>,
}

impl ClusterClient {
    /// The node the connection goes to.
    pub fn node(&self) -> NodeId {
        self.in_flight.as_ref().map_or(NodeId::new(0), |f| f.node)
    }

    /// The role the node was picked for.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Tells the cluster about an error a statement on this connection
    /// returned: a 25006 (read-only transaction) on a connection picked as
    /// primary closes the connection on release and re-probes the node at
    /// once. The cluster's query helpers call it themselves.
    pub fn report_error(&mut self, err: &Error) {
        if self.role == Role::Primary && err.code() == Some(&SqlState::READ_ONLY_SQL_TRANSACTION) {
            if let Some(flight) = &self.in_flight {
                let shared = &flight.shared;
                shared.counters.read_only_errors.fetch_add(1, Relaxed);
                shared.reprobe[flight.node.index()].notify_one();
            }
            self.role = Role::Unknown;
        }
    }

    fn must_close(&self, conn: &PooledClient) -> bool {
        let Some(flight) = &self.in_flight else {
            return false;
        };
        let fenced = flight
            .shared
            .fenced
            .get(flight.node.index())
            .is_some_and(|f| f.load(Relaxed));
        fenced
            || self.role == Role::Unknown
            || (self.role == Role::Primary && conn.server_role().is_standby() == Some(true))
    }
}

impl Deref for ClusterClient {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.conn.as_ref().expect("present until drop")
    }
}

impl fmt::Debug for ClusterClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterClient")
            .field("node", &self.node())
            .field("role", &self.role)
            .field("conn", &self.conn)
            .finish()
    }
}

impl Drop for ClusterClient {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if self.role == Role::Primary && conn.is_closed() {
            if let Some(flight) = &self.in_flight {
                flight.shared.primary_io_error(flight.node);
            }
        }
        if !self.must_close(&conn) {
            return;
        }
        // Closed before release, so the pool discards it as broken; without
        // a runtime the socket closes when the last handle goes.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                conn.abort().await;
                drop(conn);
            });
        }
    }
}

/// Runs `$call` on a connection chosen by the route's policy, retrying
/// once when [`Route::retry`] allows it (on another node for a read lost
/// after it was sent).
macro_rules! routed {
    ($route:ident, |$conn:ident| $call:expr) => {{
        let mut exclude = None;
        let mut retried = false;
        loop {
            let wait = $route.cluster.shared.settings.selection_timeout;
            let mut $conn = $route
                .cluster
                .checkout_excluding($route.policy, wait, exclude)
                .await?;
            let result = $call.await;
            let node = $conn.node();
            let result = observed(&mut $conn, result);
            if let Err(err) = &result {
                if let Some(retry) = (!retried).then(|| $route.retry(err)).flatten() {
                    retried = true;
                    if retry == Retry::OtherNode {
                        exclude = Some(node);
                    }
                    $route.cluster.shared.counters.retries.fetch_add(1, Relaxed);
                    $route
                        .cluster
                        .shared
                        .retried(err.retry_class(), retry == Retry::OtherNode);
                    continue;
                }
            }
            return result;
        }
    }};
}

/// The cluster with a read policy for the calls made through it.
#[derive(Debug, Clone, Copy)]
pub struct Route<'a> {
    cluster: &'a Cluster,
    policy: ReadPolicy,
}

impl Route<'_> {
    /// A connection chosen by this route's policy.
    pub async fn get(&self) -> Result<ClusterClient, Error> {
        self.cluster.checkout(self.policy).await
    }

    /// Runs `query` on a connection chosen by this route's policy.
    pub async fn query<S: ToStatement + ?Sized + Sync>(
        &self,
        statement: &S,
        params: &[&(dyn Encode + Sync)],
    ) -> Result<Vec<Row>, Error> {
        routed!(self, |conn| conn.query(statement, params))
    }

    /// Runs `query_one` on a connection chosen by this route's policy.
    pub async fn query_one<S: ToStatement + ?Sized + Sync>(
        &self,
        statement: &S,
        params: &[&(dyn Encode + Sync)],
    ) -> Result<Row, Error> {
        routed!(self, |conn| conn.query_one(statement, params))
    }

    /// Runs `query_opt` on a connection chosen by this route's policy.
    pub async fn query_opt<S: ToStatement + ?Sized + Sync>(
        &self,
        statement: &S,
        params: &[&(dyn Encode + Sync)],
    ) -> Result<Option<Row>, Error> {
        routed!(self, |conn| conn.query_opt(statement, params))
    }

    /// Runs `execute` on a connection chosen by this route's policy.
    pub async fn execute<S: ToStatement + ?Sized + Sync>(
        &self,
        statement: &S,
        params: &[&(dyn Encode + Sync)],
    ) -> Result<u64, Error> {
        routed!(self, |conn| conn.execute(statement, params))
    }

    /// Runs `batch_execute` on a connection chosen by this route's policy.
    pub async fn batch_execute(&self, sql: &str) -> Result<(), Error> {
        routed!(self, |conn| conn.batch_execute(sql))
    }

    /// Whether a call that failed with `err` is run again (once, and only
    /// with [`ClusterBuilder::retry_once`]), and whether on another node.
    fn retry(&self, err: &Error) -> Option<Retry> {
        if !self.cluster.shared.settings.retry_once {
            return None;
        }
        match err.retry_class() {
            // Certainly not executed, or its one-statement transaction was
            // rolled back (a routed call runs on a connection of its own).
            RetryClass::NotExecuted | RetryClass::RetryTransaction => Some(Retry::AnyNode),
            // A read lost after it was sent may have run, but running it
            // again changes nothing; a route that may read from a replica
            // declares its work read-only. Anything else with an unknown
            // outcome goes back to the caller.
            RetryClass::OutcomeUnknown if self.policy.preference.may_use_replica() => {
                Some(Retry::OtherNode)
            }
            _ => None,
        }
    }
}

/// Where a retried call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    AnyNode,
    OtherNode,
}

fn observed<T>(conn: &mut ClusterClient, result: Result<T, Error>) -> Result<T, Error> {
    if let Err(err) = &result {
        conn.report_error(err);
    }
    result
}
