//! Typed rows over COPY BINARY: a writer that encodes rows with the type
//! system's encoders, and a reader that decodes them.
//!
//! Owns the mapping between typed values and the COPY BINARY framing of
//! `proto::copy`: the writer checks each value against its column's type
//! and back-patches field lengths in a pooled buffer, sending it in large
//! chunks; the reader validates signature, flags, header extension, field
//! counts and trailer.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use crate::conn::copy::stream::{CopyInSink, CopyOutStream};
use crate::conn::engine::buf_pool::BufferPool;
use crate::error::{Error, ErrorKind};
use crate::proto::copy::{self, BinaryCopyParser};
use crate::proto::frontend::IsNull;
use crate::types::{Decode, Encode, Type, TypeError, decode_value};

const CHUNK: usize = 64 * 1024;

fn format_error(e: crate::proto::ProtoError) -> Error {
    Error::with_source(ErrorKind::Protocol, Some("COPY BINARY".into()), e)
}

/// Writes typed rows into a `COPY … FROM STDIN (FORMAT binary)`.
///
/// ```no_run
/// # async fn run(client: &pgline::Client) -> Result<(), pgline::Error> {
/// use pgline::BinaryCopyInWriter;
/// use pgline::types::Type;
/// let sink = client.copy_in("COPY items (id, name) FROM STDIN (FORMAT binary)").await?;
/// let mut writer = BinaryCopyInWriter::new(sink, &[Type::INT4, Type::TEXT]);
/// writer.write(&[&1i32, &"apple"]).await?;
/// writer.write(&[&2i32, &None::<&str>]).await?;
/// assert_eq!(writer.finish().await?, 2);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct BinaryCopyInWriter {
    sink: CopyInSink,
    types: Vec<Type>,
    buf: BytesMut,
    pool: Arc<BufferPool>,
    rows: u64,
}

impl BinaryCopyInWriter {
    /// A writer for rows of these column types; writes the header.
    pub fn new(sink: CopyInSink, types: &[Type]) -> Self {
        let pool = BufferPool::global();
        let mut buf = pool.get(CHUNK);
        copy::write_header(&mut buf);
        Self {
            sink,
            types: types.to_vec(),
            buf,
            pool,
            rows: 0,
        }
    }

    /// Writes one row. A wrong number of values, or a value its column's
    /// type does not accept, is an error and nothing of the row is written.
    ///
    /// Dropped before it returns, it has written nothing of the row, and
    /// the rows written before it are kept.
    pub async fn write(&mut self, row: &[&(dyn Encode + Sync)]) -> Result<(), Error> {
        // Earlier rows that filled a chunk go first, so the one await comes
        // before this row is encoded and leaves the buffer as it was.
        if self.buf.len() >= CHUNK {
            self.sink.send(&self.buf).await?;
            self.buf.clear();
        }
        if row.len() != self.types.len() {
            return Err(Error::msg(
                ErrorKind::Type,
                format!(
                    "the COPY has {} columns but the row has {} values",
                    self.types.len(),
                    row.len()
                ),
            ));
        }
        let start = self.buf.len();
        if let Err(e) = self.encode_row(row) {
            self.buf.truncate(start);
            return Err(e);
        }
        self.rows += 1;
        self.sink.add_rows(1);
        Ok(())
    }

    fn encode_row(&mut self, row: &[&(dyn Encode + Sync)]) -> Result<(), Error> {
        // Too many values for the row's 16-bit count: the caller's input.
        copy::write_row_start(&mut self.buf, row.len()).map_err(|e| {
            Error::with_source(ErrorKind::InvalidInput, Some("COPY BINARY".into()), e)
        })?;
        for (i, (value, ty)) in row.iter().zip(&self.types).enumerate() {
            let column_error = |e: TypeError| {
                Error::with_source(ErrorKind::Type, Some(format!("COPY column {}", i + 1)), e)
            };
            if !value.accepts(*ty) {
                return Err(column_error(TypeError::WrongType {
                    rust: "the given Rust value",
                    pg: *ty,
                }));
            }
            // A field's length word is an Int32: a value known to be longer
            // is refused before it is copied.
            if let Some(len) = value.encoded_len(*ty).filter(|&n| n > i32::MAX as usize) {
                return Err(Error::with_source(
                    ErrorKind::InvalidInput,
                    Some(format!("COPY column {}", i + 1)),
                    crate::proto::ProtoError::ArgumentTooLong {
                        what: "the value",
                        len,
                        max: i32::MAX as usize,
                    },
                ));
            }
            let len_at = self.buf.len();
            self.buf.put_i32(0);
            match value.encode(*ty, &mut self.buf).map_err(column_error)? {
                IsNull::Yes => {
                    self.buf.truncate(len_at);
                    self.buf.put_i32(-1);
                }
                IsNull::No => {
                    let len = self.buf.len() - len_at - 4;
                    let len = i32::try_from(len).map_err(|_| {
                        Error::msg(ErrorKind::InvalidInput, "a COPY value is larger than 2 GiB")
                    })?;
                    self.buf[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
                }
            }
        }
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the trailer, ends the COPY and returns the server's row count.
    pub async fn finish(mut self) -> Result<u64, Error> {
        copy::write_trailer(&mut self.buf);
        let rest = std::mem::take(&mut self.buf);
        self.sink.send(&rest).await?;
        self.pool.put(rest);
        self.sink.finish().await
    }
}

/// One row read from a COPY BINARY stream: its bytes (a slice of the
/// connection's read buffer when the row arrived in one message) and the
/// column types; fields are found and decoded when asked for.
///
/// A row shares the buffer it was read into, so a row kept alive keeps
/// that whole buffer allocated: decode or copy what a long-lived structure
/// needs rather than keeping a few rows of a large COPY.
#[derive(Debug, Clone)]
pub struct BinaryCopyRow {
    data: Bytes,
    types: Arc<[Type]>,
}

impl BinaryCopyRow {
    /// The number of fields.
    pub fn len(&self) -> usize {
        copy::row_field_count(&self.data)
    }

    /// Whether the row has no fields.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decodes field `index` as its column's type.
    pub fn get<'a, T: Decode<'a>>(&'a self, index: usize) -> Result<T, Error> {
        let ty = *self.types.get(index).ok_or_else(|| {
            Error::msg(
                ErrorKind::Type,
                format!(
                    "no column {index} in a COPY row of {} columns",
                    self.types.len()
                ),
            )
        })?;
        decode_value(ty, copy::row_field(&self.data, index)).map_err(|e| {
            Error::with_source(ErrorKind::Type, Some(format!("COPY column {index}")), e)
        })
    }
}

/// Reads typed rows from a `COPY … TO STDOUT (FORMAT binary)`.
#[derive(Debug)]
pub struct BinaryCopyOutReader {
    stream: CopyOutStream,
    types: Arc<[Type]>,
    parser: BinaryCopyParser,
    ended: bool,
}

impl BinaryCopyOutReader {
    /// A reader of rows with these column types.
    pub fn new(stream: CopyOutStream, types: &[Type]) -> Self {
        Self {
            stream,
            parser: BinaryCopyParser::with_field_count(types.len()),
            types: types.into(),
            ended: false,
        }
    }

    /// The next row, or `None` after the trailer.
    pub async fn next(&mut self) -> Option<Result<BinaryCopyRow, Error>> {
        loop {
            match self.parser.next_row_data() {
                Ok(Some(data)) => {
                    return Some(Ok(BinaryCopyRow {
                        data,
                        types: self.types.clone(),
                    }));
                }
                Ok(None) if self.ended => {
                    return match self.parser.finish() {
                        Ok(()) => None,
                        Err(e) => Some(Err(format_error(e))),
                    };
                }
                Ok(None) => {}
                Err(e) => {
                    self.ended = true;
                    return Some(Err(format_error(e)));
                }
            }
            match self.stream.next().await {
                Some(Ok(chunk)) => self.parser.push_bytes(chunk),
                Some(Err(e)) => {
                    self.ended = true;
                    return Some(Err(e));
                }
                None => self.ended = true,
            }
        }
    }

    /// The row count the server reported, once the reader has ended.
    pub fn rows_affected(&self) -> Option<u64> {
        self.stream.rows_affected()
    }
}
