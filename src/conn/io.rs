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
//!
//! Nobody waits for the driver's lock: a caller that finds it taken leaves
//! the work to whoever holds it, and a task turn that finds a caller
//! holding it is run again when that caller lets go (on a multi-thread
//! runtime the task would otherwise sleep on the lock on another thread).

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::task::{Context, Poll, Wake, Waker};

use super::driver::Driver;

/// The driver, shared by the task and waiting callers.
pub(crate) struct Io {
    driver: Mutex<Option<Driver>>,
    targets: Arc<Targets>,
    /// `targets` as a waker: the socket's readiness waker.
    waker: Waker,
    /// The driver task found a caller holding the driver and left its turn
    /// to when that caller lets go (the caller then wakes it), instead of
    /// waiting for the lock on its own thread.
    task_deferred: AtomicBool,
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
            task_deferred: AtomicBool::new(false),
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
            let Some(mut guard) = self.lock_for_task() else {
                return Poll::Pending;
            };
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

    /// The driver for the task's turn, or none when a caller holds it: on a
    /// multi-thread runtime the task, woken by the caller's own request,
    /// would otherwise sleep on the lock while that caller writes or reads,
    /// and be woken again when it lets go (a futex wait and wake per query).
    /// The caller wakes the task when it lets go instead ([`Io::after_let_go`]).
    fn lock_for_task(&self) -> Option<MutexGuard<'_, Option<Driver>>> {
        match self.driver.try_lock() {
            Ok(guard) => return Some(guard),
            Err(TryLockError::Poisoned(e)) => return Some(e.into_inner()),
            Err(TryLockError::WouldBlock) => {}
        }
        self.task_deferred.store(true, Ordering::Relaxed);
        // Pairs with the fence in `after_let_go`: either the caller sees the flag
        // after unlocking, or this second attempt sees the lock free.
        fence(Ordering::SeqCst);
        let guard = match self.driver.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        // The caller let go in between: this turn runs now, and the wake it
        // may still give would only add a turn.
        self.task_deferred.store(false, Ordering::Relaxed);
        Some(guard)
    }

    /// A caller released the driver: wakes the task if it left its turn to
    /// this moment.
    #[inline]
    fn after_let_go(&self) {
        fence(Ordering::SeqCst);
        if self.task_deferred.load(Ordering::Relaxed) {
            self.wake_deferred_task();
        }
    }

    #[cold]
    fn wake_deferred_task(&self) {
        if self.task_deferred.swap(false, Ordering::AcqRel) {
            let task = self.targets.lock().task.clone();
            if let Some(task) = task {
                task.wake();
            }
        }
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
        drop(guard);
        self.after_let_go();
    }

    /// A caller that has just queued a request: on an idle connection it
    /// writes the request itself (see [`Driver::write_if_idle`]). Returns
    /// whether it did; if not, the caller wakes the driver task to.
    pub(crate) fn write_if_idle(&self) -> bool {
        let Ok(mut guard) = self.driver.try_lock() else {
            return false;
        };
        let written = guard.as_mut().is_some_and(|driver| {
            let mut io = Context::from_waker(&self.waker);
            driver.write_if_idle(&mut io)
        });
        drop(guard);
        self.after_let_go();
        written
    }

    /// The caller `id` has what it waited for: readiness no longer wakes it.
    pub(crate) fn release(&self, id: usize) {
        let mut w = self.targets.lock();
        if w.caller.as_ref().is_some_and(|(current, _)| *current == id) {
            w.caller = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::driver::loopback_driver;
    use crate::conn::wake_count::WakeCount;

    /// On a multi-thread runtime the task's turn can come while a caller
    /// holds the driver (writing its request, reading its reply). The turn
    /// does not wait for the lock: it is left to the caller, who wakes the
    /// task when it lets go.
    #[tokio::test]
    async fn a_task_turn_that_finds_a_caller_driving_runs_when_it_lets_go() {
        let (driver, _peer) = loopback_driver().await;
        let io = Io::new(driver);
        let (task, waker) = WakeCount::waker();
        io.targets.lock().task = Some(waker);

        let caller = io.driver.try_lock().unwrap();
        assert!(io.lock_for_task().is_none(), "the task waited for the lock");
        drop(caller);
        io.after_let_go();
        assert_eq!(task.get(), 1, "the caller did not wake the task");
        // Once only: a later caller letting go has nothing to hand over.
        io.after_let_go();
        assert_eq!(task.get(), 1);
        // With nobody driving, the task's turn takes the driver at once.
        assert!(io.lock_for_task().is_some());
        io.after_let_go();
        assert_eq!(task.get(), 1);
    }
}
