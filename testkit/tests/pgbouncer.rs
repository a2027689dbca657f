//! A real PgBouncer in front of a throwaway server: `psql` logs in through it with
//! SCRAM (from the auth file), a wrong password is refused, transaction pooling keeps the
//! server side to the pool size, and nothing is left behind when it is dropped or when
//! the test process exits without dropping it. Skipped with a printed reason when
//! `pgbouncer` is not installed.

mod support;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use pgline_testkit::{AuthMethod, PgBouncerBuilder, PoolMode, ServerBuilder};
use support::{eventually, login, owner_uid, process_alive};

const REPORT_ENV: &str = "PGLINE_TESTKIT_BOUNCER_REPORT";

fn available(test: &str) -> bool {
    match pgline_testkit::pgbouncer_binary() {
        Ok(_) => true,
        Err(err) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: {}",
                err.to_string().replace('\n', " ")
            );
            false
        }
    }
}

#[test]
fn logs_in_through_pgbouncer_and_cleans_up() {
    if !available("logs_in_through_pgbouncer_and_cleans_up") {
        return;
    }
    let server = ServerBuilder::new()
        .auth(AuthMethod::ScramSha256)
        .user("app", "app-secret")
        .start()
        .unwrap();
    let bouncer = PgBouncerBuilder::new(&server)
        .pool_mode(PoolMode::Transaction)
        .pool_size(1)
        .user("app", "app-secret")
        .start()
        .unwrap_or_else(|err| panic!("pgbouncer starts: {err}"));
    assert_ne!(bouncer.port(), server.port());
    assert_eq!(bouncer.pool_mode(), PoolMode::Transaction);
    let conninfo = bouncer.key_value("app", None, "postgres");
    assert_eq!(
        login(&server, &conninfo, Some("app-secret"), "disable").unwrap(),
        "app"
    );
    let refused = login(&server, &conninfo, Some("wrong"), "disable").unwrap_err();
    assert!(refused.contains("authentication failed"), "{refused}");
    for _ in 0..3 {
        login(&server, &conninfo, Some("app-secret"), "disable").unwrap();
    }
    let backends = server
        .psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'")
        .unwrap();
    assert_eq!(backends, "1", "pool of 1 server connection");

    let pid = bouncer.pid().unwrap();
    if owner_uid(std::path::Path::new("/proc/self")) == 0 {
        let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
        assert_ne!(owner_uid(&proc_dir), 0, "pgbouncer must not run as root");
    }
    let log = bouncer.log_tail(50);
    drop(bouncer);
    assert!(
        !process_alive(pid),
        "pgbouncer gone after drop; log:\n{log}"
    );
    // The server behind it is untouched.
    assert_eq!(server.psql("SELECT 1").unwrap(), "1");
}

/// The child's side of `leaked_pgbouncer_is_stopped_after_exit`.
#[test]
#[ignore = "entry point of the child process started by the cleanup test"]
fn leaking_bouncer_child() {
    let Some(report) = std::env::var_os(REPORT_ENV) else {
        return;
    };
    let server = ServerBuilder::new().user("app", "x").start().unwrap();
    let bouncer = PgBouncerBuilder::new(&server)
        .user("app", "x")
        .start()
        .unwrap();
    fs::write(
        report,
        format!("{}\n{}\n", bouncer.pid().unwrap(), server.pid().unwrap()),
    )
    .unwrap();
    // Exit without running destructors.
    std::process::exit(0);
}

#[test]
fn leaked_pgbouncer_is_stopped_after_exit() {
    if !available("leaked_pgbouncer_is_stopped_after_exit") {
        return;
    }
    let base = tempfile::tempdir().unwrap();
    fs::set_permissions(base.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let dir = base.path().join("servers");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let report = base.path().join("report");
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "leaking_bouncer_child",
            "--ignored",
            "--test-threads=1",
        ])
        .env(REPORT_ENV, &report)
        .env("PGLINE_TESTKIT_DIR", &dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "child exited with {status}");
    let pids: Vec<u32> = fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    let gone = eventually(Duration::from_secs(60), || {
        pids.iter().all(|&pid| !process_alive(pid))
            && fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0) == 0
    });
    assert!(
        gone,
        "left behind: pids {pids:?} alive, folders in {}",
        dir.display()
    );
}
