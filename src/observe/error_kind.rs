//! Error kinds as bounded label values, shared by metrics and spans.

use crate::error::ErrorKind;

/// The error kind as a label value.
pub(crate) fn error_kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Io => "io",
        ErrorKind::Tls => "tls",
        ErrorKind::Auth => "auth",
        ErrorKind::Db => "db",
        ErrorKind::Protocol => "protocol",
        ErrorKind::Config => "config",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Closed => "closed",
        ErrorKind::Type => "type",
        ErrorKind::InvalidInput => "invalid_input",
        // Kinds added later are still a bounded label.
        #[allow(unreachable_patterns)]
        _ => "other",
    }
}
