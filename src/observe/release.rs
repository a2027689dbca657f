//! The release hook: a pooled connection coming back, with a verdict.
//!
//! Owns [`ReleaseHook`], its event and [`ReleaseDecision`].

use std::time::Duration;

use super::pool_figures::PoolFigures;
use super::server::ServerInfo;

/// What to do with a connection coming back to the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReleaseDecision {
    /// Return it to the pool (after rollback or reset, as configured).
    #[default]
    Keep,
    /// Close it.
    Discard,
}

/// Called when a pooled connection is released.
pub trait ReleaseHook: Send + Sync + 'static {
    /// A connection comes back; the first hook that does not keep decides.
    fn release(&self, release: &Release<'_>) -> ReleaseDecision {
        let _ = release;
        ReleaseDecision::Keep
    }
}

/// A connection coming back.
#[derive(Debug)]
#[non_exhaustive]
pub struct Release<'a> {
    /// The pool's figures before it is put back.
    pub pool: PoolFigures<'a>,
    /// Its server.
    pub server: &'a ServerInfo,
    /// How long it was held (`db.client.connection.use_time`).
    pub held_for: Duration,
    /// Whether the connection is closed or broken.
    pub broken: bool,
}

impl<'a> Release<'a> {
    pub(crate) fn new(
        pool: PoolFigures<'a>,
        server: &'a ServerInfo,
        held_for: Duration,
        broken: bool,
    ) -> Self {
        Self {
            pool,
            server,
            held_for,
            broken,
        }
    }
}
