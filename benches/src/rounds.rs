//! Alternating rounds: each round runs every driver once, in an order that
//! rotates from round to round, so drift on a shared machine hits all drivers
//! alike; ratios are taken within a round, then their median.
//!
//! Owns: [`run_rounds`] and the per-workload result ([`WorkloadResult`]).
//! Must not: format output (that is [`crate::report`]).

use std::collections::BTreeMap;

use crate::BenchError;
use crate::driver::{Driver, Outcome};
use crate::measure::Sample;
use crate::stats::{median, ratio};

/// What happened to one driver over all rounds of one workload.
#[derive(Debug, Clone, PartialEq)]
pub enum DriverRuns {
    /// One sample per round.
    Measured(Vec<Sample>),
    /// The driver cannot run this workload (yet).
    NotAvailable(&'static str),
    /// A run failed; the message says how.
    Failed(String),
}

/// pgline against one peer, round by round.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PairedRatios {
    /// pgline's throughput / the peer's, one per round where both ran.
    pub throughput: Vec<f64>,
    /// pgline's client CPU per op / the peer's, one per round.
    pub cpu: Vec<f64>,
}

impl PairedRatios {
    /// Median of the within-round throughput ratios.
    pub fn throughput_median(&self) -> Option<f64> {
        median(&self.throughput)
    }

    /// Median of the within-round CPU ratios.
    pub fn cpu_median(&self) -> Option<f64> {
        median(&self.cpu)
    }
}

/// One workload's results.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadResult {
    /// The workload's name (a table row).
    pub name: String,
    /// What one op is: "query", "row", "connection".
    pub unit: &'static str,
    /// Each driver's runs.
    pub drivers: BTreeMap<Driver, DriverRuns>,
    /// pgline against each peer, within rounds.
    pub vs: BTreeMap<Driver, PairedRatios>,
}

impl WorkloadResult {
    /// The samples of `driver`, when measured.
    pub fn samples(&self, driver: Driver) -> Option<&[Sample]> {
        match self.drivers.get(&driver) {
            Some(DriverRuns::Measured(samples)) => Some(samples),
            _ => None,
        }
    }

    /// Median throughput (ops/s) of `driver`.
    pub fn median_throughput(&self, driver: Driver) -> Option<f64> {
        self.median_of(driver, Sample::throughput)
    }

    /// Median client CPU µs per op of `driver`.
    pub fn median_cpu_us(&self, driver: Driver) -> Option<f64> {
        self.median_of(driver, Sample::cpu_us_per_op)
    }

    /// Median client CPU µs per op of `driver` in user space.
    pub fn median_cpu_user_us(&self, driver: Driver) -> Option<f64> {
        self.median_of(driver, Sample::cpu_user_us_per_op)
    }

    /// Median client CPU µs per op of `driver` in the kernel.
    pub fn median_cpu_system_us(&self, driver: Driver) -> Option<f64> {
        self.median_of(driver, Sample::cpu_system_us_per_op)
    }

    /// Median heap allocations per op of `driver`.
    pub fn median_allocations(&self, driver: Driver) -> Option<f64> {
        self.median_of(driver, Sample::allocations_per_op)
    }

    /// Median heap bytes per op of `driver`.
    pub fn median_bytes(&self, driver: Driver) -> Option<f64> {
        self.median_of(driver, Sample::bytes_per_op)
    }

    fn median_of(&self, driver: Driver, f: fn(&Sample) -> f64) -> Option<f64> {
        let values: Vec<f64> = self.samples(driver)?.iter().map(f).collect();
        median(&values)
    }
}

/// The order of drivers in round `round`: `drivers` rotated by `round`.
pub fn round_order(drivers: &[Driver], round: usize) -> Vec<Driver> {
    let mut order = drivers.to_vec();
    if !order.is_empty() {
        let shift = round % order.len();
        order.rotate_left(shift);
    }
    order
}

/// Runs `run` for every driver in `drivers`, `rounds` times, alternating,
/// and pairs pgline with each peer round by round. A driver that fails or is
/// not available is not run again in later rounds.
pub fn run_rounds(
    name: &str,
    unit: &'static str,
    drivers: &[Driver],
    rounds: usize,
    mut run: impl FnMut(Driver) -> Result<Outcome, BenchError>,
) -> WorkloadResult {
    let mut per_round: Vec<BTreeMap<Driver, Sample>> = Vec::with_capacity(rounds);
    let mut stopped: BTreeMap<Driver, DriverRuns> = BTreeMap::new();
    for round in 0..rounds {
        let mut this_round = BTreeMap::new();
        for driver in round_order(drivers, round) {
            if stopped.contains_key(&driver) {
                continue;
            }
            match run(driver) {
                Ok(Outcome::Measured(sample)) => {
                    this_round.insert(driver, sample);
                }
                Ok(Outcome::NotAvailable(why)) => {
                    stopped.insert(driver, DriverRuns::NotAvailable(why));
                }
                Err(err) => {
                    eprintln!("  {name} / {}: {err}", driver.name());
                    stopped.insert(driver, DriverRuns::Failed(err.to_string()));
                }
            }
        }
        per_round.push(this_round);
    }
    collect(name, unit, drivers, per_round, stopped)
}

fn collect(
    name: &str,
    unit: &'static str,
    drivers: &[Driver],
    per_round: Vec<BTreeMap<Driver, Sample>>,
    stopped: BTreeMap<Driver, DriverRuns>,
) -> WorkloadResult {
    let mut results = BTreeMap::new();
    for &driver in drivers {
        let runs = match stopped.get(&driver) {
            Some(runs) => runs.clone(),
            None => DriverRuns::Measured(
                per_round
                    .iter()
                    .filter_map(|r| r.get(&driver).copied())
                    .collect(),
            ),
        };
        results.insert(driver, runs);
    }
    let mut vs = BTreeMap::new();
    for &peer in drivers.iter().filter(|&&d| d != Driver::Pgline) {
        let mut paired = PairedRatios::default();
        for round in &per_round {
            if let (Some(ours), Some(theirs)) = (round.get(&Driver::Pgline), round.get(&peer)) {
                if let Some(r) = ratio(ours.throughput(), theirs.throughput()) {
                    paired.throughput.push(r);
                }
                if let Some(r) = ratio(ours.cpu_us_per_op(), theirs.cpu_us_per_op()) {
                    paired.cpu.push(r);
                }
            }
        }
        vs.insert(peer, paired);
    }
    WorkloadResult {
        name: name.to_owned(),
        unit,
        drivers: results,
        vs,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn sample(ops: u64, wall_ms: u64, cpu_ms: u64) -> Sample {
        Sample {
            ops,
            wall: Duration::from_millis(wall_ms),
            cpu: Duration::from_millis(cpu_ms),
            cpu_user: Duration::from_millis(cpu_ms) / 2,
            allocations: 0,
            bytes: 0,
        }
    }

    #[test]
    fn order_rotates_each_round() {
        let all = Driver::ALL;
        assert_eq!(round_order(&all, 0), all.to_vec());
        assert_eq!(
            round_order(&all, 1),
            vec![Driver::Libpq, Driver::TokioPostgres, Driver::Pgline]
        );
        assert_eq!(round_order(&all, 3), all.to_vec());
        assert!(round_order(&[], 2).is_empty());
    }

    #[test]
    fn ratios_are_paired_within_rounds() {
        // pgline takes 100 ms in round 0 and 200 ms in round 1, libpq always
        // 200 ms; tokio-postgres fails.
        let mut pgline_runs = 0;
        let mut calls = Vec::new();
        let result = run_rounds("w", "query", &Driver::ALL, 2, |driver| {
            calls.push(driver);
            match driver {
                Driver::Pgline => {
                    pgline_runs += 1;
                    Ok(Outcome::Measured(sample(1000, 100 * pgline_runs, 10)))
                }
                Driver::Libpq => Ok(Outcome::Measured(sample(1000, 200, 20))),
                Driver::TokioPostgres => Err(BenchError::new("refused")),
            }
        });
        // tokio-postgres failed in round 0 and was not run again.
        assert_eq!(
            calls,
            vec![
                Driver::Pgline,
                Driver::Libpq,
                Driver::TokioPostgres,
                Driver::Libpq,
                Driver::Pgline
            ]
        );
        assert_eq!(
            result.drivers[&Driver::TokioPostgres],
            DriverRuns::Failed("refused".into())
        );
        let vs_libpq = &result.vs[&Driver::Libpq];
        // Round 0: 200/100 = 2.0; round 1: 200/200 = 1.0.
        assert_eq!(vs_libpq.throughput, vec![2.0, 1.0]);
        assert_eq!(vs_libpq.cpu, vec![0.5, 0.5]);
        assert_eq!(vs_libpq.throughput_median(), Some(1.5));
        assert!(result.vs[&Driver::TokioPostgres].throughput.is_empty());
        assert_eq!(result.median_throughput(Driver::Libpq), Some(5000.0));
        assert_eq!(result.median_cpu_us(Driver::Pgline), Some(10.0));
        assert_eq!(result.median_cpu_user_us(Driver::Pgline), Some(5.0));
        assert_eq!(result.median_cpu_system_us(Driver::Pgline), Some(5.0));
    }

    #[test]
    fn not_available_is_kept_without_numbers() {
        let result = run_rounds("batch", "query", &Driver::ALL, 3, |driver| match driver {
            Driver::Pgline => Ok(Outcome::NotAvailable("no explicit pipeline API yet")),
            _ => Ok(Outcome::Measured(sample(10, 1, 1))),
        });
        assert_eq!(
            result.drivers[&Driver::Pgline],
            DriverRuns::NotAvailable("no explicit pipeline API yet")
        );
        assert_eq!(result.samples(Driver::Libpq).map(<[Sample]>::len), Some(3));
        assert_eq!(result.median_throughput(Driver::Pgline), None);
    }
}
