//! [`ClusterConfigError`]: cluster settings that cannot be used.
//!
//! Owns the error enum and its messages; each variant names the setting and
//! the values involved. It must not carry connection secrets.

use std::fmt;
use std::time::Duration;

use super::preference::ReadPreference;

/// A cluster setting that cannot be used, found before any connection is
/// made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterConfigError {
    /// `max_staleness` was given with a preference that only reads from the
    /// primary, which is never stale.
    MaxStalenessWithPrimary,
    /// `max_staleness` is shorter than the monitor can measure: a bound
    /// below three monitor intervals would drop healthy replicas between
    /// two probes.
    MaxStalenessTooSmall {
        /// The bound asked for.
        max_staleness: Duration,
        /// The monitor interval in effect.
        monitor_interval: Duration,
        /// The smallest bound allowed (three monitor intervals).
        minimum: Duration,
    },
    /// A setting's text is not one of the values it accepts.
    InvalidValue {
        /// The setting's name.
        setting: &'static str,
        /// The text as given.
        value: String,
        /// What the setting accepts.
        expected: &'static str,
    },
    /// A duration that must not be zero is zero (a zero probe interval
    /// would probe in a busy loop).
    ZeroDuration {
        /// The setting's name.
        setting: &'static str,
    },
    /// `monitor_interval` is shorter than the smallest allowed.
    MonitorIntervalTooShort {
        /// The interval asked for.
        monitor_interval: Duration,
        /// The smallest interval allowed.
        minimum: Duration,
    },
}

impl fmt::Display for ClusterConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MaxStalenessWithPrimary => write!(
                f,
                "max_staleness cannot be used with read preference {}: \
                 the primary is never stale",
                ReadPreference::Primary
            ),
            Self::MaxStalenessTooSmall {
                max_staleness,
                monitor_interval,
                minimum,
            } => write!(
                f,
                "max_staleness {max_staleness:?} is below {minimum:?}, \
                 three times monitor_interval ({monitor_interval:?})"
            ),
            Self::InvalidValue {
                setting,
                value,
                expected,
            } => write!(
                f,
                "invalid value \"{value}\" for {setting}: expected one of {expected}"
            ),
            Self::ZeroDuration { setting } => write!(f, "{setting} must be greater than zero"),
            Self::MonitorIntervalTooShort {
                monitor_interval,
                minimum,
            } => write!(
                f,
                "monitor_interval {monitor_interval:?} is below the minimum of {minimum:?}"
            ),
        }
    }
}

impl std::error::Error for ClusterConfigError {}
