//! Why a connection ended: one typed record, set once (the first reason
//! wins) and turned into the closed error every later caller gets, with the
//! underlying cause (the socket's `io::Error`, the `ProtoError`, the
//! server's `DbError`, the session parameter) as that error's source.
//!
//! Owns the reasons and their wording. Must not decide when a connection
//! closes: the driver, the reply readers and the client handle do, and hand
//! their reason here.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{DbError, Error, ErrorKind};
use crate::proto::ProtoError;
use crate::proto::session::UnsupportedParameter;

/// Which socket operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IoOp {
    Read,
    Write,
    Flush,
}

impl IoOp {
    fn failed(self) -> &'static str {
        match self {
            Self::Read => "reading from the server failed",
            Self::Write => "writing to the server failed",
            Self::Flush => "flushing to the server failed",
        }
    }
}

/// Why a connection ended.
#[derive(Debug, Clone)]
pub(crate) enum CloseReason {
    /// `close()`, or the last handle dropped: Terminate was sent.
    ClosedByClient,
    /// `Client::abort`: the socket was dropped without Terminate.
    AbortedByClient,
    /// The server closed the socket (a read of 0 bytes, a write of 0).
    PeerClosed,
    /// A socket operation failed.
    Io { op: IoOp, error: Arc<io::Error> },
    /// The server sent bytes the protocol does not allow.
    Protocol(Box<ProtoError>),
    /// The server sent a message no request was waiting for.
    Unrequested { message: &'static str },
    /// A ReadyForQuery with no reply before it: it answers no request this
    /// driver sends (each gets at least one reply first).
    ReadyWithoutReply,
    /// The server ended the session with an error no request waited for
    /// (an administrator's terminate, a shutdown).
    ServerEnded(Box<DbError>),
    /// A caller found a reply its request does not allow: the connection is
    /// out of step.
    Violation(Arc<Error>),
    /// The server reported a session parameter value pgline cannot honour.
    Parameter(Box<UnsupportedParameter>),
    /// A query timed out and its cancel request could not be delivered.
    CancelLost { limit: Duration, cancel: Arc<Error> },
}

impl CloseReason {
    /// A failed socket operation.
    pub(crate) fn io(op: IoOp, error: io::Error) -> Self {
        Self::Io {
            op,
            error: Arc::new(error),
        }
    }

    /// The error a caller gets once the connection closed for this reason:
    /// kind `Closed`, the cause (when there is one) as its source.
    pub(crate) fn to_error(&self) -> Error {
        let closed = |context: String| Error::msg(ErrorKind::Closed, context);
        match self {
            Self::ClosedByClient | Self::AbortedByClient | Self::PeerClosed => {
                closed(self.to_string())
            }
            Self::Unrequested { .. } | Self::ReadyWithoutReply => closed(self.to_string()),
            Self::Io { op, error } => {
                Error::with_source(ErrorKind::Closed, Some(op.failed().into()), error.clone())
            }
            Self::Protocol(e) => Error::with_source(
                ErrorKind::Closed,
                Some("protocol error".into()),
                (**e).clone(),
            ),
            Self::ServerEnded(db) => Error::with_source(
                ErrorKind::Closed,
                Some("the server ended the session".into()),
                (**db).clone(),
            ),
            Self::Violation(e) => Error::with_source(ErrorKind::Closed, None, e.clone()),
            Self::Parameter(cause) => Error::with_source(
                ErrorKind::Closed,
                Some("the connection was closed".into()),
                (**cause).clone(),
            ),
            Self::CancelLost { limit, cancel } => Error::with_source(
                ErrorKind::Closed,
                Some(format!(
                    "a query timed out after {limit:?} and its cancel request \
                     could not be delivered"
                )),
                cancel.clone(),
            ),
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClosedByClient => f.write_str("the connection was closed by the client"),
            Self::AbortedByClient => f.write_str("the connection was aborted by the client"),
            Self::PeerClosed => f.write_str("the server closed the connection"),
            Self::Io { op, error } => write!(f, "{}: {error}", op.failed()),
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::Unrequested { message } => write!(
                f,
                "protocol error: the server sent {message} when no request was waiting"
            ),
            Self::ReadyWithoutReply => {
                f.write_str("protocol error: the server sent ReadyForQuery with no reply before it")
            }
            Self::ServerEnded(db) => write!(f, "the server ended the session: {db}"),
            Self::Violation(e) => fmt::Display::fmt(e, f),
            Self::Parameter(cause) => write!(f, "the connection was closed: {cause}"),
            Self::CancelLost { limit, cancel } => write!(
                f,
                "a query timed out after {limit:?} and its cancel request could not be \
                 delivered: {cancel}"
            ),
        }
    }
}

impl From<ProtoError> for CloseReason {
    fn from(e: ProtoError) -> Self {
        Self::Protocol(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn the_closed_error_carries_the_typed_cause() {
        let io = CloseReason::io(IoOp::Read, io::Error::from(io::ErrorKind::ConnectionReset));
        let err = io.to_error();
        assert_eq!(err.kind(), ErrorKind::Closed);
        let source = err.source().expect("the io error");
        assert_eq!(
            source.downcast_ref::<Arc<io::Error>>().map(|e| e.kind()),
            Some(io::ErrorKind::ConnectionReset)
        );

        let proto = CloseReason::from(ProtoError::Truncated { message: "DataRow" });
        let err = proto.to_error();
        assert!(err.source().unwrap().downcast_ref::<ProtoError>().is_some());
        assert!(err.to_string().starts_with("protocol error: "), "{err}");
    }

    #[test]
    fn a_reason_without_a_cause_keeps_its_wording() {
        let err = CloseReason::PeerClosed.to_error();
        assert_eq!(err.kind(), ErrorKind::Closed);
        assert!(err.source().is_none());
        assert_eq!(
            err.to_string(),
            "connection closed: the server closed the connection"
        );
        let err = CloseReason::Unrequested { message: "DataRow" }.to_error();
        assert!(err.to_string().contains("DataRow when no request"), "{err}");
    }

    #[test]
    fn a_reason_is_small() {
        // Carried in the driver's `Result`s on every turn: the rare, large
        // causes are boxed.
        assert!(std::mem::size_of::<CloseReason>() <= 32);
    }
}
