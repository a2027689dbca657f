//! The public error type, and the server's errors it can carry.
//!
//! Owns [`Error`] (one opaque type with a matchable [`ErrorKind`] and
//! predicates), [`DbError`] (an ErrorResponse with every field) and
//! [`SqlState`]. Layers below keep precise error enums of their own
//! (`proto::ProtoError`, `proto::auth::AuthError`, `config::ConfigError`);
//! they reach callers wrapped here, available through
//! [`std::error::Error::source`].

mod db;
mod sqlstate;

use std::error::Error as StdError;
use std::fmt;

pub use db::{DbError, Severity};
pub use sqlstate::SqlState;

type BoxError = Box<dyn StdError + Send + Sync>;

/// What went wrong, at the level a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A socket error: connect refused, reset, broken pipe.
    Io,
    /// The TLS handshake or TLS configuration failed.
    Tls,
    /// Authentication could not be completed on the client side (unsupported
    /// method, refused by `require_auth`, bad server signature). A password the
    /// server rejects is a [`ErrorKind::Db`] error with code `28P01`.
    Auth,
    /// The server reported an error; see [`Error::as_db_error`].
    Db,
    /// The server sent something the protocol does not allow.
    Protocol,
    /// The configuration is invalid or incomplete.
    Config,
    /// An operation did not finish in the time allowed.
    Timeout,
    /// The connection is closed; no further requests can be made on it.
    Closed,
    /// A value could not be converted between Rust and PostgreSQL (wrong
    /// type, NULL into a non-`Option`, out of range).
    Type,
    /// An argument the caller passed cannot be sent as given, and nothing
    /// was sent: a NUL byte inside SQL text, a savepoint name or a snapshot
    /// id; a parameter value or message longer than the protocol's
    /// `i32::MAX` length allows; more parameters than a message can count;
    /// a statement the called method cannot run (`COPY … FROM STDIN`
    /// through `Client::query` instead of the COPY
    /// API). The connection stays usable. Options given as configuration
    /// are [`ErrorKind::Config`] instead.
    InvalidInput,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Io => "I/O error",
            Self::Tls => "TLS error",
            Self::Auth => "authentication error",
            Self::Db => "database error",
            Self::Protocol => "protocol error",
            Self::Config => "configuration error",
            Self::Timeout => "timeout",
            Self::Closed => "connection closed",
            Self::Type => "type conversion error",
            Self::InvalidInput => "invalid input",
        })
    }
}

/// The error type of every fallible pgline operation.
///
/// It is opaque: match on [`Error::kind`], or ask with the predicates
/// ([`is_closed`](Error::is_closed), [`is_timeout`](Error::is_timeout),
/// [`is_transient`](Error::is_transient)); a server error is reachable with
/// [`as_db_error`](Error::as_db_error) and [`code`](Error::code).
///
/// ```
/// # fn check(err: &pgline::Error) {
/// use pgline::error::SqlState;
/// if err.code() == Some(&SqlState::INVALID_PASSWORD) {
///     eprintln!("wrong password: {err}");
/// }
/// # }
/// ```
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    context: Option<String>,
    source: Option<BoxError>,
    /// For an error that ended a request the connection had accepted: how
    /// much of it reached the socket. `None` for every other error.
    delivery: Option<Delivery>,
}

/// How much of a request reached the socket before the connection ended
/// it, as the engine recorded (a write call that returned counts; bytes
/// still in the connection's buffer do not).
///
/// This is what tells "certainly not executed" (nothing of it was written,
/// so the server cannot have seen it) from "outcome unknown" (some of it
/// was written and no reply came).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Recorded by the runtime layers only.
#[cfg_attr(not(feature = "runtime"), allow(dead_code))]
pub(crate) enum Delivery {
    /// No byte of the request was written to the socket.
    Unsent,
    /// `bytes` bytes (at least one) counted from the request's first byte
    /// were written to the socket; later requests' bytes may be included.
    Written {
        /// Bytes written from the request's first byte on.
        bytes: u64,
    },
}

#[cfg_attr(not(feature = "runtime"), allow(dead_code))]
impl Delivery {
    /// Whether any byte at or after `offset` (counted from the request's
    /// first byte) was written: a part of the request that starts there
    /// may have reached the server.
    pub(crate) fn reached(self, offset: u64) -> bool {
        match self {
            Self::Unsent => false,
            Self::Written { bytes } => bytes > offset,
        }
    }
}

// The constructors are used by the runtime layers only.
#[cfg_attr(not(feature = "runtime"), allow(dead_code))]
impl Error {
    fn new(kind: ErrorKind, context: Option<String>, source: Option<BoxError>) -> Self {
        Self(Box::new(Inner {
            kind,
            context,
            source,
            delivery: None,
        }))
    }

    /// This error ended a request the connection had accepted; `delivery`
    /// says how much of it reached the socket.
    pub(crate) fn with_delivery(mut self, delivery: Delivery) -> Self {
        self.0.delivery = Some(delivery);
        self
    }

    /// The same failure again, for another of the requests it ended: the
    /// same kind, message and delivery; the source, which cannot be cloned,
    /// is kept as its text.
    pub(crate) fn repeat(&self) -> Self {
        let context = match (&self.0.context, &self.0.source) {
            (Some(c), Some(s)) => Some(format!("{c}: {s}")),
            (Some(c), None) => Some(c.clone()),
            (None, Some(s)) => Some(s.to_string()),
            (None, None) => None,
        };
        let mut error = Self::new(self.0.kind, context, None);
        error.0.delivery = self.0.delivery;
        error
    }

    /// How much of the request this error ended reached the socket, when
    /// the error ended a request the connection had accepted.
    pub(crate) fn delivery(&self) -> Option<Delivery> {
        self.0.delivery
    }

    /// An error of `kind` with a message and no underlying cause.
    pub(crate) fn msg(kind: ErrorKind, context: impl Into<String>) -> Self {
        Self::new(kind, Some(context.into()), None)
    }

    /// An error of `kind` caused by `source`, with an optional message that
    /// says what was being done (e.g. `"connecting to db1:5432"`).
    pub(crate) fn with_source(
        kind: ErrorKind,
        context: Option<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        Self::new(kind, context, Some(source.into()))
    }

    /// A server-reported error.
    pub(crate) fn db(err: DbError) -> Self {
        Self::new(ErrorKind::Db, None, Some(Box::new(err)))
    }

    /// The same error with `context` added: for a server error it is shown after the
    /// server's message (which stays reachable with [`Error::as_db_error`]), to say what
    /// the caller can do about it.
    pub(crate) fn with_context(mut self, context: impl Into<String>) -> Self {
        self.0.context = Some(context.into());
        self
    }

    /// The connection is closed.
    pub(crate) fn closed() -> Self {
        Self::new(ErrorKind::Closed, None, None)
    }
}

impl Error {
    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The server's error, when the server reported one.
    pub fn as_db_error(&self) -> Option<&DbError> {
        self.0.source.as_ref()?.downcast_ref::<DbError>()
    }

    /// The server's SQLSTATE, when the server reported an error.
    pub fn code(&self) -> Option<&SqlState> {
        self.as_db_error().map(DbError::code)
    }

    /// The connection is closed and cannot be used again.
    pub fn is_closed(&self) -> bool {
        self.0.kind == ErrorKind::Closed
    }

    /// A deadline passed (connect, statement or cancel timeout).
    pub fn is_timeout(&self) -> bool {
        self.0.kind == ErrorKind::Timeout
    }

    /// Retrying on another connection (or the same host later) may succeed:
    /// I/O errors, timeouts, closed connections, and server errors of class
    /// 08 (connection exception), 57P01..57P03 (shutdown, cannot connect now),
    /// 40001 (serialization failure) and 40P01 (deadlock).
    pub fn is_transient(&self) -> bool {
        match self.0.kind {
            ErrorKind::Io | ErrorKind::Timeout | ErrorKind::Closed => true,
            ErrorKind::Db => self.code().is_some_and(|c| {
                let code = c.code();
                code.starts_with("08")
                    || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
            }),
            _ => false,
        }
    }
}

impl Error {
    /// For a call that timed out: what became of the cancel request sent
    /// for it (the timeout error's source). `None` for other errors.
    ///
    /// ```no_run
    /// # async fn run(client: &pgline::Client) {
    /// use pgline::error::CancelOutcome;
    /// let quick = client.with_timeout(std::time::Duration::from_secs(2));
    /// if let Err(e) = quick.query("SELECT pg_sleep(10)", &[]).await {
    ///     match e.cancel_outcome() {
    ///         Some(CancelOutcome::Delivered) => { /* the connection is still usable */ }
    ///         Some(CancelOutcome::NotDelivered(why)) => eprintln!("connection dropped: {why}"),
    ///         _ => {}
    ///     }
    /// }
    /// # }
    /// ```
    pub fn cancel_outcome(&self) -> Option<&CancelOutcome> {
        self.0.source.as_ref()?.downcast_ref::<CancelOutcome>()
    }
}

/// What became of the cancel request sent for a call that timed out: the
/// source of that call's [`ErrorKind::Timeout`] error (see
/// [`Error::cancel_outcome`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum CancelOutcome {
    /// The cancel request was delivered: the server read it and closed the
    /// cancel connection. The query was asked to stop (the server may have
    /// finished it first); the connection stays usable.
    Delivered,
    /// The cancel request could not be delivered (its own error says why:
    /// no connection, no answer in time, or no cancel key from the server
    /// to send). Whatever the connection was
    /// waiting for may never come, so it was closed: later calls fail at
    /// once, and a pool replaces it.
    NotDelivered(Error),
}

impl fmt::Display for CancelOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Delivered => f.write_str(
                "the query was cancelled (the server read the cancel request and closed its connection)",
            ),
            Self::NotDelivered(e) => write!(
                f,
                "the cancel request could not be delivered, so the connection was closed: {e}"
            ),
        }
    }
}

impl StdError for CancelOutcome {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Delivered => None,
            Self::NotDelivered(e) => Some(e),
        }
    }
}

impl From<crate::types::TypeError> for Error {
    /// A conversion error between Rust and PostgreSQL values.
    fn from(e: crate::types::TypeError) -> Self {
        Self::with_source(ErrorKind::Type, None, e)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.0.kind);
        if let Some(context) = &self.0.context {
            d.field("context", context);
        }
        if let Some(source) = &self.0.source {
            d.field("source", source);
        }
        if let Some(delivery) = &self.0.delivery {
            d.field("delivery", delivery);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(db) = self.as_db_error() {
            fmt::Display::fmt(db, f)?;
            if let Some(context) = &self.0.context {
                write!(f, "; {context}")?;
            }
            return Ok(());
        }
        match (&self.0.context, &self.0.source) {
            (Some(c), Some(s)) => write!(f, "{c}: {s}"),
            (Some(c), None) => write!(f, "{}: {c}", self.0.kind),
            (None, Some(s)) => write!(f, "{}: {s}", self.0.kind),
            (None, None) => fmt::Display::fmt(&self.0.kind, f),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_error_is_reachable_and_displayed() {
        let db = DbError::from_fields([
            (b'S', "FATAL"),
            (b'C', "28P01"),
            (b'M', "password authentication failed for user \"app\""),
        ]);
        let err = Error::db(db);
        assert_eq!(err.kind(), ErrorKind::Db);
        assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD));
        assert_eq!(
            err.to_string(),
            "password authentication failed for user \"app\" (28P01)"
        );
        assert!(!err.is_transient());
        assert!(err.source().is_some());
    }

    #[test]
    fn a_timeout_says_whether_its_cancel_was_delivered() {
        let lost = Error::with_source(
            ErrorKind::Timeout,
            Some("the query did not finish within 2s".into()),
            CancelOutcome::NotDelivered(Error::msg(ErrorKind::Timeout, "no answer")),
        );
        assert!(lost.is_timeout());
        let Some(CancelOutcome::NotDelivered(why)) = lost.cancel_outcome() else {
            panic!("{lost:?}");
        };
        assert_eq!(why.kind(), ErrorKind::Timeout);
        let chain = lost.source().and_then(StdError::source);
        assert!(chain.is_some_and(|e| e.to_string() == "timeout: no answer"));
        assert!(
            lost.to_string().contains("could not be delivered"),
            "{lost}"
        );

        let delivered = Error::with_source(ErrorKind::Timeout, None, CancelOutcome::Delivered);
        assert!(matches!(
            delivered.cancel_outcome(),
            Some(CancelOutcome::Delivered)
        ));
        assert!(Error::closed().cancel_outcome().is_none());
    }

    #[test]
    fn a_repeated_error_keeps_kind_text_and_delivery() {
        let first = Error::with_source(
            ErrorKind::Io,
            Some("reading from the server".into()),
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        )
        .with_delivery(Delivery::Written { bytes: 7 });
        let again = first.repeat();
        assert_eq!(again.kind(), ErrorKind::Io);
        assert_eq!(again.to_string(), format!("I/O error: {first}"));
        assert_eq!(again.delivery(), Some(Delivery::Written { bytes: 7 }));
    }

    #[test]
    fn predicates_follow_kind() {
        let closed = Error::closed();
        assert!(closed.is_closed() && closed.is_transient() && !closed.is_timeout());
        let timeout = Error::msg(ErrorKind::Timeout, "connect timed out after 1s");
        assert!(timeout.is_timeout());
        assert_eq!(timeout.to_string(), "timeout: connect timed out after 1s");
        let io = Error::with_source(
            ErrorKind::Io,
            Some("connecting to 127.0.0.1:1".into()),
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        );
        assert!(io.to_string().starts_with("connecting to 127.0.0.1:1: "));
        assert!(io.as_db_error().is_none());
    }
}
