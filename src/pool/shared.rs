//! The pool's state and its acquire queue.
//!
//! Owns [`PoolShared`]: the FIFO acquire queue (a fair tokio `Semaphore`
//! with one permit per possible connection), the idle list, connect with
//! health tracking, release and recycling. Every connection outside the idle
//! list is held together with a permit, so size never passes `max_size` and
//! waiters are served strictly in arrival order. It must not know about
//! hosts or roles: that is the cluster layer's business.

use std::future::Future;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, broadcast, watch};

use super::builder::PoolSettings;
use super::connect::Connect;
use super::events::PoolEvent;
use super::guard::PooledClient;
use super::health::{HealthChange, HealthState, HealthTracker};
use super::policy::{jittered_lifetime, lifetime_expired, needs_test_on_acquire};
use super::slots::{Conn, SizeCounter, Slot, Slots};
use super::stats::{CloseReason, Counters, LiveFigures, PoolStats};
use crate::error::{Error, ErrorKind};
use crate::jitter::Jitter;
use crate::observe::{
    AcquireEnd, AcquireHook, AcquireStart, Checkout, CheckoutDecision, Pending, PoolFigures,
    Release, ReleaseDecision,
};
use crate::proto::TransactionStatus;

/// Events kept for slow watchers before they lag.
const EVENT_BUFFER: usize = 256;

/// Health tracking plus the last connect error, under one lock.
#[derive(Debug)]
pub(crate) struct HealthRecord {
    pub(crate) tracker: HealthTracker,
    pub(crate) last_error: Option<Arc<Error>>,
}

/// State shared by the pool handles, the guards and the background task.
#[derive(Debug)]
pub(crate) struct PoolShared {
    pub(crate) connector: Arc<dyn Connect>,
    pub(crate) settings: PoolSettings,
    permits: Arc<Semaphore>,
    pub(crate) slots: Mutex<Slots>,
    pub(crate) size: Arc<SizeCounter>,
    waiters: AtomicUsize,
    pub(crate) counters: Counters,
    pub(crate) health: Mutex<HealthRecord>,
    events: broadcast::Sender<PoolEvent>,
    closed: AtomicBool,
    pub(crate) close_done: watch::Sender<bool>,
    pub(crate) wake: Arc<tokio::sync::Notify>,
    pub(crate) jitter: Jitter,
    next_id: AtomicU64,
    pub(crate) runtime: Handle,
}

/// Locks a mutex; a panic elsewhere while it was held does not stop the pool.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How an idle connection was found when taken for use.
enum Checked {
    Usable(Conn),
    Discarded,
}

impl PoolShared {
    pub(crate) fn new(
        connector: Arc<dyn Connect>,
        settings: PoolSettings,
        runtime: Handle,
    ) -> Self {
        let max = settings.max_size;
        Self {
            connector,
            permits: Arc::new(Semaphore::new(max)),
            slots: Mutex::new(Slots::new(max)),
            size: SizeCounter::new(max),
            waiters: AtomicUsize::new(0),
            counters: Counters::default(),
            health: Mutex::new(HealthRecord {
                tracker: HealthTracker::new(settings.backoff),
                last_error: None,
            }),
            events: broadcast::channel(EVENT_BUFFER).0,
            closed: AtomicBool::new(false),
            close_done: watch::channel(false).0,
            wake: Arc::new(tokio::sync::Notify::new()),
            jitter: Jitter::from_os(),
            next_id: AtomicU64::new(1),
            runtime,
            settings,
        }
    }

    // ---- getters -------------------------------------------------------

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn health_state(&self) -> HealthState {
        lock(&self.health).tracker.state()
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<PoolEvent> {
        self.events.subscribe()
    }

    pub(crate) fn emit(&self, event: PoolEvent) {
        // No receiver is fine: events are for whoever listens.
        let _ = self.events.send(event);
    }

    pub(crate) fn live(&self) -> LiveFigures {
        let (idle, in_use) = {
            let slots = lock(&self.slots);
            (slots.idle.len(), slots.in_use.len())
        };
        LiveFigures {
            size: self.size.get(),
            idle,
            in_use,
            waiters: self.waiters.load(Ordering::Relaxed),
            max_size: self.settings.max_size,
        }
    }

    pub(crate) fn stats(&self) -> PoolStats {
        self.counters.snapshot(self.live())
    }

    /// A permit, if one is free right now (background work never queues).
    pub(crate) fn try_permit(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.permits).try_acquire_owned().ok()
    }

    // ---- acquire -------------------------------------------------------

    /// Waits (in FIFO order) for a connection, up to the acquire timeout.
    pub(crate) async fn acquire(
        self: &Arc<Self>,
        site: &'static Location<'static>,
    ) -> Result<PooledClient, Error> {
        if let Some(hooks) = self.settings.hooks.acquires() {
            return Box::pin(self.acquire_observed(site, hooks)).await;
        }
        // The waiting path's future is only made when the common case
        // fails, so a checkout at once never builds or moves it.
        let start = Instant::now();
        match self.checkout_at_once(site, start) {
            Some(guard) => Ok(guard),
            None => self.acquire_waiting(site, start, None).await,
        }
    }

    /// The pool's figures for hook events.
    pub(crate) fn figures(&self) -> PoolFigures<'_> {
        let live = self.live();
        let mut figures = PoolFigures::new(&self.settings.name);
        figures.idle = live.idle;
        figures.used = live.in_use;
        figures.pending = live.waiters;
        figures.max = live.max_size;
        figures.min_idle = self.settings.min_idle;
        figures
    }

    /// An acquire between the acquire hooks' start and end, with their
    /// checkout verdicts: a discarded connection is closed and another
    /// taken, within the same acquire timeout.
    async fn acquire_observed(
        self: &Arc<Self>,
        site: &'static Location<'static>,
        hooks: &[Arc<dyn AcquireHook>],
    ) -> Result<PooledClient, Error> {
        let start = AcquireStart::new(self.figures());
        let pending = Pending::start(hooks, |h| h.acquire_start(&start));
        let mut times = AcquireTimes::default();
        let result = pending
            .in_span(|| self.acquire_checked(site, hooks, &pending, &mut times))
            .await;
        let error = result.as_ref().err();
        times.timed_out |= error.is_some_and(Error::is_timeout);
        let figures = self.figures();
        pending.end(hooks, |h, data, elapsed| {
            let mut end = AcquireEnd::new(figures, elapsed);
            end.queue_wait = times.queue_wait;
            end.connect = times.connect;
            end.ping = times.ping;
            end.timed_out = times.timed_out;
            end.error = error;
            h.acquire_end(data, &end)
        });
        result
    }

    /// Acquires until the checkout hooks keep a connection (or fail it).
    async fn acquire_checked(
        self: &Arc<Self>,
        site: &'static Location<'static>,
        hooks: &[Arc<dyn AcquireHook>],
        pending: &Pending,
        times: &mut AcquireTimes,
    ) -> Result<PooledClient, Error> {
        loop {
            // Each connection handed out is fresh or not on its own: a hook
            // may have discarded a new one before this one.
            times.fresh = false;
            let start = Instant::now();
            let guard = match self.checkout_at_once(site, start) {
                Some(guard) => guard,
                None => self.acquire_waiting(site, start, Some(&mut *times)).await?,
            };
            let checkout = Checkout::new(guard.client().server_info(), guard.age(), times.fresh);
            let verdict = hooks
                .iter()
                .map(|h| h.checkout(&checkout))
                .find(|d| *d != CheckoutDecision::Keep)
                .unwrap_or(CheckoutDecision::Keep);
            match verdict {
                CheckoutDecision::Keep => return Ok(guard),
                CheckoutDecision::Discard if pending.elapsed() < self.settings.acquire_timeout => {
                    guard.discard(CloseReason::Hook);
                }
                CheckoutDecision::Discard => {
                    guard.discard(CloseReason::Hook);
                    self.counters.acquire_timed_out();
                    return Err(self.timeout_error(self.settings.acquire_timeout));
                }
                _ => {
                    guard.discard(CloseReason::Hook);
                    return Err(Error::msg(
                        ErrorKind::Closed,
                        "an acquire hook discarded the connection and failed the acquire",
                    ));
                }
            }
        }
    }

    /// An acquire that [`checkout_at_once`](Self::checkout_at_once) could
    /// not serve: waits for a permit, then tests, replaces or opens a
    /// connection, within the acquire timeout counted from `start`.
    async fn acquire_waiting(
        self: &Arc<Self>,
        site: &'static Location<'static>,
        start: Instant,
        times: Option<&mut AcquireTimes>,
    ) -> Result<PooledClient, Error> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        let timeout = self.settings.acquire_timeout;
        let inner = self.acquire_inner(times);
        tokio::pin!(inner);
        // Most acquires find an idle connection at once: only one that has
        // to wait arms a timer (with the deadline counted from `start`).
        let first = std::future::poll_fn(|cx| Poll::Ready(inner.as_mut().poll(cx))).await;
        let result = match first {
            Poll::Ready(result) => result,
            Poll::Pending => {
                let deadline = tokio::time::Instant::from_std(start) + timeout;
                match tokio::time::timeout_at(deadline, &mut inner).await {
                    Ok(result) => result,
                    Err(_) => {
                        // Built while this acquire still counts as a waiter.
                        self.counters.acquire_timed_out();
                        return Err(self.timeout_error(timeout));
                    }
                }
            }
        };
        let (conn, permit) = result?;
        let now = Instant::now();
        lock(&self.slots).check_out(&conn, now, site);
        self.counters.acquired(now - start);
        Ok(PooledClient::new(Arc::clone(self), conn, permit, now))
    }

    /// The common case without a wait: a free permit and a newest idle
    /// connection that needs no round trip, taken and checked out under one
    /// lock with the clock read of the acquire's start. It counts as an
    /// acquire of no wait: it finishes well inside the first latency bucket
    /// either way. Anything else (no permit, no idle connection, one to
    /// test, close or replace) is left to the waiting path, untouched.
    fn checkout_at_once(
        self: &Arc<Self>,
        site: &'static Location<'static>,
        now: Instant,
    ) -> Option<PooledClient> {
        if self.is_closed() {
            return None;
        }
        let permit = Arc::clone(&self.permits).try_acquire_owned().ok()?;
        let mut slots = lock(&self.slots);
        let newest = slots.idle.back()?;
        if newest.conn.client.is_closed()
            || lifetime_expired(newest.conn.expires_at, now)
            || needs_test_on_acquire(newest.since, now, self.settings.test_on_acquire)
        {
            return None;
        }
        let idle = slots.take_idle()?;
        slots.check_out(&idle.conn, now, site);
        drop(slots);
        self.counters.acquired(Duration::ZERO);
        Some(PooledClient::new(Arc::clone(self), idle.conn, permit, now))
    }

    async fn acquire_inner(
        &self,
        mut times: Option<&mut AcquireTimes>,
    ) -> Result<(Conn, OwnedSemaphorePermit), Error> {
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::Closed) => return Err(self.closed_error()),
            Err(TryAcquireError::NoPermits) => {
                let _waiting = WaiterCount::enter(&self.waiters);
                let waited = times.is_some().then(Instant::now);
                let permit = Arc::clone(&self.permits)
                    .acquire_owned()
                    .await
                    .map_err(|_| self.closed_error())?;
                if let (Some(times), Some(since)) = (times.as_deref_mut(), waited) {
                    times.queue_wait += since.elapsed();
                }
                permit
            }
        };
        let mut waits = 0u32;
        loop {
            let taken = lock(&self.slots).take_idle();
            if let Some(idle) = taken {
                match self
                    .check_idle(idle.conn, idle.since, times.as_deref_mut())
                    .await
                {
                    Checked::Usable(conn) => return Ok((conn, permit)),
                    Checked::Discarded => continue,
                }
            }
            if let Some(slot) = self.size.reserve() {
                let since = times.is_some().then(Instant::now);
                let conn = self.open(slot).await?;
                if let (Some(times), Some(since)) = (times, since) {
                    times.connect = Some(since.elapsed());
                    times.fresh = true;
                }
                return Ok((conn, permit));
            }
            // Full, but not by permit holders: a connection is on its way
            // back to the idle list (or under a background health check).
            // Let it land.
            if waits == 0 {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            waits = waits.saturating_add(1);
        }
    }

    /// Decides whether an idle connection can be handed out.
    async fn check_idle(
        &self,
        conn: Conn,
        idle_since: Instant,
        times: Option<&mut AcquireTimes>,
    ) -> Checked {
        let now = Instant::now();
        if conn.client.is_closed() {
            self.discard(conn, CloseReason::Broken);
            return Checked::Discarded;
        }
        if lifetime_expired(conn.expires_at, now) {
            self.discard(conn, CloseReason::Lifetime);
            return Checked::Discarded;
        }
        if needs_test_on_acquire(idle_since, now, self.settings.test_on_acquire) {
            let alive = self.round_trip(&conn).await;
            if let Some(times) = times {
                times.ping = Some(now.elapsed());
                times.fresh = false;
            }
            if !alive {
                self.discard(conn, CloseReason::HealthCheck);
                return Checked::Discarded;
            }
        }
        Checked::Usable(conn)
    }

    /// A cheap round trip: an empty simple query.
    pub(crate) async fn round_trip(&self, conn: &Conn) -> bool {
        let ping = conn.client.batch_execute("");
        matches!(
            tokio::time::timeout(self.settings.health_check_timeout, ping).await,
            Ok(Ok(()))
        )
    }

    // ---- connect -------------------------------------------------------

    /// Opens a connection into `slot`, runs the setup callback and records
    /// the outcome in the health state.
    pub(crate) async fn open(&self, slot: Slot) -> Result<Conn, Error> {
        if let Some(err) = self.fail_fast_error(Instant::now()) {
            return Err(err);
        }
        let result = async {
            let mut client = self.connector.connect().await?;
            if !self.settings.hooks.is_empty() {
                client = client.with_hooks(&self.settings.hooks);
            }
            if let Some(setup) = &self.settings.setup {
                setup(client.clone()).await?;
            }
            Ok::<_, Error>(client)
        }
        .await;
        let now = Instant::now();
        match result {
            Ok(client) => {
                self.counters.connection_created();
                let change = {
                    let mut health = lock(&self.health);
                    health.last_error = None;
                    health.tracker.handle_success()
                };
                self.health_changed(change);
                let expires_at = self.settings.max_lifetime.map(|max| {
                    now + jittered_lifetime(max, self.settings.lifetime_jitter, self.jitter.unit())
                });
                Ok(Conn {
                    client,
                    id: self.next_id.fetch_add(1, Ordering::Relaxed),
                    created: now,
                    expires_at,
                    _slot: slot,
                })
            }
            Err(err) => {
                self.counters.connect_failed();
                let shared = Arc::new(err.repeat());
                let (change, failures) = {
                    let mut health = lock(&self.health);
                    health.last_error = Some(Arc::clone(&shared));
                    let change = health.tracker.handle_failure(now, self.jitter.unit());
                    (change, health.tracker.failures())
                };
                self.emit(PoolEvent::ConnectFailed {
                    failures,
                    error: shared,
                });
                self.health_changed(change);
                Err(err)
            }
        }
    }

    fn health_changed(&self, change: Option<HealthChange>) {
        if let Some(change) = change {
            tracing::info!(
                target: "pgline::pool",
                from = %change.from,
                to = %change.to,
                "pool health changed"
            );
            self.emit(PoolEvent::Health(change));
        }
    }

    /// When the pool is down and no retry is due, the error an acquire that
    /// needs a new connection gets at once.
    fn fail_fast_error(&self, now: Instant) -> Option<Error> {
        let health = lock(&self.health);
        if !health.tracker.fail_fast(now) {
            return None;
        }
        let wait = health
            .tracker
            .retry_at()
            .map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
        let context = format!(
            "pool is down after {} failed connect attempts in a row \
             (next retry in {} ms); last error",
            health.tracker.failures(),
            wait.as_millis()
        );
        Some(match &health.last_error {
            Some(last) => Error::with_source(last.kind(), Some(context), Arc::clone(last)),
            None => Error::msg(ErrorKind::Io, context),
        })
    }

    // ---- release -------------------------------------------------------

    /// Takes a connection back from a guard: straight to the idle list when
    /// clean, through a rollback/reset task otherwise, closed when broken or
    /// expired.
    pub(crate) fn release(
        self: &Arc<Self>,
        conn: Conn,
        permit: OwnedSemaphorePermit,
        acquired: Instant,
    ) {
        let now = Instant::now();
        if self.is_closed() {
            lock(&self.slots).in_use.remove(&conn.id);
            self.discard(conn, CloseReason::PoolClosed);
            return;
        }
        let reason = if conn.client.is_closed() {
            Some(CloseReason::Broken)
        } else if lifetime_expired(conn.expires_at, now) {
            Some(CloseReason::Lifetime)
        } else if self.released_by_hooks(&conn, acquired) == ReleaseDecision::Discard {
            Some(CloseReason::Hook)
        } else {
            None
        };
        self.release_as(conn, permit, reason, now);
    }

    /// The release hooks' verdict: the first that does not keep decides.
    fn released_by_hooks(&self, conn: &Conn, acquired: Instant) -> ReleaseDecision {
        let Some(hooks) = self.settings.hooks.releases() else {
            return ReleaseDecision::Keep;
        };
        let release = Release::new(
            self.figures(),
            conn.client.server_info(),
            acquired.elapsed(),
            conn.client.is_closed(),
        );
        hooks
            .iter()
            .map(|h| h.release(&release))
            .find(|d| *d != ReleaseDecision::Keep)
            .unwrap_or(ReleaseDecision::Keep)
    }

    /// Closes the connection for `reason`, or puts it back (through a
    /// rollback/reset task when it needs one).
    fn release_as(
        self: &Arc<Self>,
        conn: Conn,
        permit: OwnedSemaphorePermit,
        reason: Option<CloseReason>,
        now: Instant,
    ) {
        if let Some(reason) = reason {
            lock(&self.slots).in_use.remove(&conn.id);
            self.discard(conn, reason);
            return;
        }
        // A request still in flight (its caller stopped waiting) may change
        // the transaction status: treat it as dirty, and the ROLLBACK queued
        // behind it settles both.
        let dirty = conn.client.transaction_status() != TransactionStatus::Idle
            || conn.client.pending_requests() > 0;
        if !dirty && self.settings.reset_on_release.sql().is_none() {
            self.store_idle(conn, now, now);
            drop(permit);
            return;
        }
        lock(&self.slots).in_use.remove(&conn.id);
        let shared = Arc::clone(self);
        // The permit travels with the connection: nobody else can count on
        // it until it is clean.
        self.runtime.spawn(async move {
            shared.recycle(conn, dirty).await;
            drop(permit);
        });
    }

    /// Rolls back an open transaction and runs the reset SQL; a connection
    /// that fails either is closed.
    async fn recycle(&self, conn: Conn, dirty: bool) {
        let limit = self.settings.health_check_timeout;
        let run = |sql: &'static str| conn.client.batch_execute(sql);
        let mut ok = true;
        if dirty {
            ok = matches!(
                tokio::time::timeout(limit, run("ROLLBACK")).await,
                Ok(Ok(()))
            );
        }
        if let (true, Some(sql)) = (ok, self.settings.reset_on_release.sql()) {
            ok = matches!(
                tokio::time::timeout(limit, conn.client.batch_execute(sql)).await,
                Ok(Ok(()))
            );
        }
        let clean = ok
            && conn.client.transaction_status() == TransactionStatus::Idle
            && conn.client.pending_requests() == 0;
        if !clean || self.is_closed() {
            let reason = if self.is_closed() {
                CloseReason::PoolClosed
            } else if conn.client.is_closed() {
                CloseReason::Broken
            } else {
                CloseReason::ResetFailure
            };
            self.discard(conn, reason);
            return;
        }
        let now = Instant::now();
        self.store_idle(conn, now, now);
    }

    /// Puts a connection in the idle list, or closes it when the pool has
    /// been closed (checked under the lock that `close` drains the list
    /// under, so no connection slips in after the drain).
    pub(crate) fn store_idle(&self, conn: Conn, since: Instant, checked: Instant) {
        let mut slots = lock(&self.slots);
        if self.is_closed() {
            slots.in_use.remove(&conn.id);
            drop(slots);
            self.discard(conn, CloseReason::PoolClosed);
        } else {
            slots.put_idle(conn, since, checked);
        }
    }

    /// Closes a connection for `reason`: counted, announced, and its slot
    /// freed for a replacement.
    pub(crate) fn discard(&self, conn: Conn, reason: CloseReason) {
        tracing::debug!(
            target: "pgline::pool",
            backend_pid = conn.client.backend_pid(),
            age_ms = conn.created.elapsed().as_millis() as u64,
            %reason,
            "closing pooled connection"
        );
        self.counters.connection_closed(reason);
        self.emit(PoolEvent::ConnectionClosed(reason));
        // The last clone of the client sends Terminate when dropped.
        drop(conn);
        if self.settings.min_idle > 0 && !self.is_closed() {
            self.wake.notify_one();
        }
    }

    // ---- close ---------------------------------------------------------

    /// Marks the pool closed and stops new acquires; returns whether this
    /// call did it.
    pub(crate) fn begin_close(&self) -> bool {
        let first = !self.closed.swap(true, Ordering::AcqRel);
        if first {
            self.permits.close();
            self.wake.notify_one();
        }
        first
    }

    // ---- errors --------------------------------------------------------

    fn closed_error(&self) -> Error {
        Error::msg(ErrorKind::Closed, "the pool is closed")
    }

    fn timeout_error(&self, timeout: Duration) -> Error {
        let live = self.live();
        Error::msg(
            ErrorKind::Timeout,
            format!(
                "no pooled connection within {} ms (pool size {} of max {}, \
                 {} in use, {} idle, {} waiting including this one, health {})",
                timeout.as_millis(),
                live.size,
                live.max_size,
                live.in_use,
                live.idle,
                live.waiters,
                self.health_state(),
            ),
        )
    }
}

/// Counts a waiting acquire for as long as it waits, cancellation included.
struct WaiterCount<'a>(&'a AtomicUsize);

impl<'a> WaiterCount<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for WaiterCount<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Where an observed acquire's time went.
#[derive(Debug, Default)]
pub(crate) struct AcquireTimes {
    queue_wait: Duration,
    connect: Option<Duration>,
    ping: Option<Duration>,
    fresh: bool,
    timed_out: bool,
}
