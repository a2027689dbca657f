//! `ErrorFields`: the body of ErrorResponse (`E`) and NoticeResponse (`N`).
//!
//! Owns splitting the body into `(field type, value)` pairs and checking
//! them. Naming the fields is `crate::error::DbError`'s job; this file only
//! hands it the pairs.

use bytes::Bytes;

use super::super::ProtoError;
use super::reader::{Reader, text_at};
use crate::error::DbError;

/// The fields of an error or notice: pairs of a type byte (`b'S'`, `b'C'`,
/// `b'M'`, …) and a UTF-8 value, validated on parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFields {
    body: Bytes,
}

impl ErrorFields {
    /// Decodes an `E` or `N` body; `message` names it in errors. Each field
    /// is a non-zero type byte and a NUL-terminated UTF-8 value; the list
    /// ends with a zero byte, and nothing may follow it.
    pub fn parse(body: Bytes, message: &'static str) -> Result<Self, ProtoError> {
        let mut r = Reader::new(&body, message);
        while r.u8()? != 0 {
            r.cstr()?;
        }
        r.finish()?;
        Ok(Self { body })
    }

    /// The `(field type, value)` pairs, in the order sent.
    pub fn iter(&self) -> ErrorFieldIter<'_> {
        ErrorFieldIter {
            body: &self.body,
            pos: 0,
        }
    }

    /// The server's error with every field, as the public type.
    pub fn to_db_error(&self) -> DbError {
        DbError::from_fields(self.iter())
    }
}

impl<'a> IntoIterator for &'a ErrorFields {
    type Item = (u8, &'a str);
    type IntoIter = ErrorFieldIter<'a>;

    fn into_iter(self) -> ErrorFieldIter<'a> {
        self.iter()
    }
}

/// Iterator over [`ErrorFields::iter`].
#[derive(Debug, Clone)]
pub struct ErrorFieldIter<'a> {
    body: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for ErrorFieldIter<'a> {
    type Item = (u8, &'a str);

    fn next(&mut self) -> Option<(u8, &'a str)> {
        let kind = *self.body.get(self.pos)?;
        if kind == 0 {
            return None;
        }
        let start = self.pos + 1;
        let nul = memchr::memchr(0, self.body.get(start..)?)?;
        self.pos = start + nul + 1;
        Some((kind, text_at(self.body, start..start + nul)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;

    const M: &str = "ErrorResponse";

    fn parse(b: &'static [u8]) -> Result<ErrorFields, ProtoError> {
        ErrorFields::parse(Bytes::from_static(b), M)
    }

    #[test]
    fn decodes_fields() {
        let e = parse(b"SERROR\0VERROR\0C28P01\0Mpassword authentication failed for user \"u\"\0Fauth.c\0L335\0\0")
            .unwrap();
        let fields: Vec<_> = e.iter().collect();
        assert_eq!(fields.len(), 6);
        assert_eq!(fields[0], (b'S', "ERROR"));
        assert_eq!(fields[2], (b'C', "28P01"));
        assert_eq!(fields[5], (b'L', "335"));
        let db = e.to_db_error();
        assert_eq!(db.code(), &SqlState::INVALID_PASSWORD);
        assert_eq!(
            db.message(),
            "password authentication failed for user \"u\""
        );
        assert_eq!(db.severity_localized(), "ERROR");
        assert_eq!((&e).into_iter().count(), 6);
    }

    #[test]
    fn empty_list() {
        let e = parse(b"\0").unwrap();
        assert_eq!(e.iter().count(), 0);
    }

    #[test]
    fn malformed() {
        assert_eq!(parse(b""), Err(ProtoError::Truncated { message: M }));
        assert_eq!(
            parse(b"SERROR\0"),
            Err(ProtoError::Truncated { message: M })
        );
        assert_eq!(parse(b"SERROR"), Err(ProtoError::MissingNul { message: M }));
        assert_eq!(
            parse(b"S\xe2\x82\0\0"),
            Err(ProtoError::InvalidUtf8 { message: M })
        );
        assert_eq!(
            parse(b"SERROR\0\0\0"),
            Err(ProtoError::TrailingBytes {
                message: M,
                extra: 1
            })
        );
    }
}
