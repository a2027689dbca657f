//! The drivers being compared, and what one run of a workload gives back.
//!
//! Owns: [`Driver`] and [`Outcome`]. Must not: run anything.

use crate::measure::Sample;

/// One of the drivers compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Driver {
    /// This crate's subject.
    Pgline,
    /// libpq through `pq-sys` (blocking; pipeline mode where the workload pipelines).
    Libpq,
    /// tokio-postgres 0.7 on a current-thread runtime.
    TokioPostgres,
}

impl Driver {
    /// Every driver, in report order.
    pub const ALL: [Self; 3] = [Self::Pgline, Self::Libpq, Self::TokioPostgres];

    /// The name used in tables, JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pgline => "pgline",
            Self::Libpq => "libpq",
            Self::TokioPostgres => "tokio-postgres",
        }
    }

    /// The driver with this name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }
}

/// What one run of a workload for one driver gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The run was measured.
    Measured(Sample),
    /// The driver has no such feature (yet): the table says so instead of a number.
    NotAvailable(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for driver in Driver::ALL {
            assert_eq!(Driver::from_name(driver.name()), Some(driver));
        }
        assert_eq!(Driver::from_name("jdbc"), None);
    }
}
