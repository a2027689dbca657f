//! `wide_result`: fetch `SELECT i, i::text, now() FROM generate_series(1, N) i`
//! (N = 1,000,000 in full mode) and touch every field, in binary; rows/s.
//!
//! Owns: one function per driver. pgline streams with `query_stream`; libpq
//! materialises one binary result (`PQexecParams`); tokio-postgres streams
//! with `query_raw`. Must not: skip fields; every driver decodes the int4,
//! borrows the text and reads the timestamptz's 8 bytes.

use futures_util::TryStreamExt;
use tokio_postgres::types::{FromSql, Type};

use crate::env::{BenchEnv, Tls};
use crate::libpq::PqConn;
use crate::workloads::point_select::decode_int4;
use crate::workloads::{
    Workload, check_sum, expected_sum, pgline_client, runtime, tokio_postgres_client,
};
use crate::{BenchError, Driver, Meter, Outcome};

/// The query for `rows` rows.
pub fn wide_sql(rows: u64) -> String {
    format!("SELECT i, i::text, now() FROM generate_series(1, {rows}) i")
}

/// The workload.
pub fn workload() -> Workload {
    Workload::new(
        "wide_result",
        "row",
        "`SELECT i, i::text, now() FROM generate_series(1, N) i`, every field touched",
        |driver, env| {
            let rows = env.mode.wide_rows();
            match driver {
                Driver::Pgline => pgline_wide_result(env, rows),
                Driver::Libpq => libpq_wide_result(env, rows),
                Driver::TokioPostgres => tokio_postgres_wide_result(env, rows),
            }
        },
    )
}

/// What touching a row adds up: the int4s, the text lengths, and a check
/// that every timestamp was read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Touched {
    /// Sum of column 1.
    pub ints: i64,
    /// Sum of the text lengths of column 2.
    pub text_bytes: u64,
    /// Rows whose timestamptz was read (non-zero).
    pub timestamps: u64,
}

impl Touched {
    fn add(&mut self, int: i32, text: &str, micros: i64) {
        self.ints += i64::from(int);
        self.text_bytes += text.len() as u64;
        self.timestamps += u64::from(micros != 0);
    }

    fn check(&self, driver: &str, rows: u64) -> Result<(), BenchError> {
        check_sum(driver, self.ints, expected_sum(rows))?;
        if self.timestamps != rows {
            return Err(BenchError::new(format!(
                "{driver}: {} timestamps read for {rows} rows",
                self.timestamps
            )));
        }
        Ok(())
    }
}

/// A binary timestamptz's 8 bytes (microseconds since 2000-01-01).
pub fn timestamp_micros(raw: Option<&[u8]>) -> Result<i64, BenchError> {
    raw.and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(i64::from_be_bytes)
        .ok_or_else(|| BenchError::new("not a binary timestamptz"))
}

/// pgline: rows streamed with `Client::query_stream`, as they arrive.
pub fn pgline_wide_result(env: &BenchEnv, rows: u64) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    let sql = wide_sql(rows);
    rt.block_on(async {
        let client = pgline_client(env).await?;
        client.query(wide_sql(10).as_str(), &[]).await?;
        let meter = Meter::start();
        let mut touched = Touched::default();
        let mut stream = client.query_stream(sql.as_str(), &[]).await?;
        while let Some(row) = stream.next().await {
            let row = row?;
            let micros = timestamp_micros(row.raw(2))?;
            touched.add(row.get::<i32>(0)?, row.get::<&str>(1)?, micros);
        }
        let sample = meter.stop(rows);
        touched.check("pgline wide_result", rows)?;
        client.close().await?;
        Ok(Outcome::Measured(sample))
    })
}

/// libpq: one materialised binary result.
pub fn libpq_wide_result(env: &BenchEnv, rows: u64) -> Result<Outcome, BenchError> {
    let conn = PqConn::connect(&env.libpq_conninfo(Tls::Off))?;
    let sql = wide_sql(rows);
    conn.exec_binary(&wide_sql(10))?;
    let meter = Meter::start();
    let result = conn.exec_binary(&sql)?;
    let mut touched = Touched::default();
    for row in 0..result.rows() {
        let int = decode_int4(result.value(row, 0))?;
        let text = std::str::from_utf8(result.value(row, 1).unwrap_or_default())
            .map_err(|_| BenchError::new("libpq: text column is not UTF-8"))?;
        touched.add(int, text, timestamp_micros(result.value(row, 2))?);
    }
    drop(result);
    let sample = meter.stop(rows);
    touched.check("libpq wide_result", rows)?;
    Ok(Outcome::Measured(sample))
}

/// A timestamptz read as its raw microseconds, so tokio-postgres does the
/// same decoding work as the other drivers.
#[derive(Debug, Clone, Copy)]
struct RawTimestamp(i64);

impl<'a> FromSql<'a> for RawTimestamp {
    fn from_sql(
        _ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        timestamp_micros(Some(raw))
            .map(Self)
            .map_err(|e| e.to_string().into())
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }
}

/// tokio-postgres: `query_raw`, streaming rows.
pub fn tokio_postgres_wide_result(env: &BenchEnv, rows: u64) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    let sql = wide_sql(rows);
    rt.block_on(async {
        let client = tokio_postgres_client(env).await?;
        client.query(wide_sql(10).as_str(), &[]).await?;
        let meter = Meter::start();
        let stream = client
            .query_raw(sql.as_str(), std::iter::empty::<i32>())
            .await?;
        futures_util::pin_mut!(stream);
        let mut touched = Touched::default();
        while let Some(row) = stream.try_next().await? {
            let stamp: RawTimestamp = row.try_get(2)?;
            touched.add(
                row.try_get::<_, i32>(0)?,
                row.try_get::<_, &str>(1)?,
                stamp.0,
            );
        }
        let sample = meter.stop(rows);
        touched.check("tokio-postgres wide_result", rows)?;
        Ok(Outcome::Measured(sample))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touched_adds_and_checks() {
        let mut t = Touched::default();
        t.add(1, "1", 5);
        t.add(2, "2", 7);
        assert_eq!(
            t,
            Touched {
                ints: 3,
                text_bytes: 2,
                timestamps: 2
            }
        );
        assert!(t.check("x", 2).is_ok());
        assert!(t.check("x", 3).is_err());
    }

    #[test]
    fn timestamp_needs_eight_bytes() {
        assert_eq!(
            timestamp_micros(Some(&[0, 0, 0, 0, 0, 0, 1, 0])).unwrap(),
            256
        );
        assert!(timestamp_micros(Some(&[0; 4])).is_err());
        assert!(timestamp_micros(None).is_err());
    }
}
