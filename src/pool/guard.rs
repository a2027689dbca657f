//! The connection a caller holds: [`PooledClient`].
//!
//! Owns the guard that derefs to [`Client`] and gives the connection back
//! to the pool when dropped. It must not decide what happens on release:
//! that is the pool's (`shared.rs`).

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::OwnedSemaphorePermit;

use super::shared::PoolShared;
use super::slots::Conn;
use crate::Client;

/// A connection borrowed from a [`Pool`](super::Pool).
///
/// Dereferences to [`Client`], so every query method is available, and
/// concurrent requests through it are pipelined. Dropping it returns the
/// connection: an open transaction is rolled back first, a broken or expired
/// connection is closed.
pub struct PooledClient {
    shared: Arc<PoolShared>,
    /// A handle on the connection that stays valid while `conn` is taken.
    client: Client,
    conn: Option<Conn>,
    permit: Option<OwnedSemaphorePermit>,
    acquired: Instant,
}

impl PooledClient {
    pub(crate) fn new(
        shared: Arc<PoolShared>,
        conn: Conn,
        permit: OwnedSemaphorePermit,
        acquired: Instant,
    ) -> Self {
        Self {
            shared,
            client: conn.client.clone(),
            conn: Some(conn),
            permit: Some(permit),
            acquired,
        }
    }

    /// The client.
    pub fn client(&self) -> &Client {
        self
    }

    /// How long this connection has been held.
    pub fn held_for(&self) -> Duration {
        self.acquired.elapsed()
    }

    /// Closes the connection instead of returning it (an acquire hook
    /// refused it).
    pub(crate) fn discard(mut self, reason: super::stats::CloseReason) {
        if let (Some(conn), Some(permit)) = (self.conn.take(), self.permit.take()) {
            super::shared::lock(&self.shared.slots)
                .in_use
                .remove(&conn.id);
            self.shared.discard(conn, reason);
            drop(permit);
        }
    }

    /// How long ago the connection was opened.
    pub fn age(&self) -> Duration {
        self.conn
            .as_ref()
            .map_or(Duration::ZERO, |c| c.created.elapsed())
    }
}

impl Deref for PooledClient {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl fmt::Debug for PooledClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledClient")
            .field("client", &self.client)
            .field("held_for", &self.held_for())
            .finish()
    }
}

impl Drop for PooledClient {
    fn drop(&mut self) {
        if let (Some(conn), Some(permit)) = (self.conn.take(), self.permit.take()) {
            self.shared.release(conn, permit, self.acquired);
        }
    }
}
