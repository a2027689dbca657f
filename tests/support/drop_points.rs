//! Dropping a future at each of its await points in turn.
//!
//! [`poll_then_drop`] polls a future a given number of times, each poll
//! after the previous one's wake, then drops it. A future that is pending
//! waits for something outside itself (a reply, room in the pipeline, a
//! lock); the wake says that thing happened, so the next poll takes the
//! future one await point further. Dropping after `n` polls therefore
//! drops it at its `n`-th await point; with [`When::AfterWake`] it is
//! dropped once its next step is ready but before it is taken (a reply on
//! the socket or routed to it, not yet read), which is a different state
//! for most await points.
//!
//! Polling is done by hand with a waker of our own, inside the test's
//! task, so the runtime (the connection's driver task, the socket's
//! readiness) makes progress while we wait for the wake.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio::sync::Notify;

/// When, after its last poll, the future is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Right after the poll returned pending.
    AfterPoll,
    /// After the wake that follows that poll (its next step is ready).
    AfterWake,
}

/// Where a future was dropped: after `polls` polls, then as `when` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropPoint {
    pub polls: usize,
    pub when: When,
}

impl std::fmt::Display for DropPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.when {
            When::AfterPoll => write!(f, "dropped after poll {}", self.polls),
            When::AfterWake => write!(f, "dropped after poll {} and its wake", self.polls),
        }
    }
}

/// What happened to the future.
#[derive(Debug)]
pub enum Outcome<T> {
    /// It completed within the polls allowed.
    Completed(T),
    /// It was dropped at the drop point.
    Dropped,
    /// It was not woken within the limit after a poll: it hangs.
    Stuck { after_polls: usize },
}

/// Counts wakes and wakes the test's task.
#[derive(Default)]
struct Wakes {
    count: AtomicUsize,
    notify: Notify,
}

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.count.fetch_add(1, Ordering::SeqCst);
        // Stores a permit when nobody waits yet: a wake during the poll
        // is not lost.
        self.notify.notify_one();
    }
}

/// Polls `future` up to `point.polls` times (each poll but the first after
/// a wake of the previous one), then drops it as `point.when` says. A wake
/// that does not come within `limit` means the future hangs.
pub async fn poll_then_drop<F: Future>(
    future: F,
    point: DropPoint,
    limit: Duration,
) -> Outcome<F::Output> {
    let mut future = pin!(future);
    let wakes = Arc::new(Wakes::default());
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    for poll in 0..point.polls {
        if poll > 0
            && tokio::time::timeout(limit, wakes.notify.notified())
                .await
                .is_err()
        {
            return Outcome::Stuck { after_polls: poll };
        }
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Outcome::Completed(output);
        }
    }
    if point.when == When::AfterWake
        && point.polls > 0
        && tokio::time::timeout(limit, wakes.notify.notified())
            .await
            .is_err()
    {
        return Outcome::Stuck {
            after_polls: point.polls,
        };
    }
    Outcome::Dropped
}

impl<T> Outcome<T> {
    /// The outcome with the output dropped, for callers that only ask
    /// whether the future completed.
    pub fn map_completed(self) -> Outcome<()> {
        match self {
            Self::Completed(_) => Outcome::Completed(()),
            Self::Dropped => Outcome::Dropped,
            Self::Stuck { after_polls } => Outcome::Stuck { after_polls },
        }
    }
}
