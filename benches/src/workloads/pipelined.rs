//! `pipelined_N`: N independent `SELECT $1::int4` requests in flight on one
//! connection, one Sync each, as a sliding window; throughput.
//!
//! Owns: one function per driver: pgline's implicit pipelining (N concurrent
//! futures on one client), libpq's pipeline mode with a Sync after each
//! query, tokio-postgres with N concurrent futures. Must not: batch several
//! queries under one Sync (that is [`super::batch`]).

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::env::{BenchEnv, Tls};
use crate::libpq::{Int4Param, PqConn, ResultStatus};
use crate::workloads::point_select::decode_int4;
use crate::workloads::{
    SELECT_INT4, Workload, check_sum, expected_sum, param, pgline_client, runtime,
    tokio_postgres_client, warmup_ops,
};
use crate::{BenchError, Driver, Meter, Outcome};

/// The depths measured.
pub const DEPTHS: [usize; 3] = [1, 16, 256];

/// The workload at one depth.
pub fn workload(depth: usize) -> Workload {
    Workload::new(
        format!("pipelined_{depth}"),
        "query",
        format!("{depth} independent prepared `SELECT $1::int4` in flight, one Sync each"),
        move |driver, env| {
            let ops = env.mode.pipelined_queries();
            match driver {
                Driver::Pgline => pgline_pipelined(env, depth, ops),
                Driver::Libpq => libpq_pipelined(env, depth, ops),
                Driver::TokioPostgres => tokio_postgres_pipelined(env, depth, ops),
            }
        },
    )
}

/// pgline: a window of `depth` concurrent `query_one` futures on one client.
pub fn pgline_pipelined(env: &BenchEnv, depth: usize, ops: u64) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = pgline_client(env).await?;
        let stmt = client.prepare(SELECT_INT4).await?;
        pgline_window(&client, &stmt, depth, warmup_ops(ops)).await?;
        let meter = Meter::start();
        pgline_window(&client, &stmt, depth, ops).await?;
        let sample = meter.stop(ops);
        client.close().await?;
        Ok(Outcome::Measured(sample))
    })
}

async fn pgline_window(
    client: &pgline::Client,
    stmt: &pgline::Statement,
    depth: usize,
    ops: u64,
) -> Result<(), BenchError> {
    let one = |i: u64| async move {
        let row = client.query_one(stmt, &[&param(i)]).await?;
        Ok::<i64, BenchError>(i64::from(row.get::<i32>(0)?))
    };
    let mut in_flight = FuturesUnordered::new();
    let (mut next, mut sum) = (1u64, 0i64);
    loop {
        while in_flight.len() < depth && next <= ops {
            in_flight.push(one(next));
            next += 1;
        }
        match in_flight.next().await {
            Some(value) => sum += value?,
            None => break,
        }
    }
    check_sum("pgline pipelined", sum, expected_sum(ops))
}

/// libpq: pipeline mode, `depth` queries (each followed by a Sync) kept in
/// flight; one more is sent as each finishes.
pub fn libpq_pipelined(env: &BenchEnv, depth: usize, ops: u64) -> Result<Outcome, BenchError> {
    let conn = PqConn::connect(&env.libpq_conninfo(Tls::Off))?;
    conn.prepare_int4("pipelined", SELECT_INT4, 1)?;
    conn.enter_pipeline_mode()?;
    libpq_window(&conn, depth, warmup_ops(ops))?;
    let meter = Meter::start();
    libpq_window(&conn, depth, ops)?;
    let sample = meter.stop(ops);
    conn.exit_pipeline_mode()?;
    Ok(Outcome::Measured(sample))
}

fn libpq_window(conn: &PqConn, depth: usize, ops: u64) -> Result<(), BenchError> {
    let (mut next, mut in_flight, mut sum) = (1u64, 0usize, 0i64);
    let mut done = 0u64;
    while done < ops {
        let mut sent_any = false;
        while in_flight < depth && next <= ops {
            conn.send_prepared_int4(c"pipelined", Int4Param::new(param(next)))?;
            conn.pipeline_sync()?;
            next += 1;
            in_flight += 1;
            sent_any = true;
        }
        if sent_any {
            conn.flush()?;
        }
        sum += libpq_read_one(conn)?;
        in_flight -= 1;
        done += 1;
    }
    check_sum("libpq pipelined", sum, expected_sum(ops))
}

/// Reads one query's results in pipeline mode: its rows, the end of the
/// query, and the Sync that follows it. Returns the int4 it selected.
pub fn libpq_read_one(conn: &PqConn) -> Result<i64, BenchError> {
    let result = conn
        .next_result()
        .ok_or_else(|| BenchError::new("libpq pipeline: missing result"))?
        .expect_ok()?;
    if result.status() != ResultStatus::TuplesOk {
        return Err(BenchError::new(format!(
            "libpq pipeline: expected rows, got {:?}",
            result.status()
        )));
    }
    let value = i64::from(decode_int4(result.value(0, 0))?);
    if conn.next_result().is_some() {
        return Err(BenchError::new("libpq pipeline: more than one result"));
    }
    match conn.next_result().map(|r| r.status()) {
        Some(ResultStatus::PipelineSync) => Ok(value),
        other => Err(BenchError::new(format!(
            "libpq pipeline: expected the Sync, got {other:?}"
        ))),
    }
}

/// tokio-postgres: a window of `depth` concurrent `query_one` futures.
pub fn tokio_postgres_pipelined(
    env: &BenchEnv,
    depth: usize,
    ops: u64,
) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = tokio_postgres_client(env).await?;
        let stmt = client.prepare(SELECT_INT4).await?;
        tokio_postgres_window(&client, &stmt, depth, warmup_ops(ops)).await?;
        let meter = Meter::start();
        tokio_postgres_window(&client, &stmt, depth, ops).await?;
        Ok(Outcome::Measured(meter.stop(ops)))
    })
}

async fn tokio_postgres_window(
    client: &tokio_postgres::Client,
    stmt: &tokio_postgres::Statement,
    depth: usize,
    ops: u64,
) -> Result<(), BenchError> {
    let one = |i: u64| async move {
        let row = client.query_one(stmt, &[&param(i)]).await?;
        Ok::<i64, BenchError>(i64::from(row.try_get::<_, i32>(0)?))
    };
    let mut in_flight = FuturesUnordered::new();
    let (mut next, mut sum) = (1u64, 0i64);
    loop {
        while in_flight.len() < depth && next <= ops {
            in_flight.push(one(next));
            next += 1;
        }
        match in_flight.next().await {
            Some(value) => sum += value?,
            None => break,
        }
    }
    check_sum("tokio-postgres pipelined", sum, expected_sum(ops))
}
