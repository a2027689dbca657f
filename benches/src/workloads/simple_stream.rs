//! `simple_stream`: `SELECT i, i::text, now() FROM generate_series(1, N) i`
//! (N = 1,000,000 in full mode) with the simple protocol, every row read as
//! text as it arrives; rows/s.
//!
//! Owns: one function per driver. pgline `Client::simple_query_stream`;
//! tokio-postgres `simple_query_raw` consumed as a stream; libpq
//! `PQsendQuery` + `PQsetSingleRowMode`, one result per row. Must not:
//! gather the result (every driver holds one row at a time) or skip a field:
//! each parses the first column's text as an int4 and reads the other two.

use futures_util::TryStreamExt;

use crate::env::{BenchEnv, Tls};
use crate::libpq::{PqConn, ResultStatus};
use crate::workloads::wide_result::wide_sql;
use crate::workloads::{
    Workload, check_sum, expected_sum, pgline_client, runtime, tokio_postgres_client,
};
use crate::{BenchError, Driver, Meter, Outcome};

/// The workload.
pub fn workload() -> Workload {
    Workload::new(
        "simple_stream",
        "row",
        "`SELECT i, i::text, now() FROM generate_series(1, N) i` by the simple protocol, \
         streamed as text rows, every field read",
        |driver, env| {
            let rows = env.mode.wide_rows();
            match driver {
                Driver::Pgline => pgline_simple_stream(env, rows),
                Driver::Libpq => libpq_simple_stream(env, rows),
                Driver::TokioPostgres => tokio_postgres_simple_stream(env, rows),
            }
        },
    )
}

/// What reading the text rows adds up: the first column parsed, the bytes
/// of the other two, and the rows.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TextRows {
    /// Sum of column 1, parsed from its text.
    pub ints: i64,
    /// Text bytes of columns 2 and 3.
    pub text_bytes: u64,
    /// Rows read.
    pub rows: u64,
}

impl TextRows {
    /// Adds one row's three text fields.
    pub fn add(
        &mut self,
        int: Option<&str>,
        text: Option<&str>,
        stamp: Option<&str>,
    ) -> Result<(), BenchError> {
        let int: i32 = int
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| BenchError::new("simple_stream: column 1 is not an int4"))?;
        let (Some(text), Some(stamp)) = (text, stamp) else {
            return Err(BenchError::new("simple_stream: a NULL field"));
        };
        self.ints += i64::from(int);
        self.text_bytes += (text.len() + stamp.len()) as u64;
        self.rows += 1;
        Ok(())
    }

    /// An error unless every row was read and summed.
    pub fn check(&self, driver: &str, rows: u64) -> Result<(), BenchError> {
        check_sum(driver, self.ints, expected_sum(rows))?;
        // `now()` in text is at least "YYYY-MM-DD HH:MM:SS+TZ" (22 bytes).
        if self.rows != rows || self.text_bytes < 22 * rows {
            return Err(BenchError::new(format!(
                "{driver}: {} rows and {} text bytes read for {rows} rows",
                self.rows, self.text_bytes
            )));
        }
        Ok(())
    }
}

/// pgline: `Client::simple_query_stream`, one row at a time.
pub fn pgline_simple_stream(env: &BenchEnv, rows: u64) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    let sql = wide_sql(rows);
    rt.block_on(async {
        let client = pgline_client(env).await?;
        client.simple_query(&wide_sql(10)).await?;
        let meter = Meter::start();
        let mut read = TextRows::default();
        let mut stream = client.simple_query_stream(&sql).await?;
        while let Some(message) = stream.next().await {
            if let pgline::SimpleQueryMessage::Row(row) = message? {
                read.add(row.get(0), row.get(1), row.get(2))?;
            }
        }
        let sample = meter.stop(rows);
        read.check("pgline simple_stream", rows)?;
        client.close().await?;
        Ok(Outcome::Measured(sample))
    })
}

/// libpq: `PQsendQuery` then `PQsetSingleRowMode`: each row is a result of
/// its own, freed before the next is read.
pub fn libpq_simple_stream(env: &BenchEnv, rows: u64) -> Result<Outcome, BenchError> {
    let conn = PqConn::connect(&env.libpq_conninfo(Tls::Off))?;
    let sql = wide_sql(rows);
    conn.exec(&wide_sql(10))?;
    let meter = Meter::start();
    conn.send_query(&sql)?;
    conn.set_single_row_mode()?;
    let mut read = TextRows::default();
    loop {
        let Some(result) = conn.next_result() else {
            break;
        };
        let result = result.expect_ok()?;
        match result.status() {
            ResultStatus::SingleTuple => read.add(
                text(result.value(0, 0)),
                text(result.value(0, 1)),
                text(result.value(0, 2)),
            )?,
            // The empty result that ends single-row mode.
            ResultStatus::TuplesOk => {}
            other => {
                return Err(BenchError::new(format!(
                    "libpq simple_stream: unexpected {other:?}"
                )));
            }
        }
    }
    let sample = meter.stop(rows);
    read.check("libpq simple_stream", rows)?;
    Ok(Outcome::Measured(sample))
}

/// A libpq text value as `&str` (`None` for NULL or bytes not UTF-8).
fn text(value: Option<&[u8]>) -> Option<&str> {
    value.and_then(|v| std::str::from_utf8(v).ok())
}

/// tokio-postgres: `simple_query_raw` read as a stream.
pub fn tokio_postgres_simple_stream(env: &BenchEnv, rows: u64) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    let sql = wide_sql(rows);
    rt.block_on(async {
        let client = tokio_postgres_client(env).await?;
        client.simple_query(&wide_sql(10)).await?;
        let meter = Meter::start();
        let stream = client.simple_query_raw(&sql).await?;
        futures_util::pin_mut!(stream);
        let mut read = TextRows::default();
        while let Some(message) = stream.try_next().await? {
            if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
                read.add(row.get(0), row.get(1), row.get(2))?;
            }
        }
        let sample = meter.stop(rows);
        read.check("tokio-postgres simple_stream", rows)?;
        Ok(Outcome::Measured(sample))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAMP: &str = "2026-12-03 04:00:00.123456+00";

    #[test]
    fn text_rows_parse_add_and_check() {
        let mut r = TextRows::default();
        r.add(Some("1"), Some("1"), Some(STAMP)).unwrap();
        r.add(Some("2"), Some("2"), Some(STAMP)).unwrap();
        assert_eq!(r.ints, 3);
        assert_eq!(r.rows, 2);
        assert!(r.check("x", 2).is_ok());
        assert!(r.check("x", 3).is_err());
        assert!(r.add(Some("x"), Some("1"), Some(STAMP)).is_err());
        assert!(r.add(Some("1"), None, Some(STAMP)).is_err());
    }
}
