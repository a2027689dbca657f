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
    /// Bytes kept from earlier chunks: a header or a row split across them.
    buf: BytesMut,
    /// The unread rest of the last chunk given to
    /// [`push_bytes`](Self::push_bytes) while nothing was kept: rows are cut
    /// from it without copying. At most one of `buf` and `chunk` holds bytes.
    chunk: Bytes,
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

/// What the unread bytes start with.
enum Next {
    /// More bytes are needed.
    Partial,
    /// A whole row of this many bytes.
    Row(usize),
    /// The trailer.
    Trailer,
}

impl BinaryCopyParser {
    /// A parser expecting the header first.
    pub fn new() -> Self {
        Self {
            buf: BytesMut::new(),
            chunk: Bytes::new(),
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

    /// Adds bytes from the stream (copied).
    pub fn push(&mut self, chunk: &[u8]) {
        self.keep_chunk();
        self.buf.extend_from_slice(chunk);
    }

    /// Adds bytes from the stream without copying them when nothing is kept
    /// from earlier chunks: the rows [`next_row_data`](Self::next_row_data)
    /// returns are then slices of `chunk`. (The server sends each row of a
    /// binary COPY in a CopyData message of its own, so this is the usual
    /// case.) Only a row split across chunks is copied.
    pub fn push_bytes(&mut self, chunk: Bytes) {
        if self.buf.is_empty() && self.chunk.is_empty() {
            self.chunk = chunk;
        } else {
            self.push(&chunk);
        }
    }

    /// Moves the unread rest of a pushed chunk into `buf`, ahead of what
    /// comes next.
    fn keep_chunk(&mut self) {
        if !self.chunk.is_empty() {
            self.buf.extend_from_slice(&self.chunk);
            self.chunk = Bytes::new();
        }
    }

    /// The bytes not parsed yet.
    fn unread(&self) -> &[u8] {
        if self.chunk.is_empty() {
            &self.buf
        } else {
            &self.chunk
        }
    }

    /// Takes the first `n` unread bytes (`n` ≤ their length).
    fn take(&mut self, n: usize) -> Bytes {
        if self.chunk.is_empty() {
            self.buf.split_to(n).freeze()
        } else {
            self.chunk.split_to(n)
        }
    }

    /// Skips the first `n` unread bytes (`n` ≤ their length).
    fn skip(&mut self, n: usize) {
        if self.chunk.is_empty() {
            self.buf.advance(n);
        } else {
            self.chunk.advance(n);
        }
    }

    /// The next complete row, `Ok(None)` when more bytes are needed or the
    /// trailer was reached.
    pub fn next_row(&mut self) -> Result<Option<RawRow>, ProtoError> {
        let Some(data) = self.next_row_data()? else {
            return Ok(None);
        };
        let count = row_field_count(&data);
        let mut fields = Vec::with_capacity(count);
        let mut pos = 2;
        for _ in 0..count {
            // The parser checked every length of the row.
            let n = data
                .get(pos..pos + 4)
                .map_or(-1, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
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

    /// The next complete row as its bytes (field count, then each field's
    /// length and bytes), checked: every length lies inside the row, and
    /// the field count is the expected one. `Ok(None)` when more bytes are
    /// needed or the trailer was reached. Read its fields with
    /// [`row_field`].
    pub fn next_row_data(&mut self) -> Result<Option<Bytes>, ProtoError> {
        if self.state == State::Header && !self.parse_header()? {
            return Ok(None);
        }
        if self.state == State::Rows {
            match self.next()? {
                Next::Partial => return Ok(None),
                Next::Row(len) => return Ok(Some(self.take(len))),
                Next::Trailer => {
                    self.skip(2);
                    self.state = State::Done;
                }
            }
        }
        match self.unread().len() {
            0 => Ok(None),
            extra => Err(ProtoError::TrailingBytes {
                message: MESSAGE,
                extra,
            }),
        }
    }

    /// Checks the stream ended properly (trailer seen, nothing after it).
    pub fn finish(&self) -> Result<(), ProtoError> {
        match (self.state, self.unread().len()) {
            (State::Done, 0) => Ok(()),
            (State::Done, extra) => Err(ProtoError::TrailingBytes {
                message: MESSAGE,
                extra,
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
        let b = self.unread();
        let have = b.len();
        let prefix = have.min(SIGNATURE.len());
        if b[..prefix] != SIGNATURE[..prefix] {
            return Err(invalid("the signature is not PGCOPY"));
        }
        if have < FIXED {
            // Kept whole until the rest arrives.
            self.keep_chunk();
            return Ok(false);
        }
        let flags = u32::from_be_bytes(b[11..15].try_into().map_err(|_| truncated())?);
        if flags & FLAG_HAS_OIDS != 0 {
            return Err(invalid("rows with OIDs are not supported"));
        }
        // Bits 17-31 are reserved for critical flags: refuse what we do not know.
        if flags & 0xfffe_0000 != 0 {
            return Err(invalid("unknown critical flags are set"));
        }
        let ext = u32::from_be_bytes(b[15..19].try_into().map_err(|_| truncated())?) as usize;
        if have - FIXED < ext {
            self.keep_chunk();
            return Ok(false);
        }
        self.skip(FIXED + ext);
        self.state = State::Rows;
        Ok(true)
    }

    /// What the unread bytes start with: a whole row, the trailer, or not
    /// enough yet (a partial row is then kept for the next chunk).
    fn next(&mut self) -> Result<Next, ProtoError> {
        let next = self.peek()?;
        if matches!(next, Next::Partial) {
            self.keep_chunk();
        }
        Ok(next)
    }

    fn peek(&self) -> Result<Next, ProtoError> {
        let b = self.unread();
        if b.len() < 2 {
            return Ok(Next::Partial);
        }
        let count = i16::from_be_bytes([b[0], b[1]]);
        if count == -1 {
            return Ok(Next::Trailer);
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
                return Ok(Next::Partial);
            };
            let n = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
            pos += 4;
            match n {
                -1 => {}
                n if n < 0 => return Err(invalid("negative field length")),
                n => {
                    pos += n as usize;
                    if pos > b.len() {
                        return Ok(Next::Partial);
                    }
                }
            }
        }
        Ok(Next::Row(pos))
    }
}

/// The number of fields of a row from
/// [`BinaryCopyParser::next_row_data`] (0 for fewer than two bytes).
pub fn row_field_count(row: &[u8]) -> usize {
    match row {
        [a, b, ..] => usize::try_from(i16::from_be_bytes([*a, *b])).unwrap_or(0),
        _ => 0,
    }
}

/// Field `index` of a row from [`BinaryCopyParser::next_row_data`]: its
/// bytes, or `None` when it is NULL or the row has no such field (or the
/// bytes are not a well-formed row).
pub fn row_field(row: &[u8], index: usize) -> Option<&[u8]> {
    if index >= row_field_count(row) {
        return None;
    }
    let mut pos = 2;
    for i in 0..=index {
        let len = row.get(pos..pos + 4)?;
        let n = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        pos += 4;
        let len = usize::try_from(n).ok();
        if i == index {
            return row.get(pos..pos.checked_add(len?)?);
        }
        pos += len.unwrap_or(0);
    }
    None
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

    /// Every row of `chunks` fed with `push_bytes`, as `row_field` reads it.
    fn parse_all_bytes(chunks: &[Bytes]) -> Result<Vec<Vec<Option<Vec<u8>>>>, ProtoError> {
        let mut parser = BinaryCopyParser::with_field_count(2);
        let mut rows = Vec::new();
        for chunk in chunks {
            parser.push_bytes(chunk.clone());
            while let Some(row) = parser.next_row_data()? {
                assert_eq!(row_field_count(&row), 2);
                rows.push(
                    (0..2)
                        .map(|i| row_field(&row, i).map(<[u8]>::to_vec))
                        .collect(),
                );
            }
        }
        parser.finish()?;
        Ok(rows)
    }

    fn as_fields(rows: &[RawRow]) -> Vec<Vec<Option<Vec<u8>>>> {
        rows.iter()
            .map(|r| {
                (0..r.fields.len())
                    .map(|i| r.field(i).map(<[u8]>::to_vec))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn pushed_bytes_parse_like_copied_ones_from_any_split() {
        let data = sample().freeze();
        let whole = as_fields(&parse_all(&[&data]).unwrap());
        assert_eq!(parse_all_bytes(std::slice::from_ref(&data)).unwrap(), whole);
        for cut in 0..=data.len() {
            let chunks = [data.slice(..cut), data.slice(cut..)];
            assert_eq!(parse_all_bytes(&chunks).unwrap(), whole, "cut at {cut}");
        }
        let ones: Vec<Bytes> = (0..data.len()).map(|i| data.slice(i..i + 1)).collect();
        assert_eq!(parse_all_bytes(&ones).unwrap(), whole);
        for cut in 0..data.len() {
            assert!(
                parse_all_bytes(&[data.slice(..cut)]).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_row_in_one_pushed_chunk_is_not_copied() {
        let data = sample().freeze();
        let mut parser = BinaryCopyParser::new();
        parser.push_bytes(data.clone());
        let row = parser.next_row_data().unwrap().unwrap();
        let within = data.as_ptr_range();
        assert!(
            within.contains(&row.as_ptr()),
            "the row is a slice of the chunk"
        );
        // Copied and borrowed pushes mix: the rest of the chunk is kept
        // ahead of bytes pushed after it.
        let rest = data.len() - 19 - row.len();
        let mut parser = BinaryCopyParser::new();
        parser.push_bytes(data.slice(..data.len() - rest + 3));
        assert!(parser.next_row_data().unwrap().is_some());
        assert!(parser.next_row_data().unwrap().is_none());
        parser.push(&data[data.len() - rest + 3..]);
        let second = parser.next_row_data().unwrap().unwrap();
        assert_eq!(row_field(&second, 0), Some(&b"abc"[..]));
        assert!(parser.next_row_data().unwrap().is_none());
        parser.finish().unwrap();
    }

    #[test]
    fn a_row_of_no_fields_is_a_row_not_the_trailer() {
        let mut data = BytesMut::new();
        write_header(&mut data);
        write_row_start(&mut data, 0).unwrap();
        write_trailer(&mut data);
        let mut parser = BinaryCopyParser::new();
        parser.push(&data);
        let row = parser.next_row().unwrap().unwrap();
        assert!(row.fields.is_empty());
        assert!(parser.next_row().unwrap().is_none());
        parser.finish().unwrap();
    }

    #[test]
    fn row_field_of_malformed_bytes_is_none() {
        assert_eq!(row_field(&[], 0), None);
        assert_eq!(row_field(&[0], 0), None);
        // One field claimed, its length cut short.
        assert_eq!(row_field(&[0, 1, 0, 0], 0), None);
        // A length past the end.
        assert_eq!(row_field(&[0, 1, 0, 0, 0, 9, 1], 0), None);
        // A huge length before the asked field.
        assert_eq!(
            row_field(&[0, 2, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0], 1),
            None
        );
        // Negative count, and an index past the count.
        assert_eq!(row_field(&[0xff, 0xfe, 0, 0, 0, 0], 0), None);
        assert_eq!(row_field(&[0, 1, 0, 0, 0, 1, 7], 1), None);
        assert_eq!(row_field(&[0, 1, 0, 0, 0, 1, 7], 0), Some(&[7][..]));
        assert_eq!(row_field_count(&[0xff, 0xfe]), 0);
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
