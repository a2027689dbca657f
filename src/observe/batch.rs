//! The batch hook: a batch's start, each statement's outcome, its end.
//!
//! Owns [`BatchHook`] and its events.

use std::time::Duration;

use super::hook_data::HookData;
use super::server::ServerInfo;
use crate::error::Error;

/// Called around [`Batch::run_independent`] and [`Batch::run_atomic`].
///
/// [`Batch::run_independent`]: crate::Batch::run_independent
/// [`Batch::run_atomic`]: crate::Batch::run_atomic
pub trait BatchHook: Send + Sync + 'static {
    /// A batch is about to be sent.
    fn batch_start(&self, batch: &BatchStart<'_>) -> HookData {
        let _ = batch;
        HookData::none()
    }

    /// One statement's outcome, in order, once the batch has run.
    fn batch_statement(&self, data: &HookData, statement: &BatchStatement<'_>) {
        let _ = (data, statement);
    }

    /// The batch finished; `data` is what `batch_start` returned.
    fn batch_end(&self, data: HookData, batch: &BatchEnd<'_>) {
        let _ = (data, batch);
    }
}

/// A batch about to be sent.
#[derive(Debug)]
#[non_exhaustive]
pub struct BatchStart<'a> {
    /// `run_independent` or `run_atomic`.
    pub operation: &'static str,
    /// Statements in the batch (`db.operation.batch.size`).
    pub size: usize,
    /// The connection's server.
    pub server: &'a ServerInfo,
}

/// One statement of a batch that ran.
#[derive(Debug)]
#[non_exhaustive]
pub struct BatchStatement<'a> {
    /// Its position in the batch.
    pub index: usize,
    /// Whether it ran to completion.
    pub ran: bool,
    /// Rows affected, when it ran.
    pub rows: Option<u64>,
    /// Its error, when it failed.
    pub error: Option<&'a Error>,
}

/// A batch that finished.
#[derive(Debug)]
#[non_exhaustive]
pub struct BatchEnd<'a> {
    /// The same as at the start.
    pub operation: &'static str,
    /// Statements in the batch.
    pub size: usize,
    /// Time from `batch_start` to now.
    pub elapsed: Duration,
    /// The batch's own error (the connection failed); statement errors are
    /// in [`BatchStatement`].
    pub error: Option<&'a Error>,
    /// The connection's server.
    pub server: &'a ServerInfo,
}
