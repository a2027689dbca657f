//! Handing the driver task's turn to the caller that holds the driver.
//!
//! Owns [`TurnHandoff`]. On a multi-thread runtime the task's turn can come
//! while a caller holds the driver's lock (writing its request, reading its
//! reply). Sleeping on the lock would cost the task's thread a futex wait
//! and a wake per query, so the task leaves its turn to that caller, who
//! wakes the task when it lets go.
//!
//! The invariant: a turn left this way is never lost. The task sets a flag
//! and then tries the lock a second time; the caller unlocks and then reads
//! the flag; a SeqCst fence on each side between the two steps means either
//! the caller sees the flag or the task's second try finds the lock free.
//! `model.rs` checks every interleaving of this under Shuttle.

use crate::conn::engine::sync::{AtomicBool, Mutex, MutexGuard, Ordering, TryLockError, fence};

/// Whether the task left its turn to a caller; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct TurnHandoff {
    task_deferred: AtomicBool,
}

impl TurnHandoff {
    /// A hand-off with no turn left over.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The task's turn: the guard of `lock`, or `None` when a caller holds
    /// it, in which case that caller's [`TurnHandoff::let_go`] answers
    /// `true` (the task must have registered its waker before calling this).
    pub(crate) fn task_lock<'a, T>(&self, lock: &'a Mutex<T>) -> Option<MutexGuard<'a, T>> {
        match lock.try_lock() {
            Ok(guard) => return Some(guard),
            Err(TryLockError::Poisoned(e)) => return Some(e.into_inner()),
            Err(TryLockError::WouldBlock) => {}
        }
        self.task_deferred.store(true, Ordering::Relaxed);
        // Pairs with the fence in `let_go`: either the caller sees the flag
        // after unlocking, or this second attempt sees the lock free.
        fence(Ordering::SeqCst);
        let guard = match lock.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        // The caller let go in between: this turn runs now, and the wake it
        // may still give would only add a turn.
        self.task_deferred.store(false, Ordering::Relaxed);
        Some(guard)
    }

    /// A caller has just released the lock: whether the task left its turn
    /// to this moment, so that the caller must wake it. Answers `true` once
    /// per turn left.
    #[inline]
    pub(crate) fn let_go(&self) -> bool {
        fence(Ordering::SeqCst);
        self.task_deferred.load(Ordering::Relaxed) && self.take_deferred()
    }

    #[cold]
    fn take_deferred(&self) -> bool {
        self.task_deferred.swap(false, Ordering::AcqRel)
    }
}
