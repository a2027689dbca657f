//! [`ClusterBuilder`]: the settings of a [`Cluster`] and its start.
//!
//! Owns the cluster's settings, their defaults and validation (through the
//! pure core's checks), and the start: one [`Pool`] per host bound with
//! [`Connector::for_host`], the topology, the failover machine and the
//! monitor tasks. Routing itself is [`handle`](super::handle)'s.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use crate::Connector;
use crate::config::{Config, TargetSessionAttrs};
use crate::error::{Error, ErrorKind};
use crate::observe::Hooks;
use crate::pool::{Pool, PoolBuilder, WarmUp};

use super::balancer::Balancer;
use super::error::ClusterConfigError;
use super::failover::FailoverConfig;
use super::handle::Cluster;
use super::preference::{self, ReadPolicy, ReadPreference};
use super::staleness::PrimarySamples;
use super::topology::{NodeState, Zone};

/// The default for how long a checkout waits for an eligible node.
pub const DEFAULT_SELECTION_TIMEOUT: Duration = Duration::from_secs(2);

/// A pooled connection idle for longer than this is pinged at checkout,
/// so the ParameterStatus the ping's reply carries re-tags its role.
pub const DEFAULT_IDLE_PING: Duration = Duration::from_secs(1);

/// The default for how long a causal read waits on a replica to replay
/// the session's writes.
pub const DEFAULT_RYW_TIMEOUT: Duration = Duration::from_secs(1);

/// How many events a subscriber may fall behind before it loses the oldest.
pub(super) const EVENT_CAPACITY: usize = 256;

type PoolSetup = Arc<dyn Fn(&mut PoolBuilder) + Send + Sync>;

/// One host's routing settings.
#[derive(Debug, Clone, Default)]
struct HostOptions {
    weight: Option<NonZeroU32>,
    zone: Option<Zone>,
}

/// Settings for a [`Cluster`] over the hosts of one [`Config`].
///
/// Host number `i` is the `i`-th entry of the configuration's host list
/// (`host=p,r1,r2`); each gets its own pool. The configuration's
/// `target_session_attrs` is ignored: the cluster connects to every host
/// whatever its role and routes by the roles it learns.
#[derive(Clone)]
pub struct ClusterBuilder {
    config: Config,
    hosts: BTreeMap<usize, HostOptions>,
    pub(super) settings: ClusterSettings,
    pool_setup: Option<PoolSetup>,
}

/// The settings the running cluster reads.
#[derive(Debug, Clone)]
pub(super) struct ClusterSettings {
    pub(super) local_zone: Option<Zone>,
    pub(super) policy: ReadPolicy,
    pub(super) balancer: Balancer,
    pub(super) monitor_interval: Duration,
    pub(super) probe_timeout: Duration,
    pub(super) selection_timeout: Duration,
    pub(super) idle_ping: Duration,
    pub(super) failover: FailoverConfig,
    pub(super) lag_threshold_bytes: Option<u64>,
    pub(super) staleness_threshold: Option<Duration>,
    pub(super) seed: Option<u64>,
    pub(super) ryw_timeout: Duration,
    pub(super) ryw_fallback_to_primary: bool,
    pub(super) retry_once: bool,
    pub(super) hooks: Hooks,
}

impl fmt::Debug for ClusterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterBuilder")
            .field("config", &self.config)
            .field("hosts", &self.hosts)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ClusterBuilder {
    /// Settings over `config`'s hosts, with the defaults: read preference
    /// [`ReadPreference::Primary`], [`Balancer::LatencyAware`] with a 15 ms
    /// window, a monitor interval of 1 s, a selection timeout of 2 s, no
    /// zones, weight 1 for every host.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            hosts: BTreeMap::new(),
            settings: ClusterSettings {
                local_zone: None,
                policy: ReadPolicy::default(),
                balancer: Balancer::default(),
                monitor_interval: preference::DEFAULT_MONITOR_INTERVAL,
                probe_timeout: preference::DEFAULT_MONITOR_INTERVAL,
                selection_timeout: DEFAULT_SELECTION_TIMEOUT,
                idle_ping: DEFAULT_IDLE_PING,
                failover: FailoverConfig::default(),
                lag_threshold_bytes: None,
                staleness_threshold: None,
                seed: None,
                ryw_timeout: DEFAULT_RYW_TIMEOUT,
                ryw_fallback_to_primary: true,
                retry_once: false,
                hooks: Hooks::new(),
            },
            pool_setup: None,
        }
    }

    /// The weight of host `index` for [`Balancer::WeightedRoundRobin`]
    /// (default 1).
    pub fn host_weight(&mut self, index: usize, weight: NonZeroU32) -> &mut Self {
        self.hosts.entry(index).or_default().weight = Some(weight);
        self
    }

    /// The zone host `index` lies in.
    pub fn host_zone(&mut self, index: usize, zone: &str) -> &mut Self {
        self.hosts.entry(index).or_default().zone = Some(Zone::new(zone));
        self
    }

    /// The zone this process runs in: reads stay in it while it has an
    /// eligible node.
    pub fn local_zone(&mut self, zone: &str) -> &mut Self {
        self.settings.local_zone = Some(Zone::new(zone));
        self
    }

    /// The read preference of reads that do not give their own.
    pub fn read_preference(&mut self, preference: ReadPreference) -> &mut Self {
        self.settings.policy.preference = preference;
        self
    }

    /// The staleness bound of reads that do not give their own. Must span
    /// at least three monitor intervals, and cannot go with
    /// [`ReadPreference::Primary`].
    pub fn max_staleness(&mut self, max_staleness: Option<Duration>) -> &mut Self {
        self.settings.policy.max_staleness = max_staleness;
        self
    }

    /// How one node is chosen among the eligible ones.
    pub fn balancer(&mut self, balancer: Balancer) -> &mut Self {
        self.settings.balancer = balancer;
        self
    }

    /// How often every node is probed (default 1 s, at least 250 ms).
    pub fn monitor_interval(&mut self, interval: Duration) -> &mut Self {
        self.settings.monitor_interval = interval;
        self
    }

    /// How long a probe (connect included) may take before the node counts
    /// as down (default 1 s).
    pub fn probe_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.settings.probe_timeout = timeout;
        self
    }

    /// How long a checkout waits for an eligible node before failing with
    /// the reason none qualified (default 2 s).
    pub fn selection_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.settings.selection_timeout = timeout;
        self
    }

    /// The failover machine's timings.
    pub fn failover(&mut self, failover: FailoverConfig) -> &mut Self {
        self.settings.failover = failover;
        self
    }

    /// Publish [`ClusterEvent::LagThresholdCrossed`](super::ClusterEvent)
    /// when a replica's lag crosses this many bytes.
    pub fn lag_threshold_bytes(&mut self, bytes: Option<u64>) -> &mut Self {
        self.settings.lag_threshold_bytes = bytes;
        self
    }

    /// Publish
    /// [`ClusterEvent::StalenessThresholdCrossed`](super::ClusterEvent)
    /// when a replica's staleness bound crosses this.
    pub fn staleness_threshold(&mut self, threshold: Option<Duration>) -> &mut Self {
        self.settings.staleness_threshold = threshold;
        self
    }

    /// How long a causal read ([`Session`](super::Session)) waits on a
    /// replica to replay the session's writes (default 1 s).
    pub fn ryw_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.settings.ryw_timeout = timeout;
        self
    }

    /// Whether a causal read that no replica can serve in time goes to the
    /// primary (the default) or fails with
    /// [`ClusterError::NotCaughtUp`](super::ClusterError::NotCaughtUp).
    pub fn ryw_fallback_to_primary(&mut self, fallback: bool) -> &mut Self {
        self.settings.ryw_fallback_to_primary = fallback;
        self
    }

    /// Whether the query helpers ([`Cluster::query`], [`Route`](super::Route)'s
    /// methods) run a failed call a second time (default off). Only what
    /// is certainly not executed (no byte of it reached the socket) is
    /// retried, on any node; and a call through a route that may read from
    /// a replica (its work declared read-only) lost after it was sent
    /// (connection lost, 08xxx, 57Pxx) is retried on another node. A write
    /// whose outcome is unknown is never retried.
    pub fn retry_once(&mut self, retry: bool) -> &mut Self {
        self.settings.retry_once = retry;
        self
    }

    /// Seeds the balancers' random values, so a run's picks replay.
    pub fn seed(&mut self, seed: u64) -> &mut Self {
        self.settings.seed = Some(seed);
        self
    }

    /// Settings applied to every host's pool (size, timeouts, setup). The
    /// cluster sets `test_on_acquire` to 1 s and a background warm-up
    /// before calling it.
    pub fn pool(&mut self, setup: impl Fn(&mut PoolBuilder) + Send + Sync + 'static) -> &mut Self {
        self.pool_setup = Some(Arc::new(setup));
        self
    }

    /// Installs hooks (after earlier ones): the cluster hooks see every
    /// monitor step, role change, failover, split brain, fencing, lag
    /// threshold crossing, checkout routing and retry; the pool and
    /// connection hooks go to every host's pool, as
    /// [`PoolBuilder::hooks`] (connect hooks belong on the [`Config`]).
    /// Each host's pool is named `host:port` unless [`pool`](Self::pool)
    /// names it.
    pub fn hooks(&mut self, hooks: Hooks) -> &mut Self {
        self.settings.hooks = self.settings.hooks.merged(&hooks);
        self
    }

    /// Checks every setting without connecting.
    pub fn validate(&self) -> Result<(), ClusterConfigError> {
        let s = &self.settings;
        preference::validate_monitor_interval(s.monitor_interval)?;
        s.policy.validate(s.monitor_interval)?;
        s.failover.validate()?;
        for (setting, value) in [
            ("probe_timeout", s.probe_timeout),
            ("selection_timeout", s.selection_timeout),
        ] {
            if value.is_zero() {
                return Err(ClusterConfigError::ZeroDuration { setting });
            }
        }
        Ok(())
    }

    /// Starts the cluster: a pool per host (warming in the background, so a
    /// host that is down does not stop the start), a probe connection per
    /// host, and the monitor. Returns before the first probes answer; a
    /// checkout waits for them up to the selection timeout.
    ///
    /// Errors: a setting the pure core refuses, a host list that cannot be
    /// read, or a host index given to [`host_weight`](Self::host_weight) or
    /// [`host_zone`](Self::host_zone) past the end of it (all
    /// [`ErrorKind::Config`]).
    pub async fn connect(&self) -> Result<Cluster, Error> {
        self.validate()
            .map_err(|e| Error::with_source(ErrorKind::Config, None, e))?;
        let mut config = self.config.clone();
        config.target_session_attrs(TargetSessionAttrs::Any);
        let targets = config
            .targets()
            .map_err(|e| Error::with_source(ErrorKind::Config, None, e))?;
        let hosts = targets.len();
        if hosts == 0 {
            return Err(Error::msg(
                ErrorKind::Config,
                "a cluster needs at least one host",
            ));
        }
        if let Some((&index, _)) = self.hosts.range(hosts..).next() {
            return Err(Error::msg(
                ErrorKind::Config,
                format!("host index {index} is past the {hosts} hosts of the configuration"),
            ));
        }
        let mut pools = Vec::with_capacity(hosts);
        let mut nodes = Vec::with_capacity(hosts);
        for (index, target) in targets.iter().enumerate() {
            let mut builder = Pool::with_connector(Connector::for_host(config.clone(), index));
            builder
                .test_on_acquire(Some(self.settings.idle_ping))
                .warm_up(WarmUp::Background)
                .name(&format!("{}:{}", target.host, target.port))
                .hooks(self.settings.hooks.clone());
            if let Some(setup) = &self.pool_setup {
                setup(&mut builder);
            }
            pools.push(builder.connect().await?);
            let options = self.hosts.get(&index).cloned().unwrap_or_default();
            let mut node = NodeState::new();
            if let Some(weight) = options.weight {
                node = node.with_weight(weight);
            }
            if let Some(zone) = options.zone {
                node = node.with_zone(zone);
            }
            nodes.push(node);
        }
        let capacity = self
            .settings
            .policy
            .max_staleness
            .map_or(PrimarySamples::DEFAULT_CAPACITY, |bound| {
                PrimarySamples::capacity_for(bound, self.settings.monitor_interval)
            });
        let addresses = targets
            .iter()
            .map(|t| (t.host.to_string(), t.port))
            .collect();
        Ok(Cluster::start(
            config,
            pools,
            addresses,
            nodes,
            capacity,
            self.settings.clone(),
        ))
    }
}
