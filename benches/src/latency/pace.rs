//! Precise pacing for the open-loop workload: a clock in nanoseconds and a
//! pacer thread that releases each request at its scheduled time.
//!
//! Owns: [`mono_ns`], [`sleep_until_ns`] and [`spawn_pacer`], the only
//! `unsafe` of the latency workload (`clock_gettime`, `clock_nanosleep`,
//! `prctl`). Must not: know drivers. tokio's timer rounds to milliseconds,
//! coarser than one round trip here, so the schedule is kept by a thread of
//! its own sleeping on an absolute `CLOCK_MONOTONIC` deadline with a timer
//! slack of 1 ns (what a `timerfd` would give), then spinning the few
//! microseconds the wake-up may still be early.

use std::thread::JoinHandle;

/// One request of the schedule: its number (1-based) and when it was due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// 1-based position in the schedule; the query's parameter.
    pub seq: u64,
    /// Scheduled send time on [`mono_ns`]'s clock; latency is measured from
    /// here, so a request that waited for a free task counts that wait.
    /// 0 in a closed loop, where there is no schedule.
    pub due_ns: u64,
}

impl Ticket {
    /// Where this request's latency starts, read as the task takes it: the
    /// due time of a scheduled request, or now in a closed loop (the task
    /// sends it at once).
    pub fn measured_from(&self) -> u64 {
        if self.due_ns == 0 {
            mono_ns()
        } else {
            self.due_ns
        }
    }
}

/// The rate that stands for a closed loop: every request is handed out at
/// once and each task sends its next as soon as its last reply is in.
pub const CLOSED: f64 = f64::INFINITY;

/// Whether `rate` is [`CLOSED`].
pub fn is_closed(rate: f64) -> bool {
    rate == CLOSED
}

/// `CLOCK_MONOTONIC` in nanoseconds (the clock `Instant` reads on Linux).
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes it.
    let code = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if code != 0 {
        return 0;
    }
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}

/// Sleeps until [`mono_ns`] reads at least `deadline_ns`: an absolute
/// `clock_nanosleep`, then a spin over whatever is left (an interrupted or
/// early wake-up).
pub fn sleep_until_ns(deadline_ns: u64) {
    let ts = libc::timespec {
        tv_sec: (deadline_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (deadline_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: `ts` is a valid timespec read by the call; the remainder
    // pointer may be null with TIMER_ABSTIME.
    unsafe {
        libc::clock_nanosleep(
            libc::CLOCK_MONOTONIC,
            libc::TIMER_ABSTIME,
            &ts,
            std::ptr::null_mut(),
        );
    }
    while mono_ns() < deadline_ns {
        std::hint::spin_loop();
    }
}

/// When request `seq` (1-based) of a schedule at `rate` per second starting
/// at `start_ns` is due.
pub fn due_ns(start_ns: u64, rate: f64, seq: u64) -> u64 {
    start_ns + ((seq - 1) as f64 * 1e9 / rate) as u64
}

/// Starts a thread that hands `count` tickets to `send`, each at its due
/// time on a schedule of `rate` per second starting at `start_ns` (all at
/// once, unscheduled, when `rate` is [`CLOSED`]), and stops early when
/// `send` returns false. Dropping what `send` holds when the
/// thread ends tells the consumers the schedule is over.
pub fn spawn_pacer(
    start_ns: u64,
    rate: f64,
    count: u64,
    mut send: impl FnMut(Ticket) -> bool + Send + 'static,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        // SAFETY: PR_SET_TIMERSLACK takes one unsigned long and changes only
        // this thread's timer slack (50 µs by default) to 1 ns.
        unsafe {
            libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
        }
        for seq in 1..=count {
            if is_closed(rate) {
                if !send(Ticket { seq, due_ns: 0 }) {
                    break;
                }
                continue;
            }
            let due = due_ns(start_ns, rate, seq);
            if mono_ns() < due {
                sleep_until_ns(due);
            }
            if !send(Ticket { seq, due_ns: due }) {
                break;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_evenly_spaced() {
        assert_eq!(due_ns(1_000, 1_000.0, 1), 1_000);
        assert_eq!(due_ns(1_000, 1_000.0, 2), 1_001_000);
        assert_eq!(due_ns(0, 4_000.0, 5), 1_000_000);
    }

    #[test]
    fn sleep_reaches_the_deadline() {
        let deadline = mono_ns() + 200_000;
        sleep_until_ns(deadline);
        assert!(mono_ns() >= deadline);
    }

    #[test]
    fn a_closed_loop_hands_out_every_ticket_unscheduled() {
        let (tx, rx) = std::sync::mpsc::channel();
        spawn_pacer(mono_ns(), CLOSED, 100, move |t| tx.send(t).is_ok())
            .join()
            .unwrap();
        let got: Vec<Ticket> = rx.iter().collect();
        assert_eq!(got.len(), 100);
        assert!(
            got.iter()
                .enumerate()
                .all(|(i, t)| t.seq == i as u64 + 1 && t.due_ns == 0)
        );
        let before = mono_ns();
        assert!(got[0].measured_from() >= before);
        let scheduled = Ticket { seq: 1, due_ns: 5 };
        assert_eq!(scheduled.measured_from(), 5);
    }

    #[test]
    fn pacer_sends_every_ticket_in_order_never_early() {
        let (tx, rx) = std::sync::mpsc::channel();
        let start = mono_ns() + 1_000_000;
        spawn_pacer(start, 20_000.0, 50, move |t| {
            tx.send((t, mono_ns())).is_ok()
        })
        .join()
        .unwrap();
        let got: Vec<(Ticket, u64)> = rx.iter().collect();
        assert_eq!(got.len(), 50);
        for (i, (ticket, sent_at)) in got.iter().enumerate() {
            assert_eq!(ticket.seq, i as u64 + 1);
            assert_eq!(ticket.due_ns, due_ns(start, 20_000.0, ticket.seq));
            assert!(*sent_at >= ticket.due_ns);
        }
    }
}
