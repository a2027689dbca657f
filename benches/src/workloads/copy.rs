//! `copy_in_*` and `copy_out_*`: N rows of `(int4, text, timestamptz)` by
//! COPY, text and binary; rows/s.
//!
//! Owns: one function per driver and direction. Every driver sends the same bytes, made by
//! [`CopyInEncoder`] inside the measured time, and reads COPY OUT data as raw
//! chunks (rows counted, not parsed). Must not: measure the TRUNCATE that
//! precedes each COPY IN.

use bytes::Bytes;
use futures_util::{SinkExt, TryStreamExt};

use crate::copy_data::{CHUNK_BYTES, CopyFormat, CopyInEncoder, TRUNCATE, count_text_rows};
use crate::env::{BenchEnv, Tls};
use crate::libpq::{PqConn, ResultStatus};
use crate::workloads::{Workload, pgline_client, runtime, tokio_postgres_client};
use crate::{BenchError, Driver, Meter, Outcome};

/// The COPY IN workload in `format`.
pub fn copy_in_workload(format: CopyFormat) -> Workload {
    Workload::new(
        format!("copy_in_{}", format.name()),
        "row",
        format!(
            "COPY FROM STDIN of N (int4, text, timestamptz) rows, {} format",
            format.name()
        ),
        move |driver, env| {
            let rows = env.mode.copy_rows();
            match driver {
                Driver::Pgline => pgline_copy_in(env, format, rows),
                Driver::Libpq => libpq_copy_in(env, format, rows),
                Driver::TokioPostgres => tokio_postgres_copy_in(env, format, rows),
            }
        },
    )
}

/// The COPY OUT workload in `format`.
pub fn copy_out_workload(format: CopyFormat) -> Workload {
    Workload::new(
        format!("copy_out_{}", format.name()),
        "row",
        format!(
            "COPY TO STDOUT of N generated (int4, text, timestamptz) rows, {} format",
            format.name()
        ),
        move |driver, env| {
            let rows = env.mode.copy_rows();
            match driver {
                Driver::Pgline => pgline_copy_out(env, format, rows),
                Driver::Libpq => libpq_copy_out(env, format, rows),
                Driver::TokioPostgres => tokio_postgres_copy_out(env, format, rows),
            }
        },
    )
}

/// pgline: `CopyInSink::send` of 64 KiB chunks (the same bytes as the
/// other drivers).
pub fn pgline_copy_in(
    env: &BenchEnv,
    format: CopyFormat,
    rows: u64,
) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = pgline_client(env).await?;
        client.batch_execute(TRUNCATE).await?;
        let meter = Meter::start();
        let mut sink = client.copy_in(format.copy_in_sql()).await?;
        let mut encoder = CopyInEncoder::new(format, rows);
        let mut buf = Vec::with_capacity(CHUNK_BYTES + 256);
        while encoder.next_chunk(&mut buf) {
            sink.send(&buf).await?;
        }
        let stored = sink.finish().await?;
        let sample = meter.stop(rows);
        check_stored("pgline", stored, rows)?;
        Ok(Outcome::Measured(sample))
    })
}

/// pgline: the `CopyOutStream` of zero-copy chunks.
pub fn pgline_copy_out(
    env: &BenchEnv,
    format: CopyFormat,
    rows: u64,
) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = pgline_client(env).await?;
        let meter = Meter::start();
        let mut stream = client.copy_out(&format.copy_out_sql(rows)).await?;
        let mut counter = RowCounter::new(format);
        // Lent in place from the read buffer: no reference count per chunk.
        while let Some(chunk) = stream.next_borrowed().await {
            counter.add(chunk?);
        }
        let sample = meter.stop(rows);
        counter.check("pgline copy_out", rows)?;
        Ok(Outcome::Measured(sample))
    })
}

/// libpq: `PQputCopyData` of 64 KiB chunks.
pub fn libpq_copy_in(env: &BenchEnv, format: CopyFormat, rows: u64) -> Result<Outcome, BenchError> {
    let conn = PqConn::connect(&env.libpq_conninfo(Tls::Off))?;
    conn.exec(TRUNCATE)?;
    let meter = Meter::start();
    let started = conn.exec(format.copy_in_sql())?;
    if started.status() != ResultStatus::CopyIn {
        return Err(BenchError::new("libpq: COPY FROM STDIN did not start"));
    }
    drop(started);
    let mut encoder = CopyInEncoder::new(format, rows);
    let mut buf = Vec::with_capacity(CHUNK_BYTES + 256);
    while encoder.next_chunk(&mut buf) {
        conn.put_copy_data(&buf)?;
    }
    conn.put_copy_end()?;
    let sample = meter.stop(rows);
    check_table(&conn, rows)?;
    Ok(Outcome::Measured(sample))
}

fn check_table(conn: &PqConn, rows: u64) -> Result<(), BenchError> {
    let result = conn.exec("SELECT count(*)::text FROM bench_copy")?;
    let count = result.value(0, 0).unwrap_or_default();
    let stored = std::str::from_utf8(count)
        .ok()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| BenchError::new("libpq: count(*) is not a number"))?;
    check_stored("libpq", stored, rows)
}

/// Fails unless the COPY IN stored every row.
pub(crate) fn check_stored(driver: &str, stored: u64, rows: u64) -> Result<(), BenchError> {
    if stored == rows {
        Ok(())
    } else {
        Err(BenchError::new(format!(
            "{driver} COPY IN stored {stored} rows, expected {rows}"
        )))
    }
}

/// libpq: `PQgetCopyData` row by row.
pub fn libpq_copy_out(
    env: &BenchEnv,
    format: CopyFormat,
    rows: u64,
) -> Result<Outcome, BenchError> {
    let conn = PqConn::connect(&env.libpq_conninfo(Tls::Off))?;
    let meter = Meter::start();
    let started = conn.exec(&format.copy_out_sql(rows))?;
    if started.status() != ResultStatus::CopyOut {
        return Err(BenchError::new("libpq: COPY TO STDOUT did not start"));
    }
    drop(started);
    let mut counter = RowCounter::new(format);
    while let Some(chunk) = conn.get_copy_data()? {
        counter.add(chunk.bytes());
    }
    let sample = meter.stop(rows);
    counter.check("libpq copy_out", rows)?;
    Ok(Outcome::Measured(sample))
}

/// Counts COPY OUT rows: newlines in text; CopyData messages in binary (one
/// per row, and one for the trailer).
#[derive(Debug)]
pub struct RowCounter {
    format: CopyFormat,
    chunks: u64,
    lines: u64,
    bytes: u64,
}

impl RowCounter {
    /// A counter for `format`.
    pub fn new(format: CopyFormat) -> Self {
        Self {
            format,
            chunks: 0,
            lines: 0,
            bytes: 0,
        }
    }

    /// Counts one CopyData payload.
    pub fn add(&mut self, chunk: &[u8]) {
        self.chunks += 1;
        self.bytes += chunk.len() as u64;
        if self.format == CopyFormat::Text {
            self.lines += count_text_rows(chunk);
        }
    }

    /// An error unless `rows` rows arrived.
    pub fn check(&self, what: &str, rows: u64) -> Result<(), BenchError> {
        let ok = match self.format {
            CopyFormat::Text => self.lines == rows,
            CopyFormat::Binary => self.chunks >= rows,
        };
        if ok {
            Ok(())
        } else {
            Err(BenchError::new(format!(
                "{what}: {} chunks, {} lines, {} bytes for {rows} rows",
                self.chunks, self.lines, self.bytes
            )))
        }
    }
}

/// tokio-postgres: `copy_in` sink fed 64 KiB `Bytes` chunks.
pub fn tokio_postgres_copy_in(
    env: &BenchEnv,
    format: CopyFormat,
    rows: u64,
) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = tokio_postgres_client(env).await?;
        client.batch_execute(TRUNCATE).await?;
        let meter = Meter::start();
        let sink = client.copy_in::<_, Bytes>(format.copy_in_sql()).await?;
        futures_util::pin_mut!(sink);
        let mut encoder = CopyInEncoder::new(format, rows);
        let mut buf = Vec::with_capacity(CHUNK_BYTES + 256);
        while encoder.next_chunk(&mut buf) {
            sink.send(Bytes::copy_from_slice(&buf)).await?;
        }
        let stored = sink.finish().await?;
        let sample = meter.stop(rows);
        check_stored("tokio-postgres", stored, rows)?;
        Ok(Outcome::Measured(sample))
    })
}

/// tokio-postgres: the `copy_out` stream of raw chunks.
pub fn tokio_postgres_copy_out(
    env: &BenchEnv,
    format: CopyFormat,
    rows: u64,
) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = tokio_postgres_client(env).await?;
        let meter = Meter::start();
        let stream = client.copy_out(format.copy_out_sql(rows).as_str()).await?;
        futures_util::pin_mut!(stream);
        let mut counter = RowCounter::new(format);
        while let Some(chunk) = stream.try_next().await? {
            counter.add(&chunk);
        }
        let sample = meter.stop(rows);
        counter.check("tokio-postgres copy_out", rows)?;
        Ok(Outcome::Measured(sample))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rows_are_counted_by_newline() {
        let mut counter = RowCounter::new(CopyFormat::Text);
        counter.add(b"1\ta\n");
        counter.add(b"2\tb\n3\tc\n");
        assert!(counter.check("t", 3).is_ok());
        assert_eq!(
            counter.check("t", 4).unwrap_err().message(),
            "t: 2 chunks, 3 lines, 12 bytes for 4 rows"
        );
    }

    #[test]
    fn binary_rows_are_counted_by_message() {
        let mut counter = RowCounter::new(CopyFormat::Binary);
        counter.add(&[0; 30]);
        counter.add(&[0xff, 0xff]);
        assert!(counter.check("b", 1).is_ok());
        assert!(counter.check("b", 3).is_err());
    }
}
