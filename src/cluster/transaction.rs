//! [`Cluster::transaction_with_retry`]: a transaction that survives the
//! loss of the primary.
//!
//! Owns the retry loop over the primary: the whole closure runs in a
//! transaction on the current primary and commits; a serialization failure
//! or deadlock is retried as [`Client::transaction_with_retry`] does, and
//! a connection lost before the COMMIT was sent (the server rolls the
//! transaction back) runs the closure again from the start on the primary
//! the cluster finds next. What may run again is decided by
//! [`Error::retry_class`]: a COMMIT whose outcome is unknown is returned,
//! never rerun.
//!
//! [`Client::transaction_with_retry`]: crate::Client::transaction_with_retry

use crate::error::{Error, RetryClass, SqlState};
use crate::jitter::Jitter;
use crate::{IsolationLevel, Retried, RetryPolicy, Transaction};

use super::handle::Cluster;

/// Whether the whole transaction may run again after `e`: it certainly
/// did not commit (a conflict, a block lost before its COMMIT was written,
/// or a start that never ran). A COMMIT whose outcome is unknown is not.
fn rerun(e: &Error) -> bool {
    matches!(
        e.retry_class(),
        RetryClass::RetryTransaction | RetryClass::NotExecuted
    )
}

/// A serialization failure or deadlock: others are writing the same rows,
/// so the next attempt waits a little (a lost primary is waited for by the
/// checkout instead).
fn is_conflict(e: &Error) -> bool {
    matches!(
        e.code(),
        Some(&SqlState::SERIALIZATION_FAILURE | &SqlState::DEADLOCK_DETECTED)
    )
}

impl Cluster {
    /// Runs `body` in a transaction on the primary and commits, running it
    /// again (up to `policy.max_attempts` in all) after a serialization
    /// failure or deadlock, or after losing the primary before the COMMIT
    /// was sent: then on the primary elected next, which the checkout waits
    /// for (up to the failover machine's `primary_wait`). A COMMIT whose
    /// outcome is unknown ([`RetryClass::OutcomeUnknown`]) is returned,
    /// never retried: it may have committed.
    pub async fn transaction_with_retry<T, F>(
        &self,
        isolation: Option<IsolationLevel>,
        policy: RetryPolicy,
        body: F,
    ) -> Result<Retried<T>, Error>
    where
        F: AsyncFnMut(&Transaction<'_>) -> Result<T, Error>,
    {
        self.run_transaction(isolation, policy, None, body)
            .await
            .map(|(done, _)| done)
    }

    /// The loop of [`transaction_with_retry`](Self::transaction_with_retry),
    /// with `then` (one statement giving one value) sent in the same
    /// message as the COMMIT when given: the returned text is its first
    /// field, `None` when the commit succeeded but `then` gave nothing.
    pub(crate) async fn run_transaction<T, F>(
        &self,
        isolation: Option<IsolationLevel>,
        policy: RetryPolicy,
        then: Option<&str>,
        mut body: F,
    ) -> Result<(Retried<T>, Option<String>), Error>
    where
        F: AsyncFnMut(&Transaction<'_>) -> Result<T, Error>,
    {
        let max = policy.max_attempts.max(1);
        let jitter = Jitter::from_os();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let conn = self.primary().await?;
            let error = match conn.build_transaction_at(isolation).start().await {
                Err(e) => e,
                Ok(tx) => match body(&tx).await {
                    Ok(value) => {
                        // The COMMIT's own failure has an unknown outcome
                        // unless the server said it rolled back.
                        let committed = match then {
                            None => tx.commit().await.map(|()| None),
                            Some(then) => tx.commit_then(then).await,
                        };
                        match committed {
                            Ok(text) => {
                                let done = Retried {
                                    value,
                                    attempts: attempt,
                                };
                                return Ok((done, text));
                            }
                            Err(e) if rerun(&e) && attempt < max => e,
                            Err(e) => return Err(e),
                        }
                    }
                    Err(e) => {
                        // A lost connection has rolled back already.
                        let _ = tx.rollback().await;
                        e
                    }
                },
            };
            if attempt >= max || !rerun(&error) {
                return Err(error);
            }
            drop(conn);
            if is_conflict(&error) {
                tokio::time::sleep(policy.delay(attempt, jitter.unit())).await;
            }
        }
    }
}
