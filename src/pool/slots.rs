//! Where the pool's connections are: the idle list, the in-use registry and
//! the size count.
//!
//! Owns [`Conn`] (a client plus its birth and expiry), [`Slot`] (one unit of
//! pool size, released on drop, so a connection lost on any path, cancelled
//! acquire included, frees its place) and [`Slots`] (idle connections, most
//! recently returned last, and the connections handed out). It must not
//! await: everything here runs under a short lock.

use std::collections::VecDeque;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::id_hash::IdMap;
use crate::Client;

/// The count of open connections plus those being opened.
#[derive(Debug)]
pub(crate) struct SizeCounter {
    size: AtomicUsize,
    max: usize,
}

impl SizeCounter {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            size: AtomicUsize::new(0),
            max,
        })
    }

    pub(crate) fn get(&self) -> usize {
        self.size.load(Ordering::Acquire)
    }

    /// Takes one unit of size, unless the pool is full.
    pub(crate) fn reserve(self: &Arc<Self>) -> Option<Slot> {
        self.size
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (s < self.max).then_some(s + 1)
            })
            .ok()
            .map(|_| Slot {
                counter: Arc::clone(self),
            })
    }
}

/// One unit of pool size; dropping it gives the unit back.
#[derive(Debug)]
pub(crate) struct Slot {
    counter: Arc<SizeCounter>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.counter.size.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A pooled connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) client: Client,
    pub(crate) id: u64,
    pub(crate) created: Instant,
    pub(crate) expires_at: Option<Instant>,
    pub(crate) _slot: Slot,
}

/// An idle connection and since when.
#[derive(Debug)]
pub(crate) struct IdleConn {
    pub(crate) conn: Conn,
    pub(crate) since: Instant,
    /// When it last passed a round trip (or was opened).
    pub(crate) checked: Instant,
}

/// A connection handed out, as the leak watch and the forced close see it.
#[derive(Debug)]
pub(crate) struct InUse {
    pub(crate) client: Client,
    pub(crate) since: Instant,
    pub(crate) site: &'static Location<'static>,
    pub(crate) leak_reported: bool,
}

/// The idle list and the in-use registry, kept under one lock.
#[derive(Debug)]
pub(crate) struct Slots {
    /// Oldest returned first; acquires take from the back (most recently
    /// used), so the front ages out under `idle_timeout`.
    pub(crate) idle: VecDeque<IdleConn>,
    pub(crate) in_use: IdMap<InUse>,
}

impl Slots {
    pub(crate) fn new(max_size: usize) -> Self {
        Self {
            idle: VecDeque::with_capacity(max_size),
            in_use: IdMap::with_capacity_and_hasher(max_size, Default::default()),
        }
    }

    /// Takes the most recently returned idle connection.
    pub(crate) fn take_idle(&mut self) -> Option<IdleConn> {
        self.idle.pop_back()
    }

    /// Puts a connection back as idle since `now`.
    pub(crate) fn put_idle(&mut self, conn: Conn, now: Instant, checked: Instant) {
        self.in_use.remove(&conn.id);
        self.idle.push_back(IdleConn {
            conn,
            since: now,
            checked,
        });
    }

    /// Records a connection as handed out.
    pub(crate) fn check_out(
        &mut self,
        conn: &Conn,
        now: Instant,
        site: &'static Location<'static>,
    ) {
        self.in_use.insert(
            conn.id,
            InUse {
                client: conn.client.clone(),
                since: now,
                site,
                leak_reported: false,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_count_and_refuse_past_max() {
        let counter = SizeCounter::new(2);
        let a = counter.reserve().expect("first slot");
        let b = counter.reserve().expect("second slot");
        assert!(counter.reserve().is_none());
        assert_eq!(counter.get(), 2);
        drop(a);
        assert_eq!(counter.get(), 1);
        let c = counter.reserve().expect("freed slot");
        drop((b, c));
        assert_eq!(counter.get(), 0);
    }
}
