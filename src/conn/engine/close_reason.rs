//! Why a connection ended: one typed record, set once (the first reason
//! wins) and turned into the error of every request it ended and of every
//! request made afterwards, with the underlying cause (the socket's
//! `io::Error`, the `ProtoError`, the server's `DbError`, the session
//! parameter) as that error's source, shared by all of them. A request it
//! ended gets the cause's kind (`Io`, `Protocol`, `Db`;
//! [`CloseReason::to_error`]); a later one gets `Closed`
//! ([`CloseReason::refusal`]).
//!
//! Owns the reasons and their wording. Must not decide when a connection
//! closes: the driver, the reply readers and the client handle do, and hand
//! their reason here.

use std::error::Error as StdError;
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

    /// The error of a request this close ended (in flight or queued when
    /// it happened): its kind is the cause's — [`ErrorKind::Io`] for a
    /// socket error or the server closing the socket, [`ErrorKind::Protocol`]
    /// for bytes or messages the protocol does not allow, [`ErrorKind::Db`]
    /// for the server's FATAL — and the cause is its source. Only a close
    /// the client asked for (or a cause of the client's own) is
    /// [`ErrorKind::Closed`].
    pub(crate) fn to_error(&self) -> Error {
        if let Self::Violation(e) = self {
            // The violation a caller found, shared with every request it
            // ended.
            return e.repeat();
        }
        let (kind, context, source) = self.parts();
        match source {
            Some(source) => Error::with_shared_source(kind, context, source),
            None => Error::msg(kind, context.unwrap_or_default()),
        }
    }

    /// The error of a request made once the close was known: kind
    /// [`ErrorKind::Closed`], with the same wording and source as
    /// [`CloseReason::to_error`].
    pub(crate) fn refusal(&self) -> Error {
        self.to_error().with_kind(ErrorKind::Closed)
    }

    /// The kind a request ended by this close reports, what to say before
    /// the cause, and the cause.
    fn parts(
        &self,
    ) -> (
        ErrorKind,
        Option<String>,
        Option<Arc<dyn StdError + Send + Sync>>,
    ) {
        match self {
            Self::ClosedByClient | Self::AbortedByClient => {
                (ErrorKind::Closed, Some(self.to_string()), None)
            }
            Self::PeerClosed => (
                ErrorKind::Io,
                None,
                Some(Arc::new(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ))),
            ),
            Self::Unrequested { message } => (
                ErrorKind::Protocol,
                None,
                Some(Arc::new(OutOfStep::Unrequested { message })),
            ),
            Self::ReadyWithoutReply => (
                ErrorKind::Protocol,
                None,
                Some(Arc::new(OutOfStep::ReadyWithoutReply)),
            ),
            Self::Io { op, error } => (
                ErrorKind::Io,
                Some(op.failed().into()),
                Some(error.clone() as Arc<dyn StdError + Send + Sync>),
            ),
            Self::Protocol(e) => (ErrorKind::Protocol, None, Some(Arc::new((**e).clone()))),
            Self::ServerEnded(db) => (
                ErrorKind::Db,
                Some("the server ended the session".into()),
                Some(Arc::new((**db).clone())),
            ),
            // Not reached: `to_error` repeats the violation itself.
            Self::Violation(e) => (e.kind(), None, Some(e.clone())),
            Self::Parameter(cause) => (
                ErrorKind::Closed,
                Some("the connection was closed".into()),
                Some(Arc::new((**cause).clone())),
            ),
            Self::CancelLost { limit, cancel } => (
                ErrorKind::Closed,
                Some(format!(
                    "a query timed out after {limit:?} and its cancel request \
                     could not be delivered"
                )),
                Some(cancel.clone()),
            ),
        }
    }
}

/// The server sent a message no request was waiting for: the source of
/// the protocol error of every request that close ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutOfStep {
    /// A message of this name.
    Unrequested { message: &'static str },
    /// A ReadyForQuery with no reply before it.
    ReadyWithoutReply,
}

impl fmt::Display for OutOfStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unrequested { message } => {
                write!(f, "the server sent {message} when no request was waiting")
            }
            Self::ReadyWithoutReply => {
                f.write_str("the server sent ReadyForQuery with no reply before it")
            }
        }
    }
}

impl StdError for OutOfStep {}

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
    fn an_ended_request_reports_the_kind_of_the_cause() {
        let io = CloseReason::io(IoOp::Read, io::Error::from(io::ErrorKind::ConnectionReset));
        let err = io.to_error();
        assert_eq!(err.kind(), ErrorKind::Io);
        let source = err.source().expect("the io error");
        assert_eq!(
            source.downcast_ref::<io::Error>().map(io::Error::kind),
            Some(io::ErrorKind::ConnectionReset)
        );
        assert!(
            err.to_string()
                .starts_with("reading from the server failed: "),
            "{err}"
        );

        let eof = CloseReason::PeerClosed.to_error();
        assert_eq!(eof.kind(), ErrorKind::Io);
        assert_eq!(
            eof.source()
                .and_then(|s| s.downcast_ref::<io::Error>())
                .map(io::Error::kind),
            Some(io::ErrorKind::UnexpectedEof)
        );

        let proto = CloseReason::from(ProtoError::Truncated { message: "DataRow" });
        let err = proto.to_error();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert!(err.source().unwrap().downcast_ref::<ProtoError>().is_some());
        assert!(err.to_string().starts_with("protocol error: "), "{err}");

        let err = CloseReason::Unrequested { message: "DataRow" }.to_error();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert!(err.to_string().contains("DataRow when no request"), "{err}");
        assert_eq!(
            CloseReason::ReadyWithoutReply.to_error().kind(),
            ErrorKind::Protocol
        );

        let db = DbError::from_fields([(b'S', "FATAL"), (b'C', "57P01"), (b'M', "bye")]);
        let err = CloseReason::ServerEnded(Box::new(db)).to_error();
        assert_eq!(err.kind(), ErrorKind::Db);
        assert_eq!(err.code(), Some(&crate::error::SqlState::ADMIN_SHUTDOWN));
        assert!(
            err.to_string().contains("the server ended the session"),
            "{err}"
        );

        let violation = Error::msg(ErrorKind::Protocol, "a DataRow before RowDescription");
        let err = CloseReason::Violation(Arc::new(violation)).to_error();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert_eq!(
            err.to_string(),
            "protocol error: a DataRow before RowDescription"
        );

        for own in [CloseReason::ClosedByClient, CloseReason::AbortedByClient] {
            assert_eq!(own.to_error().kind(), ErrorKind::Closed);
        }
    }

    #[test]
    fn a_later_request_is_refused_as_closed_with_the_same_cause() {
        let io = CloseReason::io(IoOp::Write, io::Error::from(io::ErrorKind::BrokenPipe));
        let err = io.refusal();
        assert_eq!(err.kind(), ErrorKind::Closed);
        assert_eq!(
            err.source()
                .and_then(|s| s.downcast_ref::<io::Error>())
                .map(io::Error::kind),
            Some(io::ErrorKind::BrokenPipe)
        );
        assert_eq!(
            CloseReason::PeerClosed.refusal().to_string(),
            "connection closed: the server closed the connection"
        );
        let db = DbError::from_fields([(b'S', "FATAL"), (b'C', "57P01"), (b'M', "bye")]);
        let err = CloseReason::ServerEnded(Box::new(db)).refusal();
        assert!(err.is_closed());
        assert_eq!(err.code(), Some(&crate::error::SqlState::ADMIN_SHUTDOWN));
    }

    #[test]
    fn a_reason_is_small() {
        // Carried in the driver's `Result`s on every turn: the rare, large
        // causes are boxed.
        assert!(std::mem::size_of::<CloseReason>() <= 32);
    }
}
