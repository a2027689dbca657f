//! The floor bench runs every shape against a real server and every reply
//! carries the value its request sent (the binary checks each one).

use std::process::Command;

/// Runs `floor 1 200 [transport]` and checks that every shape reported.
fn every_shape_runs_over(transport: Option<&str>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_floor"));
    cmd.args(["1", "200"]).args(transport);
    let out = cmd.output().expect("floor runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "floor failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let over = if transport == Some("unix") {
        "over the unix socket"
    } else {
        "over TCP"
    };
    assert!(stdout.starts_with(over), "{over} not said:\n{stdout}");
    for shape in ["blocking", "tokio-raw", "proto", "pgline", "libpq"] {
        assert!(
            stdout.contains(&format!("| {shape} | ")),
            "no summary row for {shape}:\n{stdout}"
        );
    }
}

#[test]
fn every_shape_runs_and_is_reported() {
    every_shape_runs_over(None);
}

#[test]
fn every_shape_runs_over_the_unix_socket() {
    every_shape_runs_over(Some("unix"));
}

#[test]
fn an_unknown_transport_is_refused_before_a_server_starts() {
    let out = Command::new(env!("CARGO_BIN_EXE_floor"))
        .args(["1", "200", "udp"])
        .output()
        .expect("floor runs");
    assert!(!out.status.success(), "udp accepted");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tcp or unix"), "{stderr}");
}

#[test]
fn zero_rounds_or_queries_are_refused_before_a_server_starts() {
    for args in [["0", "200"], ["1", "0"], ["x", "200"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_floor"))
            .args(args)
            .output()
            .expect("floor runs");
        assert!(!out.status.success(), "{args:?} accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("ROUNDS and QUERIES"), "{args:?}: {stderr}");
    }
}

/// A named shape runs alone and reports only itself; an unknown name is
/// refused before a server starts.
#[test]
fn a_named_shape_runs_alone() {
    let out = Command::new(env!("CARGO_BIN_EXE_floor"))
        .args(["1", "200", "tcp", "pgline"])
        .output()
        .expect("floor runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("| pgline | "), "{stdout}");
    for other in ["blocking", "tokio-raw", "proto", "libpq"] {
        assert!(!stdout.contains(other), "{other} ran:\n{stdout}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_floor"))
        .args(["1", "200", "tcp", "odbc"])
        .output()
        .expect("floor runs");
    assert!(!out.status.success(), "odbc accepted");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the shape is one of"), "{stderr}");
}
