//! COPY BINARY framing: the file format of `COPY ... (FORMAT binary)`.
//!
//! Owns the signature, header (flags and extension area), per-row field
//! counts and lengths, and the trailer: writing them into a caller's buffer
//! and parsing them from a stream of bytes split anywhere. Values inside
//! the fields are the `types` layer's business. No I/O.
//!
//! ```text
//! header:  "PGCOPY\n\xff\r\n\0"  int32 flags  int32 extension length  extension bytes
//! row:     int16 field count  (int32 length | -1 for NULL, bytes)*
//! trailer: int16 -1
//! ```

use std::ops::Range;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::ProtoError;

/// The 11-byte signature that starts every COPY BINARY stream.
pub const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// Flag bit 16: OIDs are included in each row (not supported since
/// PostgreSQL 12; a stream with it set is refused).
const FLAG_HAS_OIDS: u32 = 1 << 16;

/// The most fields a row may have (PostgreSQL's limit on columns).
pub const MAX_FIELDS: usize = 1664;

const MESSAGE: &str = "COPY BINARY data";

/// Writes the header: signature, no flags, no extension.
pub fn write_header(out: &mut BytesMut) {
    out.put_slice(SIGNATURE);
    out.put_u32(0);
    out.put_u32(0);
}

/// Writes the start of a row of `fields` fields.
pub fn write_row_start(out: &mut BytesMut, fields: usize) -> Result<(), ProtoError> {
    let count = i16::try_from(fields)
        .ok()
        .filter(|n| (*n as usize) <= MAX_FIELDS)
        .ok_or(ProtoError::TooManyValues {
            message: MESSAGE,
            what: "fields in a row",
            count: fields,
            max: MAX_FIELDS,
        })?;
    out.put_i16(count);
    Ok(())
}

/// Writes the trailer that ends the stream.
pub fn write_trailer(out: &mut BytesMut) {
    out.put_i16(-1);
}

/// One row as parsed: its bytes and the range of each field (`None` = NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRow {
    /// The row's bytes (field count, lengths and values).
    pub data: Bytes,
    /// Each field's bytes within `data`.
    pub fields: Vec<Option<Range<usize>>>,
}

impl RawRow {
    /// The bytes of field `i` (`None` for NULL or out of range).
    pub fn field(&self, i: usize) -> Option<&[u8]> {
        self.fields.get(i)?.clone().map(|r| &self.data[r])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Rows,
    Done,
}

/// Parses a COPY BINARY stream fed in chunks of any size.
///
/// ```
/// use bytes::BytesMut;
/// use pgline::proto::copy::{BinaryCopyParser, write_header, write_row_start, write_trailer};
///
/// let mut data = BytesMut::new();
/// write_header(&mut data);
/// write_row_start(&mut data, 1).unwrap();
/// data.extend_from_slice(&4i32.to_be_bytes());
/// data.extend_from_slice(&7i32.to_be_bytes());
/// write_trailer(&mut data);
///
/// let mut parser = BinaryCopyParser::new();
/// parser.push(&data);
/// let row = parser.next_row().unwrap().unwrap();
/// assert_eq!(row.field(0), Some(&7i32.to_be_bytes()[..]));
/// assert!(parser.next_row().unwrap().is_none());
/// parser.finish().unwrap();
/// ```
#[derive(Debug)]
pub struct BinaryCopyParser {
    buf: BytesMut,
    state: State,
    expected_fields: Option<usize>,
}

impl Default for BinaryCopyParser {
    fn default() -> Self {
        Self::new()
    }
}

fn truncated() -> ProtoError {
    ProtoError::Truncated { message: MESSAGE }
}

fn invalid(what: &'static str) -> ProtoError {
    ProtoError::InvalidValue {
        message: MESSAGE,
        what,
    }
}

impl BinaryCopyParser {
    /// A parser expecting the header first.
    pub fn new() -> Self {
        Self {
            buf: BytesMut::new(),
            state: State::Header,
            expected_fields: None,
        }
    }

    /// A parser that also checks every row has `fields` fields.
    pub fn with_field_count(fields: usize) -> Self {
        Self {
            expected_fields: Some(fields),
            ..Self::new()
        }
    }

    /// Adds bytes from the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete row, `Ok(None)` when more bytes are needed or the
    /// trailer was reached.
    pub fn next_row(&mut self) -> Result<Option<RawRow>, ProtoError> {
        if self.state == State::Header && !self.parse_header()? {
            return Ok(None);
        }
        if self.state == State::Done {
            if !self.buf.is_empty() {
                return Err(ProtoError::TrailingBytes {
                    message: MESSAGE,
                    extra: self.buf.len(),
                });
            }
            return Ok(None);
        }
        let Some(len) = self.row_len()? else {
            return Ok(None);
        };
        let data = self.buf.split_to(len).freeze();
        if len == 2 {
            // The trailer.
            self.state = State::Done;
            if !self.buf.is_empty() {
                return Err(ProtoError::TrailingBytes {
                    message: MESSAGE,
                    extra: self.buf.len(),
                });
            }
            return Ok(None);
        }
        let count = usize::from(u16::from_be_bytes([data[0], data[1]]));
        let mut fields = Vec::with_capacity(count);
        let mut pos = 2;
        for _ in 0..count {
            let n = i32::from_be_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]);
            pos += 4;
            if n < 0 {
                fields.push(None);
            } else {
                let end = pos + n as usize;
                fields.push(Some(pos..end));
                pos = end;
            }
        }
        Ok(Some(RawRow { data, fields }))
    }

    /// Checks the stream ended properly (trailer seen, nothing after it).
    pub fn finish(&self) -> Result<(), ProtoError> {
        match self.state {
            State::Done if self.buf.is_empty() => Ok(()),
            State::Done => Err(ProtoError::TrailingBytes {
                message: MESSAGE,
                extra: self.buf.len(),
            }),
            _ => Err(truncated()),
        }
    }

    /// Whether the trailer has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    fn parse_header(&mut self) -> Result<bool, ProtoError> {
        const FIXED: usize = SIGNATURE.len() + 8;
        let have = self.buf.len();
        let prefix = have.min(SIGNATURE.len());
        if self.buf[..prefix] != SIGNATURE[..prefix] {
            return Err(invalid("the signature is not PGCOPY"));
        }
        if have < FIXED {
            return Ok(false);
        }
        let flags = u32::from_be_bytes(self.buf[11..15].try_into().map_err(|_| truncated())?);
        if flags & FLAG_HAS_OIDS != 0 {
            return Err(invalid("rows with OIDs are not supported"));
        }
        // Bits 17-31 are reserved for critical flags: refuse what we do not know.
        if flags & 0xfffe_0000 != 0 {
            return Err(invalid("unknown critical flags are set"));
        }
        let ext =
            u32::from_be_bytes(self.buf[15..19].try_into().map_err(|_| truncated())?) as usize;
        if have - FIXED < ext {
            return Ok(false);
        }
        self.buf.advance(FIXED + ext);
        self.state = State::Rows;
        Ok(true)
    }

    /// The byte length of the next row if it is complete.
    fn row_len(&self) -> Result<Option<usize>, ProtoError> {
        let b = &self.buf[..];
        if b.len() < 2 {
            return Ok(None);
        }
        let count = i16::from_be_bytes([b[0], b[1]]);
        if count == -1 {
            return Ok(Some(2));
        }
        let count = usize::try_from(count).map_err(|_| invalid("negative field count"))?;
        if count > MAX_FIELDS {
            return Err(invalid("more fields than a row can have"));
        }
        if let Some(expected) = self.expected_fields {
            if count != expected {
                return Err(invalid("a row has the wrong number of fields"));
            }
        }
        let mut pos = 2;
        for _ in 0..count {
            let Some(len) = b.get(pos..pos + 4) else {
                return Ok(None);
            };
            let n = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
            pos += 4;
            match n {
                -1 => {}
                n if n < 0 => return Err(invalid("negative field length")),
                n => {
                    pos += n as usize;
                    if pos > b.len() {
                        return Ok(None);
                    }
                }
            }
        }
        Ok(Some(pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BytesMut {
        let mut out = BytesMut::new();
        write_header(&mut out);
        write_row_start(&mut out, 2).unwrap();
        out.put_i32(4);
        out.put_i32(42);
        out.put_i32(-1);
        write_row_start(&mut out, 2).unwrap();
        out.put_i32(3);
        out.put_slice(b"abc");
        out.put_i32(0);
        write_trailer(&mut out);
        out
    }

    fn parse_all(chunks: &[&[u8]]) -> Result<Vec<RawRow>, ProtoError> {
        let mut parser = BinaryCopyParser::with_field_count(2);
        let mut rows = Vec::new();
        for chunk in chunks {
            parser.push(chunk);
            while let Some(row) = parser.next_row()? {
                rows.push(row);
            }
        }
        parser.finish()?;
        Ok(rows)
    }

    #[test]
    fn rows_parse_from_any_split() {
        let data = sample();
        let whole = parse_all(&[&data]).unwrap();
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[0].field(0), Some(&42i32.to_be_bytes()[..]));
        assert_eq!(whole[0].field(1), None);
        assert_eq!(whole[1].field(0), Some(&b"abc"[..]));
        assert_eq!(whole[1].field(1), Some(&b""[..]));
        for cut in 0..=data.len() {
            let (a, b) = data.split_at(cut);
            assert_eq!(parse_all(&[a, b]).unwrap(), whole, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = data.chunks(1).collect();
        assert_eq!(parse_all(&bytes).unwrap(), whole);
    }

    #[test]
    fn bad_streams_are_errors() {
        let data = sample();
        // Bad signature.
        let mut bad = data.clone();
        bad[0] = b'X';
        assert!(parse_all(&[&bad]).is_err());
        // OIDs flag.
        let mut oids = data.clone();
        oids[12] = 1;
        assert!(parse_all(&[&oids]).is_err());
        // Truncated anywhere before the trailer.
        for cut in 0..data.len() {
            assert!(parse_all(&[&data[..cut]]).is_err(), "cut at {cut}");
        }
        // Trailing bytes after the trailer.
        let mut trailing = data.clone();
        trailing.put_u8(0);
        assert!(parse_all(&[&trailing]).is_err());
        // Negative field length other than -1.
        let mut neg = BytesMut::new();
        write_header(&mut neg);
        neg.put_i16(2);
        neg.put_i32(-5);
        assert!(parse_all(&[&neg]).is_err());
        // Wrong field count.
        let mut wrong = BytesMut::new();
        write_header(&mut wrong);
        wrong.put_i16(1);
        wrong.put_i32(-1);
        assert!(parse_all(&[&wrong]).is_err());
        // A header extension is skipped.
        let mut ext = BytesMut::new();
        ext.put_slice(SIGNATURE);
        ext.put_u32(0);
        ext.put_u32(3);
        ext.put_slice(b"xyz");
        ext.put_slice(&data[19..]);
        assert_eq!(parse_all(&[&ext]).unwrap().len(), 2);
    }

    #[test]
    fn too_many_fields_is_refused_when_writing() {
        let mut out = BytesMut::new();
        assert!(write_row_start(&mut out, MAX_FIELDS + 1).is_err());
        assert!(out.is_empty());
    }
}
