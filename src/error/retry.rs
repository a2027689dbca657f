//! Safe-retry classification: what a caller may do again after an error.
//!
//! Owns [`RetryClass`] and the pure function that derives it from an
//! error's kind, its SQLSTATE and what the connection recorded about the
//! request the error ended ([`Ended`]: how much of it reached the socket,
//! whether a transaction block was open, whether it could end one). Must
//! not look at sockets or clocks: everything it needs is recorded by the
//! engine and handed in, so the table tests below cover every case.

// The records are made by the runtime layers only.
#![cfg_attr(not(feature = "runtime"), allow(dead_code))]

use crate::error::{Delivery, ErrorKind, SqlState};

/// What a caller may safely do after an error: the answer of
/// [`Error::retry_class`](crate::Error::retry_class).
///
/// The classes are ordered by what a retry must redo:
///
/// | class | what is known | safe to |
/// |---|---|---|
/// | [`NotExecuted`](Self::NotExecuted) | the request had no effect | run the request again (on any connection) |
/// | [`RetryTransaction`](Self::RetryTransaction) | the transaction it belongs to had no effect and is gone | run the whole transaction again, from its `BEGIN` |
/// | [`OutcomeUnknown`](Self::OutcomeUnknown) | a COMMIT (or a statement outside a transaction block) may have taken effect | nothing automatically: check, or report |
/// | [`NotRetryable`](Self::NotRetryable) | the same request would fail the same way | nothing |
///
/// A pool hands out a new connection for each try, so a request that
/// certainly did not run can go again; one whose outcome is unknown must
/// not:
///
/// ```no_run
/// # async fn run(pool: &pgline::Pool, id: i64) -> Result<(), pgline::Error> {
/// use pgline::error::RetryClass;
/// let mut tries = 0;
/// loop {
///     tries += 1;
///     match pool.execute("INSERT INTO t (id) VALUES ($1)", &[&id]).await {
///         Ok(_) => return Ok(()),
///         // Nothing of it ran: running it again cannot insert twice.
///         Err(e) if e.retry_class() == RetryClass::NotExecuted && tries < 3 => {}
///         // The row may be there (OutcomeUnknown): look before inserting
///         // again. Or the error would come back (NotRetryable).
///         Err(e) => return Err(e),
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryClass {
    /// The request certainly did not execute: none of it reached the
    /// socket, or the server refused it in a way that proves it had no
    /// effect (`25006` read-only transaction, `53…` insufficient
    /// resources, `57P03` cannot connect now), or connecting failed. Running
    /// it again is safe. (Inside a transaction block, such a server error
    /// aborts the block, and a lost connection loses it: the class is then
    /// [`RetryTransaction`](Self::RetryTransaction).)
    NotExecuted,
    /// The transaction the request belongs to certainly did not commit and
    /// is over: a serialization failure (`40001`), a deadlock (`40P01`), a
    /// server error of the [`NotExecuted`](Self::NotExecuted) kind inside a
    /// block (which aborts it), or a connection lost inside a block before
    /// its COMMIT was written. Run the whole transaction again from its
    /// start (on a live connection); running only the failed statement
    /// again is not enough.
    RetryTransaction,
    /// The request may or may not have taken effect: a COMMIT, or a
    /// statement outside a transaction block (which commits on its own),
    /// reached the socket and no reply came. [`Error::code`](crate::Error::code)
    /// is `08007` (`transaction_resolution_unknown`) unless the server sent
    /// an error of its own. Never retried automatically: a retry could
    /// apply the change twice.
    OutcomeUnknown,
    /// Retrying cannot help or is not safe: the server broke the protocol,
    /// the input, the configuration or the credentials are wrong, or the
    /// server reported an error that the same request would meet again.
    NotRetryable,
}

impl RetryClass {
    /// A short name for metrics labels and logs (`not_executed`,
    /// `retry_transaction`, `outcome_unknown`, `not_retryable`).
    pub fn name(self) -> &'static str {
        match self {
            Self::NotExecuted => "not_executed",
            Self::RetryTransaction => "retry_transaction",
            Self::OutcomeUnknown => "outcome_unknown",
            Self::NotRetryable => "not_retryable",
        }
    }
}

/// Whether a transaction block was open when a request was queued, as the
/// connection knew from the last ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Scope {
    /// No block was open and no request was unanswered ahead of it: the
    /// request runs in a transaction of its own (autocommit).
    Autocommit,
    /// A block was open (or failed) and no request was unanswered ahead
    /// of it.
    InBlock,
    /// Requests ahead of it were unanswered: any of them could have opened
    /// or ended a block.
    #[default]
    Unknown,
}

/// What a request does to the transaction block, as its sender knew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Effect {
    /// One statement that neither opens nor ends a block.
    Statement,
    /// It opens a block and has no effect of its own (`BEGIN`).
    Begin,
    /// It has no effect on data at all (preparing a statement).
    Nothing,
    /// It may end a block with a commit (`COMMIT`, `END`, `PREPARE
    /// TRANSACTION`, …).
    Commit,
    /// Not known (several statements, a prepared statement run by
    /// name, a pipeline): treated as if it could commit.
    #[default]
    Unknown,
}

impl Effect {
    /// What one statement does to the transaction block, from its first
    /// keyword: for SQL sent with the extended protocol, which takes one
    /// statement only. Looks at the first keyword only, so it costs the
    /// same for any length of SQL.
    pub(crate) fn of_statement(sql: &str) -> Self {
        let text = skip_blanks_and_comments(sql.as_bytes());
        // The longest keyword looked for has 7 letters: a longer word is
        // none of them.
        let word_len = text
            .iter()
            .take(8)
            .position(|b| !b.is_ascii_alphabetic())
            .unwrap_or(text.len().min(8));
        let word = &text[..word_len];
        let is = |k: &str| word.eq_ignore_ascii_case(k.as_bytes());
        if is("begin") || is("start") {
            Self::Begin
        } else if is("commit") || is("end") || is("prepare") {
            // `PREPARE name AS …` is caught too: harmless, it only makes
            // the answer more careful.
            Self::Commit
        } else if word.is_empty() {
            Self::Unknown
        } else {
            Self::Statement
        }
    }

    /// What SQL text sent with the simple protocol does to the
    /// transaction block: as [`Effect::of_statement`], and
    /// [`Effect::Unknown`] for text with more than one statement (a `;`
    /// followed by anything but blanks).
    pub(crate) fn of_sql(sql: &str) -> Self {
        if several_statements(sql.as_bytes()) {
            Self::Unknown
        } else {
            Self::of_statement(sql)
        }
    }
}

fn skip_blanks_and_comments(mut s: &[u8]) -> &[u8] {
    loop {
        let trimmed = s.trim_ascii_start();
        if let Some(rest) = trimmed.strip_prefix(b"--") {
            s = rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(&[][..], |i| &rest[i..]);
        } else if let Some(rest) = trimmed.strip_prefix(b"/*") {
            // Nested comments end later, never earlier: stopping at the
            // first `*/` may only make the keyword unrecognised (Unknown).
            s = rest
                .windows(2)
                .position(|w| w == b"*/")
                .map_or(&[][..], |i| &rest[i + 2..]);
        } else {
            return trimmed;
        }
    }
}

/// Whether a `;` is followed by anything but blanks (a `;` inside a
/// literal or a comment counts too, which only makes the answer more
/// careful).
fn several_statements(sql: &[u8]) -> bool {
    match sql.iter().position(|&b| b == b';') {
        Some(i) => !sql[i + 1..]
            .iter()
            .all(|b| b.is_ascii_whitespace() || *b == b';'),
        None => false,
    }
}

/// What the connection recorded about a request that it ended without a
/// complete reply: the connection died, or the server ended the session
/// with a FATAL error in place of the request's ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ended {
    /// How much of the request reached the socket.
    pub(crate) delivery: Delivery,
    /// Bytes of a later request reached the socket too: the server may
    /// have finished this request and started the next.
    pub(crate) followed: bool,
    pub(crate) scope: Scope,
    pub(crate) effect: Effect,
}

impl Ended {
    /// A request the connection refused or failed before any of it was
    /// written, with nothing known of its block.
    pub(crate) fn unsent() -> Self {
        Self {
            delivery: Delivery::Unsent,
            followed: false,
            scope: Scope::Unknown,
            effect: Effect::Unknown,
        }
    }

    /// The class of a request ended this way (for errors whose kind allows
    /// a retry at all).
    fn class(self) -> RetryClass {
        let in_block = self.scope == Scope::InBlock;
        if self.effect == Effect::Begin {
            // BEGIN has no effect of its own; whatever follows it is gone.
            return RetryClass::RetryTransaction;
        }
        if self.effect == Effect::Nothing {
            // Nothing of it can have happened; a block open around it is
            // lost with the connection.
            return if in_block {
                RetryClass::RetryTransaction
            } else {
                RetryClass::NotExecuted
            };
        }
        match self.delivery {
            Delivery::Unsent => {
                // A COMMIT that never left ends a block that is lost now.
                if in_block || self.effect == Effect::Commit {
                    RetryClass::RetryTransaction
                } else {
                    RetryClass::NotExecuted
                }
            }
            Delivery::Written { .. } => {
                if in_block && self.effect == Effect::Statement && !self.followed {
                    // The server ends a block it loses the session of with a
                    // rollback; no COMMIT of it was written.
                    RetryClass::RetryTransaction
                } else {
                    RetryClass::OutcomeUnknown
                }
            }
        }
    }
}

/// The retry class of an error of `kind`, with the server's `code` (for
/// [`ErrorKind::Db`]), `ended` when the error ended a request the
/// connection had accepted, `in_block` when the server reported the error
/// for a request queued inside a transaction block (which the error
/// aborts), and `cancelled` when it is a query timeout that sent a cancel
/// request.
pub(crate) fn classify(
    kind: ErrorKind,
    code: Option<&SqlState>,
    ended: Option<Ended>,
    in_block: bool,
    cancelled: bool,
) -> RetryClass {
    use RetryClass::*;
    match kind {
        // Never retried: the server is out of step or the request is wrong.
        ErrorKind::Protocol
        | ErrorKind::Config
        | ErrorKind::Auth
        | ErrorKind::Type
        | ErrorKind::InvalidInput => NotRetryable,
        ErrorKind::Db => match (code, ended) {
            (Some(c), _) if is_transaction_conflict(c) => RetryTransaction,
            // A FATAL in place of the request's reply: the session is gone
            // with the request in flight.
            (_, Some(ended)) => ended.class(),
            (Some(c), None) => match server_error_class(c) {
                // The statement had no effect, but the error aborted the
                // block around it: the block runs again, not the statement.
                NotExecuted if in_block => RetryTransaction,
                class => class,
            },
            (None, None) => NotRetryable,
        },
        ErrorKind::Io | ErrorKind::Closed | ErrorKind::Tls => match ended {
            Some(ended) => ended.class(),
            // Connecting failed, or the pool is closed: no request left.
            None => NotExecuted,
        },
        ErrorKind::Timeout => match ended {
            Some(ended) => ended.class(),
            // A query that timed out was sent and may have finished before
            // its cancel arrived.
            None if cancelled => OutcomeUnknown,
            // Connecting or waiting for a pooled connection: nothing sent.
            None => NotExecuted,
        },
    }
}

fn is_transaction_conflict(code: &SqlState) -> bool {
    matches!(
        *code,
        SqlState::SERIALIZATION_FAILURE | SqlState::DEADLOCK_DETECTED
    )
}

/// The class of a server error reported for a request, by SQLSTATE. The
/// statement failed, so it had no effect; what matters is whether the
/// same request may succeed later.
fn server_error_class(code: &SqlState) -> RetryClass {
    use RetryClass::*;
    match *code {
        SqlState::TRANSACTION_RESOLUTION_UNKNOWN => OutcomeUnknown,
        // The server refused to go on with the session or the connection.
        SqlState::CONNECTION_EXCEPTION
        | SqlState::CONNECTION_DOES_NOT_EXIST
        | SqlState::CONNECTION_FAILURE
        | SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION
        | SqlState::SQLSERVER_REJECTED_ESTABLISHMENT_OF_SQLCONNECTION => NotExecuted,
        // A write on a standby (or in a read-only transaction): another
        // host may take it.
        SqlState::READ_ONLY_SQL_TRANSACTION => NotExecuted,
        // The session was ended while idle in a block: its COMMIT never came.
        SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT => RetryTransaction,
        // The server is shutting down, not taking connections yet, or
        // ended an idle session: another try (or host) may succeed.
        SqlState::ADMIN_SHUTDOWN
        | SqlState::CRASH_SHUTDOWN
        | SqlState::CANNOT_CONNECT_NOW
        | SqlState::IDLE_SESSION_TIMEOUT => NotExecuted,
        ref c if c.class() == "53" => NotExecuted,
        _ => NotRetryable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RetryClass::*;

    fn ended(delivery: Delivery, scope: Scope, effect: Effect) -> Ended {
        Ended {
            delivery,
            followed: false,
            scope,
            effect,
        }
    }

    const WRITTEN: Delivery = Delivery::Written { bytes: 10 };

    #[test]
    fn server_errors_by_sqlstate_class() {
        // (code, class for the error as a reply to a request)
        let table = [
            // 08: connection exception, at connect or from the server.
            ("08000", NotExecuted),
            ("08003", NotExecuted),
            ("08006", NotExecuted),
            ("08001", NotExecuted),
            ("08004", NotExecuted),
            ("08007", OutcomeUnknown),
            ("08P01", NotRetryable),
            // 25: invalid transaction state.
            ("25006", NotExecuted),
            ("25P03", RetryTransaction),
            ("25001", NotRetryable),
            ("25P02", NotRetryable),
            // 40: transaction rollback.
            ("40001", RetryTransaction),
            ("40P01", RetryTransaction),
            ("40002", NotRetryable),
            ("40003", NotRetryable),
            // 53: insufficient resources.
            ("53000", NotExecuted),
            ("53100", NotExecuted),
            ("53200", NotExecuted),
            ("53300", NotExecuted),
            // 57: operator intervention.
            ("57P01", NotExecuted),
            ("57P02", NotExecuted),
            ("57P03", NotExecuted),
            ("57P05", NotExecuted),
            ("57014", NotRetryable),
            ("57P04", NotRetryable),
            // Others: the same request fails the same way.
            ("23505", NotRetryable),
            ("42601", NotRetryable),
            ("28P01", NotRetryable),
        ];
        for (code, want) in table {
            let code = SqlState::from_code(code);
            assert_eq!(
                classify(ErrorKind::Db, Some(&code), None, false, false),
                want,
                "{code}"
            );
        }
    }

    #[test]
    fn a_server_error_inside_a_block_reruns_the_block() {
        // No effect, but the block is aborted: the whole transaction again.
        for code in ["25006", "53300", "57P03", "08006"] {
            let code = SqlState::from_code(code);
            assert_eq!(
                classify(ErrorKind::Db, Some(&code), None, true, false),
                RetryTransaction,
                "{code}"
            );
        }
        for (code, want) in [
            ("40001", RetryTransaction),
            ("23505", NotRetryable),
            ("08007", OutcomeUnknown),
        ] {
            let code = SqlState::from_code(code);
            assert_eq!(
                classify(ErrorKind::Db, Some(&code), None, true, false),
                want,
                "{code}"
            );
        }
    }

    #[test]
    fn client_side_errors_without_a_request() {
        let table = [
            (ErrorKind::Io, false, NotExecuted),
            (ErrorKind::Tls, false, NotExecuted),
            (ErrorKind::Timeout, false, NotExecuted),
            (ErrorKind::Timeout, true, OutcomeUnknown),
            (ErrorKind::Closed, false, NotExecuted),
            (ErrorKind::Protocol, false, NotRetryable),
            (ErrorKind::Auth, false, NotRetryable),
            (ErrorKind::Config, false, NotRetryable),
            (ErrorKind::Type, false, NotRetryable),
            (ErrorKind::InvalidInput, false, NotRetryable),
        ];
        for (kind, cancelled, want) in table {
            assert_eq!(
                classify(kind, None, None, false, cancelled),
                want,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn a_request_the_connection_ended_by_delivery_scope_and_effect() {
        use Effect::*;
        use Scope::*;
        let unsent = Delivery::Unsent;
        // (delivery, scope, effect, class)
        let table = [
            (unsent, Autocommit, Statement, NotExecuted),
            (unsent, Scope::Unknown, Statement, NotExecuted),
            (unsent, Scope::Unknown, Effect::Unknown, NotExecuted),
            (unsent, InBlock, Statement, RetryTransaction),
            (unsent, InBlock, Commit, RetryTransaction),
            (unsent, Autocommit, Commit, RetryTransaction),
            (unsent, Autocommit, Begin, RetryTransaction),
            (WRITTEN, Autocommit, Statement, OutcomeUnknown),
            (WRITTEN, Autocommit, Effect::Unknown, OutcomeUnknown),
            (WRITTEN, Autocommit, Begin, RetryTransaction),
            (WRITTEN, InBlock, Statement, RetryTransaction),
            (WRITTEN, InBlock, Commit, OutcomeUnknown),
            (WRITTEN, InBlock, Effect::Unknown, OutcomeUnknown),
            (WRITTEN, Scope::Unknown, Statement, OutcomeUnknown),
            (WRITTEN, Autocommit, Nothing, NotExecuted),
            (WRITTEN, InBlock, Nothing, RetryTransaction),
            (WRITTEN, Scope::Unknown, Nothing, NotExecuted),
            (unsent, Autocommit, Nothing, NotExecuted),
        ];
        for kind in [
            ErrorKind::Io,
            ErrorKind::Closed,
            ErrorKind::Timeout,
            ErrorKind::Tls,
        ] {
            for (delivery, scope, effect, want) in table {
                let e = ended(delivery, scope, effect);
                assert_eq!(
                    classify(kind, None, Some(e), false, false),
                    want,
                    "{kind:?} {e:?}"
                );
            }
        }
        // A later request written too: the server may have finished this
        // one, so a statement in a block is no longer known to be lost.
        let followed = Ended {
            followed: true,
            ..ended(WRITTEN, InBlock, Statement)
        };
        assert_eq!(
            classify(ErrorKind::Io, None, Some(followed), false, false),
            OutcomeUnknown
        );
    }

    #[test]
    fn a_fatal_in_place_of_a_reply_follows_what_was_written() {
        let shutdown = SqlState::ADMIN_SHUTDOWN;
        let table = [
            (
                ended(WRITTEN, Scope::Autocommit, Effect::Statement),
                OutcomeUnknown,
            ),
            (
                ended(WRITTEN, Scope::InBlock, Effect::Statement),
                RetryTransaction,
            ),
            (
                ended(WRITTEN, Scope::InBlock, Effect::Commit),
                OutcomeUnknown,
            ),
            (
                ended(Delivery::Unsent, Scope::Autocommit, Effect::Statement),
                NotExecuted,
            ),
        ];
        for (e, want) in table {
            assert_eq!(
                classify(ErrorKind::Db, Some(&shutdown), Some(e), false, false),
                want,
                "{e:?}"
            );
        }
        // A conflict is a conflict, whatever the delivery.
        let conflict = SqlState::SERIALIZATION_FAILURE;
        let e = ended(WRITTEN, Scope::Autocommit, Effect::Statement);
        assert_eq!(
            classify(ErrorKind::Db, Some(&conflict), Some(e), false, false),
            RetryTransaction
        );
    }

    #[test]
    fn server_errors_by_class_and_delivery() {
        // A server error that ended a request the connection had accepted
        // (a FATAL in place of its reply) follows what was written, except
        // a conflict, which is always a conflict.
        let codes = [
            "08006", "08007", "25006", "25P03", "40001", "40P01", "53300", "57P01", "57P03",
        ];
        let ends = [
            (
                Delivery::Unsent,
                Scope::Autocommit,
                Effect::Statement,
                NotExecuted,
            ),
            (
                Delivery::Unsent,
                Scope::InBlock,
                Effect::Statement,
                RetryTransaction,
            ),
            (
                WRITTEN,
                Scope::Autocommit,
                Effect::Statement,
                OutcomeUnknown,
            ),
            (WRITTEN, Scope::InBlock, Effect::Statement, RetryTransaction),
            (WRITTEN, Scope::InBlock, Effect::Commit, OutcomeUnknown),
            (WRITTEN, Scope::Unknown, Effect::Nothing, NotExecuted),
        ];
        for code in codes {
            let state = SqlState::from_code(code);
            let conflict = matches!(code, "40001" | "40P01");
            for (delivery, scope, effect, class) in ends {
                let e = ended(delivery, scope, effect);
                let want = if conflict { RetryTransaction } else { class };
                assert_eq!(
                    classify(ErrorKind::Db, Some(&state), Some(e), false, false),
                    want,
                    "{code} {e:?}"
                );
            }
        }
    }

    #[test]
    fn a_protocol_violation_is_never_retryable() {
        for delivery in [Delivery::Unsent, WRITTEN] {
            for scope in [Scope::Autocommit, Scope::InBlock, Scope::Unknown] {
                for effect in [Effect::Statement, Effect::Begin, Effect::Commit] {
                    let e = ended(delivery, scope, effect);
                    assert_eq!(
                        classify(ErrorKind::Protocol, None, Some(e), false, false),
                        NotRetryable
                    );
                }
            }
        }
    }

    #[test]
    fn the_effect_of_sql_text() {
        let table = [
            ("COMMIT", Effect::Commit),
            ("  commit;", Effect::Commit),
            ("END", Effect::Commit),
            ("commit and chain", Effect::Commit),
            ("PREPARE TRANSACTION 'x'", Effect::Commit),
            ("-- note\nCOMMIT", Effect::Commit),
            ("/* a */ COMMIT", Effect::Commit),
            ("BEGIN", Effect::Begin),
            (
                "start transaction isolation level serializable",
                Effect::Begin,
            ),
            ("INSERT INTO t VALUES (1)", Effect::Statement),
            ("SELECT 1;", Effect::Statement),
            ("INSERT INTO t VALUES (1); COMMIT", Effect::Unknown),
            ("SELECT ';'", Effect::Unknown),
            ("", Effect::Unknown),
            ("(SELECT 1)", Effect::Unknown),
            ("/* unterminated", Effect::Unknown),
        ];
        for (sql, want) in table {
            assert_eq!(Effect::of_sql(sql), want, "{sql:?}");
        }
        // One statement (extended protocol): only the first keyword counts.
        assert_eq!(Effect::of_statement("SELECT ';'"), Effect::Statement);
        assert_eq!(Effect::of_statement("COMMITTED"), Effect::Statement);
        assert_eq!(Effect::of_statement("commit"), Effect::Commit);
        assert_eq!(Effect::of_statement("  Begin"), Effect::Begin);
    }
}
