//! The results: `latest.md` (tables and targets) and `latest.json`.
//!
//! Owns: [`Report`], the targets check and both renderings. Must not: run
//! workloads.

use serde_json::{Value, json};

use crate::Driver;
use crate::rounds::{DriverRuns, WorkloadResult};
use crate::stats::median;

/// Everything one run of the suite produced.
#[derive(Debug, Clone)]
pub struct Report {
    /// `quick` or `full`.
    pub mode: String,
    /// Alternating rounds per workload.
    pub rounds: usize,
    /// When the run started (UTC).
    pub date: String,
    /// `(what, value)` lines describing the machine.
    pub machine: Vec<(String, String)>,
    /// `(setting, value)` pairs read from the server.
    pub server: Vec<(String, String)>,
    /// Workload results with their one-line descriptions.
    pub workloads: Vec<(WorkloadResult, String)>,
}

/// One of the performance targets, checked against this run.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetCheck {
    /// What the target says.
    pub target: &'static str,
    /// The measured figure, as text.
    pub measured: String,
    /// Met, not met, or not measurable in this run.
    pub met: Option<bool>,
}

impl Report {
    /// The workload called `name`.
    pub fn workload(&self, name: &str) -> Option<&WorkloadResult> {
        self.workloads
            .iter()
            .map(|(w, _)| w)
            .find(|w| w.name == name)
    }

    /// The targets from DESIGN.md checked against this run.
    pub fn targets(&self) -> Vec<TargetCheck> {
        let ratio = |name: &str, peer: Driver, cpu: bool| {
            self.workload(name).and_then(|w| {
                let paired = w.vs.get(&peer)?;
                if cpu {
                    paired.cpu_median()
                } else {
                    paired.throughput_median()
                }
            })
        };
        let pgline = |name: &str, f: fn(&WorkloadResult, Driver) -> Option<f64>| {
            self.workload(name).and_then(|w| f(w, Driver::Pgline))
        };
        let at_least = |value: Option<f64>, bound: f64| value.map(|v| v >= bound);
        let at_most = |value: Option<f64>, bound: f64| value.map(|v| v <= bound);
        let times =
            |v: Option<f64>| v.map_or_else(|| "not measured".to_owned(), |v| format!("{v:.2}×"));
        let point_tput = ratio("point_select", Driver::Libpq, false);
        let point_cpu = ratio("point_select", Driver::Libpq, true);
        let unix_tput = ratio("point_select_unix", Driver::Libpq, false);
        let unix_cpu = ratio("point_select_unix", Driver::Libpq, true);
        let pipe_tput = ratio("pipelined_256", Driver::TokioPostgres, false);
        let pipe_cpu = pgline("pipelined_256", WorkloadResult::median_cpu_us);
        let batch_tput = ratio("batch_1000", Driver::Libpq, false);
        let batch_cpu = ratio("batch_1000", Driver::Libpq, true);
        let wide_tput = ratio("wide_result", Driver::TokioPostgres, false);
        let wide_cpu = ratio("wide_result", Driver::TokioPostgres, true);
        let allocs = pgline("point_select", WorkloadResult::median_allocations);
        // Against every peer: the lowest of the within-round throughput
        // medians, the highest of the CPU ones.
        let vs_peers = |name: &str, cpu: bool| {
            let ratios: Vec<f64> = [Driver::Libpq, Driver::TokioPostgres]
                .into_iter()
                .filter_map(|peer| ratio(name, peer, cpu))
                .collect();
            let pick = if cpu { f64::max } else { f64::min };
            ratios.into_iter().reduce(pick)
        };
        let trailing: [(&str, &'static str, &'static str); 4] = [
            (
                "simple_stream",
                "simple_stream rows/s ≥ 1.0× every peer",
                "simple_stream client CPU/row ≤ every peer",
            ),
            (
                "copy_out_text",
                "copy_out_text rows/s ≥ 1.0× every peer",
                "copy_out_text client CPU/row ≤ every peer",
            ),
            (
                "copy_out_binary",
                "copy_out_binary rows/s ≥ 1.0× every peer",
                "copy_out_binary client CPU/row ≤ every peer",
            ),
            (
                "batch_1000_sync_each",
                "batch_1000_sync_each throughput ≥ 1.0× every peer",
                "batch_1000_sync_each client CPU/query ≤ every peer",
            ),
        ];
        let mut peer_checks = Vec::new();
        for (name, tput_target, cpu_target) in trailing {
            let tput = vs_peers(name, false);
            let cpu = vs_peers(name, true);
            peer_checks.push(TargetCheck {
                target: tput_target,
                measured: times(tput),
                met: at_least(tput, 1.0),
            });
            peer_checks.push(TargetCheck {
                target: cpu_target,
                measured: times(cpu),
                met: at_most(cpu, 1.0),
            });
        }
        let mut checks = vec![
            TargetCheck {
                target: "point_select throughput ≥ 1.0× libpq",
                measured: times(point_tput),
                met: at_least(point_tput, 1.0),
            },
            TargetCheck {
                target: "point_select client CPU/query ≤ 0.95× libpq",
                measured: times(point_cpu),
                met: at_most(point_cpu, 0.95),
            },
            TargetCheck {
                target: "point_select_unix throughput ≥ 1.0× libpq",
                measured: times(unix_tput),
                met: at_least(unix_tput, 1.0),
            },
            TargetCheck {
                target: "point_select_unix client CPU/query ≤ 1.0× libpq",
                measured: times(unix_cpu),
                met: at_most(unix_cpu, 1.0),
            },
            TargetCheck {
                target: "pipelined_256 throughput ≥ 1.2× tokio-postgres",
                measured: times(pipe_tput),
                met: at_least(pipe_tput, 1.2),
            },
            TargetCheck {
                target: "pipelined_256 client CPU/query ≤ 3 µs",
                measured: pipe_cpu.map_or_else(|| "not measured".into(), |v| format!("{v:.2} µs")),
                met: at_most(pipe_cpu, 3.0),
            },
            TargetCheck {
                target: "batch_1000 throughput ≥ 1.0× libpq pipeline mode",
                measured: times(batch_tput),
                met: at_least(batch_tput, 1.0),
            },
            TargetCheck {
                target: "batch_1000 client CPU/query ≤ libpq",
                measured: times(batch_cpu),
                met: at_most(batch_cpu, 1.0),
            },
            TargetCheck {
                target: "wide_result rows/s ≥ 1.0× tokio-postgres query_raw",
                measured: times(wide_tput),
                met: at_least(wide_tput, 1.0),
            },
            TargetCheck {
                target: "wide_result client CPU/row ≤ tokio-postgres",
                measured: times(wide_cpu),
                met: at_most(wide_cpu, 1.0),
            },
        ];
        checks.extend(peer_checks);
        checks.push(TargetCheck {
            target: "0 heap allocations per cached point_select",
            measured: allocs.map_or_else(|| "not measured".into(), |v| format!("{v:.2}/query")),
            met: allocs.map(|v| v < 0.01),
        });
        checks
    }

    /// The Markdown report.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, text: &str| {
            out.push_str(text);
            out.push('\n');
        };
        line(
            &mut out,
            &format!("# pgline benchmarks ({} mode)\n", self.mode),
        );
        line(
            &mut out,
            &format!(
                "Run {}; {} alternating rounds per workload (driver order rotates each round); medians over rounds; ratios are medians of within-round ratios, with their range.\n",
                self.date, self.rounds
            ),
        );
        line(&mut out, "## Machine\n");
        for (what, value) in &self.machine {
            line(&mut out, &format!("- {what}: {value}"));
        }
        line(&mut out, "\n## Server\n");
        line(
            &mut out,
            "One throwaway server started by pgline-testkit for the whole run (SCRAM-SHA-256, TLS available; every driver uses TCP on 127.0.0.1 except in `point_select_unix`, which uses the server's unix socket). Settings read back from `pg_settings`:\n",
        );
        for (name, value) in &self.server {
            line(&mut out, &format!("- `{name}` = `{value}`"));
        }
        line(&mut out, "\n## Throughput (ops/s, higher is better)\n");
        line(
            &mut out,
            "| workload | op | pgline | libpq | tokio-postgres | pgline ÷ libpq | pgline ÷ tokio-postgres |",
        );
        line(&mut out, "|---|---|---:|---:|---:|---:|---:|");
        for (w, _) in &self.workloads {
            line(
                &mut out,
                &format!(
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    w.name,
                    w.unit,
                    cell(
                        w,
                        Driver::Pgline,
                        WorkloadResult::median_throughput,
                        fmt_rate
                    ),
                    cell(
                        w,
                        Driver::Libpq,
                        WorkloadResult::median_throughput,
                        fmt_rate
                    ),
                    cell(
                        w,
                        Driver::TokioPostgres,
                        WorkloadResult::median_throughput,
                        fmt_rate
                    ),
                    ratio_cell(w.vs.get(&Driver::Libpq).map(|p| p.throughput.as_slice())),
                    ratio_cell(
                        w.vs.get(&Driver::TokioPostgres)
                            .map(|p| p.throughput.as_slice())
                    ),
                ),
            );
        }
        line(
            &mut out,
            "\n## Client CPU (µs per op, user + sys of the bench process) and heap allocations per op\n",
        );
        line(
            &mut out,
            "| workload | CPU pgline | CPU libpq | CPU tokio-postgres | CPU pgline ÷ libpq | CPU pgline ÷ tokio-postgres | allocs pgline | allocs libpq | allocs tokio-postgres | bytes pgline |",
        );
        line(
            &mut out,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        );
        for (w, _) in &self.workloads {
            line(
                &mut out,
                &format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    w.name,
                    cell(w, Driver::Pgline, WorkloadResult::median_cpu_us, fmt_small),
                    cell(w, Driver::Libpq, WorkloadResult::median_cpu_us, fmt_small),
                    cell(
                        w,
                        Driver::TokioPostgres,
                        WorkloadResult::median_cpu_us,
                        fmt_small
                    ),
                    ratio_cell(w.vs.get(&Driver::Libpq).map(|p| p.cpu.as_slice())),
                    ratio_cell(w.vs.get(&Driver::TokioPostgres).map(|p| p.cpu.as_slice())),
                    cell(
                        w,
                        Driver::Pgline,
                        WorkloadResult::median_allocations,
                        fmt_small
                    ),
                    cell(
                        w,
                        Driver::Libpq,
                        WorkloadResult::median_allocations,
                        fmt_small
                    ),
                    cell(
                        w,
                        Driver::TokioPostgres,
                        WorkloadResult::median_allocations,
                        fmt_small
                    ),
                    cell(w, Driver::Pgline, WorkloadResult::median_bytes, fmt_rate),
                ),
            );
        }
        line(
            &mut out,
            "\nlibpq allocates through C `malloc`, which the counting allocator does not see: its allocation column counts only the Rust harness around it.\n",
        );
        line(
            &mut out,
            "## Client CPU split (µs per op: user / sys, medians)\n\nUser is the driver's own code (and the runtime's); sys is the kernel's work for its system calls, which on loopback includes the TCP work of both directions. The kernel divides a process's CPU time between the two by sampling at its timer tick, so a part that lasts only a few ticks in a run can show as 0.00.\n",
        );
        line(&mut out, "| workload | pgline | libpq | tokio-postgres |");
        line(&mut out, "|---|---:|---:|---:|");
        for (w, _) in &self.workloads {
            let split =
                |driver| match (w.median_cpu_user_us(driver), w.median_cpu_system_us(driver)) {
                    (Some(user), Some(system)) => {
                        format!("{} / {}", fmt_small(user), fmt_small(system))
                    }
                    _ => "–".to_owned(),
                };
            line(
                &mut out,
                &format!(
                    "| {} | {} | {} | {} |",
                    w.name,
                    split(Driver::Pgline),
                    split(Driver::Libpq),
                    split(Driver::TokioPostgres)
                ),
            );
        }
        line(&mut out, "");
        line(&mut out, "## Targets (DESIGN.md)\n");
        line(&mut out, "| target | measured | met |");
        line(&mut out, "|---|---:|---|");
        for t in self.targets() {
            let met = match t.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "n/a",
            };
            line(
                &mut out,
                &format!("| {} | {} | {met} |", t.target, t.measured),
            );
        }
        line(&mut out, "\n## Workloads\n");
        for (w, about) in &self.workloads {
            line(&mut out, &format!("- `{}`: {about}", w.name));
            for (driver, runs) in &w.drivers {
                match runs {
                    DriverRuns::NotAvailable(why) => {
                        line(
                            &mut out,
                            &format!("  - {}: not available ({why})", driver.name()),
                        );
                    }
                    DriverRuns::Failed(err) => {
                        line(&mut out, &format!("  - {}: FAILED: {err}", driver.name()));
                    }
                    DriverRuns::Measured(_) => {}
                }
            }
        }
        out
    }

    /// The JSON report.
    pub fn json(&self) -> Value {
        let pairs = |list: &[(String, String)]| {
            Value::Object(
                list.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        };
        let workloads: Vec<Value> = self
            .workloads
            .iter()
            .map(|(w, about)| workload_json(w, about))
            .collect();
        let targets: Vec<Value> = self
            .targets()
            .into_iter()
            .map(|t| json!({"target": t.target, "measured": t.measured, "met": t.met}))
            .collect();
        json!({
            "mode": self.mode,
            "rounds": self.rounds,
            "date": self.date,
            "machine": pairs(&self.machine),
            "server": pairs(&self.server),
            "workloads": workloads,
            "targets": targets,
        })
    }
}

fn workload_json(w: &WorkloadResult, about: &str) -> Value {
    let mut drivers = serde_json::Map::new();
    for (driver, runs) in &w.drivers {
        let value = match runs {
            DriverRuns::NotAvailable(why) => json!({"status": "not_available", "reason": why}),
            DriverRuns::Failed(err) => json!({"status": "failed", "error": err}),
            DriverRuns::Measured(samples) => json!({
                "status": "measured",
                "median_ops_per_s": w.median_throughput(*driver),
                "median_cpu_us_per_op": w.median_cpu_us(*driver),
                "median_cpu_user_us_per_op": w.median_cpu_user_us(*driver),
                "median_cpu_system_us_per_op": w.median_cpu_system_us(*driver),
                "median_allocations_per_op": w.median_allocations(*driver),
                "median_bytes_per_op": w.median_bytes(*driver),
                "rounds": samples.iter().map(|s| json!({
                    "ops": s.ops,
                    "wall_s": s.wall.as_secs_f64(),
                    "cpu_s": s.cpu.as_secs_f64(),
                    "cpu_user_s": s.cpu_user.as_secs_f64(),
                    "allocations": s.allocations,
                    "bytes": s.bytes,
                })).collect::<Vec<_>>(),
            }),
        };
        drivers.insert(driver.name().to_owned(), value);
    }
    let mut ratios = serde_json::Map::new();
    for (peer, paired) in &w.vs {
        ratios.insert(
            format!("pgline/{}", peer.name()),
            json!({
                "throughput_median": paired.throughput_median(),
                "throughput_rounds": paired.throughput,
                "cpu_median": paired.cpu_median(),
                "cpu_rounds": paired.cpu,
            }),
        );
    }
    json!({
        "name": w.name,
        "unit": w.unit,
        "about": about,
        "drivers": drivers,
        "ratios": ratios,
    })
}

fn cell(
    w: &WorkloadResult,
    driver: Driver,
    f: fn(&WorkloadResult, Driver) -> Option<f64>,
    fmt: fn(f64) -> String,
) -> String {
    match w.drivers.get(&driver) {
        None => "–".into(),
        Some(DriverRuns::NotAvailable(_)) => "n/a".into(),
        Some(DriverRuns::Failed(_)) => "failed".into(),
        Some(DriverRuns::Measured(_)) => f(w, driver).map_or_else(|| "–".into(), fmt),
    }
}

fn ratio_cell(rounds: Option<&[f64]>) -> String {
    let Some(rounds) = rounds.filter(|r| !r.is_empty()) else {
        return "–".into();
    };
    let lo = rounds.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = rounds.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    match median(rounds) {
        Some(m) => format!("{m:.2} ({lo:.2}–{hi:.2})"),
        None => "–".into(),
    }
}

/// A rate with thousands separators, no decimals.
pub fn fmt_rate(value: f64) -> String {
    let whole = value.round().max(0.0) as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A small figure with two decimals (three significant digits below 1).
pub fn fmt_small(value: f64) -> String {
    if value != 0.0 && value.abs() < 0.1 {
        format!("{value:.3}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::measure::Sample;
    use crate::rounds::PairedRatios;

    fn sample(ops: u64, wall_ms: u64, cpu_ms: u64, allocations: u64) -> Sample {
        Sample {
            ops,
            wall: Duration::from_millis(wall_ms),
            cpu: Duration::from_millis(cpu_ms),
            cpu_user: Duration::from_millis(cpu_ms) / 2,
            allocations,
            bytes: allocations * 8,
        }
    }

    fn point_select() -> WorkloadResult {
        let mut drivers = BTreeMap::new();
        drivers.insert(
            Driver::Pgline,
            DriverRuns::Measured(vec![sample(1000, 50, 5, 0)]),
        );
        drivers.insert(
            Driver::Libpq,
            DriverRuns::Measured(vec![sample(1000, 55, 6, 2000)]),
        );
        drivers.insert(Driver::TokioPostgres, DriverRuns::Failed("refused".into()));
        let mut vs = BTreeMap::new();
        vs.insert(
            Driver::Libpq,
            PairedRatios {
                throughput: vec![1.1, 0.9, 1.0],
                cpu: vec![0.8, 0.9, 0.85],
            },
        );
        vs.insert(Driver::TokioPostgres, PairedRatios::default());
        WorkloadResult {
            name: "point_select".into(),
            unit: "query",
            drivers,
            vs,
        }
    }

    fn report() -> Report {
        Report {
            mode: "quick".into(),
            rounds: 3,
            date: "2026-11-26T15:00:00Z".into(),
            machine: vec![("cpus".into(), "2".into())],
            server: vec![("fsync".into(), "off".into())],
            workloads: vec![(point_select(), "sequential".into())],
        }
    }

    #[test]
    fn rates_get_thousands_separators() {
        assert_eq!(fmt_rate(1234567.4), "1,234,567");
        assert_eq!(fmt_rate(999.0), "999");
        assert_eq!(fmt_rate(1000.0), "1,000");
        assert_eq!(fmt_small(0.0), "0.00");
        assert_eq!(fmt_small(0.0123), "0.012");
        assert_eq!(fmt_small(12.345), "12.35");
    }

    #[test]
    fn ratio_cell_shows_median_and_range() {
        assert_eq!(ratio_cell(Some(&[1.1, 0.9, 1.0])), "1.00 (0.90–1.10)");
        assert_eq!(ratio_cell(Some(&[])), "–");
        assert_eq!(ratio_cell(None), "–");
    }

    #[test]
    fn targets_use_within_round_medians() {
        let targets = report().targets();
        assert_eq!(targets[0].target, "point_select throughput ≥ 1.0× libpq");
        assert_eq!(targets[0].measured, "1.00×");
        assert_eq!(targets[0].met, Some(true));
        assert_eq!(targets[1].measured, "0.85×");
        assert_eq!(targets[1].met, Some(true));
        // Nothing measured for pipelined or batch in this report.
        assert_eq!(targets[2].met, None);
        assert_eq!(targets[4].measured, "not measured");
        let allocs = targets.last().unwrap();
        assert_eq!(allocs.measured, "0.00/query");
        assert_eq!(allocs.met, Some(true));
    }

    #[test]
    fn markdown_has_rows_failures_and_settings() {
        let md = report().markdown();
        assert!(
            md.contains(
                "| point_select | query | 20,000 | 18,182 | failed | 1.00 (0.90–1.10) | – |"
            ),
            "{md}"
        );
        assert!(md.contains("| point_select | 5.00 | 6.00 | failed | 0.85 (0.80–0.90) | – | 0.00 | 2.00 | failed | 0 |"), "{md}");
        assert!(
            md.contains("| point_select | 2.50 / 2.50 | 3.00 / 3.00 | – |"),
            "{md}"
        );
        assert!(md.contains("tokio-postgres: FAILED: refused"));
        assert!(md.contains("- `fsync` = `off`"));
    }

    #[test]
    fn json_carries_rounds_and_ratios() {
        let json = report().json();
        let w = &json["workloads"][0];
        assert_eq!(w["name"], "point_select");
        assert_eq!(w["drivers"]["pgline"]["median_ops_per_s"], 20000.0);
        assert_eq!(w["drivers"]["pgline"]["rounds"][0]["ops"], 1000);
        assert_eq!(w["drivers"]["pgline"]["median_cpu_user_us_per_op"], 2.5);
        assert_eq!(w["drivers"]["pgline"]["median_cpu_system_us_per_op"], 2.5);
        assert_eq!(w["drivers"]["tokio-postgres"]["status"], "failed");
        assert_eq!(w["ratios"]["pgline/libpq"]["throughput_median"], 1.0);
        assert_eq!(json["server"]["fsync"], "off");
        assert_eq!(json["targets"][0]["met"], true);
    }
}
