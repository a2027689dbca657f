//! The acquire hook: queue wait, connect and ping of a pool checkout, and
//! the checkout verdict.
//!
//! Owns [`AcquireHook`], its events and [`CheckoutDecision`].

use std::time::Duration;

use super::hook_data::HookData;
use super::pool_figures::PoolFigures;
use super::server::ServerInfo;
use crate::error::Error;

/// What to do with a connection about to be handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CheckoutDecision {
    /// Hand it out.
    #[default]
    Keep,
    /// Close it and take (or open) another.
    Discard,
    /// Close it and fail the acquire.
    DiscardAndFail,
}

/// Called around each [`Pool::acquire`](crate::Pool::acquire).
pub trait AcquireHook: Send + Sync + 'static {
    /// An acquire starts.
    fn acquire_start(&self, acquire: &AcquireStart<'_>) -> HookData {
        let _ = acquire;
        HookData::none()
    }

    /// A connection is about to be handed out: keep it, or discard it.
    /// Several hooks: the first that does not keep decides.
    fn checkout(&self, checkout: &Checkout<'_>) -> CheckoutDecision {
        let _ = checkout;
        CheckoutDecision::Keep
    }

    /// The acquire ended; `data` is what `acquire_start` returned.
    fn acquire_end(&self, data: HookData, acquire: &AcquireEnd<'_>) {
        let _ = (data, acquire);
    }
}

/// An acquire that starts.
#[derive(Debug)]
#[non_exhaustive]
pub struct AcquireStart<'a> {
    /// The pool's figures.
    pub pool: PoolFigures<'a>,
}

/// A connection about to be handed out.
#[derive(Debug)]
#[non_exhaustive]
pub struct Checkout<'a> {
    /// Its server.
    pub server: &'a ServerInfo,
    /// How old the connection is.
    pub age: Duration,
    /// Whether it was opened for this acquire.
    pub fresh: bool,
}

/// An acquire that ended.
#[derive(Debug)]
#[non_exhaustive]
pub struct AcquireEnd<'a> {
    /// The pool's figures after it.
    pub pool: PoolFigures<'a>,
    /// Time from `acquire_start` to now (`db.client.connection.wait_time`).
    pub elapsed: Duration,
    /// Time spent waiting in the queue for a permit.
    pub queue_wait: Duration,
    /// Time spent opening a new connection, when one was opened
    /// (`db.client.connection.create_time`).
    pub connect: Option<Duration>,
    /// Time spent on a test-on-acquire round trip, when one ran.
    pub ping: Option<Duration>,
    /// Whether it ended on the acquire timeout.
    pub timed_out: bool,
    /// The error, when it failed.
    pub error: Option<&'a Error>,
}

impl<'a> AcquireStart<'a> {
    pub(crate) fn new(pool: PoolFigures<'a>) -> Self {
        Self { pool }
    }
}

impl<'a> Checkout<'a> {
    pub(crate) fn new(server: &'a ServerInfo, age: Duration, fresh: bool) -> Self {
        Self { server, age, fresh }
    }
}

impl<'a> AcquireEnd<'a> {
    pub(crate) fn new(pool: PoolFigures<'a>, elapsed: Duration) -> Self {
        Self {
            pool,
            elapsed,
            queue_wait: Duration::ZERO,
            connect: None,
            ping: None,
            timed_out: false,
            error: None,
        }
    }
}
