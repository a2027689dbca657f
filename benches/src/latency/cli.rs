//! The `latency` binary's command line.
//!
//! Owns: parsing `--quick | --full`, `--rates`, `--seconds`, `--rounds`,
//! `--shapes` and `--out` into a [`Plan`]. Must not: run anything.

use std::path::PathBuf;

use super::{Plan, Shape};
use crate::cli::{bad, parse_list};
use crate::{BenchError, Mode};

/// The usage text.
pub const USAGE: &str = "usage: latency [--quick|--full] [--rates 2000,10000,...,closed] [--seconds S] \
[--rounds N] [--shapes no-query,pgline,...] [--workers N] [--out FILE]";

/// What to run and where to write the tables.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Quick or full defaults.
    pub mode: Mode,
    /// The plan, the mode's defaults with the flags applied.
    pub plan: Plan,
    /// A file for the Markdown tables (they are always printed).
    pub out: Option<PathBuf>,
}

impl Options {
    /// Parses the arguments after the program name.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, BenchError> {
        let mut mode = Mode::Quick;
        let mut rates = None;
        let mut seconds = None;
        let mut rounds = None;
        let mut shapes = None;
        let mut workers = None;
        let mut out = None;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .ok_or_else(|| BenchError::new(format!("{name} needs a value\n{USAGE}")))
            };
            match arg.as_str() {
                "--quick" => mode = Mode::Quick,
                "--full" => mode = Mode::Full,
                "--rates" => {
                    rates = Some(parse_list("--rates", &value("--rates")?, |text| {
                        if text == "closed" {
                            Ok(super::pace::CLOSED)
                        } else {
                            parse_rate(text)
                        }
                    })?);
                }
                "--seconds" => {
                    let text = value("--seconds")?;
                    seconds = Some(parse_rate(&text).map_err(|_| bad("--seconds", &text))?);
                }
                "--rounds" => {
                    let text = value("--rounds")?;
                    let n = text
                        .parse::<usize>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| bad("--rounds", &text))?;
                    rounds = Some(n);
                }
                "--shapes" => {
                    shapes = Some(parse_list("--shapes", &value("--shapes")?, |name| {
                        Shape::from_name(name).ok_or(())
                    })?);
                }
                "--workers" => {
                    let text = value("--workers")?;
                    let n = text
                        .parse::<usize>()
                        .ok()
                        .filter(|&n| (1..=64).contains(&n))
                        .ok_or_else(|| bad("--workers", &text))?;
                    workers = Some(n);
                }
                "--out" => out = Some(PathBuf::from(value("--out")?)),
                other => {
                    return Err(BenchError::new(format!(
                        "unknown argument {other:?}\n{USAGE}"
                    )));
                }
            }
        }
        let mut plan = Plan::for_mode(mode);
        if let Some(rates) = rates {
            plan.rates = rates;
        }
        if let Some(seconds) = seconds {
            plan.seconds = seconds;
        }
        if let Some(rounds) = rounds {
            plan.rounds = rounds;
        }
        if let Some(shapes) = shapes {
            plan.shapes = shapes;
        }
        if let Some(workers) = workers {
            plan.workers = workers;
        }
        Ok(Self { mode, plan, out })
    }
}

fn parse_rate(text: &str) -> Result<f64, ()> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .ok_or(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, BenchError> {
        Options::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_override_the_mode() {
        let options = parse(&[
            "--full",
            "--rates",
            "1000, 5000",
            "--seconds",
            "0.5",
            "--rounds",
            "3",
            "--shapes",
            "pgline,libpq8",
            "--out",
            "x.md",
        ])
        .unwrap();
        assert_eq!(options.mode, Mode::Full);
        assert_eq!(options.plan.rates, vec![1000.0, 5000.0]);
        let closed = parse(&["--rates", "2000,closed"]).unwrap();
        assert_eq!(
            closed.plan.rates,
            vec![2000.0, crate::latency::pace::CLOSED]
        );
        assert_eq!(crate::latency::rate_label(closed.plan.rates[1]), "closed");
        assert_eq!(closed.plan.count(closed.plan.rates[1]), 4_000);
        assert_eq!(options.plan.seconds, 0.5);
        assert_eq!(options.plan.rounds, 3);
        assert_eq!(options.plan.shapes, vec![Shape::Pgline, Shape::Libpq]);
        assert_eq!(options.out, Some(PathBuf::from("x.md")));
        assert_eq!(parse(&[]).unwrap().plan, Plan::for_mode(Mode::Quick));
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        for (args, says) in [
            (&["--rates", "0"][..], "--rates"),
            (&["--rates", "fast"][..], "--rates"),
            (&["--seconds", "-1"][..], "--seconds"),
            (&["--rounds", "0"][..], "--rounds"),
            (&["--workers", "0"][..], "--workers"),
            (&["--workers", "two"][..], "--workers"),
            (&["--shapes", "jdbc"][..], "jdbc"),
            (&["--rates"][..], "needs a value"),
            (&["--slow"][..], "--slow"),
        ] {
            let err = parse(args).unwrap_err();
            assert!(err.message().contains(says), "{args:?}: {err}");
        }
    }
}
