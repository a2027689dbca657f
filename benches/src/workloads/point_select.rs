//! `point_select` and `point_select_unix`: sequential round trips of a
//! prepared `SELECT $1::int4` on one connection (current-thread runtime for
//! the async drivers), over TCP and over the server's unix socket.
//!
//! Owns: one function per driver running that loop. Must not: pipeline; each
//! query waits for the previous reply.

use crate::env::{BenchEnv, Transport};
use crate::libpq::{Int4Param, PqConn};
use crate::workloads::{
    SELECT_INT4, Workload, check_sum, expected_sum, param, pgline_client_at, runtime,
    tokio_postgres_client_at, warmup_ops,
};
use crate::{BenchError, Driver, Meter, Outcome};

/// The workload over `transport` (`point_select` over TCP,
/// `point_select_unix` over the unix socket).
pub fn workload(transport: Transport) -> Workload {
    let (name, about) = match transport {
        Transport::Tcp => (
            "point_select",
            "sequential prepared `SELECT $1::int4`, one round trip each",
        ),
        Transport::Unix => (
            "point_select_unix",
            "sequential prepared `SELECT $1::int4`, one round trip each, over the unix socket",
        ),
    };
    Workload::new(name, "query", about, move |driver, env| {
        let ops = env.mode.sequential_queries();
        match driver {
            Driver::Pgline => pgline_point_select(env, transport, ops),
            Driver::Libpq => libpq_point_select(env, transport, ops),
            Driver::TokioPostgres => tokio_postgres_point_select(env, transport, ops),
        }
    })
}

/// pgline: `query_one` of a prepared statement, `ops` times in sequence.
pub fn pgline_point_select(
    env: &BenchEnv,
    transport: Transport,
    ops: u64,
) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = pgline_client_at(&env.conninfo(Driver::Pgline, transport)).await?;
        let stmt = client.prepare(SELECT_INT4).await?;
        pgline_loop(&client, &stmt, warmup_ops(ops)).await?;
        let meter = Meter::start();
        pgline_loop(&client, &stmt, ops).await?;
        let sample = meter.stop(ops);
        client.close().await?;
        Ok(Outcome::Measured(sample))
    })
}

/// `ops` sequential executions of `stmt` on pgline, checking every value.
pub async fn pgline_loop(
    client: &pgline::Client,
    stmt: &pgline::Statement,
    ops: u64,
) -> Result<(), BenchError> {
    let mut sum = 0i64;
    for i in 1..=ops {
        let row = client.query_one(stmt, &[&param(i)]).await?;
        sum += i64::from(row.get::<i32>(0)?);
    }
    check_sum("pgline point_select", sum, expected_sum(ops))
}

/// libpq: `PQexecPrepared` with a binary parameter and binary result.
pub fn libpq_point_select(
    env: &BenchEnv,
    transport: Transport,
    ops: u64,
) -> Result<Outcome, BenchError> {
    let conn = PqConn::connect(&env.conninfo(Driver::Libpq, transport))?;
    conn.prepare_int4("point", SELECT_INT4, 1)?;
    libpq_loop(&conn, c"point", warmup_ops(ops))?;
    let meter = Meter::start();
    libpq_loop(&conn, c"point", ops)?;
    Ok(Outcome::Measured(meter.stop(ops)))
}

/// `ops` sequential executions of the prepared statement `name` on libpq.
pub fn libpq_loop(conn: &PqConn, name: &std::ffi::CStr, ops: u64) -> Result<(), BenchError> {
    let mut sum = 0i64;
    for i in 1..=ops {
        let result = conn.exec_prepared_int4(name, Int4Param::new(param(i)))?;
        sum += i64::from(decode_int4(result.value(0, 0))?);
    }
    check_sum("libpq point_select", sum, expected_sum(ops))
}

/// A binary int4 from libpq.
pub fn decode_int4(raw: Option<&[u8]>) -> Result<i32, BenchError> {
    raw.and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(i32::from_be_bytes)
        .ok_or_else(|| BenchError::new("libpq: not a binary int4"))
}

/// tokio-postgres: `query_one` of a prepared statement, `ops` times in sequence.
pub fn tokio_postgres_point_select(
    env: &BenchEnv,
    transport: Transport,
    ops: u64,
) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    rt.block_on(async {
        let client =
            tokio_postgres_client_at(&env.conninfo(Driver::TokioPostgres, transport)).await?;
        let stmt = client.prepare(SELECT_INT4).await?;
        tokio_postgres_loop(&client, &stmt, warmup_ops(ops)).await?;
        let meter = Meter::start();
        tokio_postgres_loop(&client, &stmt, ops).await?;
        Ok(Outcome::Measured(meter.stop(ops)))
    })
}

/// `ops` sequential executions of `stmt` on tokio-postgres.
pub async fn tokio_postgres_loop(
    client: &tokio_postgres::Client,
    stmt: &tokio_postgres::Statement,
    ops: u64,
) -> Result<(), BenchError> {
    let mut sum = 0i64;
    for i in 1..=ops {
        let row = client.query_one(stmt, &[&param(i)]).await?;
        sum += i64::from(row.try_get::<_, i32>(0)?);
    }
    check_sum("tokio-postgres point_select", sum, expected_sum(ops))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_int4_reads_big_endian_and_refuses_other_lengths() {
        assert_eq!(decode_int4(Some(&[0, 0, 1, 2])).unwrap(), 258);
        assert!(decode_int4(Some(&[1, 2])).is_err());
        assert!(decode_int4(None).is_err());
    }
}
