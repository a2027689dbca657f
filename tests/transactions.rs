//! Transactions, savepoints, options and the retry helper, against a real
//! server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use pgline::error::{ErrorKind, RetryClass, SqlState};
use pgline::{Client, IsolationLevel, RetryPolicy};

async fn connect() -> Client {
    pgline::connect(&pgline_testkit::shared().url("pgline", Some("pgline-secret"), "pgline"))
        .await
        .expect("connect")
}

async fn values(client: &Client, table: &str) -> Vec<i32> {
    client
        .query(&format!("SELECT v FROM {table} ORDER BY v"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0).unwrap())
        .collect()
}

#[tokio::test]
async fn commit_rollback_and_drop() {
    let client = connect().await;
    client
        .batch_execute("CREATE TEMP TABLE t (v int4)")
        .await
        .unwrap();
    let tx = client.transaction().await.unwrap();
    tx.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap();
    tx.commit().await.unwrap();
    let tx = client.transaction().await.unwrap();
    tx.execute("INSERT INTO t VALUES (2)", &[]).await.unwrap();
    tx.rollback().await.unwrap();
    {
        let tx = client.transaction().await.unwrap();
        tx.execute("INSERT INTO t VALUES (3)", &[]).await.unwrap();
    }
    // The dropped transaction's ROLLBACK ran before this query.
    assert_eq!(values(&client, "t").await, [1]);
    assert_eq!(client.transaction_status(), pgline::TransactionStatus::Idle);
}

#[tokio::test]
async fn savepoints_roll_back_to_the_right_point() {
    let client = connect().await;
    client
        .batch_execute("CREATE TEMP TABLE s (v int4)")
        .await
        .unwrap();
    let tx = client.transaction().await.unwrap();
    tx.execute("INSERT INTO s VALUES (1)", &[]).await.unwrap();
    {
        let sp = tx.transaction().await.unwrap();
        sp.execute("INSERT INTO s VALUES (2)", &[]).await.unwrap();
        let inner = sp.savepoint("inner point").await.unwrap();
        inner
            .execute("INSERT INTO s VALUES (3)", &[])
            .await
            .unwrap();
        inner.rollback().await.unwrap();
        sp.execute("INSERT INTO s VALUES (4)", &[]).await.unwrap();
        sp.commit().await.unwrap();
    }
    {
        let dropped = tx.transaction().await.unwrap();
        dropped
            .execute("INSERT INTO s VALUES (5)", &[])
            .await
            .unwrap();
        // dropped: rolled back to its savepoint
    }
    // A failed statement inside a savepoint does not doom the transaction.
    {
        let sp = tx.transaction().await.unwrap();
        let err = sp
            .execute("INSERT INTO s VALUES ('x')", &[])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Db);
        sp.rollback().await.unwrap();
    }
    tx.execute("INSERT INTO s VALUES (6)", &[]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(values(&client, "s").await, [1, 2, 4, 6]);
}

#[tokio::test]
async fn isolation_and_read_only_are_in_effect() {
    let client = connect().await;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::Serializable)
        .read_only(true)
        .deferrable(true)
        .start()
        .await
        .unwrap();
    let row = tx
        .query_one(
            "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<&str>(0).unwrap(), "serializable");
    assert_eq!(row.get::<&str>(1).unwrap(), "on");
    let err = tx
        .batch_execute("CREATE TEMP TABLE nope (v int4)")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::READ_ONLY_SQL_TRANSACTION));
    // The statement had no effect, but it aborted the block: the whole
    // transaction is what may run again (on a server that takes writes).
    assert_eq!(err.retry_class(), RetryClass::RetryTransaction, "{err:?}");
    // COMMIT of the failed transaction rolls back, and says so.
    let err = tx.commit().await.unwrap_err();
    assert!(err.to_string().contains("rolled back"), "{err}");

    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .start()
        .await
        .unwrap();
    let level: String = tx
        .query_one("SHOW transaction_isolation", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(level, "repeatable read");
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn retry_helper_recovers_from_serialization_failures() {
    let a = connect().await;
    let b = connect().await;
    a.batch_execute(
        "DROP TABLE IF EXISTS retry_accounts; \
         CREATE TABLE retry_accounts (id int4 PRIMARY KEY, balance int4); \
         INSERT INTO retry_accounts VALUES (1, 100), (2, 100)",
    )
    .await
    .unwrap();
    let attempts_seen = Arc::new(AtomicU32::new(0));
    let seen = attempts_seen.clone();
    let b_ref = &b;
    let policy = RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    };
    let result = a
        .transaction_with_retry(Some(IsolationLevel::Serializable), policy, async |tx| {
            let attempt = seen.fetch_add(1, Ordering::SeqCst) + 1;
            let sum: i64 = tx
                .query_one("SELECT sum(balance) FROM retry_accounts", &[])
                .await?
                .get(0)?;
            if attempt <= 2 {
                // Another session updates the row this one is about to
                // update, and commits first: under SERIALIZABLE the update
                // below fails with 40001.
                b_ref
                    .execute(
                        "UPDATE retry_accounts SET balance = balance + 1 WHERE id = 1",
                        &[],
                    )
                    .await?;
            }
            tx.execute(
                "UPDATE retry_accounts SET balance = $1 WHERE id = 1",
                &[&(sum as i32)],
            )
            .await?;
            Ok(sum)
        })
        .await
        .unwrap();
    assert_eq!(result.attempts, 3, "two forced failures, then success");
    assert_eq!(attempts_seen.load(Ordering::SeqCst), 3);
    // The third attempt saw both of b's updates.
    assert_eq!(result.value, 202);
    a.batch_execute("DROP TABLE retry_accounts").await.unwrap();
}

#[tokio::test]
async fn retry_helper_gives_up_after_max_attempts_and_passes_other_errors() {
    let client = connect().await;
    let policy = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
    };
    let calls = AtomicU32::new(0);
    let err = client
        .transaction_with_retry(None, policy, async |tx| {
            calls.fetch_add(1, Ordering::SeqCst);
            tx.batch_execute(
                "DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = 'serialization_failure'; END $$",
            )
            .await?;
            Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::SERIALIZATION_FAILURE));
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    let calls = AtomicU32::new(0);
    let err = client
        .transaction_with_retry(None, policy, async |tx| {
            calls.fetch_add(1, Ordering::SeqCst);
            tx.batch_execute("SELECT 1/0").await?;
            Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::DIVISION_BY_ZERO));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "not retried");
    assert_eq!(client.transaction_status(), pgline::TransactionStatus::Idle);

    // A read-only refusal aborts the block (RetryTransaction), but this
    // session would refuse again: the helper returns it at once.
    let calls = AtomicU32::new(0);
    let err = client
        .transaction_with_retry(None, policy, async |tx| {
            calls.fetch_add(1, Ordering::SeqCst);
            tx.batch_execute("SET TRANSACTION READ ONLY").await?;
            tx.execute("CREATE TEMP TABLE helper_read_only (v int4)", &[])
                .await?;
            Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::READ_ONLY_SQL_TRANSACTION));
    assert_eq!(err.retry_class(), RetryClass::RetryTransaction, "{err:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "not retried");
}

/// A write refused by a read-only session outside a block (25006) did not
/// run: it is safe to send it again, e.g. to the primary.
#[tokio::test]
async fn a_read_only_refusal_outside_a_block_was_not_executed() {
    let client = connect().await;
    client
        .batch_execute("SET default_transaction_read_only = on")
        .await
        .unwrap();
    let err = client
        .execute("CREATE TEMP TABLE read_only_refusal (v int4)", &[])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::READ_ONLY_SQL_TRANSACTION));
    assert_eq!(err.retry_class(), RetryClass::NotExecuted, "{err:?}");
    assert!(err.is_transient() && !err.is_outcome_unknown());
    client
        .batch_execute("RESET default_transaction_read_only")
        .await
        .unwrap();
}
