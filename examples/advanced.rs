//! Beyond the tour: a LISTEN/NOTIFY listener that survives a killed
//! connection, the transaction retry helper under real serialization
//! conflicts, `#[derive(FromRow)]`, and COPY over several connections at
//! once.
//!
//! Connects to `DATABASE_URL` when it is set; otherwise starts a throwaway
//! PostgreSQL server (through `pgline-testkit`) and removes it at the end.
//!
//! ```text
//! cargo run --example advanced
//! ```

use std::time::Duration;

use pgline::types::FromRow;
use pgline::{Client, Config, IsolationLevel, Listener, ListenerEvent, RetryPolicy};

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the throwaway server (if any) alive until the end of run().
    let (url, _server) =
        pgline_testkit::database_url_or_start("advanced", "advanced-secret", "advanced")?;
    let config: Config = url.parse()?;
    let client = config.connect().await?;

    listener(&config, &client).await?;
    retry(&config).await?;
    derive(&client).await?;
    parallel_copy(&config).await?;

    client.close().await?;
    Ok(())
}

/// A listener reconnects and listens again after its connection is killed,
/// and says so: notifications sent while it was away are lost, so a real
/// application re-reads what it watches on `Reconnected`.
async fn listener(config: &Config, client: &Client) -> Result<(), Box<dyn std::error::Error>> {
    let mut listener = Listener::connect(config).await?;
    listener.reconnect_backoff(Duration::from_millis(50), Duration::from_secs(2));
    listener.listen("jobs").await?;

    client.batch_execute("NOTIFY jobs, 'first'").await?;
    expect_payload(&mut listener, "first").await?;

    // Simulate a lost connection: the server ends the listener's session.
    let pid = listener.backend_pid().expect("connected") as i32;
    client
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await?;
    match listener.recv().await? {
        ListenerEvent::Reconnected(r) => println!(
            "listener: connection lost ({}); listening again as pid {} after {} attempt(s)",
            r.cause, r.backend_pid, r.attempts
        ),
        other => return Err(format!("expected a reconnect, got {other:?}").into()),
    }

    client.batch_execute("NOTIFY jobs, 'second'").await?;
    expect_payload(&mut listener, "second").await?;
    Ok(())
}

async fn expect_payload(
    listener: &mut Listener,
    want: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    match tokio::time::timeout(Duration::from_secs(10), listener.recv()).await?? {
        ListenerEvent::Notification(n) if n.payload() == want => {
            println!("listener: {} -> {:?}", n.channel(), n.payload());
            Ok(())
        }
        other => Err(format!("expected {want:?}, got {other:?}").into()),
    }
}

/// Four connections increment one counter in SERIALIZABLE transactions at
/// the same time. Conflicting ones fail with 40001; the helper rolls back,
/// waits with jittered backoff and runs the closure again.
async fn retry(config: &Config) -> Result<(), Box<dyn std::error::Error>> {
    let setup = config.connect().await?;
    setup
        .batch_execute(
            "DROP TABLE IF EXISTS counters;
             CREATE TABLE counters (name text PRIMARY KEY, n int8 NOT NULL);
             INSERT INTO counters VALUES ('hits', 0)",
        )
        .await?;
    let policy = RetryPolicy {
        max_attempts: 50,
        ..RetryPolicy::default()
    };
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let client = config.connect().await?;
        tasks.push(tokio::spawn(async move {
            let mut attempts = 0;
            for _ in 0..10 {
                let done = client
                    .transaction_with_retry(
                        Some(IsolationLevel::Serializable),
                        policy,
                        async |tx| {
                            // Read, (dawdle,) then write: two sessions doing
                            // this at once conflict, and one of them retries.
                            let n: i64 = tx
                                .query_one(
                                    "SELECT n FROM counters, pg_sleep(0.002) WHERE name = 'hits'",
                                    &[],
                                )
                                .await?
                                .get(0)?;
                            tx.execute(
                                "UPDATE counters SET n = $1 WHERE name = 'hits'",
                                &[&(n + 1)],
                            )
                            .await
                        },
                    )
                    .await?;
                attempts += done.attempts;
            }
            Ok::<u32, pgline::Error>(attempts)
        }));
    }
    let mut attempts = 0;
    for task in tasks {
        attempts += task.await??;
    }
    let n: i64 = setup
        .query_one("SELECT n FROM counters WHERE name = 'hits'", &[])
        .await?
        .get(0)?;
    println!(
        "retry: 40 increments committed (counter = {n}) in {attempts} attempts ({} retried after 40001/40P01)",
        attempts - 40
    );
    if n != 40 {
        return Err(format!("lost updates: counter is {n}, not 40").into());
    }
    setup.batch_execute("DROP TABLE counters").await?;
    Ok(())
}

/// Rows mapped to a struct by column name; `&str` fields borrow from the row.
#[derive(Debug, pgline::FromRow)]
struct Product<'r> {
    id: i32,
    name: &'r str,
    #[pgline(rename = "price_cents")]
    cents: i64,
    #[pgline(default)]
    note: Option<String>,
}

async fn derive(client: &Client) -> Result<(), Box<dyn std::error::Error>> {
    let rows = client
        .query(
            "SELECT * FROM (VALUES (1, 'pen', 150::int8), (2, 'ink', 820)) AS p(id, name, price_cents)",
            &[],
        )
        .await?;
    for row in &rows {
        let p = Product::from_row(row)?;
        println!(
            "derive: #{} {} costs {}.{:02} (note: {:?})",
            p.id,
            p.name,
            p.cents / 100,
            p.cents % 100,
            p.note
        );
    }
    Ok(())
}

/// One CSV input dealt over four connections in line-aligned chunks. Not
/// atomic: each connection's COPY commits on its own.
async fn parallel_copy(config: &Config) -> Result<(), Box<dyn std::error::Error>> {
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(config.connect().await?);
    }
    clients[0]
        .batch_execute(
            "DROP TABLE IF EXISTS events;
             CREATE UNLOGGED TABLE events (id int8, kind text)",
        )
        .await?;
    let rows = 200_000u64;
    let mut csv = Vec::new();
    for i in 0..rows {
        csv.extend_from_slice(format!("{i},kind-{}\n", i % 7).as_bytes());
    }
    // `&[u8]` is an AsyncRead: any file or socket works the same way.
    let copied =
        pgline::copy_in_parallel(&clients, "COPY events FROM STDIN (FORMAT csv)", &csv[..]).await?;
    let (n, distinct): (i64, i64) = {
        let row = clients[0]
            .query_one("SELECT count(*), count(DISTINCT id) FROM events", &[])
            .await?;
        (row.get(0)?, row.get(1)?)
    };
    println!(
        "parallel COPY: {copied} rows through {} connections; table has {n} ({distinct} distinct ids)",
        clients.len()
    );
    if n as u64 != rows || distinct as u64 != rows {
        return Err("parallel COPY lost or duplicated rows".into());
    }
    clients[0].batch_execute("DROP TABLE events").await?;
    Ok(())
}
