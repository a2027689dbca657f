//! Read preferences: which kind of node a request may run on, and how stale
//! a replica it may read from.
//!
//! Owns [`ReadPreference`], [`ReadPolicy`] (a preference with an optional
//! `max_staleness`) and the checks that reject unusable combinations as
//! [`ClusterConfigError`]s. Which nodes are actually eligible at a given
//! moment is [`select`](super::select)'s business; this module only
//! describes the request.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::error::ClusterConfigError;
use super::lsn::Lsn;

/// The smallest monitor interval allowed: probes more often than this cost
/// the servers more than they tell.
pub const MIN_MONITOR_INTERVAL: Duration = Duration::from_millis(250);

/// The default monitor interval.
pub const DEFAULT_MONITOR_INTERVAL: Duration = Duration::from_secs(1);

/// How many monitor intervals `max_staleness` must span at least.
pub const STALENESS_INTERVALS: u32 = 3;

/// Which nodes a request may run on.
///
/// Every preference except [`Primary`](Self::Primary) reads from the local
/// zone first when the cluster has one (see [`select`](super::select)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ReadPreference {
    /// Only the primary. Writes always use this.
    #[default]
    Primary,
    /// The primary when there is one; otherwise a replica.
    PrimaryPreferred,
    /// A replica when one is eligible; otherwise the primary.
    ReplicaPreferred,
    /// Only a replica; fails when none is eligible.
    ReplicaOnly,
    /// Any eligible node, primary or replica, left to the balancer (the
    /// latency-aware balancer makes this the nearest).
    Nearest,
}

impl ReadPreference {
    /// Every preference, in declaration order.
    pub const ALL: [Self; 5] = [
        Self::Primary,
        Self::PrimaryPreferred,
        Self::ReplicaPreferred,
        Self::ReplicaOnly,
        Self::Nearest,
    ];

    /// The preference's name in configuration text (`replica-preferred`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::PrimaryPreferred => "primary-preferred",
            Self::ReplicaPreferred => "replica-preferred",
            Self::ReplicaOnly => "replica-only",
            Self::Nearest => "nearest",
        }
    }

    /// Whether the preference may be served by a replica.
    pub fn may_use_replica(self) -> bool {
        !matches!(self, Self::Primary)
    }

    /// Whether the preference may be served by the primary.
    pub fn may_use_primary(self) -> bool {
        !matches!(self, Self::ReplicaOnly)
    }

    /// This preference with a staleness bound on the replicas it reads from.
    pub fn with_max_staleness(self, max_staleness: Duration) -> ReadPolicy {
        ReadPolicy {
            preference: self,
            max_staleness: Some(max_staleness),
            min_replay_lsn: None,
        }
    }
}

impl fmt::Display for ReadPreference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ReadPreference {
    type Err = ClusterConfigError;

    /// Parses [`ReadPreference::name`]'s spelling, ASCII case-insensitive,
    /// with `_` accepted for `-` (`replica_preferred`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| name_matches(p.name(), s))
            .ok_or_else(|| ClusterConfigError::InvalidValue {
                setting: "read_preference",
                value: s.to_owned(),
                expected: "primary, primary-preferred, replica-preferred, replica-only, nearest",
            })
    }
}

/// Whether `text` spells `name` (lower case, words joined by `-`), ASCII
/// case-insensitive and with `_` for `-`.
pub(super) fn name_matches(name: &str, text: &str) -> bool {
    name.len() == text.len()
        && name
            .bytes()
            .zip(text.bytes())
            .all(|(n, t)| n == t.to_ascii_lowercase() || (n == b'-' && t == b'_'))
}

/// A read preference and the staleness bound that goes with it, given per
/// cluster and overridable per call.
///
/// `max_staleness` bounds how far behind the primary a replica's data may be
/// (an upper bound measured from LSNs, see
/// [`staleness`](super::staleness)); the primary itself always qualifies.
/// A replica whose staleness is unknown does not qualify while a bound is
/// set.
///
/// `min_replay_lsn` makes a read causal (read-your-writes): only a replica
/// whose last known replay position is at or past it qualifies; the
/// primary always does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ReadPolicy {
    /// Which nodes the request may use.
    pub preference: ReadPreference,
    /// The staleness bound on replicas, if any.
    pub max_staleness: Option<Duration>,
    /// The log position a replica must have replayed, if any (a session's
    /// causal token).
    pub min_replay_lsn: Option<Lsn>,
}

impl ReadPolicy {
    /// `preference` with no staleness bound and no causal token.
    pub const fn new(preference: ReadPreference) -> Self {
        Self {
            preference,
            max_staleness: None,
            min_replay_lsn: None,
        }
    }

    /// The same policy, reading only from replicas that have replayed up to
    /// `lsn` (or the primary).
    #[must_use]
    pub const fn with_min_replay_lsn(mut self, lsn: Lsn) -> Self {
        self.min_replay_lsn = Some(lsn);
        self
    }

    /// Checks the policy against the monitor interval: `max_staleness` is
    /// refused with [`ReadPreference::Primary`], and below
    /// [`STALENESS_INTERVALS`] × `monitor_interval`, since the monitor can
    /// only see a replica's position once per interval.
    pub fn validate(&self, monitor_interval: Duration) -> Result<(), ClusterConfigError> {
        let Some(max_staleness) = self.max_staleness else {
            return Ok(());
        };
        if self.preference == ReadPreference::Primary {
            return Err(ClusterConfigError::MaxStalenessWithPrimary);
        }
        let minimum = monitor_interval.saturating_mul(STALENESS_INTERVALS);
        if max_staleness < minimum {
            return Err(ClusterConfigError::MaxStalenessTooSmall {
                max_staleness,
                monitor_interval,
                minimum,
            });
        }
        Ok(())
    }
}

impl From<ReadPreference> for ReadPolicy {
    fn from(preference: ReadPreference) -> Self {
        Self::new(preference)
    }
}

/// Checks a monitor interval: at least [`MIN_MONITOR_INTERVAL`].
pub fn validate_monitor_interval(monitor_interval: Duration) -> Result<(), ClusterConfigError> {
    if monitor_interval < MIN_MONITOR_INTERVAL {
        return Err(ClusterConfigError::MonitorIntervalTooShort {
            monitor_interval,
            minimum: MIN_MONITOR_INTERVAL,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn policies_without_staleness_are_always_valid() {
        for preference in ReadPreference::ALL {
            assert_eq!(ReadPolicy::from(preference).validate(MS * 250), Ok(()));
        }
    }

    #[test]
    fn max_staleness_with_primary_is_refused() {
        let policy = ReadPreference::Primary.with_max_staleness(Duration::from_secs(60));
        assert_eq!(
            policy.validate(DEFAULT_MONITOR_INTERVAL),
            Err(ClusterConfigError::MaxStalenessWithPrimary)
        );
        for preference in &ReadPreference::ALL[1..] {
            let policy = preference.with_max_staleness(Duration::from_secs(60));
            assert_eq!(
                policy.validate(DEFAULT_MONITOR_INTERVAL),
                Ok(()),
                "{preference}"
            );
        }
    }

    #[test]
    fn max_staleness_must_span_three_intervals() {
        let interval = DEFAULT_MONITOR_INTERVAL;
        let at = |ms: u64| ReadPreference::ReplicaOnly.with_max_staleness(MS * ms as u32);
        assert_eq!(at(3000).validate(interval), Ok(()));
        assert_eq!(
            at(2999).validate(interval),
            Err(ClusterConfigError::MaxStalenessTooSmall {
                max_staleness: MS * 2999,
                monitor_interval: interval,
                minimum: MS * 3000,
            })
        );
        assert!(at(0).validate(interval).is_err());
        // A faster monitor allows a tighter bound.
        assert_eq!(at(750).validate(MS * 250), Ok(()));
        assert_eq!(
            at(2999).validate(interval).unwrap_err().to_string(),
            "max_staleness 2.999s is below 3s, three times monitor_interval (1s)"
        );
    }

    #[test]
    fn monitor_interval_has_a_floor() {
        assert_eq!(validate_monitor_interval(MS * 250), Ok(()));
        assert_eq!(validate_monitor_interval(DEFAULT_MONITOR_INTERVAL), Ok(()));
        assert_eq!(
            validate_monitor_interval(MS * 249),
            Err(ClusterConfigError::MonitorIntervalTooShort {
                monitor_interval: MS * 249,
                minimum: MS * 250,
            })
        );
        assert!(validate_monitor_interval(Duration::ZERO).is_err());
    }

    #[test]
    fn parses_names_and_refuses_others() {
        for preference in ReadPreference::ALL {
            assert_eq!(preference.name().parse(), Ok(preference));
        }
        assert_eq!(
            "Replica_Preferred".parse(),
            Ok(ReadPreference::ReplicaPreferred)
        );
        let err = "secondary".parse::<ReadPreference>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value \"secondary\" for read_preference: expected one of \
             primary, primary-preferred, replica-preferred, replica-only, nearest"
        );
        assert!("".parse::<ReadPreference>().is_err());
        assert!("primary ".parse::<ReadPreference>().is_err());
        assert!("nearesté".parse::<ReadPreference>().is_err());
    }

    #[test]
    fn names_and_capabilities() {
        use ReadPreference::*;
        assert_eq!(ReplicaPreferred.to_string(), "replica-preferred");
        assert_eq!(ReadPreference::default(), Primary);
        assert!(!Primary.may_use_replica() && Primary.may_use_primary());
        assert!(!ReplicaOnly.may_use_primary() && ReplicaOnly.may_use_replica());
        assert!(Nearest.may_use_primary() && Nearest.may_use_replica());
    }
}
