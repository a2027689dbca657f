//! `DataRow`: one row of a result (`D` messages), on the hot path.
//!
//! Owns decoding of the row's field lengths. The row keeps the frame's
//! `Bytes`; fields are found by walking the (already validated) length
//! words again, so neither parsing nor iterating allocates. Decoding the
//! values themselves belongs to `types`.

use std::ops::Range;

use bytes::Bytes;

use super::super::ProtoError;
use super::reader::Reader;

const MESSAGE: &str = "DataRow";

/// One row: a field count and, per field, a length (−1 for NULL) and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRow {
    body: Bytes,
    len: u16,
}

impl DataRow {
    /// Decodes a `D` message body, checking that every field length is −1
    /// or fits in what is left, and that no bytes trail the last field.
    pub fn parse(body: Bytes) -> Result<Self, ProtoError> {
        let mut r = Reader::new(&body, MESSAGE);
        let len = r.u16()?;
        for _ in 0..len {
            match r.i32()? {
                -1 => {}
                n => {
                    let n = usize::try_from(n)
                        .map_err(|_| r.invalid("field length is negative but not -1"))?;
                    r.skip(n)?;
                }
            }
        }
        r.finish()?;
        Ok(Self { body, len })
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the row has no fields.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole message body, which [`ranges`](Self::ranges) index into.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Each field's bytes, `None` for SQL NULL.
    pub fn fields(&self) -> Fields<'_> {
        Fields {
            ranges: self.ranges(),
        }
    }

    /// The bytes of field `index`: `None` for SQL NULL or an index past
    /// the last field. Walks the length words before it, without building
    /// an iterator (the hot path of reading one column).
    #[inline]
    pub fn field(&self, index: usize) -> Option<&[u8]> {
        if index >= self.len() {
            return None;
        }
        let body: &[u8] = &self.body;
        let mut pos = 2;
        for _ in 0..index {
            // Lengths were checked on parse: -1 (NULL, no bytes) or a
            // length that fits.
            let len = length_at(body, pos)?;
            pos += 4 + usize::try_from(len).unwrap_or(0);
        }
        let len = usize::try_from(length_at(body, pos)?).ok()?;
        body.get(pos + 4..pos + 4 + len)
    }

    /// Each field's offsets within [`body`](Self::body), `None` for SQL
    /// NULL. Useful to keep positions without borrowing the row.
    pub fn ranges(&self) -> Ranges<'_> {
        Ranges {
            body: &self.body,
            pos: 2,
            left: self.len,
        }
    }
}

/// The big-endian length word at `pos`, if four bytes are there.
#[inline]
fn length_at(body: &[u8], pos: usize) -> Option<i32> {
    body.get(pos..)?
        .first_chunk::<4>()
        .map(|w| i32::from_be_bytes(*w))
}

/// Iterator over [`DataRow::ranges`].
#[derive(Debug, Clone)]
pub struct Ranges<'a> {
    body: &'a [u8],
    pos: usize,
    left: u16,
}

impl Iterator for Ranges<'_> {
    type Item = Option<Range<usize>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let word = self.body.get(self.pos..self.pos + 4)?;
        let len = i32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        self.pos += 4;
        // Lengths were checked on parse: -1 or a length that fits.
        let Ok(len) = usize::try_from(len) else {
            return Some(None);
        };
        let range = self.pos..self.pos + len;
        self.pos = range.end;
        Some(Some(range))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::from(self.left);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Ranges<'_> {}

/// Iterator over [`DataRow::fields`].
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    ranges: Ranges<'a>,
}

impl<'a> Iterator for Fields<'a> {
    type Item = Option<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        let body = self.ranges.body;
        Some(match self.ranges.next()? {
            Some(range) => Some(body.get(range).unwrap_or_default()),
            None => None,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.ranges.size_hint()
    }
}

impl ExactSizeIterator for Fields<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &'static [u8]) -> Result<DataRow, ProtoError> {
        DataRow::parse(Bytes::from_static(b))
    }

    #[test]
    fn fields_and_nulls() {
        let row = parse(b"\0\x03\0\0\0\x0242\xff\xff\xff\xff\0\0\0\0").unwrap();
        assert_eq!(row.len(), 3);
        assert!(!row.is_empty());
        assert_eq!(
            row.fields().collect::<Vec<_>>(),
            [Some(&b"42"[..]), None, Some(&b""[..])]
        );
        assert_eq!(
            row.ranges().collect::<Vec<_>>(),
            [Some(6..8), None, Some(16..16)]
        );
        assert_eq!(&row.body()[6..8], b"42");
        assert_eq!(row.fields().len(), 3);
        for (i, field) in row.fields().enumerate() {
            assert_eq!(row.field(i), field, "field {i}");
        }
        assert_eq!(row.field(3), None);
        assert_eq!(row.field(usize::MAX), None);
    }

    #[test]
    fn empty_row() {
        let row = parse(b"\0\0").unwrap();
        assert!(row.is_empty());
        assert_eq!(row.fields().count(), 0);
    }

    #[test]
    fn malformed_rows() {
        assert_eq!(
            parse(b"\0"),
            Err(ProtoError::Truncated { message: MESSAGE })
        );
        // Count says 2, only one field present.
        assert_eq!(
            parse(b"\0\x02\0\0\0\x01a"),
            Err(ProtoError::Truncated { message: MESSAGE })
        );
        // Field length runs past the body.
        assert_eq!(
            parse(b"\0\x01\0\0\0\x05ab"),
            Err(ProtoError::Truncated { message: MESSAGE })
        );
        // A huge field length, never allocated for.
        assert_eq!(
            parse(b"\0\x01\x7f\xff\xff\xffab"),
            Err(ProtoError::Truncated { message: MESSAGE })
        );
        // Negative lengths other than -1.
        for len in [-2i32, i32::MIN] {
            let mut body = vec![0, 1];
            body.extend(len.to_be_bytes());
            assert!(matches!(
                DataRow::parse(Bytes::from(body)),
                Err(ProtoError::InvalidValue {
                    message: MESSAGE,
                    ..
                })
            ));
        }
        assert_eq!(
            parse(b"\0\x01\0\0\0\x01ab"),
            Err(ProtoError::TrailingBytes {
                message: MESSAGE,
                extra: 1
            })
        );
    }
}
