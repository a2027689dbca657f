//! `CommandComplete`: the command tag that ends a command's results.
//!
//! Owns decoding of the `C` message and of the row count inside its tag.
//! It must not interpret the tag further (which command ran is the
//! caller's business).

use bytes::Bytes;

use super::super::ProtoError;
use super::reader::{Reader, text_at};

const MESSAGE: &str = "CommandComplete";

/// The completion of one SQL command, such as `INSERT 0 5` or
/// `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandComplete {
    body: Bytes,
    rows: Option<u64>,
}

impl CommandComplete {
    /// Decodes a `C` message body: one UTF-8 C string.
    ///
    /// For the commands whose tag carries a row count (`INSERT oid rows`,
    /// `UPDATE`, `DELETE`, `MERGE`, `SELECT`, `MOVE`, `FETCH`, `COPY`) the
    /// count must be present and a plain decimal number, else this is an
    /// [`ProtoError::InvalidValue`].
    pub fn parse(body: Bytes) -> Result<Self, ProtoError> {
        let tag = match body.split_last() {
            // The usual body: one ASCII string (so UTF-8), its NUL last.
            Some((0, tag)) if tag.iter().all(|&b| b != 0 && b.is_ascii()) => tag,
            _ => checked_tag(&body)?,
        };
        let rows = rows_in_tag(tag)?;
        Ok(Self { body, rows })
    }

    /// The command tag.
    pub fn tag(&self) -> &str {
        text_at(&self.body, 0..self.body.len().saturating_sub(1))
    }

    /// The command tag's bytes (UTF-8, checked when decoded).
    pub fn tag_bytes(&self) -> &[u8] {
        self.body
            .get(..self.body.len().saturating_sub(1))
            .unwrap_or_default()
    }

    /// The number of rows the command affected or returned, for tags that
    /// carry one; `None` for others (`CREATE TABLE`, `BEGIN`, …).
    pub fn rows(&self) -> Option<u64> {
        self.rows
    }
}

/// The tag of a body that is not one plain ASCII string ending in its NUL:
/// the string up to the first NUL, which must end the body and be UTF-8.
fn checked_tag(body: &[u8]) -> Result<&[u8], ProtoError> {
    let mut r = Reader::new(body, MESSAGE);
    let range = r.cstr_range()?;
    r.finish()?;
    let tag = body.get(range).unwrap_or_default();
    if std::str::from_utf8(tag).is_err() {
        return Err(ProtoError::InvalidUtf8 { message: MESSAGE });
    }
    Ok(tag)
}

/// The row count of a command tag, checked for the commands that have one.
fn rows_in_tag(tag: &[u8]) -> Result<Option<u64>, ProtoError> {
    let invalid = || ProtoError::InvalidValue {
        message: MESSAGE,
        what: "command tag has a missing or malformed row count",
    };
    let (command, rest) = match split_at_space(tag) {
        Some((command, rest)) => (command, Some(rest)),
        None => (tag, None),
    };
    let oid_first = match command {
        b"INSERT" => true,
        b"UPDATE" | b"DELETE" | b"MERGE" | b"SELECT" | b"MOVE" | b"FETCH" | b"COPY" => false,
        _ => return Ok(None),
    };
    let mut count = rest.ok_or_else(invalid)?;
    if oid_first {
        let (oid, rest) = split_at_space(count).ok_or_else(invalid)?;
        decimal(oid).ok_or_else(invalid)?;
        count = rest;
    }
    // A count followed by anything (another space) is not a decimal.
    decimal(count).map(Some).ok_or_else(invalid)
}

/// The bytes before and after the first space.
fn split_at_space(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = s.iter().position(|&b| b == b' ')?;
    Some((&s[..at], &s[at + 1..]))
}

/// A non-empty run of ASCII digits that fits a `u64`.
fn decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |n, &b| {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &'static [u8]) -> Result<CommandComplete, ProtoError> {
        CommandComplete::parse(Bytes::from_static(b))
    }

    #[test]
    fn tags_with_counts() {
        for (body, tag, rows) in [
            (&b"INSERT 0 5\0"[..], "INSERT 0 5", Some(5)),
            (b"UPDATE 12\0", "UPDATE 12", Some(12)),
            (b"DELETE 0\0", "DELETE 0", Some(0)),
            (b"MERGE 3\0", "MERGE 3", Some(3)),
            (
                b"SELECT 18446744073709551615\0",
                "SELECT 18446744073709551615",
                Some(u64::MAX),
            ),
            (b"MOVE 4\0", "MOVE 4", Some(4)),
            (b"FETCH 100\0", "FETCH 100", Some(100)),
            (b"COPY 1000000\0", "COPY 1000000", Some(1_000_000)),
            (b"CREATE TABLE\0", "CREATE TABLE", None),
            (b"BEGIN\0", "BEGIN", None),
            (b"\0", "", None),
        ] {
            let c = CommandComplete::parse(Bytes::from_static(body)).unwrap();
            assert_eq!((c.tag(), c.rows()), (tag, rows));
        }
    }

    #[test]
    fn malformed_counts() {
        for body in [
            &b"INSERT 0\0"[..],
            b"INSERT x 5\0",
            b"INSERT 0 5 6\0",
            b"UPDATE\0",
            b"UPDATE \0",
            b"DELETE -1\0",
            b"SELECT +1\0",
            b"SELECT 18446744073709551616\0",
            b"COPY 1 2\0",
            b"SELECT 1 \0",
            b"INSERT 0 \0",
            b"INSERT  5\0",
            b"SELECT\0",
            b"SELECT \0",
            b"SELECT :\0",
            b"SELECT /\0",
        ] {
            assert!(
                matches!(
                    CommandComplete::parse(Bytes::from_static(body)),
                    Err(ProtoError::InvalidValue {
                        message: MESSAGE,
                        ..
                    })
                ),
                "{body:?}"
            );
        }
    }

    #[test]
    fn malformed_strings() {
        assert_eq!(parse(b""), Err(ProtoError::MissingNul { message: MESSAGE }));
        assert_eq!(
            parse(b"SELECT 1"),
            Err(ProtoError::MissingNul { message: MESSAGE })
        );
        assert_eq!(
            parse(b"\xff\0"),
            Err(ProtoError::InvalidUtf8 { message: MESSAGE })
        );
        assert_eq!(
            parse(b"BEGIN\0\0"),
            Err(ProtoError::TrailingBytes {
                message: MESSAGE,
                extra: 1
            })
        );
        assert_eq!(
            parse(b"BEGIN\0x"),
            Err(ProtoError::TrailingBytes {
                message: MESSAGE,
                extra: 1
            })
        );
        // Not ASCII but UTF-8: a tag the server's own code would not send,
        // still a string.
        let c = parse("SELECT\u{e9} 1\0".as_bytes()).unwrap();
        assert_eq!((c.tag(), c.rows()), ("SELECT\u{e9} 1", None));
        assert_eq!(
            parse(b"SELECT \xff\0"),
            Err(ProtoError::InvalidUtf8 { message: MESSAGE })
        );
    }
}
