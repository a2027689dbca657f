//! `uuid`: [`PgUuid`], 16 bytes, with the server's text forms. The `uuid`
//! crate's type is supported in its own feature file.

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::{Decode, Encode, IsNull, Type, TypeError};

/// A UUID as 16 bytes.
///
/// ```
/// use pgline::types::PgUuid;
///
/// let u: PgUuid = "{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}".parse().unwrap();
/// assert_eq!(u.to_string(), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PgUuid(pub [u8; 16]);

/// Why a string is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseUuidError;

impl fmt::Display for ParseUuidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid input syntax for a uuid")
    }
}

impl std::error::Error for ParseUuidError {}

impl FromStr for PgUuid {
    type Err = ParseUuidError;

    /// Accepts what the server accepts: 32 hex digits, optionally in
    /// braces, with a hyphen allowed after any group of four digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let inner = match s.strip_prefix('{') {
            Some(rest) => rest.strip_suffix('}').ok_or(ParseUuidError)?,
            None => s,
        };
        let bytes = inner.as_bytes();
        let mut out = [0u8; 16];
        let mut i = 0;
        for (n, slot) in out.iter_mut().enumerate() {
            if n > 0 && n % 2 == 0 && bytes.get(i) == Some(&b'-') {
                i += 1;
            }
            let hi = hex(bytes.get(i).copied())?;
            let lo = hex(bytes.get(i + 1).copied())?;
            *slot = hi << 4 | lo;
            i += 2;
        }
        if i != bytes.len() {
            return Err(ParseUuidError);
        }
        Ok(Self(out))
    }
}

fn hex(b: Option<u8>) -> Result<u8, ParseUuidError> {
    match b {
        Some(c @ b'0'..=b'9') => Ok(c - b'0'),
        Some(c @ b'a'..=b'f') => Ok(c - b'a' + 10),
        Some(c @ b'A'..=b'F') => Ok(c - b'A' + 10),
        _ => Err(ParseUuidError),
    }
}

impl fmt::Display for PgUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl Encode for PgUuid {
    fn preferred_type(&self) -> Type {
        Type::UUID
    }
    fn static_type() -> Type {
        Type::UUID
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::UUID
    }
    fn encode(&self, _: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        out.put_slice(&self.0);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for PgUuid {
    fn accepts(ty: Type) -> bool {
        ty == Type::UUID
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        <[u8; 16]>::try_from(raw)
            .map(Self)
            .map_err(|_| TypeError::InvalidValue {
                pg: ty,
                reason: "a uuid is 16 bytes",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases from `fixtures/type_io_cases.jsonl` (see fixtures/README.md).
    #[test]
    fn server_text_cases() {
        let fixture = include_str!("fixtures/type_io_cases.jsonl");
        let mut checked = 0;
        for line in fixture.lines().filter(|l| l.contains("\"type\": \"uuid\"")) {
            let input = field(line, "input");
            let parsed = input.parse::<PgUuid>();
            if line.contains("\"expect\": \"ok\"") {
                assert_eq!(
                    parsed.unwrap().to_string(),
                    field(line, "output"),
                    "{input}"
                );
            } else {
                assert!(parsed.is_err(), "{input}");
            }
            checked += 1;
        }
        assert_eq!(checked, 9);
    }

    /// The string value of `"key": "value"` in a JSON line (no escapes used
    /// by these cases).
    fn field<'a>(line: &'a str, key: &str) -> &'a str {
        let tag = format!("\"{key}\": \"");
        let start = line.find(&tag).map(|i| i + tag.len()).unwrap_or(line.len());
        let end = line[start..].find('"').map_or(line.len(), |e| start + e);
        &line[start..end]
    }
}
