//! Who drives a connection's socket: the driver task, or the caller waiting
//! for a reply.
//!
//! Owns the [`Driver`] behind a lock shared by the driver task and the
//! callers, and the connection's I/O waker, the one waker the socket's
//! readiness is ever registered with. When the socket becomes readable the
//! I/O waker wakes the caller waiting for a reply (if one registered) and
//! then, unless that caller alone will do (below), the task. The caller,
//! polled first, reads and routes the reply itself, so a sequential round
//! trip costs one wait in the kernel and no hop through the task (the hop
//! costs a scheduler turn and, for a caller that is a runtime's `block_on`
//! future, one more `epoll_wait`).
//!
//! When that caller last read the socket until it had nothing more, found
//! nothing else for the task to do and nobody else waiting on the
//! connection ([`Driver::only_the_caller_waits`]: nothing to write, flush
//! or hand over, no COPY, no failure, at most its own request outstanding,
//! no notification stream taken), and the task has left that unchanged,
//! the next readiness event wakes the caller alone: on a sequential
//! connection the task is then not woken at all. The task is owed that
//! event until a caller reads the socket dry again in the same state; a
//! caller that stops listening first (its reply routed by someone else, its
//! future dropped) or finds the driver taken wakes the task on the way out.
//! A caller woken alone and then neither polled nor dropped holds up only
//! itself: any other request, close or listener wakes the task as before.
//!
//! A caller's turn reads and routes ([`Driver::drive_read`]) and, on an
//! idle connection, writes the request it just queued
//! ([`Driver::write_if_idle`]); the task alone gathers requests under load,
//! closes and ends the connection.
//!
//! Nobody waits for the driver's lock: a caller that finds it taken leaves
//! the work to whoever holds it, and a task turn that finds a caller
//! holding it is run again when that caller lets go (on a multi-thread
//! runtime the task would otherwise sleep on the lock on another thread).

use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use crate::conn::engine::driver::Driver;
use crate::conn::engine::handoff::TurnHandoff;
use crate::conn::engine::sync::{self, TryLockError};

/// The driver, shared by the task and waiting callers.
pub(crate) struct Io {
    driver: sync::Mutex<Option<Driver>>,
    targets: Arc<Targets>,
    /// `targets` as a waker: the socket's readiness waker.
    waker: Waker,
    /// Whether the driver task found a caller holding the driver and left
    /// its turn to when that caller lets go (the caller then wakes it),
    /// instead of waiting for the lock on its own thread.
    handoff: TurnHandoff,
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

/// What the last caller to read the socket left there.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// Something may wait to be read (an arrival since, or nobody read
    /// until the socket had nothing more).
    #[default]
    Unread,
    /// A caller read the socket until it had nothing more, and no readiness
    /// event has come since: the readiness is registered, and reading again
    /// would only find nothing. With a caller registered, the task can leave
    /// reading to it: the next arrival wakes that caller first.
    Dry,
    /// As `Dry`, and then only that caller waited on the connection and the
    /// task had nothing to do, and no task turn has changed that since. The
    /// next arrival wakes the registered caller alone (on a sequential
    /// connection that is the next query's caller, which finds the socket
    /// dry and does not read it again).
    DryCallerAlone,
}

#[derive(Default)]
struct Wakers {
    task: Option<Waker>,
    /// The caller waiting for a reply, by its slot's address; woken once.
    caller: Option<(usize, Waker)>,
    read: Read,
    /// An arrival woke the caller alone: the task is woken unless a caller
    /// reads the socket dry again with the task idle.
    task_owed: bool,
}

impl Wakers {
    /// The task's waker, if an arrival woke a caller alone and nobody has
    /// read the socket dry since: waking it settles that.
    fn take_owed(&mut self) -> Option<Waker> {
        if std::mem::take(&mut self.task_owed) {
            self.task.clone()
        } else {
            None
        }
    }
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
        let caller_alone = caller.is_some() && w.read == Read::DryCallerAlone;
        w.read = Read::Unread;
        w.task_owed = caller_alone;
        let task = if caller_alone { None } else { w.task.clone() };
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
            driver: sync::Mutex::new(Some(driver)),
            waker: Waker::from(targets.clone()),
            targets,
            handoff: TurnHandoff::new(),
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
                // This turn takes any arrival the caller was woken for
                // alone.
                w.task_owed = false;
                w.caller.is_some() && w.read != Read::Unread
            };
            let Some(mut guard) = self.lock_for_task() else {
                return Poll::Pending;
            };
            let Some(driver) = guard.as_mut() else {
                return Poll::Ready(None);
            };
            let mut io = Context::from_waker(&self.waker);
            let step = driver.poll_step(&mut io, cx.waker(), caller_reads);
            if !driver.only_the_caller_waits() {
                // The turn left work of its own (bytes to flush, replies
                // held back): the next arrival wakes the task too.
                let mut w = self.targets.lock();
                if w.read == Read::DryCallerAlone {
                    w.read = Read::Dry;
                }
            }
            step.map(Some)
        })
        .await;
        let driver = self.lock().take();
        if let (Some(driver), Some(exit)) = (driver, exit) {
            driver.finish(exit);
        }
    }

    fn lock(&self) -> sync::MutexGuard<'_, Option<Driver>> {
        self.driver.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The driver for the task's turn, or none when a caller holds it: on a
    /// multi-thread runtime the task, woken by the caller's own request,
    /// would otherwise sleep on the lock while that caller writes or reads,
    /// and be woken again when it lets go (a futex wait and wake per query).
    /// The caller wakes the task when it lets go instead ([`Io::after_let_go`]).
    fn lock_for_task(&self) -> Option<sync::MutexGuard<'_, Option<Driver>>> {
        self.handoff.task_lock(&self.driver)
    }

    /// A caller released the driver: wakes the task if it left its turn to
    /// this moment.
    #[inline]
    fn after_let_go(&self) {
        if self.handoff.let_go() {
            self.wake_deferred_task();
        }
    }

    #[cold]
    fn wake_deferred_task(&self) {
        let task = self.targets.lock().task.clone();
        if let Some(task) = task {
            task.wake();
        }
    }

    /// A caller whose reply has not arrived: registers it to be woken when
    /// the socket is readable and, unless someone else is driving right now,
    /// reads and routes what has arrived. `answered` says, after that
    /// routing, whether the caller's request has had its last reply: the
    /// caller then needs no more wakes and is taken off here (as
    /// [`Io::release`] would), which this returns.
    pub(crate) fn drive(&self, id: usize, waker: &Waker, answered: impl FnOnce() -> bool) -> bool {
        {
            let mut w = self.targets.lock();
            match &w.caller {
                Some((current, c)) if *current == id && c.will_wake(waker) => {}
                _ => w.caller = Some((id, waker.clone())),
            }
            if w.read != Read::Unread {
                // Nothing has arrived since the socket was read dry: this
                // caller, now registered, is woken by the next arrival.
                return false;
            }
        }
        let mut guard = match self.driver.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            // Someone is driving now; what they route for this caller wakes
            // it through its slot. The holder may be a task turn that left
            // reading to this caller before the arrival this caller was
            // woken for: the task reads it.
            Err(TryLockError::WouldBlock) => {
                self.pay_task();
                return false;
            }
        };
        let Some(driver) = guard.as_mut() else {
            return false;
        };
        let mut io = Context::from_waker(&self.waker);
        let dry = driver.drive_read(&mut io);
        let alone = dry && driver.only_the_caller_waits();
        let done = answered();
        let mut w = self.targets.lock();
        // Unless an arrival already took this caller off (a wake during the
        // read): then what arrived is still to be read.
        let registered = w.caller.as_ref().is_some_and(|(current, _)| *current == id);
        let released = registered && done;
        if released {
            w.caller = None;
        }
        w.read = if !(dry && registered) {
            Read::Unread
        } else if alone {
            Read::DryCallerAlone
        } else {
            Read::Dry
        };
        let task = if w.read == Read::DryCallerAlone {
            // The arrival is read, and the task has nothing to do.
            w.task_owed = false;
            None
        } else {
            w.take_owed()
        };
        drop(w);
        drop(guard);
        if let Some(task) = task {
            task.wake();
        }
        self.after_let_go();
        released
    }

    /// Wakes the task if an arrival woke a caller alone and nobody has read
    /// the socket dry since.
    fn pay_task(&self) {
        let task = self.targets.lock().take_owed();
        if let Some(task) = task {
            task.wake();
        }
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

    /// The caller `id` has what it waited for (or stopped waiting):
    /// readiness no longer wakes it, and an arrival it was woken for alone
    /// goes to the task.
    pub(crate) fn release(&self, id: usize) {
        let mut w = self.targets.lock();
        if w.caller.as_ref().is_some_and(|(current, _)| *current == id) {
            w.caller = None;
        }
        let task = w.take_owed();
        drop(w);
        if let Some(task) = task {
            task.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::engine::driver::loopback_driver;
    use crate::conn::engine::wake_count::WakeCount;
    use std::sync::atomic::Ordering;

    /// A ParameterStatus from the server: handled by whoever reads it, no
    /// request needed.
    fn parameter_status(name: &str, value: &str) -> Vec<u8> {
        let body = [name.as_bytes(), b"\0", value.as_bytes(), b"\0"].concat();
        let len = u32::try_from(body.len() + 4).unwrap();
        [&b"S"[..], &len.to_be_bytes(), &body].concat()
    }

    /// A driver task over a loopback pair, its turns run by hand with a
    /// waker that counts its wakes.
    struct TaskRig {
        io: Arc<Io>,
        shared: Arc<crate::conn::engine::shared::Shared>,
        peer: tokio::net::TcpStream,
        task: Arc<WakeCount>,
        task_waker: Waker,
        run: std::pin::Pin<Box<dyn Future<Output = ()>>>,
    }

    impl TaskRig {
        /// The rig, after the task's first turn.
        async fn start() -> Self {
            let (driver, peer) = loopback_driver().await;
            let shared = driver.shared().clone();
            let io = Io::new(driver);
            let (task, task_waker) = WakeCount::waker();
            let run = Box::pin(io.clone().run());
            let mut rig = Self {
                io,
                shared,
                peer,
                task,
                task_waker,
                run,
            };
            rig.turn();
            rig
        }

        /// Caller `id` reads the socket dry, a ParameterStatus arrives, and
        /// it wakes that caller alone. Returns the caller's wake count and
        /// waker.
        async fn caller_woken_alone(&mut self, id: usize) -> (Arc<WakeCount>, Waker) {
            use tokio::io::AsyncWriteExt;
            let (caller, caller_waker) = WakeCount::waker();
            let task_wakes = self.task.get();
            self.io.drive(id, &caller_waker, || false);
            let message = parameter_status("a", &id.to_string());
            self.peer.write_all(&message).await.unwrap();
            until_woken(&caller, 1).await;
            assert_eq!(self.task.get(), task_wakes, "the task was woken too");
            (caller, caller_waker)
        }

        /// One task turn, which must leave the task waiting.
        fn turn(&mut self) {
            let mut cx = Context::from_waker(&self.task_waker);
            assert!(self.run.as_mut().poll(&mut cx).is_pending());
        }
    }

    /// Runs the test runtime (and with it the socket's readiness) until
    /// `woken` has been woken `n` times; panics rather than hang.
    async fn until_woken(woken: &WakeCount, n: usize) {
        for _ in 0..10_000 {
            if woken.get() >= n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        panic!("not woken {n} times: {}", woken.get());
    }

    /// On a sequential connection the caller reads its own reply, so an
    /// arrival wakes that caller alone; the task is owed the arrival until
    /// the caller reads the socket dry again, and is woken when the caller
    /// stops waiting first (or when a task turn has run since).
    #[tokio::test]
    async fn an_arrival_for_a_caller_that_read_dry_wakes_it_alone() {
        use tokio::io::AsyncWriteExt;
        let mut rig = TaskRig::start().await;
        let (io, task) = (rig.io.clone(), rig.task.clone());

        // The caller reads the socket dry; an arrival wakes it alone, and
        // it reads and routes what arrived without the task.
        let (_, caller_waker) = rig.caller_woken_alone(1).await;
        io.drive(1, &caller_waker, || false);
        assert_eq!(rig.shared.parameter("a").as_deref(), Some("1"));
        io.release(1);
        assert_eq!(task.get(), 0, "a read arrival left the task owed");

        // A caller woken alone that stops waiting without reading: the
        // task is woken to read what arrived.
        let (caller, caller_waker) = rig.caller_woken_alone(2).await;
        io.release(2);
        assert_eq!(task.get(), 1, "the arrival was left unread");
        rig.turn();
        assert_eq!(rig.shared.parameter("a").as_deref(), Some("2"));

        // A caller whose read leaves the task work (half a message in the
        // read buffer) hands it the arrival, and the next arrival wakes the
        // task too.
        io.drive(3, &caller_waker, || false);
        let message = parameter_status("c", "3");
        rig.peer.write_all(&message[..3]).await.unwrap();
        until_woken(&caller, 2).await;
        assert_eq!(task.get(), 1);
        io.drive(3, &caller_waker, || false);
        assert_eq!(task.get(), 2, "the task was not handed the half message");
        rig.peer.write_all(&message[3..]).await.unwrap();
        until_woken(&task, 3).await;
        assert_eq!(caller.get(), 3, "the registered caller was not woken");
        io.release(3);
    }

    /// A task turn that leaves work of its own (bytes the full socket did
    /// not take) takes back the next arrival from a caller that read the
    /// socket dry before: the socket's write readiness must reach the task.
    #[tokio::test]
    async fn a_task_turn_that_leaves_bytes_unwritten_gets_the_next_wake() {
        use tokio::io::AsyncReadExt;
        let mut rig = TaskRig::start().await;
        let (_caller, caller_waker) = WakeCount::waker();
        rig.io.drive(1, &caller_waker, || false);

        // More than the socket takes while the peer does not read.
        rig.shared
            .write()
            .buf
            .extend_from_slice(&vec![0u8; 64 << 20]);
        rig.turn();
        let written = rig.shared.counters.bytes_written.load(Ordering::Relaxed);
        assert!(written < 64 << 20, "the socket took everything");
        let mut sink = vec![0u8; 1 << 20];
        let mut read = 0;
        while read < written {
            read += rig.peer.read(&mut sink).await.unwrap() as u64;
        }
        until_woken(&rig.task, 1).await;
    }

    /// A caller whose own read answers its request is taken off the
    /// targets by that read (the next arrival is not its business); one
    /// still waiting stays registered. Either way the read settles the
    /// arrival, so the task is not woken for it.
    #[tokio::test]
    async fn a_caller_answered_by_its_own_read_is_released_by_it() {
        let mut rig = TaskRig::start().await;
        let (io, task) = (rig.io.clone(), rig.task.clone());
        let (_, waker) = rig.caller_woken_alone(1).await;
        assert!(!io.drive(1, &waker, || false), "released while waiting");
        assert!(
            io.targets.lock().caller.is_some(),
            "a waiting caller was dropped"
        );

        let (_, waker) = rig.caller_woken_alone(2).await;
        assert!(
            io.drive(2, &waker, || true),
            "an answered caller not released"
        );
        assert!(io.targets.lock().caller.is_none(), "still registered");
        assert_eq!(task.get(), 0, "the task was woken for a settled arrival");
    }

    /// A caller woken alone that finds the driver taken (by a task turn
    /// that left reading to it before the arrival) hands the arrival to the
    /// task instead of waiting for a readiness that already came.
    #[tokio::test]
    async fn a_caller_woken_alone_that_finds_the_driver_taken_wakes_the_task() {
        let mut rig = TaskRig::start().await;
        let (io, task) = (rig.io.clone(), rig.task.clone());
        let (_, caller_waker) = rig.caller_woken_alone(1).await;
        let holder = io.driver.try_lock().unwrap();
        io.drive(1, &caller_waker, || false);
        drop(holder);
        assert_eq!(task.get(), 1, "nobody is left to read the arrival");
        io.release(1);
        assert_eq!(task.get(), 1, "the task was woken twice for one arrival");
    }

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
