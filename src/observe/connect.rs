//! The connect hook: one start/end pair per host attempt.
//!
//! Owns [`ConnectHook`] and its events. A `connect` that walks several
//! hosts calls the hook once per host it tries.

use std::time::Duration;

use super::hook_data::HookData;
use crate::error::Error;

/// Called around each host a connect tries (resolution, every address of
/// the host, startup and the `target_session_attrs` role check).
pub trait ConnectHook: Send + Sync + 'static {
    /// A host is about to be tried.
    fn connect_start(&self, connect: &ConnectStart<'_>) -> HookData {
        let _ = connect;
        HookData::none()
    }

    /// The attempt succeeded or failed; `data` is what `connect_start`
    /// returned.
    fn connect_end(&self, data: HookData, connect: &ConnectEnd<'_>) {
        let _ = (data, connect);
    }
}

/// A host about to be tried.
#[derive(Debug)]
#[non_exhaustive]
pub struct ConnectStart<'a> {
    /// The host as configured (name, address or socket directory).
    pub host: &'a str,
    /// The port.
    pub port: u16,
    /// The database name.
    pub namespace: &'a str,
}

/// A host attempt that ended.
#[derive(Debug)]
#[non_exhaustive]
pub struct ConnectEnd<'a> {
    /// The host as configured.
    pub host: &'a str,
    /// The port.
    pub port: u16,
    /// The database name.
    pub namespace: &'a str,
    /// Time from `connect_start` to now.
    pub elapsed: Duration,
    /// The server process, when connected.
    pub backend_pid: Option<u32>,
    /// Whether the server passed the role check (`target_session_attrs`);
    /// `false` with no error when it connected but had the wrong role.
    pub role_accepted: bool,
    /// The error, when the attempt failed (including a role rejection).
    pub error: Option<&'a Error>,
}
