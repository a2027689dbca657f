//! [`Session`]: read-your-writes across replicas.
//!
//! Owns a session's [`CausalToken`] and the calls that use it. A write
//! goes to the primary with `SELECT pg_current_wal_insert_lsn()` pipelined
//! right behind it on the same connection, so the token costs no extra
//! round trip; a transaction sends that query in the same message as its
//! `COMMIT` (`COMMIT; SELECT …`), likewise free. A read goes to a replica the monitor already knows has
//! replayed up to the token; failing that, to a replica picked as usual,
//! on which it polls `pg_last_wal_replay_lsn()` until the token is replayed
//! or `ryw_timeout` passes; then to the primary, or it fails with
//! [`ClusterError::NotCaughtUp`], as configured. Tokens only move forward
//! and travel as text (`0/4003A88`) between processes.

use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind};
use crate::types::Encode;
use crate::{
    IsolationLevel, Retried, RetryPolicy, Row, StatementOutcome, ToStatement, Transaction,
};

use super::causal::CausalToken;
use super::handle::{Cluster, ClusterClient, ClusterError};
use super::lsn::Lsn;
use super::preference::{ReadPolicy, ReadPreference};

const INSERT_LSN_SQL: &str = "SELECT pg_catalog.pg_current_wal_insert_lsn()::text";
const REPLAY_LSN_SQL: &str = "SELECT pg_catalog.pg_last_wal_replay_lsn()::text";

/// How often a causal read polls the replica it waits on.
const POLL: Duration = Duration::from_millis(5);

/// A sequence of writes and reads that sees its own writes, reading from
/// replicas when they have caught up.
///
/// Cheap to create ([`Cluster::session`]); not shared between tasks (the
/// token is per session — export it with [`token`](Self::token) and merge
/// it elsewhere with [`observe`](Self::observe)).
#[derive(Debug, Clone)]
pub struct Session {
    cluster: Cluster,
    token: CausalToken,
    policy: ReadPolicy,
}

/// Where a causal read ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CausalRoute {
    /// A replica the monitor already knew had replayed the token.
    KnownReplica,
    /// A replica that replayed the token while the read waited on it.
    WaitedReplica,
    /// The primary, after no replica caught up in time (or by preference).
    Primary,
}

impl Cluster {
    /// A read-your-writes session whose reads follow the cluster's read
    /// policy (`ReplicaPreferred` when that is `Primary`, since a causal
    /// read only matters off the primary).
    pub fn session(&self) -> Session {
        let mut policy = self.read_policy();
        if policy.preference == ReadPreference::Primary {
            policy.preference = ReadPreference::ReplicaPreferred;
            policy.max_staleness = None;
        }
        Session {
            cluster: self.clone(),
            token: CausalToken::default(),
            policy,
        }
    }
}

impl Session {
    /// The session's token: the log position its reads must see.
    pub fn token(&self) -> CausalToken {
        self.token
    }

    /// Takes in a token from elsewhere (another session or process); the
    /// later one wins. Returns whether the session's token moved.
    pub fn observe(&mut self, token: CausalToken) -> bool {
        self.token.merge(token)
    }

    /// Runs a write on the primary and moves the token past it. The insert
    /// position is read in the same pipeline, right behind the statement
    /// (a batch with a Sync after each, so it runs after the write has
    /// committed, and a failed write leaves the token alone).
    pub async fn execute<'a, S: ToStatement + ?Sized + Sync>(
        &mut self,
        statement: &'a S,
        params: &'a [&'a (dyn Encode + Sync)],
    ) -> Result<u64, Error> {
        let mut conn = self.cluster.primary().await?;
        let no_params: &[&(dyn Encode + Sync)] = &[];
        let outcomes = {
            let mut batch = conn.batch();
            batch
                .push(statement, params)
                .push(INSERT_LSN_SQL, no_params);
            batch.run_independent().await
        };
        let mut outcomes = match outcomes {
            Ok(outcomes) => outcomes.into_iter(),
            Err(err) => {
                conn.report_error(&err);
                return Err(err);
            }
        };
        let affected = match outcomes.next() {
            Some(StatementOutcome::Ran { rows_affected, .. }) => rows_affected.unwrap_or(0),
            Some(
                StatementOutcome::Failed(err)
                | StatementOutcome::NotSent(err)
                | StatementOutcome::Unknown(err),
            ) => {
                conn.report_error(&err);
                return Err(err);
            }
            _ => return Err(Error::msg(ErrorKind::Protocol, "the write has no outcome")),
        };
        match outcomes.next() {
            Some(StatementOutcome::Ran { rows, .. }) => {
                let row = rows.first().ok_or_else(|| {
                    Error::msg(ErrorKind::Protocol, "the insert position came back empty")
                })?;
                self.advance(row)?;
            }
            // The write committed; the position is read again on its own
            // (one more round trip) rather than leaving the token behind.
            _ => {
                let row = conn.query_one(INSERT_LSN_SQL, &[]).await.map_err(|err| {
                    err.with_context(
                        "the write committed, but reading the log position after it failed",
                    )
                })?;
                self.advance(&row)?;
            }
        }
        Ok(affected)
    }

    /// Runs `body` in a transaction on the primary, commits, and moves the
    /// token past the commit. The insert position is read in the same
    /// message as the `COMMIT` (`COMMIT; SELECT pg_current_wal_insert_lsn()`),
    /// so the token costs no round trip: the transaction takes as many as
    /// the same one outside a session. One attempt, nothing run again: for
    /// retries use [`transaction_with_retry`](Self::transaction_with_retry).
    /// A failed transaction leaves the token alone.
    ///
    /// ```no_run
    /// # async fn run(cluster: &pgline::cluster::Cluster) -> Result<(), pgline::Error> {
    /// let mut session = cluster.session();
    /// session
    ///     .transaction(None, async |tx| {
    ///         tx.execute("INSERT INTO orders VALUES (1)", &[]).await?;
    ///         tx.execute("UPDATE stock SET n = n - 1", &[]).await
    ///     })
    ///     .await?;
    /// // Sees the order, on a replica that has replayed it.
    /// let (rows, _route) = session.query("SELECT * FROM orders WHERE id = 1", &[]).await?;
    /// # let _ = rows; Ok(()) }
    /// ```
    pub async fn transaction<T, F>(
        &mut self,
        isolation: Option<IsolationLevel>,
        body: F,
    ) -> Result<T, Error>
    where
        F: AsyncFnMut(&Transaction<'_>) -> Result<T, Error>,
    {
        let once = RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        };
        self.transaction_with_retry(isolation, once, body)
            .await
            .map(|done| done.value)
    }

    /// As [`Cluster::transaction_with_retry`] (the whole closure runs
    /// again after a serialization failure or deadlock, or on the next
    /// primary after losing one before the COMMIT was sent; a COMMIT whose
    /// outcome is unknown is returned, never run again), and on success
    /// moves the token past the commit as [`transaction`](Self::transaction)
    /// does, at no extra round trip.
    pub async fn transaction_with_retry<T, F>(
        &mut self,
        isolation: Option<IsolationLevel>,
        policy: RetryPolicy,
        body: F,
    ) -> Result<Retried<T>, Error>
    where
        F: AsyncFnMut(&Transaction<'_>) -> Result<T, Error>,
    {
        let (done, text) = self
            .cluster
            .run_transaction(isolation, policy, Some(INSERT_LSN_SQL), body)
            .await?;
        match text {
            Some(text) => self.advance_text(&text)?,
            // Committed, but the position did not come back with it: read
            // it again on its own (one more round trip). The insert
            // position only grows, so any later reading covers the commit.
            None => {
                let conn = self.cluster.primary().await?;
                let row = conn.query_one(INSERT_LSN_SQL, &[]).await.map_err(|err| {
                    err.with_context(
                        "the transaction committed, but reading the log position after it failed",
                    )
                })?;
                self.advance(&row)?;
            }
        }
        Ok(done)
    }

    /// Runs a read that sees every write of the session; returns the rows
    /// and where it ran.
    pub async fn query<S: ToStatement + ?Sized + Sync>(
        &mut self,
        statement: &S,
        params: &[&(dyn Encode + Sync)],
    ) -> Result<(Vec<Row>, CausalRoute), Error> {
        let (conn, route) = self.causal_checkout().await?;
        let rows = conn.query(statement, params).await?;
        Ok((rows, route))
    }

    /// A connection that sees every write of the session, and how it was
    /// found.
    pub async fn causal_checkout(&self) -> Result<(ClusterClient, CausalRoute), Error> {
        if self.policy.preference == ReadPreference::Primary || self.token == CausalToken::default()
        {
            let conn = self.cluster.get(self.policy).await?;
            let route = route_of(&conn);
            return Ok((conn, route));
        }
        let settings = self.cluster.ryw_settings();
        let replicas = ReadPolicy {
            preference: ReadPreference::ReplicaOnly,
            ..self.policy
        };
        // A replica known to have replayed the token, without waiting.
        let known = replicas.with_min_replay_lsn(self.token.lsn());
        if let Ok(conn) = self.cluster.checkout_within(known, Duration::ZERO).await {
            return Ok((conn, CausalRoute::KnownReplica));
        }
        let started = Instant::now();
        if self.policy.preference != ReadPreference::PrimaryPreferred {
            // No replica to wait on at all: straight to the fallback.
            if let Ok(conn) = self.cluster.checkout_within(replicas, Duration::ZERO).await {
                if self.wait_replayed(&conn, started + settings.0).await {
                    return Ok((conn, CausalRoute::WaitedReplica));
                }
            }
        }
        if settings.1 && self.policy.preference.may_use_primary() {
            let conn = self.cluster.primary().await?;
            return Ok((conn, CausalRoute::Primary));
        }
        Err(Error::with_source(
            ErrorKind::Timeout,
            None,
            ClusterError::NotCaughtUp {
                token: self.token,
                waited: started.elapsed(),
            },
        ))
    }

    /// Polls `conn`'s replay position until it reaches the token or
    /// `deadline` passes.
    async fn wait_replayed(&self, conn: &ClusterClient, deadline: Instant) -> bool {
        loop {
            let replayed = conn
                .query_one(REPLAY_LSN_SQL, &[])
                .await
                .ok()
                .and_then(|row| row.get::<Option<String>>(0).ok().flatten())
                .and_then(|text| text.parse::<Lsn>().ok());
            if replayed.is_some_and(|lsn| self.token.is_satisfied_by(lsn)) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            tokio::time::sleep_until((now + POLL).min(deadline).into()).await;
        }
    }

    fn advance(&mut self, row: &Row) -> Result<(), Error> {
        let text: String = row.get(0)?;
        self.advance_text(&text)
    }

    fn advance_text(&mut self, text: &str) -> Result<(), Error> {
        let lsn: Lsn = text
            .parse()
            .map_err(|e| Error::with_source(ErrorKind::Protocol, None, e))?;
        self.token.advance(lsn);
        Ok(())
    }
}

fn route_of(conn: &ClusterClient) -> CausalRoute {
    match conn.role() {
        super::topology::Role::Primary => CausalRoute::Primary,
        _ => CausalRoute::KnownReplica,
    }
}
