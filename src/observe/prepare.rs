//! The prepare hook: explicit `prepare` calls and statement-cache lookups.
//!
//! Owns [`PrepareHook`] and its events.

use std::time::Duration;

use super::hook_data::HookData;
use super::server::ServerInfo;
use crate::error::Error;

/// Called around each preparation: an explicit `prepare`, and each lookup
/// of SQL text in the statement cache (a hit is `already_prepared`).
pub trait PrepareHook: Send + Sync + 'static {
    /// A statement is looked up or about to be prepared.
    fn prepare_start(&self, prepare: &PrepareStart<'_>) -> HookData {
        let _ = prepare;
        HookData::none()
    }

    /// Preparation finished; `data` is what `prepare_start` returned.
    fn prepare_end(&self, data: HookData, prepare: &PrepareEnd<'_>) {
        let _ = (data, prepare);
    }
}

/// A preparation about to happen.
#[derive(Debug)]
#[non_exhaustive]
pub struct PrepareStart<'a> {
    /// The SQL.
    pub sql: &'a str,
    /// Whether this is a statement-cache lookup (else an explicit
    /// `prepare`).
    pub from_cache: bool,
    /// Whether the cache held the statement prepared when the lookup
    /// started (another task may still prepare it first).
    pub cached: bool,
    /// The connection's server.
    pub server: &'a ServerInfo,
}

/// A preparation that finished.
#[derive(Debug)]
#[non_exhaustive]
pub struct PrepareEnd<'a> {
    /// The SQL.
    pub sql: &'a str,
    /// Whether the statement was found already prepared (a cache hit: no
    /// round trip).
    pub already_prepared: bool,
    /// Whether this was a statement-cache lookup (else an explicit
    /// `prepare`).
    pub from_cache: bool,
    /// Statements the lookup evicted from the cache to make room.
    pub evicted: u64,
    /// Time from `prepare_start` to now.
    pub elapsed: Duration,
    /// The error, when it failed.
    pub error: Option<&'a Error>,
    /// The connection's server.
    pub server: &'a ServerInfo,
}
