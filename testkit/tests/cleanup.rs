//! Nothing is left behind when the test process dies without dropping its servers:
//! the current test binary is run again as a child that starts servers (a dedicated one
//! and [`shared`]) and then exits without dropping them, or is killed by SIGKILL. The
//! watchdogs must stop the postmasters and remove every folder.

mod support;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use pgline_testkit::{ServerBuilder, shared};
use support::{eventually, process_alive};

/// Set in the child: the file it reports to.
const REPORT_ENV: &str = "PGLINE_TESTKIT_LEAK_REPORT";
/// Set in the child: how it ends (`exit` or `hang` to be killed).
const ENDING_ENV: &str = "PGLINE_TESTKIT_LEAK_ENDING";

/// The child's side, run only by `run_child` (ignored otherwise; without the report
/// variable it does nothing, so `--include-ignored` runs stay safe).
#[test]
#[ignore = "entry point of the child process started by the cleanup tests"]
fn leaking_child() {
    let Some(report) = std::env::var_os(REPORT_ENV) else {
        return;
    };
    let server = ServerBuilder::new().start().unwrap();
    let shared = shared();
    let mut file = fs::File::create(report).unwrap();
    for s in [&server, shared] {
        writeln!(file, "{}", s.pid().unwrap()).unwrap();
    }
    file.sync_all().unwrap();
    drop(file);
    if std::env::var(ENDING_ENV).as_deref() == Ok("hang") {
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    // Exit without running destructors: `server` and `shared` are never dropped.
    std::process::exit(0);
}

fn run_child(ending: &str) {
    let base = tempfile::tempdir().unwrap();
    // The server account must be able to enter the folder.
    fs::set_permissions(base.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let servers_dir = base.path().join("servers");
    fs::create_dir(&servers_dir).unwrap();
    fs::set_permissions(&servers_dir, fs::Permissions::from_mode(0o755)).unwrap();
    let report = base.path().join("report");

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "leaking_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(REPORT_ENV, &report)
        .env(ENDING_ENV, ending)
        .env("PGLINE_TESTKIT_DIR", &servers_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();

    let pids = if ending == "hang" {
        assert!(
            eventually(Duration::from_secs(120), || read_pids(&report).len() == 2),
            "child reported its servers"
        );
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success());
        read_pids(&report)
    } else {
        let status = child.wait().unwrap();
        assert!(status.success(), "child exited with {status}");
        read_pids(&report)
    };
    assert_eq!(pids.len(), 2, "child reported both servers");

    let gone = eventually(Duration::from_secs(60), || {
        pids.iter().all(|&pid| !process_alive(pid)) && entries(&servers_dir).is_empty()
    });
    assert!(
        gone,
        "left behind: alive {:?}, folders {:?}",
        pids.iter()
            .filter(|&&pid| process_alive(pid))
            .collect::<Vec<_>>(),
        entries(&servers_dir)
    );
}

fn read_pids(report: &Path) -> Vec<u32> {
    fs::read_to_string(report)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect()
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .map(|it| it.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn leaked_servers_are_cleaned_up_after_exit() {
    run_child("exit");
}

#[test]
fn leaked_servers_are_cleaned_up_after_sigkill() {
    run_child("hang");
}
