//! Client CPU time of the bench process, from `getrusage(RUSAGE_SELF)`.
//!
//! Owns: reading user and system time. Must not: measure the server, which
//! runs in other processes (that is why the process's own rusage is client
//! CPU).

use std::time::Duration;

/// CPU time of the process: in its own code (user) and in the kernel on
/// its behalf (system: system calls, and the loopback's TCP work they do).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// User time.
    pub user: Duration,
    /// System time.
    pub system: Duration,
}

impl CpuTime {
    /// User plus system.
    pub fn total(self) -> Duration {
        self.user + self.system
    }

    /// The time from `earlier` to `self`, each part at least zero.
    pub fn since(self, earlier: Self) -> Self {
        Self {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

/// The CPU time this process has used so far, all threads.
pub fn process_cpu_time() -> CpuTime {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is a valid, writable rusage; getrusage only writes it.
    let code = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if code != 0 {
        return CpuTime::default();
    }
    // SAFETY: zero-initialised and filled by a successful getrusage.
    let usage = unsafe { usage.assume_init() };
    CpuTime {
        user: timeval(usage.ru_utime),
        system: timeval(usage.ru_stime),
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u64::try_from(tv.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_counted_and_never_goes_back() {
        let before = process_cpu_time();
        // The kernel charges user time by its timer tick, so a short busy
        // loop can read as none: spin until a tick lands (seconds at most).
        let started = std::time::Instant::now();
        let mut x = 0u64;
        let mut after = process_cpu_time();
        while after.user == before.user && started.elapsed() < Duration::from_secs(10) {
            for i in 0..1_000_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            after = process_cpu_time();
        }
        assert!(after.user > before.user, "{before:?} -> {after:?}");
        assert!(after.system >= before.system, "{before:?} -> {after:?}");
        let spent = after.since(before);
        assert_eq!(spent.total(), spent.user + spent.system);
    }

    #[test]
    fn timeval_converts_seconds_and_micros() {
        let tv = libc::timeval {
            tv_sec: 2,
            tv_usec: 500,
        };
        assert_eq!(timeval(tv), Duration::from_micros(2_000_500));
    }
}
