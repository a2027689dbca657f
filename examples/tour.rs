//! A tour of pgline: connect, server parameters, a prepared query, a
//! transaction, and cancellation.
//!
//! Connects to `DATABASE_URL` when it is set; otherwise starts a throwaway
//! PostgreSQL server (through `pgline-testkit`) and removes it at the end.
//!
//! ```text
//! cargo run --example tour
//! DATABASE_URL=postgres://me@localhost/mydb cargo run --example tour
//! ```

use std::time::Duration;

use pgline::{Client, Error};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the throwaway server (if any) alive until the end of main.
    let (url, server) = pgline_testkit::database_url_or_start("tour", "tour-secret", "tour")?;
    if server.is_some() {
        println!("DATABASE_URL is not set: started a throwaway PostgreSQL server");
    }

    let client = pgline::connect(&url).await?;
    println!(
        "connected: server_version={} TimeZone={} protocol={:?} backend pid={}",
        client.parameter("server_version").unwrap_or_default(),
        client.parameter("TimeZone").unwrap_or_default(),
        client.protocol_version(),
        client.backend_pid()
    );

    setup(&client).await?;
    prepared(&client).await?;
    transaction(&client).await?;
    cancel(&client).await?;

    client.batch_execute("DROP TABLE tour_items").await?;
    client.close().await?;
    println!("closed");
    Ok(())
}

async fn setup(client: &Client) -> Result<(), Error> {
    client
        .batch_execute(
            "DROP TABLE IF EXISTS tour_items;
             CREATE TABLE tour_items (id int4 PRIMARY KEY, name text NOT NULL, price float8)",
        )
        .await?;
    for (id, name, price) in [(1i32, "apple", 0.5), (2, "bread", 2.25), (3, "cheese", 7.0)] {
        client
            .execute(
                "INSERT INTO tour_items VALUES ($1, $2, $3)",
                &[&id, &name, &price],
            )
            .await?;
    }
    println!("created tour_items with 3 rows");
    Ok(())
}

async fn prepared(client: &Client) -> Result<(), Error> {
    let stmt = client
        .prepare("SELECT name, price FROM tour_items WHERE price < $1 ORDER BY id")
        .await?;
    println!(
        "prepared {:?}: parameter types {:?}, columns {:?}",
        stmt.name(),
        stmt.params(),
        stmt.columns().iter().map(|c| c.name()).collect::<Vec<_>>()
    );
    for row in client.query(&stmt, &[&5.0f64]).await? {
        let name: &str = row.get("name")?;
        let price: f64 = row.get(1)?;
        println!("  {name:<8} {price:>6.2}");
    }
    Ok(())
}

async fn transaction(client: &Client) -> Result<(), Error> {
    let tx = client.transaction().await?;
    tx.execute("UPDATE tour_items SET price = price * 2", &[])
        .await?;
    tx.rollback().await?;
    let total: f64 = client
        .query_one("SELECT sum(price) FROM tour_items", &[])
        .await?
        .get(0)?;
    println!("after a rolled-back update, the total is still {total:.2}");

    let tx = client.transaction().await?;
    let n = tx
        .execute("DELETE FROM tour_items WHERE id = $1", &[&3i32])
        .await?;
    tx.commit().await?;
    println!("committed a delete of {n} row");
    Ok(())
}

async fn cancel(client: &Client) -> Result<(), Error> {
    let token = client.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        token.cancel_query().await
    });
    let err = client
        .batch_execute("SELECT pg_sleep(30)")
        .await
        .expect_err("the sleep is cancelled");
    canceller.await.expect("cancel task")?;
    println!("cancelled a 30 s sleep: {err}");
    let still: i32 = client.query_one("SELECT 1", &[]).await?.get(0)?;
    println!("the connection is still usable: SELECT 1 = {still}");
    Ok(())
}
