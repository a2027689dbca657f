//! [`JsonText`]: a json or jsonb value kept as its exact text.
//!
//! Owns the lossless path for JSON: no parsing on the client, so numbers
//! of any size or precision, key order and (for json) whitespace arrive as
//! the server wrote them. It needs no feature. Parsing into Rust types
//! belongs to `json.rs` (`serde_json` feature).

use std::fmt;

use bytes::BytesMut;

use super::text::{put_text, text_bytes, text_len};
use super::{Decode, Encode, IsNull, Type, TypeError};

/// A json or jsonb value as its exact text.
///
/// Decoding into `serde_json::Value` rounds numbers that do not fit an
/// `i64`, a `u64` or an `f64` exactly (`123456789012345678901234567890`
/// becomes `1.2345678901234568e+29`); `JsonText` keeps the server's text,
/// digit for digit, to hand to a parser that keeps precision, or to store
/// back unchanged. As a parameter it goes to a json or jsonb parameter
/// (its preferred type is jsonb), and the server checks that it is valid
/// JSON.
///
/// ```
/// use bytes::BytesMut;
/// use pgline::types::{Decode, Encode, JsonText, Type};
///
/// // A jsonb value as the server sends it: the version byte, then text.
/// let raw = b"\x01{\"n\": 123456789012345678901234567890}";
/// let json = JsonText::decode(Type::JSONB, raw).unwrap();
/// assert_eq!(json.as_str(), "{\"n\": 123456789012345678901234567890}");
///
/// let mut out = BytesMut::new();
/// json.encode(Type::JSONB, &mut out).unwrap();
/// assert_eq!(&out[..], &raw[..]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct JsonText(pub String);

impl JsonText {
    /// Wraps JSON text (not checked here; the server checks it).
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_json(ty: Type) -> bool {
    ty == Type::JSON || ty == Type::JSONB
}

impl Encode for JsonText {
    fn preferred_type(&self) -> Type {
        Type::JSONB
    }
    fn static_type() -> Type {
        Type::JSONB
    }
    fn accepts(&self, ty: Type) -> bool {
        is_json(ty)
    }
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        put_text(ty, self.0.as_bytes(), out);
        Ok(IsNull::No)
    }
    fn encoded_len(&self, ty: Type) -> Option<usize> {
        Some(text_len(ty, self.0.len()))
    }
}

impl Decode<'_> for JsonText {
    fn accepts(ty: Type) -> bool {
        is_json(ty)
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        let text =
            std::str::from_utf8(text_bytes(ty, raw)?).map_err(|_| TypeError::InvalidValue {
                pg: ty,
                reason: "not valid UTF-8",
            })?;
        Ok(Self(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::decode_value;

    #[test]
    fn keeps_every_digit_of_json_and_jsonb() {
        let text = "[123456789012345678901234567890, 1e400, 0.1000000000000000000001]";
        let jsonb = [&[1u8][..], text.as_bytes()].concat();
        for (ty, raw) in [(Type::JSON, text.as_bytes()), (Type::JSONB, &jsonb[..])] {
            let json: JsonText = decode_value(ty, Some(raw)).unwrap();
            assert_eq!(json.as_str(), text);
            let mut out = BytesMut::new();
            json.encode(ty, &mut out).unwrap();
            assert_eq!(&out[..], raw);
        }
    }

    #[test]
    fn only_json_types_and_checked_bytes() {
        assert!(!<JsonText as Decode>::accepts(Type::TEXT));
        assert!(!JsonText::new("1").accepts(Type::TEXT));
        assert!(decode_value::<JsonText>(Type::JSONB, Some(b"\x02{}")).is_err());
        assert!(decode_value::<JsonText>(Type::JSON, Some(b"\"\xff\"")).is_err());
        assert!(decode_value::<JsonText>(Type::JSONB, None).is_err());
        assert_eq!(
            decode_value::<Option<JsonText>>(Type::JSONB, None),
            Ok(None)
        );
    }
}
