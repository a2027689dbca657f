//! The COPY hook: one start/end pair per COPY IN or COPY OUT.
//!
//! Owns [`CopyHook`] and its events.

use std::time::Duration;

use super::hook_data::HookData;
use super::server::ServerInfo;
use crate::error::Error;

/// Which way the data goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CopyDirection {
    /// `COPY … FROM STDIN`.
    In,
    /// `COPY … TO STDOUT`.
    Out,
}

impl CopyDirection {
    /// `COPY FROM` or `COPY TO`, as `db.operation.name`.
    pub fn operation_name(self) -> &'static str {
        match self {
            Self::In => "COPY FROM",
            Self::Out => "COPY TO",
        }
    }
}

/// Called around [`Client::copy_in`] (until its sink finishes) and
/// [`Client::copy_out`] (until its stream ends).
///
/// [`Client::copy_in`]: crate::Client::copy_in
/// [`Client::copy_out`]: crate::Client::copy_out
pub trait CopyHook: Send + Sync + 'static {
    /// A COPY is about to start.
    fn copy_start(&self, copy: &CopyStart<'_>) -> HookData {
        let _ = copy;
        HookData::none()
    }

    /// The COPY finished, failed or was abandoned; `data` is what
    /// `copy_start` returned.
    fn copy_end(&self, data: HookData, copy: &CopyEnd<'_>) {
        let _ = (data, copy);
    }
}

/// A COPY about to start.
#[derive(Debug)]
#[non_exhaustive]
pub struct CopyStart<'a> {
    /// In or out.
    pub direction: CopyDirection,
    /// The COPY statement.
    pub sql: &'a str,
    /// The connection's server.
    pub server: &'a ServerInfo,
}

/// A COPY that ended.
#[derive(Debug)]
#[non_exhaustive]
pub struct CopyEnd<'a> {
    /// In or out.
    pub direction: CopyDirection,
    /// The COPY statement.
    pub sql: &'a str,
    /// Rows, as the server counted them (COPY IN) or as received (COPY OUT);
    /// `None` when it did not finish.
    pub rows: Option<u64>,
    /// Data bytes sent or received.
    pub bytes: u64,
    /// Time from `copy_start` to now.
    pub elapsed: Duration,
    /// The error, when it failed.
    pub error: Option<&'a Error>,
    /// The connection's server.
    pub server: &'a ServerInfo,
}
