//! `pool_acquire` and `pool_64x8`: pgline's pool against deadpool-postgres
//! (on tokio-postgres); libpq has no pool.
//!
//! Owns: `pool_acquire`, an uncontended acquire + release (no query), and
//! `pool_64x8`, 64 tasks each running `SELECT $1::int4` through a pool of 8
//! connections, on a two-worker runtime. Must not: count connection setup
//! (pools are warmed first).

use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool as Deadpool, RecyclingMethod};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::env::{BenchEnv, Tls};
use crate::workloads::{SELECT_INT4, Workload, check_sum, expected_sum, param, runtime};
use crate::{BenchError, Driver, Meter, Outcome};

const POOL_SIZE: usize = 8;
const TASKS: u64 = 64;

/// Uncontended acquire + release.
pub fn acquire_workload() -> Workload {
    Workload::new(
        "pool_acquire",
        "acquire",
        "uncontended acquire + release of a warm pooled connection (tokio-postgres column: deadpool-postgres)",
        |driver, env| {
            let ops = env.mode.sequential_queries() * 4;
            match driver {
                Driver::Pgline => pgline_acquire(env, ops),
                Driver::Libpq => Ok(Outcome::NotAvailable("libpq has no pool")),
                Driver::TokioPostgres => deadpool_acquire(env, ops),
            }
        },
    )
}

/// 64 tasks over 8 connections.
pub fn contended_workload() -> Workload {
    Workload::new(
        "pool_64x8",
        "query",
        "64 tasks running `SELECT $1::int4` through a pool of 8 (tokio-postgres column: deadpool-postgres)",
        |driver, env| {
            let ops = env.mode.pipelined_queries();
            match driver {
                Driver::Pgline => pgline_contended(env, ops),
                Driver::Libpq => Ok(Outcome::NotAvailable("libpq has no pool")),
                Driver::TokioPostgres => deadpool_contended(env, ops),
            }
        },
    )
}

fn multi_thread() -> Result<tokio::runtime::Runtime, BenchError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

async fn pgline_pool(env: &BenchEnv) -> Result<pgline::Pool, BenchError> {
    let config: pgline::Config = env
        .pgline_conninfo(Tls::Off)
        .parse()
        .map_err(|e: pgline::config::ConfigError| BenchError::new(e.to_string()))?;
    let mut builder = pgline::Pool::builder(config);
    builder.max_size(POOL_SIZE).min_idle(POOL_SIZE);
    Ok(builder.connect().await?)
}

fn deadpool(env: &BenchEnv) -> Result<Deadpool, BenchError> {
    deadpool_at(&env.tokio_postgres_conninfo(Tls::Off), POOL_SIZE)
}

/// A deadpool-postgres pool of `size` over `conninfo` (plain TCP, fast
/// recycling), as every pooled peer shape here uses.
pub fn deadpool_at(conninfo: &str, size: usize) -> Result<Deadpool, BenchError> {
    let pg: tokio_postgres::Config = conninfo
        .parse()
        .map_err(|e: tokio_postgres::Error| BenchError::new(e.to_string()))?;
    let manager = Manager::from_config(
        pg,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Deadpool::builder(manager)
        .max_size(size)
        .build()
        .map_err(|e| BenchError::new(e.to_string()))
}

/// pgline: `Pool::acquire` then drop.
pub fn pgline_acquire(env: &BenchEnv, ops: u64) -> Result<Outcome, BenchError> {
    runtime()?.block_on(async {
        let pool = pgline_pool(env).await?;
        for _ in 0..100 {
            drop(pool.acquire().await?);
        }
        let meter = Meter::start();
        for _ in 0..ops {
            drop(pool.acquire().await?);
        }
        let sample = meter.stop(ops);
        pool.close(std::time::Duration::from_secs(5)).await;
        Ok(Outcome::Measured(sample))
    })
}

/// deadpool-postgres: `Pool::get` then drop.
pub fn deadpool_acquire(env: &BenchEnv, ops: u64) -> Result<Outcome, BenchError> {
    runtime()?.block_on(async {
        let pool = deadpool(env)?;
        for _ in 0..100 {
            drop(
                pool.get()
                    .await
                    .map_err(|e| BenchError::new(e.to_string()))?,
            );
        }
        let meter = Meter::start();
        for _ in 0..ops {
            drop(
                pool.get()
                    .await
                    .map_err(|e| BenchError::new(e.to_string()))?,
            );
        }
        Ok(Outcome::Measured(meter.stop(ops)))
    })
}

/// pgline: 64 tasks, each acquiring per query.
pub fn pgline_contended(env: &BenchEnv, ops: u64) -> Result<Outcome, BenchError> {
    multi_thread()?.block_on(async {
        let pool = Arc::new(pgline_pool(env).await?);
        let run = |ops: u64| {
            let pool = pool.clone();
            async move {
                let per_task = ops / TASKS;
                let mut tasks = FuturesUnordered::new();
                for t in 0..TASKS {
                    let pool = pool.clone();
                    tasks.push(tokio::spawn(async move {
                        let mut sum = 0i64;
                        for i in 0..per_task {
                            let n = param(t * per_task + i + 1);
                            let row = pool.query_one(SELECT_INT4, &[&n]).await?;
                            sum += i64::from(row.get::<i32>(0)?);
                        }
                        Ok::<i64, BenchError>(sum)
                    }));
                }
                let mut sum = 0;
                while let Some(done) = tasks.next().await {
                    sum += done.map_err(|e| BenchError::new(e.to_string()))??;
                }
                check_sum("pgline pool", sum, expected_sum(per_task * TASKS))
            }
        };
        run(TASKS * 10).await?;
        let meter = Meter::start();
        run(ops).await?;
        let sample = meter.stop(ops / TASKS * TASKS);
        pool.close(std::time::Duration::from_secs(5)).await;
        Ok(Outcome::Measured(sample))
    })
}

/// deadpool-postgres: 64 tasks, each getting a client per query (prepared
/// through tokio-postgres's statement cache of deadpool).
pub fn deadpool_contended(env: &BenchEnv, ops: u64) -> Result<Outcome, BenchError> {
    multi_thread()?.block_on(async {
        let pool = deadpool(env)?;
        let run = |ops: u64| {
            let pool = pool.clone();
            async move {
                let per_task = ops / TASKS;
                let mut tasks = FuturesUnordered::new();
                for t in 0..TASKS {
                    let pool = pool.clone();
                    tasks.push(tokio::spawn(async move {
                        let mut sum = 0i64;
                        for i in 0..per_task {
                            let n = param(t * per_task + i + 1);
                            let client = pool
                                .get()
                                .await
                                .map_err(|e| BenchError::new(e.to_string()))?;
                            let stmt = client.prepare_cached(SELECT_INT4).await?;
                            let row = client.query_one(&stmt, &[&n]).await?;
                            sum += i64::from(row.try_get::<_, i32>(0)?);
                        }
                        Ok::<i64, BenchError>(sum)
                    }));
                }
                let mut sum = 0;
                while let Some(done) = tasks.next().await {
                    sum += done.map_err(|e| BenchError::new(e.to_string()))??;
                }
                check_sum("deadpool", sum, expected_sum(per_task * TASKS))
            }
        };
        run(TASKS * 10).await?;
        let meter = Meter::start();
        run(ops).await?;
        Ok(Outcome::Measured(meter.stop(ops / TASKS * TASKS)))
    })
}
