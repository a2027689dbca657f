//! A bounds-checked cursor over a message body.
//!
//! Owns the primitive reads every backend decoder is built from: big-endian
//! integers, fixed-size byte runs and NUL-terminated strings (found with
//! `memchr`). Every read checks the remaining length first and reports a
//! [`ProtoError`] naming the message; nothing here can panic or allocate.

use std::ops::Range;

use super::super::ProtoError;
use super::super::nul::find_nul;

/// A cursor over one message body. `message` names the message in errors.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    message: &'static str,
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `buf`.
    pub(crate) fn new(buf: &'a [u8], message: &'static str) -> Self {
        Self {
            buf,
            pos: 0,
            message,
        }
    }

    /// Offset of the next unread byte.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// How many bytes are left.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The error for a field that runs past the end.
    pub(crate) fn truncated(&self) -> ProtoError {
        ProtoError::Truncated {
            message: self.message,
        }
    }

    /// The error for a field with a value the protocol does not allow.
    pub(crate) fn invalid(&self, what: &'static str) -> ProtoError {
        ProtoError::InvalidValue {
            message: self.message,
            what,
        }
    }

    /// The next `n` bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], ProtoError> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.truncated())?;
        let out = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| self.truncated())?;
        self.pos = end;
        Ok(out)
    }

    /// The offsets of the next `n` bytes, skipping them.
    pub(crate) fn skip(&mut self, n: usize) -> Result<Range<usize>, ProtoError> {
        let start = self.pos;
        self.bytes(n)?;
        Ok(start..self.pos)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtoError> {
        let mut out = [0; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// A `Byte1`.
    pub(crate) fn u8(&mut self) -> Result<u8, ProtoError> {
        Ok(self.array::<1>()?[0])
    }

    /// An `Int16`, read as signed.
    pub(crate) fn i16(&mut self) -> Result<i16, ProtoError> {
        self.array().map(i16::from_be_bytes)
    }

    /// An `Int16` used as a count: PostgreSQL writes counts up to 65535 into
    /// it, so it is read as unsigned.
    pub(crate) fn u16(&mut self) -> Result<u16, ProtoError> {
        self.array().map(u16::from_be_bytes)
    }

    /// An `Int32`, read as signed.
    pub(crate) fn i32(&mut self) -> Result<i32, ProtoError> {
        self.array().map(i32::from_be_bytes)
    }

    /// An `Int32`, read as unsigned (OIDs, process ids, codes).
    pub(crate) fn u32(&mut self) -> Result<u32, ProtoError> {
        self.array().map(u32::from_be_bytes)
    }

    /// The offsets of the next NUL-terminated string, without its NUL;
    /// the cursor moves past the NUL. The bytes are not checked for UTF-8.
    pub(crate) fn cstr_range(&mut self) -> Result<Range<usize>, ProtoError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let nul = find_nul(rest).ok_or(ProtoError::MissingNul {
            message: self.message,
        })?;
        let range = self.pos..self.pos + nul;
        self.pos = range.end + 1;
        Ok(range)
    }

    /// The next NUL-terminated string, checked to be UTF-8.
    pub(crate) fn cstr(&mut self) -> Result<&'a str, ProtoError> {
        let range = self.cstr_range()?;
        let bytes = self.buf.get(range).unwrap_or_default();
        std::str::from_utf8(bytes).map_err(|_| ProtoError::InvalidUtf8 {
            message: self.message,
        })
    }

    /// Everything not read yet; the cursor moves to the end.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let out = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        out
    }

    /// Succeeds only if every byte was read.
    pub(crate) fn finish(self) -> Result<(), ProtoError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(ProtoError::TrailingBytes {
                message: self.message,
                extra,
            }),
        }
    }
}

/// The text at `range` of a body whose decoder already checked it is
/// UTF-8. Falls back to `""` rather than panicking if that promise were
/// ever broken.
pub(crate) fn text_at(body: &[u8], range: Range<usize>) -> &str {
    body.get(range)
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_integers_big_endian() {
        let mut r = Reader::new(b"\x01\xff\xfe\x00\x01\x00\xff\xff\xff\xff", "Test");
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.i16(), Ok(-2));
        assert_eq!(r.u16(), Ok(1));
        assert_eq!(r.u8(), Ok(0));
        assert_eq!(r.i32(), Ok(-1));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn short_reads_are_truncated() {
        let mut r = Reader::new(b"\x00\x01\x02", "Test");
        assert_eq!(r.i32(), Err(ProtoError::Truncated { message: "Test" }));
        assert_eq!(r.pos(), 0, "a failed read consumes nothing");
        assert_eq!(
            r.bytes(usize::MAX),
            Err(ProtoError::Truncated { message: "Test" })
        );
        assert_eq!(r.bytes(3), Ok(&b"\x00\x01\x02"[..]));
        assert_eq!(r.u8(), Err(ProtoError::Truncated { message: "Test" }));
    }

    #[test]
    fn cstrings() {
        let mut r = Reader::new(b"ab\0\0c", "Test");
        assert_eq!(r.cstr(), Ok("ab"));
        assert_eq!(r.cstr_range(), Ok(3..3));
        assert_eq!(r.cstr(), Err(ProtoError::MissingNul { message: "Test" }));
        assert_eq!(r.rest(), b"c");
        assert_eq!(r.finish(), Ok(()));

        let mut r = Reader::new(b"\xff\xfe\0", "Test");
        assert_eq!(r.cstr(), Err(ProtoError::InvalidUtf8 { message: "Test" }));
    }

    #[test]
    fn trailing_bytes_are_counted() {
        let mut r = Reader::new(b"\0\0\0", "Test");
        r.u8().unwrap();
        assert_eq!(
            r.finish(),
            Err(ProtoError::TrailingBytes {
                message: "Test",
                extra: 2
            })
        );
    }

    #[test]
    fn text_at_falls_back() {
        assert_eq!(text_at(b"hello", 1..3), "el");
        assert_eq!(text_at(b"hello", 3..9), "");
        assert_eq!(text_at(b"\xff", 0..1), "");
    }
}
