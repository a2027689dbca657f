//! Text-like types (text, varchar, bpchar, name, unknown, xml, json, jsonb)
//! and bytea. `&str` and `&[u8]` borrow from the row.
//!
//! Strings also accept any user-defined type (enums, `citext` and other
//! extension types whose binary form is their text): the UTF-8 check still
//! applies. jsonb's leading version byte is checked and stripped here.

use bytes::{BufMut, BytesMut};

use super::{Decode, Encode, IsNull, Type, TypeError};

/// Types whose binary form is their UTF-8 text.
fn is_text(ty: Type) -> bool {
    matches!(
        ty,
        Type::TEXT
            | Type::VARCHAR
            | Type::BPCHAR
            | Type::NAME
            | Type::UNKNOWN
            | Type::XML
            | Type::JSON
            | Type::JSONB
    ) || ty.is_user_defined()
}

/// The jsonb binary format version this codec reads and writes.
const JSONB_VERSION: u8 = 1;

/// The text of a text-like value: jsonb's version byte is removed.
pub(crate) fn text_bytes(ty: Type, raw: &[u8]) -> Result<&[u8], TypeError> {
    if ty != Type::JSONB {
        return Ok(raw);
    }
    match raw.split_first() {
        Some((&JSONB_VERSION, rest)) => Ok(rest),
        Some(_) => Err(TypeError::InvalidValue {
            pg: ty,
            reason: "unsupported jsonb version",
        }),
        None => Err(TypeError::InvalidValue {
            pg: ty,
            reason: "an empty jsonb value",
        }),
    }
}

/// The length [`put_text`] writes for `len` bytes of text.
pub(crate) fn text_len(ty: Type, len: usize) -> usize {
    if ty == Type::JSONB {
        len.saturating_add(1)
    } else {
        len
    }
}

/// Writes text as `ty`, adding jsonb's version byte.
pub(crate) fn put_text(ty: Type, text: &[u8], out: &mut BytesMut) {
    if ty == Type::JSONB {
        out.put_u8(JSONB_VERSION);
    }
    out.put_slice(text);
}

impl Encode for str {
    fn preferred_type(&self) -> Type {
        Type::TEXT
    }
    fn accepts(&self, ty: Type) -> bool {
        is_text(ty)
    }
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        put_text(ty, self.as_bytes(), out);
        Ok(IsNull::No)
    }
    fn encoded_len(&self, ty: Type) -> Option<usize> {
        Some(text_len(ty, self.len()))
    }
}

impl Encode for String {
    fn preferred_type(&self) -> Type {
        Type::TEXT
    }
    fn static_type() -> Type {
        Type::TEXT
    }
    fn accepts(&self, ty: Type) -> bool {
        is_text(ty)
    }
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        self.as_str().encode(ty, out)
    }
    fn encoded_len(&self, ty: Type) -> Option<usize> {
        self.as_str().encoded_len(ty)
    }
}

impl<'a> Decode<'a> for &'a str {
    fn accepts(ty: Type) -> bool {
        is_text(ty)
    }
    fn decode(ty: Type, raw: &'a [u8]) -> Result<Self, TypeError> {
        std::str::from_utf8(text_bytes(ty, raw)?).map_err(|_| TypeError::InvalidValue {
            pg: ty,
            reason: "not valid UTF-8",
        })
    }
}

impl Decode<'_> for String {
    fn accepts(ty: Type) -> bool {
        is_text(ty)
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        <&str>::decode(ty, raw).map(str::to_owned)
    }
}

impl Encode for [u8] {
    fn preferred_type(&self) -> Type {
        Type::BYTEA
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::BYTEA
    }
    fn encode(&self, _: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        out.put_slice(self);
        Ok(IsNull::No)
    }
    fn encoded_len(&self, _: Type) -> Option<usize> {
        Some(self.len())
    }
}

impl Encode for Vec<u8> {
    fn preferred_type(&self) -> Type {
        Type::BYTEA
    }
    fn static_type() -> Type {
        Type::BYTEA
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::BYTEA
    }
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        self.as_slice().encode(ty, out)
    }
    fn encoded_len(&self, ty: Type) -> Option<usize> {
        self.as_slice().encoded_len(ty)
    }
}

impl<'a> Decode<'a> for &'a [u8] {
    /// Any type's raw binary form can be read as bytes.
    fn accepts(_: Type) -> bool {
        true
    }
    fn decode(_: Type, raw: &'a [u8]) -> Result<Self, TypeError> {
        Ok(raw)
    }
}

impl Decode<'_> for Vec<u8> {
    fn accepts(_: Type) -> bool {
        true
    }
    fn decode(_: Type, raw: &[u8]) -> Result<Self, TypeError> {
        Ok(raw.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::decode_value;

    #[test]
    fn str_borrows_and_checks_utf8() {
        let raw = b"h\xc3\xa9llo".to_vec();
        let s: &str = decode_value(Type::TEXT, Some(&raw)).unwrap();
        assert_eq!(s, "héllo");
        assert_eq!(s.as_ptr(), raw.as_ptr());
        assert!(decode_value::<&str>(Type::VARCHAR, Some(b"\xff")).is_err());
    }

    #[test]
    fn bytes_encode_verbatim() {
        let mut out = BytesMut::new();
        [0u8, 1, 255]
            .as_slice()
            .encode(Type::BYTEA, &mut out)
            .unwrap();
        assert_eq!(&out[..], &[0, 1, 255]);
        assert!(!"x".accepts(Type::BYTEA));
    }

    #[test]
    fn jsonb_version_byte() {
        let mut out = BytesMut::new();
        "{}".encode(Type::JSONB, &mut out).unwrap();
        assert_eq!(&out[..], b"\x01{}");
        assert_eq!(decode_value::<&str>(Type::JSONB, Some(&out)), Ok("{}"));
        assert!(decode_value::<&str>(Type::JSONB, Some(b"\x02{}")).is_err());
        assert!(decode_value::<&str>(Type::JSONB, Some(b"")).is_err());
        assert_eq!(decode_value::<&str>(Type::JSON, Some(b"[1]")), Ok("[1]"));
    }

    #[test]
    fn user_types_read_as_text() {
        let citext = Type::from_oid(16500);
        assert_eq!(
            decode_value::<String>(citext, Some(b"Hello")),
            Ok("Hello".into())
        );
        assert!(!<String as Decode>::accepts(Type::INT4));
    }
}
