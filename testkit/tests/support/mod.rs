//! Helpers shared by the testkit's integration tests: logging in with the real `psql`
//! over TCP and checking that processes are gone.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::time::{Duration, Instant};

use pgline_testkit::Server;

/// Runs `SELECT current_user` through `psql` over TCP with `conninfo` (a libpq string),
/// `PGPASSWORD` when given, and `sslmode`. Ok: the printed user; Err: psql's stderr.
pub fn login(
    server: &Server,
    conninfo: &str,
    password: Option<&str>,
    sslmode: &str,
) -> Result<String, String> {
    let mut cmd = server.client_command("psql");
    cmd.args([
        "-X",
        "-A",
        "-t",
        "-w",
        "-c",
        "SELECT current_user",
        "-d",
        conninfo,
    ])
    .env("PGSSLMODE", sslmode);
    if let Some(password) = password {
        cmd.env("PGPASSWORD", password);
    }
    let out = cmd.output().expect("psql runs");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A libpq string for `user` on `database` at the server's TCP address.
pub fn tcp(server: &Server, user: &str, database: &str) -> String {
    format!(
        "host={} port={} user='{}' dbname='{}'",
        server.host(),
        server.port(),
        user,
        database
    )
}

/// True while process `pid` exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next());
            state != Some('Z')
        }
        Err(_) => false,
    }
}

/// Polls `done` every 50 ms until it holds or `limit` passes; returns whether it held.
pub fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

/// The uid owning `path`.
pub fn owner_uid(path: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).expect("path exists").uid()
}
