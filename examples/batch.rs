//! Batches: many statements in one flush, and the two ways to end them.
//!
//! - `run_independent` sends a **Sync after every statement**: each one is
//!   its own implicit transaction, so a failure affects only the statement
//!   that failed and the others commit.
//! - `run_atomic` sends **one Sync at the end**: outside an explicit
//!   transaction the statements form one implicit transaction, so after
//!   the first error the server skips the rest and rolls back what ran.
//!
//! Each outcome says what happened to its statement (`Ran`, `Failed`,
//! `Skipped`, or after a lost connection `NotSent` / `Unknown`).
//!
//! Connects to `DATABASE_URL` when it is set; otherwise starts a throwaway
//! PostgreSQL server (through `pgline-testkit`) and removes it at the end.
//!
//! ```text
//! cargo run --example batch
//! ```

use pgline::{Batch, Client, StatementOutcome};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the throwaway server (if any) alive until the end of run().
    let (url, _server) = pgline_testkit::database_url_or_start("batch", "batch-secret", "batch")?;
    let client = pgline::connect(&url).await?;
    client
        .batch_execute(
            "DROP TABLE IF EXISTS batch_items;
             CREATE TABLE batch_items (id int4 PRIMARY KEY, name text NOT NULL)",
        )
        .await?;

    independent(&client).await?;
    atomic(&client).await?;
    bulk(&client).await?;

    client.batch_execute("DROP TABLE batch_items").await?;
    client.close().await?;
    Ok(())
}

/// Prints one line per outcome.
fn report(label: &str, outcomes: &[StatementOutcome]) {
    println!("{label}:");
    for (i, outcome) in outcomes.iter().enumerate() {
        match outcome {
            StatementOutcome::Ran { rows_affected, .. } => {
                println!("  #{i} ran ({} row)", rows_affected.unwrap_or(0))
            }
            StatementOutcome::Failed(e) => println!("  #{i} failed: {e}"),
            StatementOutcome::Skipped => println!("  #{i} skipped by the server"),
            other => println!("  #{i} {other:?}"),
        }
    }
}

async fn count(client: &Client) -> Result<i64, pgline::Error> {
    client
        .query_one("SELECT count(*) FROM batch_items", &[])
        .await?
        .get(0)
}

/// A Sync per statement: the duplicate key fails alone; 1 and 2 commit.
async fn independent(client: &Client) -> Result<(), Box<dyn std::error::Error>> {
    let insert = "INSERT INTO batch_items VALUES ($1, $2)";
    let mut batch = client.batch();
    batch
        .push(insert, &[&1i32, &"one"])
        .push(insert, &[&1i32, &"one again"]) // 23505 unique_violation
        .push(insert, &[&2i32, &"two"]);
    let outcomes = batch.run_independent().await?;
    report("run_independent (a Sync after each statement)", &outcomes);
    assert!(outcomes[0].ran() && outcomes[1].failed() && outcomes[2].ran());
    println!("  -> {} rows in the table", count(client).await?);
    assert_eq!(count(client).await?, 2);
    Ok(())
}

/// One Sync: the duplicate key fails, the statement after it is skipped,
/// and the insert before it is rolled back with it.
async fn atomic(client: &Client) -> Result<(), Box<dyn std::error::Error>> {
    let insert = "INSERT INTO batch_items VALUES ($1, $2)";
    let mut batch = client.batch();
    batch
        .push(insert, &[&3i32, &"three"])
        .push(insert, &[&1i32, &"duplicate"]) // 23505 unique_violation
        .push(insert, &[&4i32, &"four"]);
    let outcomes = batch.run_atomic().await?;
    report("run_atomic (one Sync at the end)", &outcomes);
    assert!(outcomes[0].ran() && outcomes[1].failed() && outcomes[2].skipped());
    // #0 "ran", but inside the implicit transaction that the error rolled back.
    println!("  -> still {} rows in the table", count(client).await?);
    assert_eq!(count(client).await?, 2);
    Ok(())
}

/// A thousand inserts in one round trip. `push_owned` takes each
/// statement's values by value (a tuple), so the loop needs no second
/// vector to keep them alive; `push` borrows them instead.
async fn bulk(client: &Client) -> Result<(), Box<dyn std::error::Error>> {
    let mut batch = Batch::with_capacity(client, 1000);
    for i in 100..1100i32 {
        batch.push_owned(
            "INSERT INTO batch_items VALUES ($1, $2)",
            (i, format!("item {i}")),
        );
    }
    let before = client.connection_stats();
    let outcomes = batch.run_atomic().await?;
    let after = client.connection_stats();
    assert!(outcomes.iter().all(StatementOutcome::ran));
    println!(
        "1000 inserts in one batch: {} ran, {} socket write(s)",
        outcomes.len(),
        after.socket_writes - before.socket_writes
    );
    assert_eq!(count(client).await?, 1002);
    Ok(())
}
