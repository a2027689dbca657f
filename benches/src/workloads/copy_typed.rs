//! `copy_in_typed` and `copy_out_typed`: N rows of `(int4, text,
//! timestamptz)` by COPY BINARY through each driver's typed row writer and
//! reader; rows/s.
//!
//! Owns: one function per driver and direction. Unlike `copy.rs`, where
//! every driver moves the same pre-encoded bytes, here each driver encodes
//! (COPY IN) or decodes (COPY OUT) the rows with its own types, the way an
//! application loads and exports typed data: pgline's `BinaryCopyInWriter`
//! and `BinaryCopyOutReader`, tokio-postgres's `binary_copy` module. libpq
//! has no typed COPY API: its rows say so. Must not: measure the TRUNCATE
//! that precedes each COPY IN.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use futures_util::{StreamExt, pin_mut};
use pgline::types::{PgTimestampTz, Type};
use tokio_postgres::binary_copy::{BinaryCopyInWriter, BinaryCopyOutStream};
use tokio_postgres::types::Type as TpType;

use crate::copy_data::{CopyFormat, TIMESTAMP_MICROS, TRUNCATE};
use crate::env::BenchEnv;
use crate::workloads::copy::check_stored;
use crate::workloads::{
    Workload, check_sum, expected_sum, pgline_client, runtime, tokio_postgres_client,
};
use crate::{BenchError, Driver, Meter, Outcome};

const NO_TYPED_COPY: &str = "libpq has no typed COPY rows";

/// `COPY … FROM STDIN (FORMAT binary)` of the three columns.
const COPY_IN_SQL: &str = "COPY bench_copy (a, b, c) FROM STDIN (FORMAT binary)";

/// Seconds from the Unix epoch to 2000-01-01, PostgreSQL's epoch.
const PG_EPOCH_UNIX_SECS: u64 = 946_684_800;

/// The typed COPY IN workload.
pub fn copy_in_workload() -> Workload {
    Workload::new(
        "copy_in_typed",
        "row",
        "COPY FROM STDIN (FORMAT binary) of N (int4, text, timestamptz) rows, \
         each encoded by the driver's typed row writer",
        |driver, env| {
            let rows = env.mode.copy_rows();
            match driver {
                Driver::Pgline => pgline_copy_in(env, rows),
                Driver::Libpq => Ok(Outcome::NotAvailable(NO_TYPED_COPY)),
                Driver::TokioPostgres => tokio_postgres_copy_in(env, rows),
            }
        },
    )
}

/// The typed COPY OUT workload.
pub fn copy_out_workload() -> Workload {
    Workload::new(
        "copy_out_typed",
        "row",
        "COPY TO STDOUT (FORMAT binary) of N generated (int4, text, timestamptz) \
         rows, each decoded by the driver's typed row reader",
        |driver, env| {
            let rows = env.mode.copy_rows();
            match driver {
                Driver::Pgline => pgline_copy_out(env, rows),
                Driver::Libpq => Ok(Outcome::NotAvailable(NO_TYPED_COPY)),
                Driver::TokioPostgres => tokio_postgres_copy_out(env, rows),
            }
        },
    )
}

/// Row `i`'s int4 (the text column is its decimal form).
fn value(i: u64) -> i32 {
    i32::try_from(i).unwrap_or(i32::MAX)
}

/// The timestamptz every row carries, as tokio-postgres takes it.
fn timestamp_system_time() -> SystemTime {
    let micros = u64::try_from(TIMESTAMP_MICROS).unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::from_secs(PG_EPOCH_UNIX_SECS) + Duration::from_micros(micros)
}

/// pgline: `BinaryCopyInWriter::write` of each row.
pub fn pgline_copy_in(env: &BenchEnv, rows: u64) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = pgline_client(env).await?;
        client.batch_execute(TRUNCATE).await?;
        let meter = Meter::start();
        let sink = client.copy_in(COPY_IN_SQL).await?;
        let mut writer =
            pgline::BinaryCopyInWriter::new(sink, &[Type::INT4, Type::TEXT, Type::TIMESTAMPTZ]);
        let stamp = PgTimestampTz::from_micros(TIMESTAMP_MICROS);
        let mut text = String::with_capacity(16);
        for i in 1..=rows {
            let v = value(i);
            text.clear();
            let _ = write!(text, "{v}");
            writer.write(&[&v, &text.as_str(), &stamp]).await?;
        }
        let stored = writer.finish().await?;
        let sample = meter.stop(rows);
        check_stored("pgline", stored, rows)?;
        Ok(Outcome::Measured(sample))
    })
}

/// tokio-postgres: `BinaryCopyInWriter::write` of each row.
pub fn tokio_postgres_copy_in(env: &BenchEnv, rows: u64) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = tokio_postgres_client(env).await?;
        client.batch_execute(TRUNCATE).await?;
        let meter = Meter::start();
        let sink = client.copy_in(COPY_IN_SQL).await?;
        let writer =
            BinaryCopyInWriter::new(sink, &[TpType::INT4, TpType::TEXT, TpType::TIMESTAMPTZ]);
        pin_mut!(writer);
        let stamp = timestamp_system_time();
        let mut text = String::with_capacity(16);
        for i in 1..=rows {
            let v = value(i);
            text.clear();
            let _ = write!(text, "{v}");
            writer.as_mut().write(&[&v, &text.as_str(), &stamp]).await?;
        }
        let stored = writer.finish().await?;
        let sample = meter.stop(rows);
        check_stored("tokio-postgres", stored, rows)?;
        Ok(Outcome::Measured(sample))
    })
}

/// What the COPY OUT loops read, checked against the rows generated.
#[derive(Debug, Default)]
struct Seen {
    rows: u64,
    sum: i64,
    text_bytes: u64,
}

impl Seen {
    fn add(&mut self, value: i32, text: &str) {
        self.rows += 1;
        self.sum += i64::from(value);
        self.text_bytes += text.len() as u64;
    }

    fn check(&self, what: &str, rows: u64) -> Result<(), BenchError> {
        if self.rows != rows {
            return Err(BenchError::new(format!(
                "{what}: {} rows, expected {rows}",
                self.rows
            )));
        }
        let digits: u64 = (1..=rows).map(|i| i.to_string().len() as u64).sum();
        if self.text_bytes != digits {
            return Err(BenchError::new(format!(
                "{what}: {} bytes of text, expected {digits}",
                self.text_bytes
            )));
        }
        check_sum(what, self.sum, expected_sum(rows))
    }
}

/// pgline: `BinaryCopyOutReader::next`, every field decoded.
pub fn pgline_copy_out(env: &BenchEnv, rows: u64) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = pgline_client(env).await?;
        let meter = Meter::start();
        let stream = client
            .copy_out(&CopyFormat::Binary.copy_out_sql(rows))
            .await?;
        let mut reader =
            pgline::BinaryCopyOutReader::new(stream, &[Type::INT4, Type::TEXT, Type::TIMESTAMPTZ]);
        let mut seen = Seen::default();
        let mut stamps = 0i64;
        while let Some(row) = reader.next().await {
            let row = row?;
            seen.add(row.get::<i32>(0)?, row.get::<&str>(1)?);
            stamps = stamps.wrapping_add(row.get::<PgTimestampTz>(2)?.micros());
        }
        let sample = meter.stop(rows);
        std::hint::black_box(stamps);
        seen.check("pgline copy_out_typed", rows)?;
        Ok(Outcome::Measured(sample))
    })
}

/// tokio-postgres: `BinaryCopyOutStream`, every field decoded.
pub fn tokio_postgres_copy_out(env: &BenchEnv, rows: u64) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = tokio_postgres_client(env).await?;
        let meter = Meter::start();
        let stream = client
            .copy_out(CopyFormat::Binary.copy_out_sql(rows).as_str())
            .await?;
        let reader =
            BinaryCopyOutStream::new(stream, &[TpType::INT4, TpType::TEXT, TpType::TIMESTAMPTZ]);
        pin_mut!(reader);
        let mut seen = Seen::default();
        let mut stamps = SystemTime::UNIX_EPOCH;
        while let Some(row) = reader.next().await {
            let row = row?;
            seen.add(row.try_get::<i32>(0)?, row.try_get::<&str>(1)?);
            stamps = stamps.max(row.try_get::<SystemTime>(2)?);
        }
        let sample = meter.stop(rows);
        std::hint::black_box(stamps);
        seen.check("tokio-postgres copy_out_typed", rows)?;
        Ok(Outcome::Measured(sample))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timestamp_is_the_same_instant_for_both_drivers() {
        let unix = timestamp_system_time()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap();
        assert_eq!(unix.as_secs(), 1_767_225_600);
        assert_eq!(unix.subsec_micros(), 0);
    }

    #[test]
    fn seen_rows_are_checked_by_count_sum_and_text() {
        let mut seen = Seen::default();
        for i in 1..=12u64 {
            seen.add(value(i), &i.to_string());
        }
        assert!(seen.check("t", 12).is_ok());
        assert!(seen.check("t", 11).is_err());
        seen.add(13, "x");
        let err = seen.check("t", 13).unwrap_err();
        assert_eq!(err.message(), "t: 16 bytes of text, expected 17");
    }
}
