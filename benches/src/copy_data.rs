//! The rows the COPY workloads move: `(int4, text, timestamptz)`, in COPY's
//! text and binary formats.
//!
//! Owns: the COPY IN table, the SQL of both COPY directions, and the encoder
//! of COPY IN data that every driver shares (so they do the same client-side
//! work). Must not: talk to a server.

use std::io::Write;

/// Creates the (unlogged) table COPY IN fills.
pub const CREATE_TABLE: &str =
    "CREATE UNLOGGED TABLE IF NOT EXISTS bench_copy (a int4, b text, c timestamptz)";

/// Empties the COPY IN table (run before each measured COPY, outside the meter).
pub const TRUNCATE: &str = "TRUNCATE bench_copy";

/// Bytes per COPY IN chunk handed to a driver.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// 2026-01-01 00:00:00 UTC in microseconds since 2000-01-01, PostgreSQL's epoch.
pub const TIMESTAMP_MICROS: i64 = 820_540_800_000_000;
const TIMESTAMP_TEXT: &str = "2026-01-01 00:00:00+00";

/// The signature, flags and header-extension length that open binary COPY data.
const BINARY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// A COPY data format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFormat {
    /// Tab-separated text, one row a line.
    Text,
    /// PostgreSQL's binary COPY format.
    Binary,
}

impl CopyFormat {
    /// `"text"` or `"binary"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Binary => "binary",
        }
    }

    /// `COPY bench_copy FROM STDIN` in this format.
    pub fn copy_in_sql(self) -> &'static str {
        match self {
            Self::Text => "COPY bench_copy (a, b, c) FROM STDIN",
            Self::Binary => "COPY bench_copy (a, b, c) FROM STDIN (FORMAT binary)",
        }
    }

    /// `COPY (…) TO STDOUT` of `rows` generated rows in this format.
    pub fn copy_out_sql(self, rows: u64) -> String {
        let format = match self {
            Self::Text => "",
            Self::Binary => " (FORMAT binary)",
        };
        format!(
            "COPY (SELECT i, i::text, now() FROM generate_series(1, {rows}) i) TO STDOUT{format}"
        )
    }
}

/// Encodes rows `next..end` of COPY IN data into chunks of about
/// [`CHUNK_BYTES`], the header before the first row and the trailer after the
/// last (binary).
#[derive(Debug)]
pub struct CopyInEncoder {
    format: CopyFormat,
    next: u64,
    end: u64,
    started: bool,
    finished: bool,
}

impl CopyInEncoder {
    /// An encoder of rows `1..=rows`.
    pub fn new(format: CopyFormat, rows: u64) -> Self {
        Self {
            format,
            next: 1,
            end: rows + 1,
            started: false,
            finished: false,
        }
    }

    /// Clears `buf` and fills it with the next chunk; `false` when all data
    /// has been handed out.
    pub fn next_chunk(&mut self, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        if self.finished {
            return false;
        }
        if !self.started {
            self.started = true;
            if self.format == CopyFormat::Binary {
                buf.extend_from_slice(BINARY_HEADER);
            }
        }
        while self.next < self.end && buf.len() < CHUNK_BYTES {
            self.encode_row(self.next, buf);
            self.next += 1;
        }
        if self.next >= self.end {
            self.finished = true;
            if self.format == CopyFormat::Binary {
                buf.extend_from_slice(&(-1i16).to_be_bytes());
            }
        }
        true
    }

    fn encode_row(&self, i: u64, buf: &mut Vec<u8>) {
        let value = i32::try_from(i).unwrap_or(i32::MAX);
        match self.format {
            CopyFormat::Text => {
                // Writing into a Vec cannot fail.
                let _ = writeln!(buf, "{value}\t{value}\t{TIMESTAMP_TEXT}");
            }
            CopyFormat::Binary => {
                buf.extend_from_slice(&3i16.to_be_bytes());
                buf.extend_from_slice(&4i32.to_be_bytes());
                buf.extend_from_slice(&value.to_be_bytes());
                let start = buf.len();
                buf.extend_from_slice(&0i32.to_be_bytes());
                let _ = write!(buf, "{value}");
                let text_len = (buf.len() - start - 4) as i32;
                buf[start..start + 4].copy_from_slice(&text_len.to_be_bytes());
                buf.extend_from_slice(&8i32.to_be_bytes());
                buf.extend_from_slice(&TIMESTAMP_MICROS.to_be_bytes());
            }
        }
    }
}

/// Counts the rows in COPY OUT text data (one per newline).
pub fn count_text_rows(chunk: &[u8]) -> u64 {
    chunk.iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_chunks(format: CopyFormat, rows: u64) -> Vec<Vec<u8>> {
        let mut encoder = CopyInEncoder::new(format, rows);
        let mut chunks = Vec::new();
        let mut buf = Vec::new();
        while encoder.next_chunk(&mut buf) {
            chunks.push(buf.clone());
        }
        chunks
    }

    #[test]
    fn text_rows_are_lines() {
        let chunks = all_chunks(CopyFormat::Text, 2);
        assert_eq!(
            chunks,
            vec![b"1\t1\t2026-01-01 00:00:00+00\n2\t2\t2026-01-01 00:00:00+00\n".to_vec()]
        );
        assert_eq!(count_text_rows(&chunks[0]), 2);
    }

    #[test]
    fn binary_has_header_rows_and_trailer() {
        let chunks = all_chunks(CopyFormat::Binary, 1);
        let mut expected = BINARY_HEADER.to_vec();
        expected.extend_from_slice(&[0, 3, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 1, b'1', 0, 0, 0, 8]);
        expected.extend_from_slice(&TIMESTAMP_MICROS.to_be_bytes());
        expected.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(chunks, vec![expected]);
        assert_eq!(BINARY_HEADER.len(), 19);
    }

    #[test]
    fn timestamp_constant_is_2026_in_postgres_epoch() {
        // 2000-01-01 is 946,684,800 s after the Unix epoch; 2026-01-01 is 1,767,225,600 s.
        assert_eq!(TIMESTAMP_MICROS, (1_767_225_600 - 946_684_800) * 1_000_000);
    }

    #[test]
    fn large_copies_split_into_bounded_chunks_covering_every_row() {
        let chunks = all_chunks(CopyFormat::Text, 20_000);
        assert!(chunks.len() > 1);
        assert!(chunks.iter().all(|c| c.len() < CHUNK_BYTES + 64));
        let rows: u64 = chunks.iter().map(|c| count_text_rows(c)).sum();
        assert_eq!(rows, 20_000);
    }

    #[test]
    fn copy_out_sql_names_the_format() {
        assert_eq!(
            CopyFormat::Binary.copy_out_sql(5),
            "COPY (SELECT i, i::text, now() FROM generate_series(1, 5) i) TO STDOUT (FORMAT binary)"
        );
        assert!(CopyFormat::Text.copy_out_sql(5).ends_with("TO STDOUT"));
    }
}
