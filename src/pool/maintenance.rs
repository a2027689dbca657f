//! The pool's background work: expiry, leak watch, health checks and
//! refilling `min_idle`.
//!
//! Owns the background task and the steps it runs each tick. The decisions
//! come from `policy` and `health`; this file only applies them. The task
//! holds a weak reference to the pool, so dropping every handle ends it.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::events::PoolEvent;
use super::policy::{connections_to_open, idle_to_close, lifetime_expired};
use super::shared::{PoolShared, lock};
use super::slots::Conn;
use super::stats::CloseReason;
use crate::error::Error;

/// Runs maintenance until the pool is closed or dropped.
pub(crate) async fn run(pool: Weak<PoolShared>, wake: Arc<tokio::sync::Notify>) {
    let mut next_health_check = None;
    loop {
        let pause = {
            let Some(shared) = pool.upgrade() else { return };
            if shared.is_closed() {
                return;
            }
            let now = Instant::now();
            let interval = shared.settings.health_check_interval;
            let due = next_health_check.get_or_insert_with(|| interval.map(|i| now + i));
            if due.is_some_and(|at| now >= at) {
                shared.check_idle_health().await;
                *due = interval.map(|i| Instant::now() + i);
            }
            shared.tick(now);
            // Errors are recorded in the health state and events.
            let _ = shared.replenish().await;
            shared.next_pause(Instant::now())
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = wake.notified() => {}
        }
    }
}

impl PoolShared {
    /// How long the background task may sleep.
    fn next_pause(&self, now: Instant) -> Duration {
        let tick = self.settings.maintenance_interval;
        let retry = lock(&self.health)
            .tracker
            .retry_at()
            .map(|at| at.saturating_duration_since(now));
        match retry {
            Some(wait) if self.settings.min_idle > 0 => {
                tick.min(wait.max(Duration::from_millis(1)))
            }
            _ => tick,
        }
    }

    /// Closes expired idle connections and reports leaks.
    pub(crate) fn tick(&self, now: Instant) {
        self.close_expired_idle(now);
        self.watch_leaks(now);
    }

    fn close_expired_idle(&self, now: Instant) {
        let mut closing: Vec<(Conn, CloseReason)> = Vec::new();
        {
            let mut slots = lock(&self.slots);
            if slots
                .idle
                .iter()
                .any(|i| lifetime_expired(i.conn.expires_at, now))
            {
                let (expired, kept) = std::mem::take(&mut slots.idle)
                    .into_iter()
                    .partition::<Vec<_>, _>(|i| lifetime_expired(i.conn.expires_at, now));
                slots.idle = kept.into();
                closing.extend(expired.into_iter().map(|i| (i.conn, CloseReason::Lifetime)));
            }
            let n = idle_to_close(
                slots.idle.iter().map(|i| i.since),
                now,
                self.settings.idle_timeout,
                self.settings.min_idle,
            );
            for _ in 0..n {
                match slots.idle.pop_front() {
                    Some(idle) => closing.push((idle.conn, CloseReason::Idle)),
                    None => break,
                }
            }
        }
        for (conn, reason) in closing {
            self.discard(conn, reason);
        }
    }

    fn watch_leaks(&self, now: Instant) {
        let Some(threshold) = self.settings.leak_threshold else {
            return;
        };
        let mut leaks = Vec::new();
        {
            let mut slots = lock(&self.slots);
            for held in slots.in_use.values_mut() {
                let held_for = now.saturating_duration_since(held.since);
                if !held.leak_reported && held_for >= threshold {
                    held.leak_reported = true;
                    leaks.push((held.site, held_for, held.client.backend_pid()));
                }
            }
        }
        for (site, held_for, backend_pid) in leaks {
            tracing::warn!(
                target: "pgline::pool",
                acquired_at = %site,
                held_ms = held_for.as_millis() as u64,
                backend_pid,
                "pooled connection held longer than the leak threshold ({} ms); acquired at {site}",
                threshold.as_millis()
            );
            self.counters.leak_reported();
            self.emit(PoolEvent::LeakSuspected {
                acquired_at: site,
                held_for,
                backend_pid,
            });
        }
    }

    /// Gives every idle connection a round trip; those that fail are closed.
    /// Connections are taken with a permit each, so a busy pool is left
    /// alone.
    pub(crate) async fn check_idle_health(self: &Arc<Self>) {
        let mut taken = Vec::new();
        loop {
            let Some(permit) = self.try_permit() else {
                break;
            };
            let Some(idle) = lock(&self.slots).idle.pop_front() else {
                break;
            };
            taken.push((idle, permit));
        }
        if taken.is_empty() {
            return;
        }
        let mut checks = JoinSet::new();
        for (index, (idle, permit)) in taken.into_iter().enumerate() {
            let shared = Arc::clone(self);
            checks.spawn(async move {
                let ok = !idle.conn.client.is_closed() && shared.round_trip(&idle.conn).await;
                (index, idle, ok, permit)
            });
        }
        let mut passed = Vec::new();
        while let Some(result) = checks.join_next().await {
            // A panicking check loses its connection (and slot), nothing more.
            let Ok((index, idle, ok, permit)) = result else {
                continue;
            };
            if ok {
                passed.push((index, idle, permit));
            } else {
                let reason = if idle.conn.client.is_closed() {
                    CloseReason::Broken
                } else {
                    CloseReason::HealthCheck
                };
                self.discard(idle.conn, reason);
                drop(permit);
            }
        }
        // Back at the front in their old order: they were idle before any
        // connection returned meanwhile.
        passed.sort_by_key(|(index, ..)| std::cmp::Reverse(*index));
        let now = Instant::now();
        let mut permits = Vec::with_capacity(passed.len());
        let mut late = Vec::new();
        {
            let mut slots = lock(&self.slots);
            for (_, mut idle, permit) in passed {
                if self.is_closed() {
                    late.push(idle.conn);
                } else {
                    idle.checked = now;
                    slots.idle.push_front(idle);
                }
                permits.push(permit);
            }
        }
        for conn in late {
            self.discard(conn, CloseReason::PoolClosed);
        }
        drop(permits);
    }

    /// Opens connections until `min_idle` are idle (within `max_size` and
    /// the free permits), `connect_concurrency` at a time. Returns the first
    /// connect error.
    pub(crate) async fn replenish(self: &Arc<Self>) -> Result<usize, Error> {
        if self.is_closed() || !lock(&self.health).tracker.may_retry(Instant::now()) {
            return Ok(0);
        }
        let idle = lock(&self.slots).idle.len();
        let wanted = connections_to_open(
            idle,
            0,
            self.size.get(),
            self.settings.min_idle,
            self.settings.max_size,
        );
        if wanted == 0 {
            return Ok(0);
        }
        let limit = Arc::new(Semaphore::new(self.settings.connect_concurrency));
        let mut opens = JoinSet::new();
        for _ in 0..wanted {
            let Some(permit) = self.try_permit() else {
                break;
            };
            let Some(slot) = self.size.reserve() else {
                break;
            };
            let shared = Arc::clone(self);
            let limit = Arc::clone(&limit);
            opens.spawn(async move {
                let _turn = limit.acquire_owned().await;
                let conn = shared.open(slot).await?;
                let now = Instant::now();
                shared.store_idle(conn, now, now);
                drop(permit);
                Ok::<_, Error>(())
            });
        }
        let mut opened = 0;
        let mut first_error = None;
        while let Some(result) = opens.join_next().await {
            match result {
                Ok(Ok(())) => opened += 1,
                Ok(Err(err)) => {
                    first_error.get_or_insert(err);
                }
                Err(_) => {}
            }
        }
        match first_error {
            Some(err) => Err(err),
            None => Ok(opened),
        }
    }
}
