//! Newer major versions: a builder asks for PostgreSQL 17 or 18 (fetched by
//! `scripts/fetch-postgres.sh`), gets that version running as the unprivileged account,
//! with TLS, a SCRAM user and the superuser's `psql` (the machine's client, which talks to
//! newer servers too). Skipped, with a printed reason, when a version is not fetched.

mod support;

use pgline_testkit::{AuthMethod, ServerBuilder, pg_major_or_skip, pg_major_version};
use support::owner_uid;

fn starts_major(major: u32, test: &str) {
    let Some(bin_dir) = pg_major_or_skip(major, test) else {
        return;
    };
    assert_eq!(pg_major_version(&bin_dir).unwrap(), major);
    let server = ServerBuilder::new()
        .pg_major(major)
        .auth(AuthMethod::ScramSha256)
        .tls(true)
        .user("app", "app-secret")
        .database("appdb", "app")
        .start()
        .unwrap_or_else(|err| panic!("PostgreSQL {major} starts: {err}"));
    assert_eq!(server.bin_dir(), bin_dir);
    assert_eq!(server.major_version().unwrap(), major);
    let num: u32 = server
        .psql("SHOW server_version_num")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(num / 10_000, major, "server_version_num {num}");
    assert_eq!(
        server
            .psql("SELECT rolname FROM pg_roles WHERE rolname = 'app'; SHOW ssl")
            .unwrap(),
        "app\non"
    );
    if owner_uid(std::path::Path::new("/proc/self")) == 0 {
        let pid = server.pid().unwrap();
        let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
        assert_ne!(owner_uid(&proc_dir), 0, "postmaster must not run as root");
    }
}

#[test]
fn postgresql_17_starts_when_fetched() {
    starts_major(17, "postgresql_17_starts_when_fetched");
}

#[test]
fn postgresql_18_starts_when_fetched() {
    starts_major(18, "postgresql_18_starts_when_fetched");
}

#[test]
fn two_versions_in_one_process_get_their_own_templates() {
    let test = "two_versions_in_one_process_get_their_own_templates";
    let Some(_) = pg_major_or_skip(18, test) else {
        return;
    };
    let default = ServerBuilder::new().start().unwrap();
    let newer = ServerBuilder::new().pg_major(18).start().unwrap();
    let again = ServerBuilder::new().start().unwrap();
    assert_eq!(newer.major_version().unwrap(), 18);
    assert_eq!(
        default.major_version().unwrap(),
        again.major_version().unwrap()
    );
    for server in [&default, &newer, &again] {
        assert_eq!(server.psql("SELECT 1").unwrap(), "1");
    }
}
