//! A bounded pool of reusable byte buffers, in a few size classes.
//!
//! Owns buffers that COPY streams (and anything else moving large amounts
//! of bytes) borrow and give back, so a long transfer reuses the same
//! memory instead of allocating per chunk. The pool holds at most a fixed
//! number of bytes; past that, returned buffers are freed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::BytesMut;

/// Buffer capacities handed out, smallest first.
const CLASSES: [usize; 3] = [8 * 1024, 64 * 1024, 1024 * 1024];

/// Default cap on the bytes a pool keeps.
pub(crate) const DEFAULT_MAX_HELD: usize = 16 * 1024 * 1024;

/// Counters of a [`BufferPool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BufferPoolStats {
    /// Buffers handed out from the pool.
    pub hits: u64,
    /// Buffers that had to be allocated.
    pub misses: u64,
    /// Bytes of capacity the pool holds now.
    pub bytes_held: u64,
    /// Buffers freed on return because the pool was full.
    pub dropped: u64,
}

/// A bounded pool of `BytesMut` buffers shared by connections.
///
/// ```
/// use pgline::BufferPool;
/// let pool = BufferPool::new(1 << 20);
/// let buf = pool.get(1000);
/// assert!(buf.capacity() >= 1000);
/// pool.put(buf);
/// assert_eq!(pool.stats().misses, 1);
/// let again = pool.get(1000);
/// assert_eq!(pool.stats().hits, 1);
/// # drop(again);
/// ```
#[derive(Debug)]
pub struct BufferPool {
    classes: [Mutex<Vec<BytesMut>>; 3],
    max_held: usize,
    held: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    dropped: AtomicU64,
}

impl BufferPool {
    /// A pool holding at most `max_held` bytes of idle buffers.
    pub fn new(max_held: usize) -> Self {
        Self {
            classes: Default::default(),
            max_held,
            held: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// The process-wide pool that connections use by default.
    pub fn global() -> Arc<Self> {
        static GLOBAL: OnceLock<Arc<BufferPool>> = OnceLock::new();
        GLOBAL
            .get_or_init(|| Arc::new(Self::new(DEFAULT_MAX_HELD)))
            .clone()
    }

    fn class_of(capacity: usize) -> Option<usize> {
        CLASSES.iter().position(|c| capacity <= *c)
    }

    /// An empty buffer with room for at least `min_capacity` bytes.
    pub fn get(&self, min_capacity: usize) -> BytesMut {
        if let Some(class) = Self::class_of(min_capacity) {
            let found = self.classes[class]
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop();
            if let Some(buf) = found {
                self.held
                    .fetch_sub(buf.capacity() as u64, Ordering::Relaxed);
                self.hits.fetch_add(1, Ordering::Relaxed);
                return buf;
            }
            self.misses.fetch_add(1, Ordering::Relaxed);
            return BytesMut::with_capacity(CLASSES[class]);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        BytesMut::with_capacity(min_capacity)
    }

    /// Gives a buffer back. It is cleared and kept if its capacity matches a
    /// class and the pool has room; otherwise it is freed.
    pub fn put(&self, mut buf: BytesMut) {
        buf.clear();
        let capacity = buf.capacity();
        // Keep only buffers of exactly a class's size (a buffer that grew
        // or was split is freed), so the byte cap is accurate.
        let Some(class) = CLASSES.iter().position(|c| *c == capacity) else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let held = self.held.load(Ordering::Relaxed) as usize;
        if held + capacity > self.max_held {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.held.fetch_add(capacity as u64, Ordering::Relaxed);
        self.classes[class]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(buf);
    }

    /// The pool's counters.
    pub fn stats(&self) -> BufferPoolStats {
        BufferPoolStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            bytes_held: self.held.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_within_the_cap() {
        let pool = BufferPool::new(100 * 1024);
        let a = pool.get(10);
        let b = pool.get(60 * 1024);
        assert_eq!((a.capacity(), b.capacity()), (8 * 1024, 64 * 1024));
        pool.put(a);
        pool.put(b);
        assert_eq!(pool.stats().bytes_held, 72 * 1024);
        // A third buffer would pass the cap: freed.
        pool.put(BytesMut::with_capacity(64 * 1024));
        assert_eq!(pool.stats().dropped, 1);
        let c = pool.get(100);
        assert_eq!(c.capacity(), 8 * 1024);
        assert_eq!(pool.stats().hits, 1);
        // Odd sizes are not kept.
        pool.put(BytesMut::with_capacity(12345));
        assert_eq!(pool.stats().dropped, 2);
        // Huge requests bypass the classes.
        assert!(pool.get(5 << 20).capacity() >= 5 << 20);
    }
}
