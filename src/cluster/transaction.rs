//! [`Cluster::transaction_with_retry`]: a transaction that survives the
//! loss of the primary.
//!
//! Owns the retry loop over the primary: the whole closure runs in a
//! transaction on the current primary and commits; a serialization failure
//! or deadlock is retried as [`Client::transaction_with_retry`] does, and
//! a connection lost before the COMMIT was sent (the server rolls the
//! transaction back) runs the closure again from the start on the primary
//! the cluster finds next. A failure of the COMMIT itself is returned: its
//! outcome is unknown.
//!
//! [`Client::transaction_with_retry`]: crate::Client::transaction_with_retry

use crate::error::{Error, ErrorKind, SqlState};
use crate::{IsolationLevel, Retried, RetryPolicy, Transaction};

use super::handle::Cluster;

/// Serialization failures and deadlocks: the transaction as a whole may
/// succeed when run again.
fn conflict(e: &Error) -> bool {
    matches!(
        e.code(),
        Some(&SqlState::SERIALIZATION_FAILURE | &SqlState::DEADLOCK_DETECTED)
    )
}

/// The connection to the primary was lost (or the server is going away):
/// an uncommitted transaction on it is gone.
fn lost(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Io | ErrorKind::Closed)
        || e.code().is_some_and(|c| {
            let code = c.code();
            code.starts_with("08") || code.starts_with("57P")
        })
}

fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

impl Cluster {
    /// Runs `body` in a transaction on the primary and commits, running it
    /// again (up to `policy.max_attempts` in all) after a serialization
    /// failure or deadlock, or after losing the primary before the COMMIT
    /// was sent: then on the primary elected next, which the checkout waits
    /// for (up to the failover machine's `primary_wait`). A failed COMMIT
    /// is returned, never retried: it may have committed.
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
            let conn = self.primary().await?;
            let mut builder = conn.build_transaction();
            if let Some(level) = isolation {
                builder = builder.isolation_level(level);
            }
            let error = match builder.start().await {
                Err(e) => e,
                Ok(tx) => match body(&tx).await {
                    Ok(value) => {
                        // The COMMIT's own failure has an unknown outcome
                        // unless the server said it rolled back.
                        match tx.commit().await {
                            Ok(()) => {
                                return Ok(Retried {
                                    value,
                                    attempts: attempt,
                                });
                            }
                            Err(e) if conflict(&e) && attempt < max => e,
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
            if attempt >= max || !(conflict(&error) || lost(&error)) {
                return Err(error);
            }
            drop(conn);
            if conflict(&error) {
                tokio::time::sleep(policy.delay(attempt, random_unit())).await;
            }
        }
    }
}
