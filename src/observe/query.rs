//! The query hook: one start/end pair per query call.
//!
//! Owns [`QueryHook`] and its events. The SQL is the parameterized text as
//! written; parameter values are never handed to a hook.

use std::time::Duration;

use super::hook_data::HookData;
use super::server::ServerInfo;
use crate::error::Error;

/// Called around every `query`, `query_one`, `query_opt`, `execute`,
/// `query_stream` (up to its first reply) and simple query.
pub trait QueryHook: Send + Sync + 'static {
    /// A query is about to be sent.
    fn query_start(&self, query: &QueryStart<'_>) -> HookData {
        let _ = query;
        HookData::none()
    }

    /// The query finished (or failed); `data` is what `query_start`
    /// returned.
    fn query_end(&self, data: HookData, query: &QueryEnd<'_>) {
        let _ = (data, query);
    }
}

/// A query about to be sent.
#[derive(Debug)]
#[non_exhaustive]
pub struct QueryStart<'a> {
    /// The API verb (`query`, `query_one`, `query_opt`, `execute`,
    /// `query_stream`, `simple_query`, `batch_execute`): what
    /// `db.operation.name` falls back to when no command tag names it.
    pub operation: &'static str,
    /// The SQL as written, with `$n` placeholders; `None` when unknown.
    pub sql: Option<&'a str>,
    /// How many parameters are bound.
    pub params: usize,
    /// The connection's server.
    pub server: &'a ServerInfo,
}

/// A query that finished.
#[derive(Debug)]
#[non_exhaustive]
pub struct QueryEnd<'a> {
    /// The same as at the start.
    pub operation: &'static str,
    /// The SQL as written.
    pub sql: Option<&'a str>,
    /// Time from `query_start` to now.
    pub elapsed: Duration,
    /// Rows returned or affected, when the call knows.
    pub rows: Option<u64>,
    /// The error, when it failed.
    pub error: Option<&'a Error>,
    /// The connection's server.
    pub server: &'a ServerInfo,
}
