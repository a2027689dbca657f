//! `statement_cache_prepared` and `statement_cache_unprepared`: the same
//! `SELECT $1::int4`, sequentially, once through a prepared statement and
//! once as SQL text on every call.
//!
//! Owns: the unprepared side for each driver (pgline's `query_one` with SQL
//! text, libpq's `PQexecParams`, tokio-postgres's `query_one` with SQL text,
//! which prepares on every call); the prepared side reuses
//! [`super::point_select`]. Must not: prepare the unprepared side by hand.

use crate::env::{BenchEnv, Tls, Transport};
use crate::libpq::{Int4Param, PqConn};
use crate::workloads::point_select::{
    decode_int4, libpq_point_select, pgline_point_select, tokio_postgres_point_select,
};
use crate::workloads::{
    SELECT_INT4, Workload, check_sum, expected_sum, param, pgline_client, runtime,
    tokio_postgres_client, warmup_ops,
};
use crate::{BenchError, Driver, Meter, Outcome};

/// The prepared side.
pub fn prepared_workload() -> Workload {
    Workload::new(
        "statement_cache_prepared",
        "query",
        "a prepared `SELECT $1::int4` executed repeatedly (as point_select)",
        |driver, env| {
            let ops = env.mode.sequential_queries();
            match driver {
                Driver::Pgline => pgline_point_select(env, Transport::Tcp, ops),
                Driver::Libpq => libpq_point_select(env, Transport::Tcp, ops),
                Driver::TokioPostgres => tokio_postgres_point_select(env, Transport::Tcp, ops),
            }
        },
    )
}

/// The unprepared side.
pub fn unprepared_workload() -> Workload {
    Workload::new(
        "statement_cache_unprepared",
        "query",
        "the same query passed as SQL text on every call",
        |driver, env| {
            let ops = env.mode.sequential_queries();
            match driver {
                Driver::Pgline => pgline_unprepared(env, ops),
                Driver::Libpq => libpq_unprepared(env, ops),
                Driver::TokioPostgres => tokio_postgres_unprepared(env, ops),
            }
        },
    )
}

/// pgline: `query_one` with SQL text (any statement cache pgline has applies).
pub fn pgline_unprepared(env: &BenchEnv, ops: u64) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = pgline_client(env).await?;
        let run = |ops: u64| {
            let client = &client;
            async move {
                let mut sum = 0i64;
                for i in 1..=ops {
                    let row = client.query_one(SELECT_INT4, &[&param(i)]).await?;
                    sum += i64::from(row.get::<i32>(0)?);
                }
                check_sum("pgline unprepared", sum, expected_sum(ops))
            }
        };
        run(warmup_ops(ops)).await?;
        let meter = Meter::start();
        run(ops).await?;
        let sample = meter.stop(ops);
        client.close().await?;
        Ok(Outcome::Measured(sample))
    })
}

/// libpq: `PQexecParams` (unnamed statement: Parse, Bind, Execute each call).
pub fn libpq_unprepared(env: &BenchEnv, ops: u64) -> Result<Outcome, BenchError> {
    let conn = PqConn::connect(&env.libpq_conninfo(Tls::Off))?;
    let run = |ops: u64| {
        let mut sum = 0i64;
        for i in 1..=ops {
            let result = conn.exec_params_int4(c"SELECT $1::int4", Int4Param::new(param(i)))?;
            sum += i64::from(decode_int4(result.value(0, 0))?);
        }
        check_sum("libpq unprepared", sum, expected_sum(ops))
    };
    run(warmup_ops(ops))?;
    let meter = Meter::start();
    run(ops)?;
    Ok(Outcome::Measured(meter.stop(ops)))
}

/// tokio-postgres: `query_one` with SQL text (prepare + execute every call).
pub fn tokio_postgres_unprepared(env: &BenchEnv, ops: u64) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = tokio_postgres_client(env).await?;
        let run = |ops: u64| {
            let client = &client;
            async move {
                let mut sum = 0i64;
                for i in 1..=ops {
                    let row = client.query_one(SELECT_INT4, &[&param(i)]).await?;
                    sum += i64::from(row.try_get::<_, i32>(0)?);
                }
                check_sum("tokio-postgres unprepared", sum, expected_sum(ops))
            }
        };
        run(warmup_ops(ops)).await?;
        let meter = Meter::start();
        run(ops).await?;
        Ok(Outcome::Measured(meter.stop(ops)))
    })
}
