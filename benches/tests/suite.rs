//! Every workload runs for every driver against a real throwaway server and
//! gives a measured sample; the report built from them names every workload
//! and splits each sample's client CPU into user and system time.

use pgline_benches::report::Report;
use pgline_benches::rounds::{DriverRuns, run_rounds};
use pgline_benches::{BenchEnv, Driver, Mode, workloads};

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
        assert_eq!(result.drivers.len(), Driver::ALL.len(), "{}", workload.name);
        for (driver, runs) in &result.drivers {
            let what = format!("{} / {}", workload.name, driver.name());
            match runs {
                DriverRuns::Measured(samples) => {
                    assert_eq!(samples.len(), 1, "{what}");
                    assert!(samples[0].ops > 0, "{what}");
                    assert!(samples[0].cpu_user <= samples[0].cpu, "{what}");
                }
                // libpq has no pool and no typed COPY rows; everything else
                // runs everywhere.
                DriverRuns::NotAvailable(why) => assert!(
                    *driver == Driver::Libpq
                        && (workload.name.starts_with("pool_")
                            || workload.name.ends_with("_typed")),
                    "{what} not available: {why}"
                ),
                DriverRuns::Failed(err) => panic!("{what} failed: {err}"),
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
        let rows = markdown
            .lines()
            .filter(|l| l.starts_with(&format!("| {} |", workload.name)))
            .count();
        // Throughput, CPU and allocations, CPU split.
        assert_eq!(rows, 3, "{}", workload.name);
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
