//! The live role of one connection: the two role parameters the server
//! reports (`in_hot_standby`, `default_transaction_read_only`; PostgreSQL
//! 14 and later report both at startup and again whenever they change, as
//! ParameterStatus). The engine feeds it every ParameterStatus; readers
//! load two atomics.
//!
//! Must not ask the server anything: a role that was not reported stays
//! unknown here.

use std::sync::atomic::{AtomicU8, Ordering};

use crate::conn::transport::endpoint::ServerRole;

/// The server parameter that says whether the server is a standby in
/// recovery (reported by PostgreSQL 14 and later).
pub(crate) const IN_HOT_STANDBY: &str = "in_hot_standby";
/// The server parameter that says whether new transactions default to
/// read-only (reported by PostgreSQL 14 and later).
pub(crate) const DEFAULT_TRANSACTION_READ_ONLY: &str = "default_transaction_read_only";

const UNKNOWN: u8 = 0;
const OFF: u8 = 1;
const ON: u8 = 2;

fn encode(value: Option<bool>) -> u8 {
    match value {
        None => UNKNOWN,
        Some(false) => OFF,
        Some(true) => ON,
    }
}

fn decode(byte: u8) -> Option<bool> {
    match byte {
        OFF => Some(false),
        ON => Some(true),
        _ => None,
    }
}

/// The live role of one connection: written by the engine for every
/// ParameterStatus, read by anyone without a lock.
#[derive(Debug, Default)]
pub(crate) struct RoleCell {
    in_hot_standby: AtomicU8,
    default_transaction_read_only: AtomicU8,
}

impl RoleCell {
    /// A cell holding what the startup parameters reported.
    pub(crate) fn from_parameters<'a>(
        parameters: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let cell = Self::default();
        for (name, value) in parameters {
            cell.observe(name, value);
        }
        cell
    }

    /// Records a parameter the server reported; other parameters are
    /// ignored.
    pub(crate) fn observe(&self, name: &str, value: &str) {
        let slot = match name {
            IN_HOT_STANDBY => &self.in_hot_standby,
            DEFAULT_TRANSACTION_READ_ONLY => &self.default_transaction_read_only,
            _ => return,
        };
        slot.store(encode(Some(value == "on")), Ordering::Release);
    }

    /// The role as of now.
    pub(crate) fn get(&self) -> ServerRole {
        ServerRole {
            in_hot_standby: decode(self.in_hot_standby.load(Ordering::Acquire)),
            default_transaction_read_only: decode(
                self.default_transaction_read_only.load(Ordering::Acquire),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_parameters_fill_the_cell_and_updates_replace_them() {
        let cell = RoleCell::from_parameters([
            ("server_version", "15.8"),
            ("in_hot_standby", "on"),
            ("default_transaction_read_only", "off"),
        ]);
        assert_eq!(cell.get(), ServerRole::new(Some(true), Some(false)));
        // A promotion reports in_hot_standby=off.
        cell.observe("in_hot_standby", "off");
        assert_eq!(cell.get(), ServerRole::new(Some(false), Some(false)));
        cell.observe("default_transaction_read_only", "on");
        assert_eq!(cell.get().is_read_only(), Some(true));
        cell.observe("TimeZone", "UTC");
        assert_eq!(cell.get(), ServerRole::new(Some(false), Some(true)));
    }

    #[test]
    fn unreported_parameters_stay_unknown() {
        let cell = RoleCell::from_parameters([("server_version", "13.1")]);
        assert_eq!(cell.get(), ServerRole::default());
        assert_eq!(cell.get().is_read_only(), None);
        assert_eq!(cell.get().is_standby(), None);
        cell.observe("default_transaction_read_only", "on");
        // One of the two is not enough to call the session read-only.
        assert_eq!(cell.get().is_read_only(), None);
    }

    #[test]
    fn only_the_exact_value_on_means_on() {
        let cell = RoleCell::default();
        for (value, expected) in [("on", true), ("off", false), ("ON", false), ("true", false)] {
            cell.observe("in_hot_standby", value);
            assert_eq!(cell.get().in_hot_standby, Some(expected), "{value}");
        }
    }
}
