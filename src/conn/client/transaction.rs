//! Transactions: a builder with isolation level and access mode, savepoints
//! as nested transactions, rollback on drop, and a retry helper for
//! serialization failures and deadlocks.
//!
//! Owns the SQL that opens and ends transactions and the retry policy (a
//! pure function of the attempt number and a random value, so tests replay
//! it).
//!
//! Invariant: every `BEGIN` or `SAVEPOINT` this module queues is owned,
//! from the moment it is queued, by something that ends it. While the
//! opening statement's reply is awaited that is an [`Opening`] guard; once
//! it has succeeded, the [`Transaction`]. Dropped without having handed
//! the duty on (the caller's future dropped, the opening failed or timed
//! out), either queues the ROLLBACK (to the savepoint) at once, without
//! blocking and without spawning anything: the connection's request queue
//! is in order, so it runs before anything queued after the drop. Nothing
//! in this needs the runtime to be alive: if it is shutting down, the
//! driver task goes with it, the socket closes, and the server rolls the
//! transaction back itself. `COMMIT`, `RELEASE` and `ROLLBACK` likewise
//! take the duty from the [`Transaction`] only once they are queued: a
//! commit dropped while it waits for room in the pipeline leaves the
//! transaction to be rolled back.
//!
//! Requests other tasks queue on clones of the client while a transaction
//! is open run inside it (the protocol's transaction is the session's),
//! and are rolled back with it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::conn::client::handle::{Client, passes_in_simple_query};
use crate::conn::engine::shared::input_error;
use crate::conn::engine::slot::RequestKind;
use crate::error::{Effect, Error, ErrorKind, RetryClass, SqlState};
use crate::proto::{BackendMessage, frontend};

/// Transaction isolation levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IsolationLevel {
    /// `READ UNCOMMITTED` (PostgreSQL treats it as read committed).
    ReadUncommitted,
    /// `READ COMMITTED`, PostgreSQL's default.
    ReadCommitted,
    /// `REPEATABLE READ`.
    RepeatableRead,
    /// `SERIALIZABLE`.
    Serializable,
}

impl IsolationLevel {
    fn sql(self) -> &'static str {
        match self {
            Self::ReadUncommitted => "READ UNCOMMITTED",
            Self::ReadCommitted => "READ COMMITTED",
            Self::RepeatableRead => "REPEATABLE READ",
            Self::Serializable => "SERIALIZABLE",
        }
    }
}

/// Options of a transaction. From [`Client::build_transaction`].
#[derive(Debug, Clone)]
pub struct TransactionBuilder<'a> {
    client: &'a Client,
    isolation: Option<IsolationLevel>,
    read_only: Option<bool>,
    deferrable: Option<bool>,
    snapshot: Option<String>,
}

impl<'a> TransactionBuilder<'a> {
    /// The isolation level.
    pub fn isolation_level(mut self, level: IsolationLevel) -> Self {
        self.isolation = Some(level);
        self
    }

    /// `READ ONLY` (true) or `READ WRITE` (false).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = Some(read_only);
        self
    }

    /// `DEFERRABLE` (only meaningful for serializable read-only transactions).
    pub fn deferrable(mut self, deferrable: bool) -> Self {
        self.deferrable = Some(deferrable);
        self
    }

    /// Runs the transaction on a snapshot exported by another session
    /// ([`Client::export_snapshot`]), so both see exactly the same data.
    /// The isolation level must be repeatable read or serializable
    /// (repeatable read is used when none is set).
    pub fn snapshot(mut self, id: &str) -> Self {
        self.snapshot = Some(id.to_owned());
        if self.isolation.is_none() {
            self.isolation = Some(IsolationLevel::RepeatableRead);
        }
        self
    }

    fn begin_sql(&self) -> String {
        let mut sql = String::from("BEGIN");
        let mut modes = Vec::new();
        if let Some(level) = self.isolation {
            modes.push(format!("ISOLATION LEVEL {}", level.sql()));
        }
        if let Some(ro) = self.read_only {
            modes.push(if ro { "READ ONLY" } else { "READ WRITE" }.to_owned());
        }
        if let Some(d) = self.deferrable {
            modes.push(if d { "DEFERRABLE" } else { "NOT DEFERRABLE" }.to_owned());
        }
        if !modes.is_empty() {
            sql.push(' ');
            sql.push_str(&modes.join(", "));
        }
        if let Some(id) = &self.snapshot {
            sql.push_str("; SET TRANSACTION SNAPSHOT ");
            sql.push_str(&quote_literal(id));
        }
        sql
    }

    /// Opens the transaction.
    ///
    /// Dropped before it returns, or failing, it leaves no transaction
    /// open: a `BEGIN` that was queued is followed by a `ROLLBACK`.
    pub async fn start(self) -> Result<Transaction<'a>, Error> {
        let opening = Opening::new(self.client, "ROLLBACK".to_owned());
        self.client
            .simple_command(&self.begin_sql(), || {
                opening.queued.store(true, Ordering::Relaxed)
            })
            .await?;
        Ok(opening.opened(None, 0))
    }
}

/// A `BEGIN` or `SAVEPOINT` whose reply is awaited: once it is queued
/// (`queued`), dropping this queues `undo`, unless the opening succeeded
/// and a [`Transaction`] took the duty over ([`Opening::opened`]).
struct Opening<'a> {
    client: &'a Client,
    undo: String,
    /// Set in the poll that queues the opening statement (atomic only so
    /// that the future stays `Send`).
    queued: AtomicBool,
}

impl<'a> Opening<'a> {
    fn new(client: &'a Client, undo: String) -> Self {
        Self {
            client,
            undo,
            queued: AtomicBool::new(false),
        }
    }

    /// The opening succeeded: the transaction ends it from now on.
    fn opened(self, savepoint: Option<String>, depth: u32) -> Transaction<'a> {
        self.queued.store(false, Ordering::Relaxed);
        Transaction {
            client: self.client,
            savepoint,
            depth,
            done: false,
        }
    }
}

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        if self.queued.load(Ordering::Relaxed) {
            // Queued behind the opening statement; nobody waits for it.
            self.client.request_detached(&self.undo);
        }
    }
}

impl Client {
    /// Runs `sql` with the simple protocol (as `batch_execute`) and returns
    /// the last command tag. `queued` is called as soon as the request is
    /// in the connection's queue, in the same poll: from then on the
    /// statement runs whatever becomes of this future, so whoever owns its
    /// effect must be told before the first await that follows.
    async fn simple_command(
        &self,
        sql: &str,
        queued: impl FnOnce(),
    ) -> Result<Option<String>, Error> {
        self.timed(|| async {
            let mut responses = self
                .request(1, RequestKind::Simple, |out| {
                    frontend::query(out, sql).map_err(input_error)
                })
                .await
                .map_err(|e| e.with_effect(Effect::of_sql(sql)))?;
            responses.set_effect(Effect::of_sql(sql));
            queued();
            let mut tag = None;
            loop {
                match responses.next().await? {
                    BackendMessage::ReadyForQuery(_) => return Ok(tag),
                    BackendMessage::CommandComplete(c) => tag = Some(c.tag().to_owned()),
                    BackendMessage::RowDescription(_) | BackendMessage::DataRow(_) => {}
                    other if passes_in_simple_query(&other) => {}
                    other => return Err(responses.violation(&other, "a simple query response")),
                }
            }
        })
        .await
    }
}

/// An open transaction (or savepoint) on a [`Client`]. Dereferences to the
/// client, so queries run inside it. Dropped without
/// [`commit`](Self::commit), it is rolled back.
#[derive(Debug)]
pub struct Transaction<'a> {
    client: &'a Client,
    /// The savepoint name, for nested transactions.
    savepoint: Option<String>,
    depth: u32,
    done: bool,
}

impl Client {
    /// Starts a transaction (`BEGIN`) with the server's default options.
    pub async fn transaction(&self) -> Result<Transaction<'_>, Error> {
        self.build_transaction().start().await
    }

    /// A builder for a transaction with options.
    ///
    /// ```no_run
    /// # async fn run(client: &pgline::Client) -> Result<(), pgline::Error> {
    /// use pgline::IsolationLevel;
    /// let tx = client
    ///     .build_transaction()
    ///     .isolation_level(IsolationLevel::Serializable)
    ///     .read_only(true)
    ///     .start()
    ///     .await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub fn build_transaction(&self) -> TransactionBuilder<'_> {
        TransactionBuilder {
            client: self,
            isolation: None,
            read_only: None,
            deferrable: None,
            snapshot: None,
        }
    }

    /// A transaction builder with `isolation` when one is given (the retry
    /// helpers' starting point).
    pub(crate) fn build_transaction_at(
        &self,
        isolation: Option<IsolationLevel>,
    ) -> TransactionBuilder<'_> {
        TransactionBuilder {
            isolation,
            ..self.build_transaction()
        }
    }

    /// Opens a repeatable-read transaction and exports its snapshot
    /// (`pg_export_snapshot()`), for other sessions to share with
    /// [`TransactionBuilder::snapshot`] — e.g. parallel COPY OUT readers
    /// that must see one consistent state. The snapshot stays valid while
    /// the returned transaction is open.
    pub async fn export_snapshot(&self) -> Result<ExportedSnapshot<'_>, Error> {
        let tx = self
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let id: String = tx
            .query_one("SELECT pg_export_snapshot()", &[])
            .await?
            .get(0)?;
        Ok(ExportedSnapshot { tx, id })
    }
}

/// A snapshot exported by [`Client::export_snapshot`]: valid while this
/// value (and the transaction in it) lives.
#[derive(Debug)]
pub struct ExportedSnapshot<'a> {
    tx: Transaction<'a>,
    id: String,
}

impl<'a> ExportedSnapshot<'a> {
    /// The snapshot identifier, for [`TransactionBuilder::snapshot`].
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The exporting transaction.
    pub fn transaction(&self) -> &Transaction<'a> {
        &self.tx
    }

    /// Ends the exporting transaction; the snapshot can no longer be
    /// imported.
    pub async fn release(self) -> Result<(), Error> {
        self.tx.commit().await
    }
}

impl<'a> Transaction<'a> {
    /// A nested transaction: a savepoint that [`commit`](Self::commit)
    /// releases and [`rollback`](Self::rollback) (or drop) rolls back to.
    pub async fn transaction(&self) -> Result<Transaction<'a>, Error> {
        let name = format!("pgline_sp{}", self.depth + 1);
        self.savepoint_named(name).await
    }

    /// A nested transaction under a savepoint of the given name.
    pub async fn savepoint(&self, name: &str) -> Result<Transaction<'a>, Error> {
        self.savepoint_named(quote_ident(name)).await
    }

    /// Dropped before it returns, or failing, it leaves no savepoint: a
    /// `SAVEPOINT` that was queued is rolled back to and released.
    async fn savepoint_named(&self, name: String) -> Result<Transaction<'a>, Error> {
        let opening = Opening::new(self.client, rollback_sql(Some(&name)));
        self.client
            .simple_command(&format!("SAVEPOINT {name}"), || {
                opening.queued.store(true, Ordering::Relaxed)
            })
            .await?;
        Ok(opening.opened(Some(name), self.depth + 1))
    }

    /// Commits the transaction (or releases the savepoint).
    ///
    /// Committing a transaction that an earlier error aborted is an error:
    /// the server rolled it back instead. Dropped before the `COMMIT` is
    /// queued (while the pipeline is full), the transaction is rolled back;
    /// once it is queued, the outcome is the server's.
    pub async fn commit(mut self) -> Result<(), Error> {
        let sql = match &self.savepoint {
            Some(name) => format!("RELEASE SAVEPOINT {name}"),
            None => "COMMIT".to_owned(),
        };
        let tag = self
            .client
            .simple_command(&sql, || self.done = true)
            .await?;
        if self.savepoint.is_none() && tag.as_deref() == Some("ROLLBACK") {
            return Err(Error::msg(
                ErrorKind::Db,
                "COMMIT did not commit: the transaction had failed and was rolled back",
            ));
        }
        Ok(())
    }

    /// Commits the transaction with `then` (one statement returning one
    /// value) sent in the same simple-protocol message, `COMMIT; then`, so
    /// it costs no round trip of its own and runs right after the commit
    /// on the same session. Returns the first field of `then`'s first row
    /// as text, or `None` when the commit succeeded but `then` failed or
    /// returned nothing (the caller reads it again on its own).
    ///
    /// The request is classified as a commit ([`Effect::Commit`]): lost
    /// after it was sent, its outcome is unknown. A COMMIT that rolled
    /// back (the transaction had failed) is an error, as in
    /// [`commit`](Self::commit). A savepoint is released as `commit` does
    /// and gives `None`.
    pub(crate) async fn commit_then(mut self, then: &str) -> Result<Option<String>, Error> {
        if self.savepoint.is_some() {
            self.commit().await?;
            return Ok(None);
        }
        let sql = format!("COMMIT; {then}");
        let client = self.client;
        let done = &mut self.done;
        let (tag, value) = client
            .timed(|| async {
                let mut responses = client
                    .request(1, RequestKind::Simple, |out| {
                        frontend::query(out, &sql).map_err(input_error)
                    })
                    .await
                    .map_err(|e| e.with_effect(Effect::Commit))?;
                responses.set_effect(Effect::Commit);
                // Queued: the outcome is the server's from here on.
                *done = true;
                // The COMMIT's tag, then the first field of `then`.
                let mut tag: Option<String> = None;
                let mut value: Option<String> = None;
                loop {
                    let message = match responses.next().await {
                        Ok(message) => message,
                        // The commit went through; only `then` failed.
                        Err(_) if tag.as_deref() == Some("COMMIT") => return Ok((tag, None)),
                        Err(e) => return Err(e),
                    };
                    match message {
                        BackendMessage::ReadyForQuery(_) => return Ok((tag, value)),
                        BackendMessage::CommandComplete(c) if tag.is_none() => {
                            tag = Some(c.tag().to_owned());
                        }
                        BackendMessage::DataRow(row) if value.is_none() => {
                            value = row
                                .fields()
                                .next()
                                .flatten()
                                .and_then(|f| std::str::from_utf8(f).ok())
                                .map(str::to_owned);
                        }
                        BackendMessage::RowDescription(_)
                        | BackendMessage::DataRow(_)
                        | BackendMessage::CommandComplete(_) => {}
                        other if passes_in_simple_query(&other) => {}
                        other => {
                            return Err(responses.violation(&other, "a simple query response"));
                        }
                    }
                }
            })
            .await?;
        if tag.as_deref() == Some("ROLLBACK") {
            return Err(Error::msg(
                ErrorKind::Db,
                "COMMIT did not commit: the transaction had failed and was rolled back",
            ));
        }
        Ok(value)
    }

    /// Rolls the transaction back (or back to the savepoint).
    pub async fn rollback(mut self) -> Result<(), Error> {
        let sql = rollback_sql(self.savepoint.as_deref());
        self.client
            .simple_command(&sql, || self.done = true)
            .await?;
        Ok(())
    }
}

fn rollback_sql(savepoint: Option<&str>) -> String {
    match savepoint {
        Some(name) => format!("ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}"),
        None => "ROLLBACK".to_owned(),
    }
}

/// Quotes a string literal for SQL (`'a''b'`).
fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Quotes an identifier for SQL (`"a""b"`).
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Queued behind everything sent so far; nobody waits for it.
            self.client
                .request_detached(&rollback_sql(self.savepoint.as_deref()));
        }
    }
}

/// How [`Client::transaction_with_retry`] retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The delay before the second attempt; it doubles after each failure.
    pub base_delay: Duration,
    /// The longest delay between attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 10 ms doubling up to 1 s.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// The delay after failed attempt `attempt` (1-based), given a random
    /// value in `[0, 1)`: exponential, capped, with "equal jitter" (half
    /// fixed, half random) so retries of conflicting sessions spread out.
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        crate::backoff::exponential(attempt, self.base_delay, self.max_delay, random)
    }
}

/// The result of [`Client::transaction_with_retry`]: the value, and how
/// many attempts it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retried<T> {
    /// What the closure returned on the attempt that committed.
    pub value: T,
    /// Attempts made, the successful one included.
    pub attempts: u32,
}

/// Whether the helper runs the transaction again after `e`: only when the
/// whole transaction certainly did not commit
/// ([`RetryClass::RetryTransaction`]: a serialization failure, a deadlock)
/// and this connection can still run it: it is open, and the error is not
/// its session refusing writes (25006, which the same session would
/// repeat). Never after [`RetryClass::OutcomeUnknown`]: the transaction
/// may have committed.
fn retryable(e: &Error, client: &Client) -> bool {
    e.retry_class() == RetryClass::RetryTransaction
        && !client.is_closed()
        && e.code() != Some(&SqlState::READ_ONLY_SQL_TRANSACTION)
}

impl Client {
    /// Runs `body` in a transaction started by `builder` options and
    /// commits; on an error whose [`RetryClass`] is
    /// [`RetryTransaction`](RetryClass::RetryTransaction) (a serialization
    /// failure `40001` or deadlock `40P01`, in the body or at commit) while
    /// the connection is still open, rolls back, waits (exponential backoff
    /// with jitter) and runs it again, up to `policy.max_attempts` in all.
    /// Other errors are returned at once; an outcome-unknown COMMIT
    /// ([`RetryClass::OutcomeUnknown`]) is never run again. On success,
    /// reports the attempts made.
    ///
    /// ```no_run
    /// # async fn run(client: &pgline::Client) -> Result<(), pgline::Error> {
    /// use pgline::{IsolationLevel, RetryPolicy};
    /// let done = client
    ///     .transaction_with_retry(
    ///         Some(IsolationLevel::Serializable),
    ///         RetryPolicy::default(),
    ///         async |tx| tx.execute("UPDATE counters SET n = n + 1", &[]).await,
    ///     )
    ///     .await?;
    /// println!("{} row(s) after {} attempt(s)", done.value, done.attempts);
    /// # Ok(()) }
    /// ```
    pub async fn transaction_with_retry<T, F>(
        &self,
        isolation: Option<IsolationLevel>,
        policy: RetryPolicy,
        mut body: F,
    ) -> Result<Retried<T>, Error>
    where
        F: AsyncFnMut(&Transaction<'_>) -> Result<T, Error>,
    {
        let max = policy.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let tx = self.build_transaction_at(isolation).start().await?;
            let outcome = match body(&tx).await {
                Ok(value) => tx.commit().await.map(|()| value),
                Err(e) => {
                    tx.rollback().await?;
                    Err(e)
                }
            };
            match outcome {
                Ok(value) => {
                    return Ok(Retried {
                        value,
                        attempts: attempt,
                    });
                }
                Err(e) if retryable(&e, self) && attempt < max => {
                    let delay = policy.delay(attempt, crate::jitter::unit());
                    tracing::debug!(attempt, ?delay, error = %e, "retrying the transaction");
                    tokio::time::sleep(delay).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_equal_jitter_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(100),
        };
        assert_eq!(policy.delay(1, 0.0), Duration::from_millis(5));
        assert_eq!(policy.delay(1, 1.0), Duration::from_millis(10));
        assert_eq!(policy.delay(2, 0.5), Duration::from_micros(15_000));
        assert_eq!(policy.delay(3, 0.0), Duration::from_millis(20));
        // 10 ms · 2^9 is far past the cap.
        assert_eq!(policy.delay(10, 1.0), Duration::from_millis(100));
        assert_eq!(policy.delay(u32::MAX, 0.0), Duration::from_millis(50));
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
