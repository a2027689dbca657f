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
