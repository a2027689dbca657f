//! The bench binary's command line.
//!
//! Owns: parsing `--quick | --full`, `--only NAME`, `--drivers a,b`,
//! `--rounds N`, `--out DIR`, `--observe`, `--observe-null`, and the
//! positional `ROUNDS QUERIES` counts of the single-purpose binaries
//! (`floor`, `cluster-overhead`). Must not: run anything.

use std::path::PathBuf;

use crate::observed::Observe;
use crate::{BenchError, Driver, Mode};

/// A positional count of a single-purpose bench binary (`ROUNDS` or
/// `QUERIES`): `default` when `value` is absent, else a number of at least
/// 1 (no rounds or no queries would measure nothing).
pub fn positional_count(value: Option<String>, default: u64) -> Result<u64, BenchError> {
    let count = value.map_or(Ok(default), |v| {
        v.parse()
            .map_err(|_| BenchError::new("ROUNDS and QUERIES are numbers"))
    })?;
    if count == 0 {
        return Err(BenchError::new("ROUNDS and QUERIES are at least 1"));
    }
    Ok(count)
}

/// The process's argument `n` (1 is the first after the program name) as
/// a [`positional_count`].
pub fn count_arg(n: usize, default: u64) -> Result<u64, BenchError> {
    positional_count(std::env::args().nth(n), default)
}

/// What to run and where to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Quick or full sizes.
    pub mode: Mode,
    /// Workload name prefixes to run; empty means all.
    pub only: Vec<String>,
    /// Drivers to run.
    pub drivers: Vec<Driver>,
    /// Rounds, when not the mode's.
    pub rounds: Option<usize>,
    /// Where `latest.md` and `latest.json` go; `None` writes nothing.
    pub out_dir: Option<PathBuf>,
    /// Run pgline with its metrics and span hooks installed, and a
    /// Prometheus recorder and a `tracing` registry (`--observe`: the cost
    /// of observability on) or a recorder and subscriber that do nothing
    /// (`--observe-null`: pgline's own part of it).
    pub observe: Option<Observe>,
}

/// The usage text.
pub const USAGE: &str = "usage: pgline-bench [--quick|--full] [--only NAME]... \
[--drivers pgline,libpq,tokio-postgres] [--rounds N] [--out DIR | --no-write] [--observe | --observe-null]";

impl Options {
    /// Parses the arguments after the program name.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, BenchError> {
        let mut options = Self {
            mode: Mode::Quick,
            only: Vec::new(),
            drivers: Driver::ALL.to_vec(),
            rounds: None,
            out_dir: Some(PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/results"
            ))),
            observe: None,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .ok_or_else(|| BenchError::new(format!("{name} needs a value\n{USAGE}")))
            };
            match arg.as_str() {
                "--quick" => options.mode = Mode::Quick,
                "--full" => options.mode = Mode::Full,
                "--only" => options.only.push(value("--only")?),
                "--drivers" => options.drivers = parse_drivers(&value("--drivers")?)?,
                "--rounds" => {
                    let text = value("--rounds")?;
                    let rounds = text
                        .parse::<usize>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| BenchError::new(format!("bad --rounds {text:?}")))?;
                    options.rounds = Some(rounds);
                }
                "--out" => options.out_dir = Some(PathBuf::from(value("--out")?)),
                "--no-write" => options.out_dir = None,
                "--observe" => options.observe = Some(Observe::Exporters),
                "--observe-null" => options.observe = Some(Observe::Null),
                // Criterion-style flags cargo passes to bench binaries.
                "--bench" => {}
                other => {
                    return Err(BenchError::new(format!(
                        "unknown argument {other:?}\n{USAGE}"
                    )));
                }
            }
        }
        Ok(options)
    }

    /// Whether workload `name` was asked for.
    pub fn wants(&self, name: &str) -> bool {
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|prefix| name.starts_with(prefix.as_str()))
    }

    /// The rounds to run.
    pub fn rounds(&self) -> usize {
        self.rounds.unwrap_or(self.mode.rounds())
    }
}

fn parse_drivers(text: &str) -> Result<Vec<Driver>, BenchError> {
    parse_list("--drivers", text, |name| Driver::from_name(name).ok_or(()))
}

/// The error of a flag given a value it does not take.
pub(crate) fn bad(flag: &str, text: &str) -> BenchError {
    BenchError::new(format!("bad {flag} {text:?}"))
}

/// A comma-separated list given to `flag`: each item (trimmed) read by
/// `item`; an item it refuses, or no item at all, is an error naming the
/// flag.
pub(crate) fn parse_list<T>(
    flag: &str,
    text: &str,
    item: impl Fn(&str) -> Result<T, ()>,
) -> Result<Vec<T>, BenchError> {
    let items = text
        .split(',')
        .map(|part| item(part.trim()).map_err(|()| bad(flag, part)))
        .collect::<Result<Vec<T>, _>>()?;
    if items.is_empty() {
        return Err(bad(flag, text));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, BenchError> {
        Options::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_are_quick_all_drivers_results_folder() {
        let options = parse(&[]).unwrap();
        assert_eq!(options.mode, Mode::Quick);
        assert_eq!(options.drivers, Driver::ALL.to_vec());
        assert_eq!(options.rounds(), 5);
        assert!(options.out_dir.unwrap().ends_with("results"));
        assert!(parse(&[]).unwrap().wants("anything"));
    }

    #[test]
    fn every_flag() {
        let options = parse(&[
            "--full",
            "--only",
            "pipelined",
            "--only",
            "point",
            "--drivers",
            "pgline,libpq",
            "--rounds",
            "4",
            "--no-write",
        ])
        .unwrap();
        assert_eq!(options.mode, Mode::Full);
        assert_eq!(options.drivers, vec![Driver::Pgline, Driver::Libpq]);
        assert_eq!(options.rounds(), 4);
        assert_eq!(options.out_dir, None);
        assert!(options.wants("pipelined_256"));
        assert!(options.wants("point_select"));
        assert!(!options.wants("wide_result"));
    }

    #[test]
    fn observe_picks_the_exporters_or_the_null_pair() {
        assert_eq!(parse(&[]).unwrap().observe, None);
        let exporters = parse(&["--observe"]).unwrap().observe;
        assert_eq!(exporters, Some(Observe::Exporters));
        let null = parse(&["--observe-null"]).unwrap().observe;
        assert_eq!(null, Some(Observe::Null));
    }

    #[test]
    fn a_positional_count_defaults_and_is_at_least_one() {
        assert_eq!(positional_count(None, 9).unwrap(), 9);
        assert_eq!(positional_count(Some("15".into()), 9).unwrap(), 15);
        for bad in ["0", "x", "-1", ""] {
            let err = positional_count(Some(bad.into()), 9).unwrap_err();
            assert!(
                err.to_string().contains("ROUNDS and QUERIES"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        assert!(
            parse(&["--drivers", "jdbc"])
                .unwrap_err()
                .message()
                .contains("jdbc")
        );
        assert!(
            parse(&["--rounds", "0"])
                .unwrap_err()
                .message()
                .contains("--rounds")
        );
        assert!(
            parse(&["--only"])
                .unwrap_err()
                .message()
                .contains("needs a value")
        );
        assert!(parse(&["--fast"]).unwrap_err().message().contains("--fast"));
    }
}
