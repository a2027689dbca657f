//! The open-loop latency workload: starts the benchmark server, runs every
//! shape at every offered rate in alternating rounds and prints the
//! percentile tables (see `pgline_benches::latency`).

use std::process::ExitCode;

use pgline_benches::alloc::CountingAllocator;
use pgline_benches::latency::cli::Options;
use pgline_benches::latency::{markdown, run_rounds};
use pgline_benches::{BenchEnv, BenchError};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("latency: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, BenchError> {
    let options = Options::parse(std::env::args().skip(1))?;
    eprintln!(
        "starting the benchmark server ({} mode)",
        options.mode.name()
    );
    let env = BenchEnv::start(options.mode)?;
    let rounds = run_rounds(&env, &options.plan);
    let text = markdown(&options.plan, &rounds);
    println!("{text}");
    if let Some(path) = &options.out {
        std::fs::write(path, &text)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(rounds.failures.is_empty())
}
