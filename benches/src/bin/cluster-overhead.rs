//! The cost of routing: a point select through a `Cluster` against the same
//! select through the `Pool` the cluster routes it to, in paired rounds on
//! one throwaway server.
//!
//! Each round runs the same number of queries both ways, in an order that
//! alternates between rounds; the ratio reported is taken within a round
//! (cluster ÷ pool), as the suite does. Heap allocations per query come
//! from the counting allocator. The cluster's monitor probes once a second
//! during the run, as it would in production.
//!
//! ```text
//! cargo run --release --bin cluster-overhead [-- ROUNDS QUERIES]
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use pgline::Pool;
use pgline::cluster::{Cluster, NodeId, ReadPreference};
use pgline_benches::alloc::{AllocCount, CountingAllocator};
use pgline_benches::cli::count_arg;
use pgline_benches::env::Tls;
use pgline_benches::{BenchEnv, BenchError, Mode};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const TARGET_RATIO: f64 = 1.02;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cluster-overhead: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), BenchError> {
    let rounds = count_arg(1, 11)?;
    let queries = count_arg(2, 20_000)?;
    let env = BenchEnv::start(Mode::Quick)?;
    let conninfo = env.pgline_conninfo(Tls::Off);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::new(format!("runtime: {e}")))?;
    runtime.block_on(async move {
        let cluster = Cluster::builder(conninfo.parse().map_err(|e| BenchError::new(format!("{e}")))?)
            .connect()
            .await
            .map_err(|e| BenchError::new(format!("cluster: {e}")))?;
        let started = Instant::now();
        while cluster.topology().primary().is_none() {
            if started.elapsed() > Duration::from_secs(10) {
                return Err(BenchError::new("no primary seen"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let pool = cluster.pool(NodeId::new(0)).expect("one node").clone();
        // Warm the statement cache and the pool.
        through_pool(&pool, 2_000).await?;
        through_cluster(&cluster, 2_000).await?;
        println!(
            "{:>5} {:>12} {:>12} {:>8} {:>12} {:>12}",
            "round", "pool ns/q", "cluster ns/q", "ratio", "pool alloc/q", "cluster alloc/q"
        );
        let mut ratios = Vec::new();
        let mut allocs = (0.0, 0.0);
        for round in 0..rounds {
            let (p, c) = if round % 2 == 0 {
                let p = through_pool(&pool, queries).await?;
                (p, through_cluster(&cluster, queries).await?)
            } else {
                let c = through_cluster(&cluster, queries).await?;
                (through_pool(&pool, queries).await?, c)
            };
            let ratio = c.0 / p.0;
            ratios.push(ratio);
            allocs = (p.1, c.1);
            println!(
                "{round:>5} {:>12.0} {:>12.0} {ratio:>8.4} {:>12.2} {:>12.2}",
                p.0, c.0, p.1, c.1
            );
        }
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        println!(
            "median ratio cluster/pool {median:.4} (range {:.4}..{:.4}) over {rounds} rounds of {queries} \
             queries; allocations per query pool {:.2}, cluster {:.2}; target <= {TARGET_RATIO}: {}",
            ratios[0],
            ratios[ratios.len() - 1],
            allocs.0,
            allocs.1,
            if median <= TARGET_RATIO { "met" } else { "NOT met" }
        );
        cluster.close().await;
        Ok(())
    })
}

/// Runs `n` point selects through the pool; returns ns and allocations per query.
async fn through_pool(pool: &Pool, n: u64) -> Result<(f64, f64), BenchError> {
    let allocs = AllocCount::now();
    let started = Instant::now();
    for i in 0..n {
        let v = i as i32;
        let row = pool
            .query_one("SELECT $1::int4", &[&v])
            .await
            .map_err(|e| BenchError::new(format!("{e}")))?;
        debug_assert_eq!(row.get::<i32>(0).ok(), Some(v));
    }
    Ok(per_query(started, allocs, n))
}

/// Runs `n` point selects through the cluster (its primary).
async fn through_cluster(cluster: &Cluster, n: u64) -> Result<(f64, f64), BenchError> {
    let route = cluster.route(ReadPreference::Primary);
    let allocs = AllocCount::now();
    let started = Instant::now();
    for i in 0..n {
        let v = i as i32;
        let row = route
            .query_one("SELECT $1::int4", &[&v])
            .await
            .map_err(|e| BenchError::new(format!("{e}")))?;
        debug_assert_eq!(row.get::<i32>(0).ok(), Some(v));
    }
    Ok(per_query(started, allocs, n))
}

fn per_query(started: Instant, allocs: AllocCount, n: u64) -> (f64, f64) {
    let ns = started.elapsed().as_nanos() as f64 / n as f64;
    let a = AllocCount::now().since(allocs).allocations as f64 / n as f64;
    (ns, a)
}
