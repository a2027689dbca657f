//! A replica set left behind by a dying test process, with one node frozen, is still
//! cleaned up: the test binary runs itself as a child that starts a set, freezes a
//! replica and exits without dropping anything. Every postmaster and child process of
//! the set must be gone afterwards, and every folder removed.

mod support;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pgline_testkit::ReplicaSetBuilder;
use support::{eventually, process_alive};

/// Set in the child: the file it reports its process ids to.
const REPORT_ENV: &str = "PGLINE_TESTKIT_RIG_LEAK_REPORT";

/// Every process whose parent is `parent`.
fn children(parent: u32) -> Vec<u32> {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let ppid = s.rsplit_once(") ")?.1.split_whitespace().nth(1)?;
                    ppid.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// The child's side (ignored; without the report variable it does nothing).
#[test]
#[ignore = "entry point of the child process started by the cleanup test"]
fn leaking_rig_child() {
    let Some(report) = std::env::var_os(REPORT_ENV) else {
        return;
    };
    let mut rig = ReplicaSetBuilder::new().replicas(2).start().unwrap();
    let mut pids = Vec::new();
    for node in rig.nodes() {
        let pid = node.pid().unwrap();
        pids.push(pid);
        pids.extend(children(pid));
    }
    rig.freeze(1).unwrap();
    let mut file = fs::File::create(report).unwrap();
    for pid in pids {
        writeln!(file, "{pid}").unwrap();
    }
    file.sync_all().unwrap();
    // Exit without running destructors: the set is never dropped.
    std::process::exit(0);
}

#[test]
fn leaked_set_with_a_frozen_node_is_cleaned_up() {
    let base = tempfile::tempdir().unwrap();
    fs::set_permissions(base.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let servers_dir = base.path().join("servers");
    fs::create_dir(&servers_dir).unwrap();
    fs::set_permissions(&servers_dir, fs::Permissions::from_mode(0o755)).unwrap();
    let report = base.path().join("report");

    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "leaking_rig_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(REPORT_ENV, &report)
        .env("PGLINE_TESTKIT_DIR", &servers_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "child exited with {status}");
    let pids: Vec<u32> = fs::read_to_string(&report)
        .unwrap()
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect();
    // Three postmasters and their children (at least checkpointer, writer, and a WAL
    // sender or receiver each).
    assert!(pids.len() >= 12, "child reported {pids:?}");

    let began = Instant::now();
    let gone = eventually(Duration::from_secs(60), || {
        pids.iter().all(|&pid| !process_alive(pid)) && is_empty(&servers_dir)
    });
    eprintln!("cleanup after exit took {:?}", began.elapsed());
    assert!(
        gone,
        "left behind: alive {:?}, folder empty: {}",
        pids.iter()
            .filter(|&&pid| process_alive(pid))
            .collect::<Vec<_>>(),
        is_empty(&servers_dir)
    );
}

fn is_empty(dir: &Path) -> bool {
    fs::read_dir(dir)
        .map(|mut it| it.next().is_none())
        .unwrap_or(true)
}
