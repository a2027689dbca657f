//! The floor bench runs every shape against a real server and every reply
//! carries the value its request sent (the binary checks each one).

use std::process::Command;

#[test]
fn every_shape_runs_and_is_reported() {
    let out = Command::new(env!("CARGO_BIN_EXE_floor"))
        .args(["1", "200"])
        .output()
        .expect("floor runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "floor failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    for shape in ["blocking", "tokio-raw", "pgline", "libpq"] {
        assert!(
            stdout.contains(&format!("| {shape} | ")),
            "no summary row for {shape}:\n{stdout}"
        );
    }
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
