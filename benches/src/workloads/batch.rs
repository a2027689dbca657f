//! `batch_1000`: 1000 prepared `SELECT $1::int4` per explicit batch with one
//! Sync per batch; `batch_1000_sync_each`: the same batch with a Sync after
//! every statement (each its own implicit transaction); throughput in
//! queries.
//!
//! Owns: libpq's side (pipeline mode, one Sync per 1000 or one per query),
//! tokio-postgres's nearest equivalent (1000 concurrent futures; it has no
//! explicit batch, so each query carries its own Sync, in both rows), and
//! pgline's explicit batch (`Batch::run_atomic`, `Batch::run_independent`).
//! Must not: report a number for a driver that cannot do the workload.

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::env::{BenchEnv, Tls};
use crate::libpq::{Int4Param, PqConn, ResultStatus};
use crate::workloads::point_select::decode_int4;
use crate::workloads::{
    SELECT_INT4, Workload, check_sum, expected_sum, param, pgline_client, runtime,
    tokio_postgres_client,
};
use crate::{BenchError, Driver, Meter, Outcome};

/// Statements per batch.
pub const BATCH_SIZE: u64 = 1000;

/// Where a batch puts its Syncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// One Sync after the last statement.
    PerBatch,
    /// A Sync after every statement.
    PerStatement,
}

/// The workload with one Sync per batch.
pub fn workload() -> Workload {
    Workload::new(
        format!("batch_{BATCH_SIZE}"),
        "query",
        format!("{BATCH_SIZE} prepared `SELECT $1::int4` per explicit batch, one Sync per batch"),
        |driver, env| run(driver, env, SyncMode::PerBatch),
    )
}

/// The workload with a Sync after every statement.
pub fn sync_each_workload() -> Workload {
    Workload::new(
        format!("batch_{BATCH_SIZE}_sync_each"),
        "query",
        format!(
            "{BATCH_SIZE} prepared `SELECT $1::int4` per explicit batch, a Sync after each \
             (libpq: `PQpipelineSync` per query)"
        ),
        |driver, env| run(driver, env, SyncMode::PerStatement),
    )
}

fn run(driver: Driver, env: &BenchEnv, sync: SyncMode) -> Result<Outcome, BenchError> {
    let batches = env.mode.batches();
    match driver {
        Driver::Pgline => pgline_batch(env, batches, sync),
        Driver::Libpq => libpq_batch(env, batches, sync),
        // Every tokio-postgres query carries its own Sync whatever the row.
        Driver::TokioPostgres => tokio_postgres_batch(env, batches),
    }
}

/// pgline: an explicit batch of 1000 statements, the statement prepared
/// once through the cache, with one Sync (`Batch::run_atomic`) or one per
/// statement (`Batch::run_independent`).
pub fn pgline_batch(env: &BenchEnv, batches: u64, sync: SyncMode) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = pgline_client(env).await?;
        let values: Vec<i32> = (1..=BATCH_SIZE).map(param).collect();
        pgline_one_batch(&client, &values, sync).await?;
        let meter = Meter::start();
        for _ in 0..batches {
            pgline_one_batch(&client, &values, sync).await?;
        }
        let sample = meter.stop(batches * BATCH_SIZE);
        client.close().await?;
        Ok(Outcome::Measured(sample))
    })
}

async fn pgline_one_batch(
    client: &pgline::Client,
    values: &[i32],
    sync: SyncMode,
) -> Result<(), BenchError> {
    let params: Vec<[&(dyn pgline::types::Encode + Sync); 1]> = values
        .iter()
        .map(|v| [v as &(dyn pgline::types::Encode + Sync)])
        .collect();
    let mut batch = client.batch();
    for p in &params {
        batch.push(SELECT_INT4, p);
    }
    let outcomes = match sync {
        SyncMode::PerBatch => batch.run_atomic().await?,
        SyncMode::PerStatement => batch.run_independent().await?,
    };
    let mut sum = 0i64;
    for outcome in outcomes {
        match outcome {
            pgline::StatementOutcome::Ran { rows, .. } => {
                let row = rows
                    .first()
                    .ok_or_else(|| BenchError::new("pgline batch: a statement returned no row"))?;
                sum += i64::from(row.get::<i32>(0)?);
            }
            other => {
                return Err(BenchError::new(format!("pgline batch: {other:?}")));
            }
        }
    }
    check_sum("pgline batch", sum, expected_sum(BATCH_SIZE))
}

/// libpq: pipeline mode, 1000 queries then one Sync (or a Sync after each
/// query), then every result.
pub fn libpq_batch(env: &BenchEnv, batches: u64, sync: SyncMode) -> Result<Outcome, BenchError> {
    let conn = PqConn::connect(&env.libpq_conninfo(Tls::Off))?;
    conn.prepare_int4("batch", SELECT_INT4, 1)?;
    conn.enter_pipeline_mode()?;
    libpq_one_batch(&conn, sync)?;
    let meter = Meter::start();
    for _ in 0..batches {
        libpq_one_batch(&conn, sync)?;
    }
    let sample = meter.stop(batches * BATCH_SIZE);
    conn.exit_pipeline_mode()?;
    Ok(Outcome::Measured(sample))
}

fn libpq_one_batch(conn: &PqConn, sync: SyncMode) -> Result<(), BenchError> {
    for i in 1..=BATCH_SIZE {
        conn.send_prepared_int4(c"batch", Int4Param::new(param(i)))?;
        if sync == SyncMode::PerStatement {
            conn.pipeline_sync()?;
        }
    }
    if sync == SyncMode::PerBatch {
        conn.pipeline_sync()?;
    }
    conn.flush()?;
    let mut sum = 0i64;
    for _ in 0..BATCH_SIZE {
        let result = conn
            .next_result()
            .ok_or_else(|| BenchError::new("libpq batch: missing result"))?
            .expect_ok()?;
        sum += i64::from(decode_int4(result.value(0, 0))?);
        if conn.next_result().is_some() {
            return Err(BenchError::new("libpq batch: more than one result"));
        }
        if sync == SyncMode::PerStatement {
            expect_pipeline_sync(conn)?;
        }
    }
    if sync == SyncMode::PerBatch {
        expect_pipeline_sync(conn)?;
    }
    check_sum("libpq batch", sum, expected_sum(BATCH_SIZE))
}

fn expect_pipeline_sync(conn: &PqConn) -> Result<(), BenchError> {
    match conn.next_result().map(|r| r.status()) {
        Some(ResultStatus::PipelineSync) => Ok(()),
        other => Err(BenchError::new(format!(
            "libpq batch: expected the Sync, got {other:?}"
        ))),
    }
}

/// tokio-postgres: 1000 concurrent `query_one` futures per batch (each with
/// its own Sync: tokio-postgres has no one-Sync batch of extended queries).
pub fn tokio_postgres_batch(env: &BenchEnv, batches: u64) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = tokio_postgres_client(env).await?;
        let stmt = client.prepare(SELECT_INT4).await?;
        tokio_postgres_one_batch(&client, &stmt).await?;
        let meter = Meter::start();
        for _ in 0..batches {
            tokio_postgres_one_batch(&client, &stmt).await?;
        }
        Ok(Outcome::Measured(meter.stop(batches * BATCH_SIZE)))
    })
}

async fn tokio_postgres_one_batch(
    client: &tokio_postgres::Client,
    stmt: &tokio_postgres::Statement,
) -> Result<(), BenchError> {
    let mut all: FuturesUnordered<_> = (1..=BATCH_SIZE)
        .map(|i| async move {
            let row = client.query_one(stmt, &[&param(i)]).await?;
            Ok::<i64, BenchError>(i64::from(row.try_get::<_, i32>(0)?))
        })
        .collect();
    let mut sum = 0i64;
    while let Some(value) = all.next().await {
        sum += value?;
    }
    check_sum("tokio-postgres batch", sum, expected_sum(BATCH_SIZE))
}
