//! The monitor: one probe connection per node, outside the pools, and the
//! failover machine's timer.
//!
//! Owns the tasks that keep the [`Topology`](super::Topology) current: each
//! node's task probes it every `monitor_interval` (or at once when woken:
//! a refused connection, a 25006, a discovery round), in one round trip,
//! and feeds the result to the topology and the failover machine under the
//! cluster's lock, then publishes the events that follow. A timer task
//! calls the failover machine's `handle_timeout` when it asks. The tasks
//! hold the cluster weakly: they stop at [`Cluster::close`] or when the
//! last handle is gone.
//!
//! [`Cluster::close`]: super::Cluster::close

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::{Client, SimpleQueryMessage};

use crate::observe::{ClusterChange, NodeRole, NodeSample};

use super::events::ClusterEvent;
use super::failover::FailoverEvent;
use super::handle::{Shared, State};
use super::probe::ProbeReport;
use super::readiness::{NodeView, node_view};
use super::staleness::{Crossing, threshold_crossing};
use super::topology::{NodeId, Role};

/// The probe: role, position (replay on a standby, write position on a
/// primary), timeline (the standby's receiver timeline, else its last
/// checkpoint's; on a primary the prefix of its current WAL file name, which
/// is right even just after a promotion) and `transaction_read_only`, in
/// one round trip.
///
/// The primary's position is `pg_current_wal_lsn()`, the end of what it has
/// written: every acknowledged commit lies at or before it, and on an idle
/// primary it equals a caught-up standby's replay position (the insert
/// position can sit past a page header and never be "replayed").
pub const PROBE_SQL: &str = "SELECT pg_catalog.pg_is_in_recovery(), \
     CASE WHEN pg_catalog.pg_is_in_recovery() \
       THEN pg_catalog.pg_last_wal_replay_lsn() \
       ELSE pg_catalog.pg_current_wal_lsn() END, \
     CASE WHEN pg_catalog.pg_is_in_recovery() \
       THEN COALESCE((SELECT received_tli FROM pg_catalog.pg_stat_wal_receiver), \
                     (SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()))::text \
       ELSE pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()) END, \
     pg_catalog.current_setting('transaction_read_only')";

/// Starts every node's probe task and the failover timer task.
pub(super) fn spawn(shared: &Arc<Shared>) {
    let mut tasks = Vec::with_capacity(shared.pools.len() + 1);
    for index in 0..shared.pools.len() {
        tasks.push(tokio::spawn(node_task(
            Arc::downgrade(shared),
            NodeId::new(index),
            Arc::clone(&shared.reprobe[index]),
            shared.closed.subscribe(),
            shared.config.clone(),
            shared.settings.monitor_interval,
            shared.settings.probe_timeout,
        )));
    }
    tasks.push(tokio::spawn(timer_task(
        Arc::downgrade(shared),
        Arc::clone(&shared.timer),
        shared.closed.subscribe(),
    )));
    *shared.tasks.lock().unwrap_or_else(|e| e.into_inner()) = tasks;
}

async fn node_task(
    cluster: Weak<Shared>,
    node: NodeId,
    wake: Arc<Notify>,
    mut closed: watch::Receiver<bool>,
    config: Config,
    interval: Duration,
    probe_timeout: Duration,
) {
    let mut conn: Option<Client> = None;
    loop {
        if *closed.borrow() {
            break;
        }
        let started = Instant::now();
        let outcome = tokio::time::timeout(probe_timeout, probe(&mut conn, &config, node)).await;
        let outcome = match outcome {
            Ok(Ok(answer)) => Some(answer),
            Ok(Err(_)) | Err(_) => {
                // A connection that failed or did not answer in time is not
                // trusted for the next probe.
                if let Some(c) = conn.take() {
                    tokio::spawn(async move { c.abort().await });
                }
                None
            }
        };
        let Some(shared) = cluster.upgrade() else {
            break;
        };
        shared.record(node, outcome);
        drop(shared);
        tokio::select! {
            () = tokio::time::sleep_until((started + interval).into()) => {}
            () = wake.notified() => {}
            _ = closed.changed() => {}
        }
    }
    if let Some(c) = conn {
        let _ = c.close().await;
    }
}

/// Probes `node` on `conn`, connecting first when there is none (or it is
/// closed). Returns the report and the round trip of the probe query alone.
async fn probe(
    conn: &mut Option<Client>,
    config: &Config,
    node: NodeId,
) -> Result<(ProbeReport, Duration), Error> {
    if conn.as_ref().is_none_or(Client::is_closed) {
        *conn = Some(config.connect_host(node.index()).await?);
    }
    let client = conn.as_ref().ok_or_else(Error::closed)?;
    let sent = Instant::now();
    let messages = client.simple_query(PROBE_SQL).await?;
    let rtt = sent.elapsed();
    let row = messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row),
            SimpleQueryMessage::CommandComplete(_) => None,
        })
        .ok_or_else(|| Error::msg(ErrorKind::Protocol, "the probe returned no row"))?;
    let column = |i: usize| row.get(i).unwrap_or("");
    let report = ProbeReport::from_text(column(0), column(1), column(2), column(3))
        .map_err(|e| Error::with_source(ErrorKind::Protocol, None, e))?;
    Ok((report, rtt))
}

async fn timer_task(cluster: Weak<Shared>, wake: Arc<Notify>, mut closed: watch::Receiver<bool>) {
    loop {
        if *closed.borrow() {
            break;
        }
        let Some(deadline) = cluster.upgrade().map(|s| s.lock().failover.poll_timeout()) else {
            break;
        };
        let fired = tokio::select! {
            () = sleep_until_or_forever(deadline) => true,
            () = wake.notified() => false,
            _ = closed.changed() => false,
        };
        if fired {
            let Some(shared) = cluster.upgrade() else {
                break;
            };
            shared.handle_timeout();
        }
    }
}

async fn sleep_until_or_forever(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

impl Shared {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes in one probe's outcome for `node`: the failover machine first
    /// (it decides the primary), then the topology, then the events.
    fn record(&self, node: NodeId, outcome: Option<(ProbeReport, Duration)>) {
        let mut out = Outbox::default();
        {
            let mut state = self.lock();
            let now = Instant::now();
            let change = match outcome {
                Some((report, rtt)) => {
                    self.counters.probes.fetch_add(1, Relaxed);
                    let _ = state.failover.handle_probe_report(node, &report, now);
                    let primary = state.failover.primary();
                    state.topology.set_primary(primary);
                    state.topology.record_probe(node, &report, rtt, now)
                }
                None => {
                    self.counters.probe_failures.fetch_add(1, Relaxed);
                    let _ = state.failover.handle_probe_failure(node, now);
                    state.topology.record_failure(node)
                }
            };
            if let Ok(change) = change {
                if change.came_up() {
                    out.events.push(ClusterEvent::NodeUp { node });
                }
                if change.went_down() {
                    out.events.push(ClusterEvent::NodeDown { node });
                }
                if let Some((from, to)) = change.role_changed() {
                    out.events
                        .push(ClusterEvent::RoleChanged { node, from, to });
                }
            }
            self.thresholds(&mut state, node, now, &mut out.events);
            self.drive(&mut state, &mut out, now);
        }
        self.publish(out);
    }

    /// The failover timer fired.
    fn handle_timeout(&self) {
        let mut out = Outbox::default();
        {
            let mut state = self.lock();
            let now = Instant::now();
            let _ = state.failover.handle_timeout(now);
            self.drive(&mut state, &mut out, now);
        }
        self.publish(out);
    }

    /// A connection picked as primary failed with an I/O error.
    pub(super) fn primary_io_error(&self, node: NodeId) {
        let mut out = Outbox::default();
        {
            let mut state = self.lock();
            let now = Instant::now();
            if state.failover.handle_primary_io_error(node, now).is_err() {
                return;
            }
            self.drive(&mut state, &mut out, now);
        }
        self.publish(out);
    }

    /// Acts on the failover machine's outputs: its primary into the
    /// topology, its probe requests to the nodes' tasks, its events out;
    /// with cluster hooks installed, every node's sample too.
    fn drive(&self, state: &mut State, out: &mut Outbox, now: Instant) {
        let primary = state.failover.primary();
        state.topology.set_primary(primary);
        for (i, fenced) in self.fenced.iter().enumerate() {
            fenced.store(state.failover.is_fenced(NodeId::new(i)), Relaxed);
        }
        while let Some(node) = state.failover.poll_probe() {
            if let Some(wake) = self.reprobe.get(node.index()) {
                wake.notify_one();
            }
        }
        while let Some(event) = state.failover.poll_event() {
            match event {
                FailoverEvent::PrimaryLost { .. } => {
                    state.primary_lost_at.get_or_insert(now);
                }
                FailoverEvent::PrimaryElected { .. } => {
                    out.elected_after = state.primary_lost_at.take().map(|t| now - t);
                }
                _ => {}
            }
            out.events.push(ClusterEvent::Failover(event));
        }
        self.timer.notify_one();
        if self.settings.hooks.clusters().is_some() {
            out.samples = (0..self.pools.len())
                .map(|i| node_view(state, NodeId::new(i), now))
                .collect();
        }
    }

    /// The lag and staleness threshold crossings of `node` at `now`.
    fn thresholds(
        &self,
        state: &mut State,
        node: NodeId,
        now: Instant,
        events: &mut Vec<ClusterEvent>,
    ) {
        let standby = state
            .topology
            .node(node)
            .is_some_and(|n| n.up && n.role == Role::Standby);
        let i = node.index();
        let lag = standby.then(|| state.topology.lag_bytes(node)).flatten();
        if let Some(threshold) = self.settings.lag_threshold_bytes {
            if let Some(crossing) = threshold_crossing(state.last_lag[i], lag, threshold) {
                events.push(ClusterEvent::LagThresholdCrossed {
                    node,
                    crossing,
                    lag_bytes: lag.unwrap_or(0),
                });
            }
        }
        state.last_lag[i] = lag;
        let staleness = standby
            .then(|| state.topology.staleness(node, now).upper_bound())
            .flatten();
        if let Some(threshold) = self.settings.staleness_threshold {
            if let Some(crossing) =
                threshold_crossing(state.last_staleness[i], staleness, threshold)
            {
                events.push(ClusterEvent::StalenessThresholdCrossed {
                    node,
                    crossing,
                    staleness,
                });
            }
        }
        state.last_staleness[i] = staleness;
    }

    /// Publishes the events, wakes the checkouts waiting for a change,
    /// then calls the cluster hooks (the lock is released). Sending on the
    /// broadcast never waits: a subscriber that lags loses the oldest
    /// events.
    fn publish(&self, out: Outbox) {
        for &event in &out.events {
            let _ = self.events.send(event);
        }
        self.version.send_modify(|v| *v = v.wrapping_add(1));
        let Some(hooks) = self.settings.hooks.clusters() else {
            return;
        };
        for event in &out.events {
            let change = self.change(event, out.elected_after);
            for hook in hooks {
                hook.cluster_change(&change);
            }
        }
        for (i, s) in out.samples.iter().enumerate() {
            let sample = NodeSample::new(
                self.hook_node(NodeId::new(i)),
                s.role,
                s.up,
                s.lag_bytes,
                s.staleness,
            );
            for hook in hooks {
                hook.node_sample(&sample);
            }
        }
    }

    /// An event as the cluster hooks see it.
    fn change(&self, event: &ClusterEvent, elected_after: Option<Duration>) -> ClusterChange<'_> {
        let node = |n: NodeId| self.hook_node(n);
        match *event {
            ClusterEvent::NodeUp { node: n } => ClusterChange::NodeUp { node: node(n) },
            ClusterEvent::NodeDown { node: n } => ClusterChange::NodeDown { node: node(n) },
            ClusterEvent::RoleChanged { node: n, from, to } => ClusterChange::RoleChanged {
                node: node(n),
                from: reported(from),
                to: reported(to),
            },
            ClusterEvent::LagThresholdCrossed {
                node: n,
                crossing,
                lag_bytes,
            } => ClusterChange::LagThreshold {
                node: node(n),
                above: crossing == Crossing::Above,
                lag_bytes,
            },
            ClusterEvent::StalenessThresholdCrossed {
                node: n,
                crossing,
                staleness,
            } => ClusterChange::StalenessThreshold {
                node: node(n),
                above: crossing == Crossing::Above,
                staleness,
            },
            ClusterEvent::Failover(f) => match f {
                FailoverEvent::PrimaryLost { node: n } => {
                    ClusterChange::PrimaryLost { node: node(n) }
                }
                FailoverEvent::PrimaryElected { node: n, timeline } => {
                    ClusterChange::PrimaryElected {
                        node: node(n),
                        timeline,
                        after: elected_after,
                    }
                }
                FailoverEvent::SplitBrainSuspected { winner, loser, .. } => {
                    ClusterChange::SplitBrain {
                        winner: node(winner),
                        loser: node(loser),
                    }
                }
                FailoverEvent::StalePrimaryFenced { node: n, .. } => {
                    ClusterChange::Fenced { node: node(n) }
                }
                FailoverEvent::NoPrimary { .. } => ClusterChange::NoPrimary,
                FailoverEvent::RejoinedAsStandby { node: n } => {
                    ClusterChange::RejoinedAsStandby { node: node(n) }
                }
            },
        }
    }
}

/// What one monitor step publishes once the lock is released.
#[derive(Default)]
struct Outbox {
    events: Vec<ClusterEvent>,
    /// How long there was no primary, when this step elected one.
    elected_after: Option<Duration>,
    /// Every node's state, when cluster hooks are installed.
    samples: Vec<NodeView>,
}

/// A role a probe reported, as the hooks name it.
fn reported(role: Role) -> NodeRole {
    match role {
        Role::Primary => NodeRole::Primary,
        Role::Standby => NodeRole::Standby,
        Role::Unknown => NodeRole::Unknown,
    }
}
