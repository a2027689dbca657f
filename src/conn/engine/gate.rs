//! The bound on a connection's requests in flight.
//!
//! Owns [`Gate`], a counter of free places with a wait list for when there
//! are none. Taking and returning a place is one atomic operation each when
//! nobody waits (the common case: the bound is 1,024 requests), where a
//! semaphore also takes its wait list's lock on every return. Waiters are
//! woken one per returned place; a closed gate turns every waiter and every
//! later caller away.

use crate::conn::engine::sync::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// A bounded number of places; see the module docs.
#[derive(Debug)]
pub(crate) struct Gate {
    free: AtomicUsize,
    waiting: AtomicUsize,
    closed: AtomicBool,
    notify: Notify,
}

/// A place taken from a [`Gate`]; dropping it gives the place back.
#[derive(Debug)]
pub(crate) struct Pass {
    gate: Arc<Gate>,
}

/// The gate was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GateClosed;

/// Counts a waiter for as long as it waits, cancellation included.
pub(crate) struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    /// Counts one more waiter in `count` until dropped.
    pub(crate) fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Gate {
    /// A gate with `places` places.
    pub(crate) fn new(places: usize) -> Arc<Self> {
        Arc::new(Self {
            free: AtomicUsize::new(places),
            waiting: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            notify: Notify::new(),
        })
    }

    fn try_take(&self) -> bool {
        let mut free = self.free.load(Ordering::SeqCst);
        while free > 0 {
            match self.free.compare_exchange_weak(
                free,
                free - 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return true,
                Err(now) => free = now,
            }
        }
        false
    }

    /// Takes a place, waiting for one while there is none.
    pub(crate) async fn enter(self: &Arc<Self>) -> Result<Pass, GateClosed> {
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return Err(GateClosed);
            }
            if self.try_take() {
                return Ok(Pass { gate: self.clone() });
            }
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Registered before the count goes up, so a place returned after
            // the check below wakes this waiter.
            notified.as_mut().enable();
            let _waiting = Waiting::enter(&self.waiting);
            if self.free.load(Ordering::SeqCst) == 0 && !self.closed.load(Ordering::SeqCst) {
                notified.await;
            }
        }
    }

    fn give_back(&self) {
        self.free.fetch_add(1, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.notify.notify_one();
        }
    }

    /// Turns away every waiter and every later caller.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        self.gate.give_back();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn now<F: std::future::Future>(future: F) -> Option<F::Output> {
        let mut future = std::pin::pin!(future);
        let waker = std::task::Waker::noop();
        match future
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker))
        {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        }
    }

    #[test]
    fn places_are_taken_and_given_back() {
        let gate = Gate::new(2);
        let a = now(gate.enter()).expect("free").expect("open");
        let _b = now(gate.enter()).expect("free").expect("open");
        assert!(now(gate.enter()).is_none(), "a third caller must wait");
        drop(a);
        assert!(
            now(gate.enter()).is_some(),
            "a returned place is free again"
        );
    }

    /// A task waiting to enter `gate` (and leaving at once).
    fn waiter(gate: &Arc<Gate>) -> tokio::task::JoinHandle<Result<(), GateClosed>> {
        let gate = gate.clone();
        tokio::spawn(async move { gate.enter().await.map(drop) })
    }

    /// What `task` came to, which must be within 5 s (`why` says why).
    async fn outcome(
        task: tokio::task::JoinHandle<Result<(), GateClosed>>,
        why: &str,
    ) -> Result<(), GateClosed> {
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect(why)
            .expect("task ran")
    }

    /// Lets spawned waiters run up to their wait.
    async fn settle() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    /// A gate of one place, held, and a task waiting for it.
    async fn held_with_a_waiter() -> (
        Arc<Gate>,
        Pass,
        tokio::task::JoinHandle<Result<(), GateClosed>>,
    ) {
        let gate = Gate::new(1);
        let held = gate.enter().await.expect("open");
        let waiting = waiter(&gate);
        settle().await;
        (gate, held, waiting)
    }

    #[tokio::test]
    async fn a_returned_place_wakes_a_waiter() {
        let (_gate, held, waiting) = held_with_a_waiter().await;
        assert!(!waiting.is_finished(), "no place: the waiter waits");
        drop(held);
        assert_eq!(
            outcome(waiting, "woken by the returned place").await,
            Ok(())
        );
    }

    #[tokio::test]
    async fn closing_turns_waiters_and_later_callers_away() {
        let (gate, _held, waiting) = held_with_a_waiter().await;
        gate.close();
        assert_eq!(outcome(waiting, "woken by close").await, Err(GateClosed));
        assert_eq!(
            now(gate.enter()).map(|r| r.map(drop)),
            Some(Err(GateClosed))
        );
    }

    #[tokio::test]
    async fn a_cancelled_waiter_passes_its_wake_on() {
        let gate = Gate::new(1);
        let held = gate.enter().await.expect("open");
        let first = waiter(&gate);
        let second = waiter(&gate);
        settle().await;
        // The place goes to the first waiter, which is cancelled before it
        // runs: its wake must reach the second.
        drop(held);
        first.abort();
        assert_eq!(
            outcome(second, "the place reaches the waiter still there").await,
            Ok(())
        );
        assert_eq!(gate.waiting.load(Ordering::SeqCst), 0);
    }
}
