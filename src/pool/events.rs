//! Pool events for watchers (the cluster layer, metrics, logs).
//!
//! Owns [`PoolEvent`]. Events are sent on a broadcast channel that the pool
//! never waits on: a slow watcher loses old events (and sees
//! `RecvError::Lagged`), the pool never blocks.

use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use super::health::HealthChange;
use super::stats::CloseReason;
use crate::error::Error;

/// Something that happened in a pool.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PoolEvent {
    /// The health state changed.
    Health(HealthChange),
    /// A connect attempt failed.
    ConnectFailed {
        /// Failures in a row, this one included.
        failures: u32,
        /// The connect's error: the same kind, message and typed source
        /// (the server's `DbError`, the socket's `io::Error`, the
        /// `ProtoError`) as the error the caller of the acquire gets.
        /// Shared by every watcher.
        error: Arc<Error>,
    },
    /// A connection was closed by the pool.
    ConnectionClosed(CloseReason),
    /// A connection has been held longer than the leak threshold.
    LeakSuspected {
        /// Where it was acquired.
        acquired_at: &'static Location<'static>,
        /// How long it had been held when noticed.
        held_for: Duration,
        /// The server process serving it.
        backend_pid: u32,
    },
    /// The pool was closed.
    Closed,
}
