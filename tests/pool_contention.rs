//! Fairness under contention: 1000 tasks doing 50 queries each over a pool
//! of 10. Every task must finish without error, and the FIFO acquire queue
//! must spread the waiting evenly: no task's total wait may be far above the
//! mean. Run with `--nocapture` to see the figures.
#![cfg(feature = "runtime")]

mod pool_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use pgline::pool::Pool;
use pool_support::{config_for, server};

const TASKS: usize = 1000;
const QUERIES: usize = 50;
const POOL_SIZE: usize = 10;
/// The largest per-task total wait allowed, as a multiple of the mean. With
/// a FIFO queue every task waits behind roughly the same number of others on
/// each acquire, so totals stay close to the mean; a starved task would be
/// many times above it.
const MAX_OVER_MEAN: f64 = 2.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_tasks_share_ten_connections_fairly() {
    let s = server();
    let pool = Pool::builder(config_for(s, "pool_contention"))
        .max_size(POOL_SIZE)
        .min_idle(POOL_SIZE)
        .acquire_timeout(Duration::from_secs(120))
        .connect()
        .await
        .unwrap();
    let pool = Arc::new(pool);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(TASKS);
    for task in 0..TASKS {
        let pool = Arc::clone(&pool);
        tasks.push(tokio::spawn(async move {
            let mut waited = Duration::ZERO;
            let mut worst = Duration::ZERO;
            for i in 0..QUERIES {
                let before = Instant::now();
                let client = pool.acquire().await?;
                let wait = before.elapsed();
                waited += wait;
                worst = worst.max(wait);
                let n = (task * QUERIES + i) as i32;
                let row = client.query_one("SELECT $1::int4", &[&n]).await?;
                assert_eq!(row.get::<i32>(0)?, n);
            }
            Ok::<_, pgline::Error>((waited, worst))
        }));
    }
    let outcome = tokio::time::timeout(Duration::from_secs(600), async {
        let mut results = Vec::with_capacity(TASKS);
        for task in tasks {
            results.push(task.await.expect("task panicked").expect("no query error"));
        }
        results
    })
    .await
    .expect("all tasks finish within 600 s");
    let elapsed = start.elapsed();

    let totals: Vec<f64> = outcome.iter().map(|(w, _)| w.as_secs_f64()).collect();
    let worst_single = outcome.iter().map(|(_, w)| *w).max().unwrap_or_default();
    let mean = totals.iter().sum::<f64>() / totals.len() as f64;
    let mut sorted = totals.clone();
    sorted.sort_by(f64::total_cmp);
    let pct = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    let max = sorted[sorted.len() - 1];
    let stats = pool.stats();
    println!(
        "contention: {TASKS} tasks x {QUERIES} queries over {POOL_SIZE} connections in {:.2} s \
         ({:.0} queries/s)",
        elapsed.as_secs_f64(),
        (TASKS * QUERIES) as f64 / elapsed.as_secs_f64()
    );
    println!(
        "per-task total wait: min {:.3} s, mean {:.3} s, p50 {:.3} s, p99 {:.3} s, max {:.3} s \
         (max/mean {:.2}); longest single acquire {:.1} ms",
        sorted[0],
        mean,
        pct(0.5),
        pct(0.99),
        max,
        max / mean,
        worst_single.as_secs_f64() * 1e3
    );
    println!(
        "pool: created {}, acquires {}, timeouts {}, acquire p50 <= {:?}, p99 <= {:?}",
        stats.created,
        stats.acquires,
        stats.acquire_timeouts,
        stats.acquire_latency.quantile_upper_bound(0.5).unwrap(),
        stats.acquire_latency.quantile_upper_bound(0.99).unwrap(),
    );

    assert_eq!(outcome.len(), TASKS);
    assert_eq!(stats.acquires, (TASKS * QUERIES) as u64);
    assert_eq!(stats.acquire_timeouts, 0);
    println!("closed by reason: {:?}", stats.closed);
    // No connection broke or failed its reset. (On a loaded machine a
    // health check may time out and replace a connection; that is allowed.)
    assert_eq!(stats.closed.broken, 0, "{:?}", stats.closed);
    assert_eq!(stats.closed.reset_failure, 0, "{:?}", stats.closed);
    assert_eq!(
        stats.created,
        POOL_SIZE as u64 + stats.closed.health_check + stats.closed.lifetime + stats.closed.idle,
        "every connection opened beyond the first {POOL_SIZE} replaced one closed by policy"
    );
    assert!(stats.size <= POOL_SIZE);
    assert!(
        max <= MAX_OVER_MEAN * mean,
        "a task waited {max:.3} s in total, more than {MAX_OVER_MEAN} x the mean {mean:.3} s"
    );
    pool.close(Duration::from_secs(10)).await;
}
