//! A description of the machine the benchmarks ran on, for the report.
//!
//! Owns: reading CPU model, core count, memory, kernel and load from `/proc`,
//! and the pgline commit from git. Must not: fail; a missing fact reads
//! "unknown".

use std::process::Command;

/// `(what, value)` lines describing this machine and the code measured.
pub fn describe() -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    vec![
        (
            "cpu".into(),
            field(&cpuinfo, "model name").unwrap_or_else(unknown),
        ),
        ("cores".into(), cores.to_string()),
        (
            "memory".into(),
            field(&meminfo, "MemTotal").unwrap_or_else(unknown),
        ),
        ("kernel".into(), read_trimmed("/proc/sys/kernel/osrelease")),
        (
            "load average at start".into(),
            read_trimmed("/proc/loadavg"),
        ),
        ("pgline commit".into(), git_commit()),
    ]
}

fn unknown() -> String {
    "unknown".into()
}

/// The value after `key:` on the first line starting with `key`.
pub fn field(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find(|line| line.starts_with(key))
        .and_then(|line| line.split_once(':'))
        .map(|(_, value)| value.trim().to_owned())
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path).map_or_else(|_| unknown(), |s| s.trim().to_owned())
}

fn git_commit() -> String {
    Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short",
            "HEAD",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(unknown, |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_owned()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_reads_proc_style_lines() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC\nMemTotal:       24 kB\n";
        assert_eq!(field(text, "model name").as_deref(), Some("AMD EPYC"));
        assert_eq!(field(text, "MemTotal").as_deref(), Some("24 kB"));
        assert_eq!(field(text, "flags"), None);
    }
}
