//! The public error type, and the server's errors it can carry.
//!
//! Owns [`Error`] (one opaque type with a matchable [`ErrorKind`] and
//! predicates), [`DbError`] (an ErrorResponse with every field) and
//! [`SqlState`]. Layers below keep precise error enums of their own
//! (`proto::ProtoError`, `proto::auth::AuthError`, `config::ConfigError`);
//! they reach callers wrapped here, available through
//! [`std::error::Error::source`].

mod db;
mod retry;
mod sqlstate;

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

pub use db::{DbError, Severity};
pub use retry::RetryClass;
#[cfg_attr(not(feature = "runtime"), allow(unused_imports))]
pub(crate) use retry::{Effect, Ended, Scope};
pub use sqlstate::SqlState;

type BoxError = Box<dyn StdError + Send + Sync>;
/// A cause shared by every error that repeats it (one failure can end
/// many requests; each gets the same typed source).
type SharedError = Arc<dyn StdError + Send + Sync>;

/// What went wrong, at the level a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A socket error: connect refused, reset, broken pipe, or the server
    /// closing the connection under a request (the `io::Error` is the
    /// source).
    Io,
    /// The TLS handshake or TLS configuration failed.
    Tls,
    /// Authentication could not be completed on the client side (unsupported
    /// method, refused by `require_auth`, bad server signature). A password the
    /// server rejects is a [`ErrorKind::Db`] error with code `28P01`.
    Auth,
    /// The server reported an error; see [`Error::as_db_error`].
    Db,
    /// The server sent something the protocol does not allow; the
    /// connection is closed, and every request it ended reports this kind.
    /// Never retryable.
    Protocol,
    /// The configuration is invalid or incomplete.
    Config,
    /// An operation did not finish in the time allowed.
    Timeout,
    /// The connection is closed; no further requests can be made on it.
    /// A request made once the close was known reports this kind (with the
    /// close's cause as source), as does a request ended by a close the
    /// client asked for. A request the connection's failure ended reports
    /// the failure's own kind instead ([`ErrorKind::Io`],
    /// [`ErrorKind::Protocol`], [`ErrorKind::Db`] for the server's FATAL).
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
/// ([`is_closed`](Error::is_closed), [`is_timeout`](Error::is_timeout)),
/// or ask what is safe to do again ([`retry_class`](Error::retry_class));
/// a server error is reachable with [`as_db_error`](Error::as_db_error)
/// and [`code`](Error::code).
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
    source: Option<SharedError>,
    /// For an error that ended a request the connection had accepted: how
    /// much of it reached the socket and what it was doing to the
    /// transaction block. `None` for every other error.
    ended: Option<Ended>,
    /// A server error reported for a request queued inside a transaction
    /// block (the error aborted the block).
    in_block: bool,
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
    fn new(kind: ErrorKind, context: Option<String>, source: Option<SharedError>) -> Self {
        Self(Box::new(Inner {
            kind,
            context,
            source,
            ended: None,
            in_block: false,
        }))
    }

    /// This error ended a request the connection had accepted; `delivery`
    /// says how much of it reached the socket (nothing else is known of
    /// the request).
    #[cfg(test)]
    pub(crate) fn with_delivery(self, delivery: Delivery) -> Self {
        self.with_ended(Ended {
            delivery,
            ..Ended::unsent()
        })
    }

    /// This error ended a request the connection had accepted, as `ended`
    /// records.
    pub(crate) fn with_ended(mut self, ended: Ended) -> Self {
        self.0.ended = Some(ended);
        self
    }

    /// For a request the connection refused or ended: what the request
    /// does to the transaction block, as its sender knows (the connection
    /// records only how far it got).
    pub(crate) fn with_effect(mut self, effect: Effect) -> Self {
        if let Some(ended) = &mut self.0.ended {
            ended.effect = effect;
        }
        self
    }

    /// A server error for a request queued inside a transaction block:
    /// the error aborted the block.
    pub(crate) fn in_block(mut self) -> Self {
        self.0.in_block = true;
        self
    }

    /// The same error with another kind (same message, source and record
    /// of the request).
    pub(crate) fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.0.kind = kind;
        self
    }

    /// The same failure again, for another of the requests it ended: the
    /// same kind, message, record of the request and source (shared, so
    /// every copy downcasts to the same typed cause).
    pub(crate) fn repeat(&self) -> Self {
        let mut error = Self::new(self.0.kind, self.0.context.clone(), self.0.source.clone());
        error.0.ended = self.0.ended;
        error.0.in_block = self.0.in_block;
        error
    }

    /// How much of the request this error ended reached the socket, when
    /// the error ended a request the connection had accepted.
    pub(crate) fn delivery(&self) -> Option<Delivery> {
        self.0.ended.map(|e| e.delivery)
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
        Self::new(kind, context, Some(SharedError::from(source.into())))
    }

    /// An error of `kind` caused by a `source` other errors share.
    pub(crate) fn with_shared_source(
        kind: ErrorKind,
        context: Option<String>,
        source: SharedError,
    ) -> Self {
        Self::new(kind, context, Some(source))
    }

    /// A server-reported error.
    pub(crate) fn db(err: DbError) -> Self {
        Self::new(ErrorKind::Db, None, Some(Arc::new(err)))
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

    /// The server's SQLSTATE, when the server reported an error; for an
    /// error whose outcome is unknown ([`RetryClass::OutcomeUnknown`])
    /// without a server error, `08007` (`transaction_resolution_unknown`).
    pub fn code(&self) -> Option<&SqlState> {
        match self.as_db_error() {
            Some(db) => Some(db.code()),
            None if self.is_outcome_unknown() => Some(&OUTCOME_UNKNOWN),
            None => None,
        }
    }

    /// The connection is closed and cannot be used again.
    pub fn is_closed(&self) -> bool {
        self.0.kind == ErrorKind::Closed
    }

    /// A deadline passed (connect, statement or cancel timeout).
    pub fn is_timeout(&self) -> bool {
        self.0.kind == ErrorKind::Timeout
    }

    /// What is safe to do again after this error: run the request again
    /// ([`RetryClass::NotExecuted`]), run its whole transaction again
    /// ([`RetryClass::RetryTransaction`]), nothing because it may have
    /// taken effect ([`RetryClass::OutcomeUnknown`]), or nothing because it
    /// would fail again ([`RetryClass::NotRetryable`]). Derived from the
    /// kind, the server's SQLSTATE and, for a request the connection
    /// ended, how much of it reached the socket and whether a transaction
    /// block was open. See [`RetryClass`] for an example.
    pub fn retry_class(&self) -> RetryClass {
        let own_code = self.as_db_error().map(DbError::code);
        retry::classify(
            self.0.kind,
            own_code,
            self.0.ended,
            self.0.in_block,
            self.cancel_outcome().is_some(),
        )
    }

    /// The request may or may not have taken effect (a COMMIT, or a
    /// statement outside a transaction block, reached the server and no
    /// reply came): never retry it blindly. Same as
    /// `retry_class() == RetryClass::OutcomeUnknown`; [`Error::code`] is
    /// then `08007` unless the server sent an error of its own.
    pub fn is_outcome_unknown(&self) -> bool {
        self.retry_class() == RetryClass::OutcomeUnknown
    }

    /// Retrying may succeed and is safe: the request certainly did not
    /// execute, or its whole transaction can be run again
    /// ([`RetryClass::NotExecuted`] or [`RetryClass::RetryTransaction`];
    /// which one matters, so prefer [`Error::retry_class`]). An error whose
    /// outcome is unknown is not transient.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.retry_class(),
            RetryClass::NotExecuted | RetryClass::RetryTransaction
        )
    }
}

/// The code [`Error::code`] reports for an outcome-unknown error.
static OUTCOME_UNKNOWN: SqlState = SqlState::TRANSACTION_RESOLUTION_UNKNOWN;

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
        if let Some(ended) = &self.0.ended {
            d.field("ended", ended);
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
    fn a_repeated_error_keeps_kind_text_delivery_and_typed_source() {
        let first = Error::with_source(
            ErrorKind::Io,
            Some("reading from the server".into()),
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        )
        .with_delivery(Delivery::Written { bytes: 7 });
        let again = first.repeat();
        assert_eq!(again.kind(), ErrorKind::Io);
        assert_eq!(again.to_string(), first.to_string());
        assert_eq!(again.delivery(), Some(Delivery::Written { bytes: 7 }));
        assert_eq!(again.retry_class(), first.retry_class());
        let io = again
            .source()
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .expect("the io::Error itself, shared");
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset);

        let db = Error::db(DbError::from_fields([
            (b'S', "FATAL"),
            (b'C', "57P01"),
            (b'M', "terminating connection due to administrator command"),
        ]));
        assert_eq!(db.repeat().code(), Some(&SqlState::ADMIN_SHUTDOWN));
    }

    #[test]
    fn an_outcome_unknown_error_reports_08007() {
        let lost = Error::with_source(
            ErrorKind::Io,
            None,
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        )
        .with_ended(Ended {
            delivery: Delivery::Written { bytes: 3 },
            followed: false,
            scope: Scope::Autocommit,
            effect: Effect::Statement,
        });
        assert_eq!(lost.kind(), ErrorKind::Io);
        assert!(lost.is_outcome_unknown() && !lost.is_transient());
        assert_eq!(lost.code(), Some(&SqlState::TRANSACTION_RESOLUTION_UNKNOWN));
        assert!(lost.as_db_error().is_none());

        // A server error keeps its own code.
        let fatal =
            Error::db(DbError::from_fields([(b'S', "FATAL"), (b'C', "57P01")])).with_ended(Ended {
                delivery: Delivery::Written { bytes: 3 },
                followed: false,
                scope: Scope::Autocommit,
                effect: Effect::Commit,
            });
        assert!(fatal.is_outcome_unknown());
        assert_eq!(fatal.code(), Some(&SqlState::ADMIN_SHUTDOWN));

        let unsent = Error::closed().with_delivery(Delivery::Unsent);
        assert_eq!(unsent.retry_class(), RetryClass::NotExecuted);
        assert_eq!(unsent.code(), None);
        // A COMMIT refused once the close was known: its block is lost, so
        // the whole transaction runs again, never the COMMIT alone.
        let commit = unsent.with_effect(Effect::Commit);
        assert_eq!(commit.retry_class(), RetryClass::RetryTransaction);
        // Only a request's record takes an effect.
        let connect = Error::msg(ErrorKind::Io, "refused").with_effect(Effect::Commit);
        assert_eq!(connect.retry_class(), RetryClass::NotExecuted);
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
