//! The connection pool in use: warm-up, queries through the pool, a
//! transaction on an acquired connection, pipelining, many tasks sharing a
//! few connections, stats, health events and a graceful close.
//!
//! Connects to `DATABASE_URL` when it is set; otherwise starts a throwaway
//! PostgreSQL server (through `pgline-testkit`) and removes it at the end.
//!
//! ```text
//! cargo run --example pool
//! DATABASE_URL=postgres://me@localhost/mydb cargo run --example pool
//! ```

#[cfg(feature = "runtime")]
mod demo {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use pgline::pool::{Pool, PoolEvent};
    use pgline::{Config, Error};

    pub(crate) async fn run() -> Result<(), Box<dyn std::error::Error>> {
        // Keep the throwaway server (if any) alive until the end.
        let (url, server) = pgline_testkit::database_url_or_start("demo", "demo-secret", "demo")?;
        if server.is_some() {
            println!("DATABASE_URL is not set: started a throwaway PostgreSQL server");
        }
        let mut config: Config = url.parse()?;
        config.application_name("pool");

        let started = Instant::now();
        let pool = Pool::builder(config)
            .max_size(8)
            .min_idle(4)
            .acquire_timeout(Duration::from_secs(5))
            .leak_threshold(Some(Duration::from_secs(10)))
            .setup(|client| async move { client.batch_execute("SET search_path TO public").await })
            .connect()
            .await?;
        println!(
            "pool warmed up in {:?}: {} idle connections",
            started.elapsed(),
            pool.stats().idle
        );

        // Health changes and closed connections, as the cluster layer would watch them.
        let mut events = pool.subscribe();
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                if let PoolEvent::Health(change) = event {
                    println!("pool health: {} -> {}", change.from, change.to);
                }
            }
        });

        // One statement: the pool acquires, runs and releases.
        let row = pool.query_one("SELECT $1::int4 * 2", &[&21i32]).await?;
        println!("through the pool: 21 * 2 = {}", row.get::<i32>(0)?);

        // Several statements on one connection: a transaction, then pipelining.
        {
            let client = pool.acquire().await?;
            client
                .batch_execute("CREATE TEMP TABLE IF NOT EXISTS demo_t (n int)")
                .await?;
            let tx = client.transaction().await?;
            tx.execute("INSERT INTO demo_t SELECT generate_series(1, 10)", &[])
                .await?;
            tx.commit().await?;
            let (count, sum) = tokio::join!(
                client.query_one("SELECT count(*) FROM demo_t", &[]),
                client.query_one("SELECT sum(n) FROM demo_t", &[]),
            );
            println!(
                "pipelined on one connection: count {} sum {}",
                count?.get::<i64>(0)?,
                sum?.get::<i64>(0)?
            );
        }

        // Many tasks, few connections.
        let pool = Arc::new(pool);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for task in 0..64i32 {
            let pool = Arc::clone(&pool);
            tasks.push(tokio::spawn(async move {
                for i in 0..20i32 {
                    pool.query_one("SELECT $1::int4", &[&(task * 100 + i)])
                        .await?;
                }
                Ok::<_, Error>(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let stats = pool.stats();
        println!(
            "64 tasks x 20 queries over {} connections in {:?}; acquire p50 <= {:?}, p99 <= {:?}",
            stats.size,
            started.elapsed(),
            stats.acquire_latency.quantile_upper_bound(0.5),
            stats.acquire_latency.quantile_upper_bound(0.99),
        );
        println!(
            "stats: {} acquires, {} created, {} closed, {} timeouts, health {}",
            stats.acquires,
            stats.created,
            stats.closed.total(),
            stats.acquire_timeouts,
            pool.health()
        );

        let outcome = pool.close(Duration::from_secs(5)).await;
        println!("closed: {outcome:?}");
        Ok(())
    }
}

#[cfg(feature = "runtime")]
fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Err(e) = runtime.block_on(demo::run()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

#[cfg(not(feature = "runtime"))]
fn main() {
    eprintln!("pool needs the `runtime` feature");
}
