//! Every workload runs for every driver against a real throwaway server, and
//! gives a measured sample (or "not available" where pgline lacks the
//! feature); the report built from them names every workload.

use pgline_benches::report::Report;
use pgline_benches::rounds::{DriverRuns, run_rounds};
use pgline_benches::{BenchEnv, Driver, Mode, workloads};

const NOT_IN_PGLINE_YET: [&str; 5] = [
    "batch_1000",
    "copy_in_text",
    "copy_in_binary",
    "copy_out_text",
    "copy_out_binary",
];

#[test]
fn every_workload_runs_once_per_driver() {
    let env = BenchEnv::start(Mode::Quick).expect("start the benchmark server");
    let settings = env.server_settings().expect("read settings");
    assert!(
        settings.iter().any(|(k, v)| k == "fsync" && v == "off"),
        "{settings:?}"
    );
    assert!(
        settings
            .iter()
            .any(|(k, v)| k == "password_encryption" && v == "scram-sha-256")
    );

    let mut results = Vec::new();
    for workload in workloads::all() {
        let result = run_rounds(&workload.name, workload.unit, &Driver::ALL, 1, |driver| {
            workload.run(driver, &env)
        });
        for (driver, runs) in &result.drivers {
            match runs {
                DriverRuns::Measured(samples) => {
                    assert_eq!(samples.len(), 1, "{} / {}", workload.name, driver.name());
                    assert!(samples[0].ops > 0);
                    assert!(
                        !(*driver == Driver::Pgline
                            && NOT_IN_PGLINE_YET.contains(&workload.name.as_str()))
                    );
                }
                DriverRuns::NotAvailable(_) => {
                    assert_eq!(*driver, Driver::Pgline, "{}", workload.name);
                    assert!(
                        NOT_IN_PGLINE_YET.contains(&workload.name.as_str()),
                        "{}",
                        workload.name
                    );
                }
                DriverRuns::Failed(err) => {
                    panic!("{} / {} failed: {err}", workload.name, driver.name())
                }
            }
        }
        results.push((result, workload.about));
    }

    let report = Report {
        mode: "quick".into(),
        rounds: 1,
        date: "test".into(),
        machine: Vec::new(),
        server: settings,
        workloads: results,
    };
    let markdown = report.markdown();
    for workload in workloads::all() {
        assert!(
            markdown.contains(&format!("| {} |", workload.name)),
            "{}",
            workload.name
        );
    }
    let json = report.json();
    assert_eq!(
        json["workloads"].as_array().map(Vec::len),
        Some(workloads::all().len())
    );
    assert_eq!(
        json["workloads"][0]["drivers"]["libpq"]["status"],
        "measured"
    );
}
