//! The stall watch: one thread that finds replies stuck under a raised
//! receive low-water mark.
//!
//! Owns the list of connections whose mark is raised (see `low_water.rs`)
//! and the thread that looks at them every [`TICK`]: a connection that read
//! nothing since the previous look is marked stalled, and its driver task
//! is woken to lower the mark. The thread starts on first use, is shared by
//! every connection of the process, and parks while the list is empty. It
//! needs no timer from the runtime, so it works on any tokio runtime.
//!
//! Must not: touch sockets (the driver task lowers its own mark).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::Waker;
use std::thread::Thread;
use std::time::Duration;

use crate::conn::engine::shared::Counters;

/// How often the thread looks: a reply stuck under a mark waits one to two
/// ticks.
pub(crate) const TICK: Duration = Duration::from_millis(1);

/// One connection with a raised mark, as the watch sees it.
#[derive(Debug)]
pub(crate) struct Watched {
    /// The connection's counters: the watch looks at its socket reads.
    counters: Arc<Counters>,
    /// Set by the watch: nothing was read for a whole tick.
    stalled: AtomicBool,
    /// Set by the driver: the mark is down, stop watching.
    released: AtomicBool,
    /// The driver task.
    task: Waker,
}

impl Watched {
    /// A connection about to raise its mark.
    pub(crate) fn new(task: Waker, counters: Arc<Counters>) -> Self {
        Self {
            counters,
            stalled: AtomicBool::new(false),
            released: AtomicBool::new(false),
            task,
        }
    }

    /// Driver side: whether the watch found the connection stalled.
    pub(crate) fn is_stalled(&self) -> bool {
        self.stalled.load(Ordering::Relaxed)
    }

    /// Driver side: the mark is down; the watch drops this entry.
    pub(crate) fn release(&self) {
        self.released.store(true, Ordering::Relaxed);
    }
}

struct Entry {
    watched: Arc<Watched>,
    /// The read count at the previous look (none yet: just registered).
    seen: Option<u64>,
}

struct Watch {
    list: Mutex<Vec<Entry>>,
    thread: Thread,
}

static WATCH: OnceLock<Option<Watch>> = OnceLock::new();

/// Starts watching `watched`. Returns false when the watch's thread could
/// not be started: the caller must then leave its mark down.
pub(crate) fn watch(watched: Arc<Watched>) -> bool {
    let Some(watch) = WATCH.get_or_init(start) else {
        return false;
    };
    lock(&watch.list).push(Entry {
        watched,
        seen: None,
    });
    watch.thread.unpark();
    true
}

fn start() -> Option<Watch> {
    let spawned = std::thread::Builder::new()
        .name("pgline-stall-watch".into())
        .spawn(run);
    match spawned {
        Ok(handle) => Some(Watch {
            list: Mutex::new(Vec::new()),
            thread: handle.thread().clone(),
        }),
        Err(e) => {
            tracing::debug!(error = %e, "the stall watch could not start; low-water marks stay off");
            None
        }
    }
}

fn run() {
    // The thread starts inside `get_or_init`: wait until the watch is set.
    let watch = loop {
        match WATCH.get() {
            Some(Some(watch)) => break watch,
            Some(None) => return,
            None => std::thread::park_timeout(TICK),
        }
    };
    loop {
        if look(&mut lock(&watch.list)) {
            std::thread::park();
        } else {
            std::thread::sleep(TICK);
        }
    }
}

/// One look at every watched connection. Returns whether the list is empty.
fn look(list: &mut Vec<Entry>) -> bool {
    list.retain(|e| {
        !e.watched.released.load(Ordering::Relaxed) && Arc::strong_count(&e.watched) > 1
    });
    for entry in list.iter_mut() {
        let reads = entry.watched.counters.socket_reads.load(Ordering::Relaxed);
        if entry.seen == Some(reads) && !entry.watched.stalled.swap(true, Ordering::Relaxed) {
            entry.watched.task.wake_by_ref();
        }
        entry.seen = Some(reads);
    }
    list.is_empty()
}

fn lock(list: &Mutex<Vec<Entry>>) -> MutexGuard<'_, Vec<Entry>> {
    list.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::engine::wake_count::WakeCount;

    fn entry() -> (Arc<WakeCount>, Arc<Watched>, Entry) {
        let (count, waker) = WakeCount::waker();
        let watched = Arc::new(Watched::new(waker, Arc::default()));
        let entry = Entry {
            watched: watched.clone(),
            seen: None,
        };
        (count, watched, entry)
    }

    #[test]
    fn a_connection_that_reads_between_looks_is_left_alone() {
        let (count, watched, entry) = entry();
        let mut list = vec![entry];
        assert!(!look(&mut list));
        for reads in 1..5 {
            watched
                .counters
                .socket_reads
                .store(reads, Ordering::Relaxed);
            assert!(!look(&mut list));
        }
        assert!(!watched.is_stalled());
        assert_eq!(count.get(), 0);
    }

    #[test]
    fn a_connection_that_read_nothing_for_a_whole_look_is_woken_once() {
        let (count, watched, entry) = entry();
        let mut list = vec![entry];
        // The first look only notes the count: a stall spans a whole tick.
        look(&mut list);
        assert!(!watched.is_stalled());
        look(&mut list);
        assert!(watched.is_stalled());
        look(&mut list);
        assert_eq!(count.get(), 1, "woken once per stall");
    }

    #[test]
    fn released_and_dropped_connections_leave_the_list() {
        let (count, released, first) = entry();
        let (_, dropped, second) = entry();
        let mut list = vec![first, second];
        released.release();
        drop(dropped);
        assert!(look(&mut list), "both entries left");
        assert_eq!(count.get(), 0);
    }
}
