//! The open-loop latency workload: requests released at a fixed offered
//! rate to 64 tasks, each request's latency measured from its scheduled send
//! time into an HDR histogram, at several rates, for every [`Shape`], in
//! alternating rounds.
//!
//! Owns: the run plan ([`Plan`]), the rounds ([`run_rounds`]) and the
//! summary per rate and shape ([`Summary`], [`markdown`]). Must not: be
//! timed with tokio's timer (see [`pace`]).

pub mod cli;
#[allow(unsafe_code)]
pub mod pace;
pub mod run;
pub mod shape;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::stats::median;
use crate::{BenchEnv, Mode};

pub use run::{LatencySample, TASKS, run_shape};
pub use shape::Shape;

/// Rates, duration and rounds of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Offered rates, requests per second; [`pace::CLOSED`] for a closed
    /// loop (the 64 tasks send back to back).
    pub rates: Vec<f64>,
    /// Seconds of schedule per measured run (requests = rate × seconds).
    pub seconds: f64,
    /// Alternating rounds.
    pub rounds: usize,
    /// Shapes to run.
    pub shapes: Vec<Shape>,
    /// Worker threads of the async shapes' runtime: 1 is a current-thread
    /// runtime, more a multi-thread one.
    pub workers: usize,
}

impl Plan {
    /// The defaults of `mode`: quick is a check that everything runs (two
    /// rates, a tenth of a second each, one round); full goes from a light
    /// load past saturation on a 2-core machine.
    pub fn for_mode(mode: Mode) -> Self {
        match mode {
            Mode::Quick => Self {
                rates: vec![2_000.0, 10_000.0],
                seconds: 0.1,
                rounds: 1,
                shapes: Shape::ALL.to_vec(),
                workers: 1,
            },
            Mode::Full => Self {
                rates: vec![
                    2_000.0,
                    5_000.0,
                    10_000.0,
                    20_000.0,
                    40_000.0,
                    80_000.0,
                    pace::CLOSED,
                ],
                seconds: 2.0,
                rounds: 5,
                shapes: Shape::ALL.to_vec(),
                workers: 1,
            },
        }
    }

    /// Requests per measured run at `rate`; a closed loop makes
    /// [`CLOSED_REQUESTS_PER_SECOND`] per second of the plan.
    pub fn count(&self, rate: f64) -> u64 {
        let rate = if pace::is_closed(rate) {
            CLOSED_REQUESTS_PER_SECOND
        } else {
            rate
        };
        ((rate * self.seconds) as u64).max(TASKS as u64)
    }
}

/// Requests per second of plan in a closed-loop run: about one connection's
/// saturated throughput on the reference machine, so a closed run lasts
/// about as long as an open one.
pub const CLOSED_REQUESTS_PER_SECOND: f64 = 40_000.0;

/// A rate as the tables print it: requests per second, or `closed`.
pub fn rate_label(rate: f64) -> String {
    if pace::is_closed(rate) {
        "closed".to_owned()
    } else {
        format!("{rate:.0}")
    }
}

/// One run's figures, taken from its histogram and meter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    /// Median latency, µs.
    pub p50: f64,
    /// 99th percentile, µs.
    pub p99: f64,
    /// 99.9th percentile, µs.
    pub p999: f64,
    /// Largest latency, µs.
    pub max: f64,
    /// Requests completed per second of wall time.
    pub achieved: f64,
    /// Client CPU µs per request (user + system, whole process).
    pub cpu_us: f64,
    /// Requests recorded in the histogram.
    pub recorded: u64,
}

impl Figures {
    /// The figures of `sample`.
    pub fn of(sample: &LatencySample) -> Self {
        let h = &sample.histogram;
        let us = |ns: u64| ns as f64 / 1_000.0;
        Self {
            p50: us(h.value_at_quantile(0.50)),
            p99: us(h.value_at_quantile(0.99)),
            p999: us(h.value_at_quantile(0.999)),
            max: us(h.max()),
            achieved: sample.sample.throughput(),
            cpu_us: sample.sample.cpu_us_per_op(),
            recorded: h.len(),
        }
    }
}

/// Every round's figures, by rate (index into the plan's rates) and shape.
#[derive(Debug, Clone, Default)]
pub struct Rounds {
    /// `runs[rate index][shape]`: one entry per round that shape ran.
    pub runs: Vec<BTreeMap<Shape, Vec<Figures>>>,
    /// Failures, as `(rate, shape, message)`.
    pub failures: Vec<(f64, Shape, String)>,
}

/// Runs `plan`: for each round, each rate, every shape once, in an order
/// rotated from round to round. A shape that fails is not run again.
pub fn run_rounds(env: &BenchEnv, plan: &Plan) -> Rounds {
    let mut rounds = Rounds {
        runs: vec![BTreeMap::new(); plan.rates.len()],
        failures: Vec::new(),
    };
    for round in 0..plan.rounds {
        for (i, &rate) in plan.rates.iter().enumerate() {
            let mut order = plan.shapes.clone();
            if !order.is_empty() {
                let shift = (round + i) % order.len();
                order.rotate_left(shift);
            }
            for shape in order {
                if rounds.failures.iter().any(|(_, s, _)| *s == shape) {
                    continue;
                }
                eprintln!(
                    "  round {} rate {}/s {}",
                    round + 1,
                    rate_label(rate),
                    shape.name()
                );
                match run_shape(env, shape, rate, plan.count(rate), plan.workers) {
                    Ok(sample) => rounds.runs[i]
                        .entry(shape)
                        .or_default()
                        .push(Figures::of(&sample)),
                    Err(err) => {
                        eprintln!("  {} at {}/s: {err}", shape.name(), rate_label(rate));
                        rounds.failures.push((rate, shape, err.to_string()));
                    }
                }
            }
        }
    }
    rounds
}

/// The medians over rounds of one shape at one rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Median over rounds of each figure.
    pub median: Figures,
    /// Rounds measured.
    pub rounds: usize,
}

impl Rounds {
    /// The medians of `shape` at rate index `rate`.
    pub fn summary(&self, rate: usize, shape: Shape) -> Option<Summary> {
        let runs = self.runs.get(rate)?.get(&shape)?;
        let m = |f: fn(&Figures) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
        Some(Summary {
            median: Figures {
                p50: m(|f| f.p50)?,
                p99: m(|f| f.p99)?,
                p999: m(|f| f.p999)?,
                max: m(|f| f.max)?,
                achieved: m(|f| f.achieved)?,
                cpu_us: m(|f| f.cpu_us)?,
                recorded: runs.iter().map(|f| f.recorded).sum(),
            },
            rounds: runs.len(),
        })
    }

    /// The median over rounds of `ours`'s figure ÷ `theirs`'s, taken within
    /// each round (rounds are in the same order for every shape, a shape
    /// that failed has none).
    pub fn paired_ratio(
        &self,
        rate: usize,
        ours: Shape,
        theirs: Shape,
        figure: fn(&Figures) -> f64,
    ) -> Option<f64> {
        let runs = self.runs.get(rate)?;
        let (a, b) = (runs.get(&ours)?, runs.get(&theirs)?);
        let ratios: Vec<f64> = a
            .iter()
            .zip(b)
            .filter_map(|(a, b)| crate::stats::ratio(figure(a), figure(b)))
            .collect();
        median(&ratios)
    }

    /// pgline shape `ours`'s p99 ÷ the best (lowest) peer p99 of the same
    /// round, median over rounds.
    pub fn p99_vs_best_peer(&self, rate: usize, ours: Shape) -> Option<f64> {
        let runs = self.runs.get(rate)?;
        let mine = runs.get(&ours)?;
        let ratios: Vec<f64> = mine
            .iter()
            .enumerate()
            .filter_map(|(round, f)| {
                let best = Shape::PEERS
                    .iter()
                    .filter_map(|p| runs.get(p)?.get(round).map(|g| g.p99))
                    .min_by(f64::total_cmp)?;
                crate::stats::ratio(f.p99, best)
            })
            .collect();
        median(&ratios)
    }
}

fn ratio_text(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}"))
}

/// The tables: per rate and shape the medians over rounds, then pgline's
/// within-round p99 ratios, then coalescing on against off.
pub fn markdown(plan: &Plan, rounds: &Rounds) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Open-loop latency ({TASKS} tasks, {} round(s), {} s per run, {} runtime worker(s); \
         medians over rounds)\n",
        plan.rounds, plan.seconds, plan.workers
    );
    out.push_str(
        "| offered/s | shape | achieved/s | p50 µs | p99 µs | p99.9 µs | max µs | CPU µs/query |\n\
         |---:|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (i, rate) in plan.rates.iter().enumerate() {
        for &shape in &plan.shapes {
            let Some(s) = rounds.summary(i, shape) else {
                continue;
            };
            let f = s.median;
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} |",
                rate_label(*rate),
                shape.name(),
                f.achieved,
                f.p50,
                f.p99,
                f.p999,
                f.max,
                f.cpu_us
            );
        }
    }
    out.push_str(
        "\n### pgline's p99 against the peers (median of within-round ratios; below 1 is better)\n\n\
         | offered/s | pgline ÷ tokio-postgres | pgline ÷ best peer | pgline-pool8 ÷ deadpool8 | pgline-pool8 ÷ best peer |\n\
         |---:|---:|---:|---:|---:|\n",
    );
    let p99 = |f: &Figures| f.p99;
    let cpu = |f: &Figures| f.cpu_us;
    for (i, rate) in plan.rates.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            rate_label(*rate),
            ratio_text(rounds.paired_ratio(i, Shape::Pgline, Shape::TokioPostgres, p99)),
            ratio_text(rounds.p99_vs_best_peer(i, Shape::Pgline)),
            ratio_text(rounds.paired_ratio(i, Shape::PglinePool, Shape::Deadpool, p99)),
            ratio_text(rounds.p99_vs_best_peer(i, Shape::PglinePool)),
        );
    }
    out.push_str(
        "\n### Reply coalescing on vs off (one shared client, 64 tasks)\n\n\
         | offered/s | p99 on µs | p99 off µs | p99 on ÷ off | CPU on µs | CPU off µs | CPU on ÷ off |\n\
         |---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (i, rate) in plan.rates.iter().enumerate() {
        let on = rounds.summary(i, Shape::PglineCoalesce);
        let off = rounds.summary(i, Shape::Pgline);
        let cell = |s: Option<Summary>, f: fn(&Figures) -> f64| {
            s.map_or_else(|| "–".to_owned(), |s| format!("{:.0}", f(&s.median)))
        };
        let cpu_cell = |s: Option<Summary>| {
            s.map_or_else(|| "–".to_owned(), |s| format!("{:.2}", s.median.cpu_us))
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            rate_label(*rate),
            cell(on, p99),
            cell(off, p99),
            ratio_text(rounds.paired_ratio(i, Shape::PglineCoalesce, Shape::Pgline, p99)),
            cpu_cell(on),
            cpu_cell(off),
            ratio_text(rounds.paired_ratio(i, Shape::PglineCoalesce, Shape::Pgline, cpu)),
        );
    }
    out.push_str("\nShapes:\n\n");
    for &shape in &plan.shapes {
        let _ = writeln!(out, "- `{}`: {}", shape.name(), shape.about());
    }
    for (rate, shape, err) in &rounds.failures {
        let _ = writeln!(
            out,
            "\n**{} failed at {}/s**: {err}",
            shape.name(),
            rate_label(*rate)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(p99: f64, cpu_us: f64) -> Figures {
        Figures {
            p50: p99 / 2.0,
            p99,
            p999: p99 * 2.0,
            max: p99 * 3.0,
            achieved: 1_000.0,
            cpu_us,
            recorded: 100,
        }
    }

    #[test]
    fn quick_plan_is_small_and_full_reaches_saturation() {
        let quick = Plan::for_mode(Mode::Quick);
        let full = Plan::for_mode(Mode::Full);
        assert!(quick.rates.len() < full.rates.len());
        assert!(quick.seconds < full.seconds);
        assert_eq!(quick.count(2_000.0), 200);
        assert_eq!(quick.count(10.0), TASKS as u64);
        assert_eq!(full.shapes, Shape::ALL.to_vec());
    }

    #[test]
    fn ratios_are_paired_within_rounds_and_best_peer_is_per_round() {
        let mut map = BTreeMap::new();
        map.insert(
            Shape::Pgline,
            vec![figures(100.0, 4.0), figures(300.0, 4.0)],
        );
        map.insert(
            Shape::TokioPostgres,
            vec![figures(200.0, 8.0), figures(300.0, 8.0)],
        );
        map.insert(Shape::Libpq, vec![figures(50.0, 2.0), figures(600.0, 2.0)]);
        let rounds = Rounds {
            runs: vec![map],
            failures: Vec::new(),
        };
        // Round 0: 100/200 = 0.5, round 1: 300/300 = 1.0.
        assert_eq!(
            rounds.paired_ratio(0, Shape::Pgline, Shape::TokioPostgres, |f| f.p99),
            Some(0.75)
        );
        // Best peer: round 0 libpq (50) → 2.0; round 1 tokio-postgres (300) → 1.0.
        assert_eq!(rounds.p99_vs_best_peer(0, Shape::Pgline), Some(1.5));
        assert_eq!(rounds.summary(0, Shape::Pgline).unwrap().median.p99, 200.0);
        assert_eq!(rounds.summary(0, Shape::Deadpool), None);
        let text = markdown(
            &Plan {
                rates: vec![1_000.0],
                seconds: 1.0,
                rounds: 2,
                shapes: vec![Shape::Pgline, Shape::TokioPostgres, Shape::Libpq],
                workers: 1,
            },
            &rounds,
        );
        assert!(
            text.contains("| 1000 | pgline | 1000 | 100 | 200 | 400 | 600 | 4.00 |"),
            "{text}"
        );
        assert!(text.contains("| 1000 | 0.75 | 1.50 | – | – |"), "{text}");
    }
}
