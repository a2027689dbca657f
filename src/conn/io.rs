//! Who drives a connection's socket: the driver task, or the caller waiting
//! for a reply.
//!
//! Owns the [`Driver`] behind a lock shared by the driver task and the
//! callers, and the connection's I/O waker, the one waker the socket's
//! readiness is ever registered with. When the socket becomes readable the
//! I/O waker wakes the caller waiting for a reply (if one registered) and
//! then the task. The caller, polled first, reads and routes the reply
//! itself, so a sequential round trip costs one wait in the kernel and no
//! hop through the task (the hop costs a scheduler turn and, for a caller
//! that is a runtime's `block_on` future, one more `epoll_wait`).
//!
//! The task is woken on every readiness event all the same: a caller may
//! stop listening at any point, and the task then reads what it left. A
//! caller's turn reads and routes ([`Driver::drive_read`]) and, on an idle
//! connection, writes the request it just queued
//! ([`Driver::write_if_idle`]); the task alone gathers requests under load,
//! closes and ends the connection.

use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::task::{Context, Poll, Wake, Waker};

use super::driver::Driver;

/// The driver, shared by the task and waiting callers.
pub(crate) struct Io {
    driver: Mutex<Option<Driver>>,
    targets: Arc<Targets>,
    /// `targets` as a waker: the socket's readiness waker.
    waker: Waker,
}

impl std::fmt::Debug for Io {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Io").finish_non_exhaustive()
    }
}

/// Whom a readiness event wakes.
#[derive(Default)]
struct Targets {
    wakers: Mutex<Wakers>,
}

#[derive(Default)]
struct Wakers {
    task: Option<Waker>,
    /// The caller waiting for a reply, by its slot's address; woken once.
    caller: Option<(usize, Waker)>,
    /// A caller read the socket until it had nothing more, and no
    /// readiness event has come since (an arrival clears this): the
    /// readiness is registered, and reading again would only find nothing.
    /// With a caller registered, the task can leave reading to it: the next
    /// arrival wakes that caller first.
    dry: bool,
}

impl Targets {
    fn lock(&self) -> MutexGuard<'_, Wakers> {
        self.wakers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Wake for Targets {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut w = self.lock();
        let caller = w.caller.take();
        w.dry = false;
        let task = w.task.clone();
        drop(w);
        // The caller first: a current-thread runtime then polls it before
        // the task, and it finds its reply on the socket.
        if let Some((_, caller)) = caller {
            caller.wake();
        }
        if let Some(task) = task {
            task.wake();
        }
    }
}

impl Io {
    pub(crate) fn new(driver: Driver) -> Arc<Self> {
        let targets = Arc::new(Targets::default());
        Arc::new(Self {
            driver: Mutex::new(Some(driver)),
            waker: Waker::from(targets.clone()),
            targets,
        })
    }

    /// The driver task: runs turns until the connection ends, then ends it.
    pub(crate) async fn run(self: Arc<Self>) {
        let exit = poll_fn(|cx| {
            let caller_reads = {
                let mut w = self.targets.lock();
                if !w.task.as_ref().is_some_and(|t| t.will_wake(cx.waker())) {
                    w.task = Some(cx.waker().clone());
                }
                w.caller.is_some() && w.dry
            };
            let mut guard = self.lock();
            let Some(driver) = guard.as_mut() else {
                return Poll::Ready(None);
            };
            let mut io = Context::from_waker(&self.waker);
            driver
                .poll_step(&mut io, cx.waker(), caller_reads)
                .map(Some)
        })
        .await;
        let driver = self.lock().take();
        if let (Some(driver), Some(exit)) = (driver, exit) {
            driver.finish(exit);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Driver>> {
        self.driver.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A caller whose reply has not arrived: registers it to be woken when
    /// the socket is readable and, unless someone else is driving right now,
    /// reads and routes what has arrived.
    pub(crate) fn drive(&self, id: usize, waker: &Waker) {
        {
            let mut w = self.targets.lock();
            match &w.caller {
                Some((current, c)) if *current == id && c.will_wake(waker) => {}
                _ => w.caller = Some((id, waker.clone())),
            }
            if w.dry {
                // Nothing has arrived since the socket was read dry: this
                // caller, now registered, is woken by the next arrival.
                return;
            }
        }
        let mut guard = match self.driver.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            // Someone is reading now; what they route for this caller wakes
            // it through its slot.
            Err(TryLockError::WouldBlock) => return,
        };
        let Some(driver) = guard.as_mut() else {
            return;
        };
        let mut io = Context::from_waker(&self.waker);
        if driver.drive_read(&mut io) {
            let mut w = self.targets.lock();
            // Unless an arrival already took this caller off (a wake
            // during the read): then what arrived is still to be read.
            w.dry = w.caller.as_ref().is_some_and(|(current, _)| *current == id);
        }
    }

    /// A caller that has just queued a request: on an idle connection it
    /// writes the request itself (see [`Driver::write_if_idle`]).
    pub(crate) fn write_if_idle(&self) {
        let Ok(mut guard) = self.driver.try_lock() else {
            return;
        };
        if let Some(driver) = guard.as_mut() {
            let mut io = Context::from_waker(&self.waker);
            driver.write_if_idle(&mut io);
        }
    }

    /// The caller `id` has what it waited for: readiness no longer wakes it.
    pub(crate) fn release(&self, id: usize) {
        let mut w = self.targets.lock();
        if w.caller.as_ref().is_some_and(|(current, _)| *current == id) {
            w.caller = None;
        }
    }
}
