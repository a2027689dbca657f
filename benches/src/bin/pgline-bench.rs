//! The bench suite's entry point: starts the server, runs every workload in
//! alternating rounds, prints the table and writes `latest.md` and
//! `latest.json`.

use std::process::ExitCode;

use pgline_benches::alloc::CountingAllocator;
use pgline_benches::cli::Options;
use pgline_benches::report::Report;
use pgline_benches::rounds::run_rounds;
use pgline_benches::{BenchEnv, BenchError, machine, workloads};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pgline-bench: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), BenchError> {
    let options = Options::parse(std::env::args().skip(1))?;
    if let Some(what) = options.observe {
        pgline_benches::observed::enable(what);
    }
    let date = utc_now();
    let machine = machine::describe();
    eprintln!(
        "starting the benchmark server ({} mode)",
        options.mode.name()
    );
    let env = BenchEnv::start(options.mode)?;
    let server = env.server_settings()?;
    let mut results = Vec::new();
    for workload in workloads::all() {
        if !options.wants(&workload.name) {
            continue;
        }
        eprintln!("{}: {} rounds", workload.name, options.rounds());
        let result = run_rounds(
            &workload.name,
            workload.unit,
            &options.drivers,
            options.rounds(),
            |driver| workload.run(driver, &env),
        );
        results.push((result, workload.about.clone()));
    }
    let report = Report {
        mode: options.mode.name().to_owned(),
        rounds: options.rounds(),
        date,
        machine,
        server,
        workloads: results,
    };
    let markdown = report.markdown();
    println!("{markdown}");
    if let Some(dir) = &options.out_dir {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("latest.md"), &markdown)?;
        let json = serde_json::to_string_pretty(&report.json())
            .map_err(|e| BenchError::new(format!("JSON: {e}")))?;
        std::fs::write(dir.join("latest.json"), json + "\n")?;
        eprintln!("wrote {}/latest.md and latest.json", dir.display());
    }
    Ok(())
}

fn utc_now() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown date".to_owned())
}
