//! JSON through serde (`serde_json` feature): [`Json<T>`] for any serde
//! type, `serde_json::Value`, and the `json` attribute of
//! `#[derive(FromRow)]`. Raw JSON text needs no feature:
//! [`JsonText`](super::JsonText) (and `&str`/`String`) read and write json
//! and jsonb as the exact text.
//!
//! # Numbers and precision
//!
//! `serde_json::Value` holds a number as an `i64`, a `u64` or an `f64`
//! (pgline does not turn on serde_json's `arbitrary_precision`, which would
//! change how every crate in the program parses JSON). A json or jsonb
//! number that fits none of them exactly is rounded to the nearest `f64`
//! when decoded: `123456789012345678901234567890` becomes
//! `1.2345678901234568e+29`, and `0.1000000000000000000001` becomes `0.1`.
//! The same holds for [`Json<T>`] with a `T` that reads numbers as
//! `f64`. To keep every digit, decode the column as
//! [`JsonText`](super::JsonText) and parse the text with a reader that
//! keeps precision, or select the number as `numeric`
//! (`(doc->>'n')::numeric` into `PgNumeric`).

use bytes::{BufMut, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::derive_support::decode_column;
use super::from_row::{ColumnRef, RowAccess};
use super::text::text_bytes;
use super::{Decode, Encode, IsNull, Type, TypeError};

/// A value sent and read as JSON: `Json(my_struct)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Json<T>(pub T);

fn is_json(ty: Type) -> bool {
    ty == Type::JSON || ty == Type::JSONB
}

fn write_json<T: Serialize + ?Sized>(
    value: &T,
    ty: Type,
    out: &mut BytesMut,
) -> Result<IsNull, TypeError> {
    if ty == Type::JSONB {
        out.put_u8(1);
    }
    serde_json::to_writer(out.writer(), value).map_err(|e| TypeError::conversion::<T>(e))?;
    Ok(IsNull::No)
}

fn read_json<T: DeserializeOwned>(ty: Type, raw: &[u8]) -> Result<T, TypeError> {
    serde_json::from_slice(text_bytes(ty, raw)?).map_err(|e| TypeError::conversion::<T>(e))
}

impl<T: Serialize> Encode for Json<T> {
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
        write_json(&self.0, ty, out)
    }
}

impl<T: DeserializeOwned> Decode<'_> for Json<T> {
    fn accepts(ty: Type) -> bool {
        is_json(ty)
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        read_json(ty, raw).map(Json)
    }
}

impl Encode for serde_json::Value {
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
        write_json(self, ty, out)
    }
}

/// A number that fits no `i64`, `u64` or `f64` exactly is rounded to the
/// nearest `f64`; decode the column as [`JsonText`](super::JsonText) to
/// keep the exact text.
impl Decode<'_> for serde_json::Value {
    fn accepts(ty: Type) -> bool {
        is_json(ty)
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        read_json(ty, raw)
    }
}

/// Decodes a json/jsonb column into a serde type (the `json` attribute of
/// `#[derive(FromRow)]`). A NULL column is JSON `null`, so `Option<T>`
/// fields take NULL.
pub fn decode_column_json<T: DeserializeOwned, R: RowAccess + ?Sized>(
    row: &R,
    column: ColumnRef,
) -> Result<T, TypeError> {
    let value: Option<Json<serde_json::Value>> = decode_column(row, column)?;
    let value = value.map_or(serde_json::Value::Null, |j| j.0);
    serde_json::from_value(value)
        .map_err(|e| super::from_row::wrap(row, column.index, TypeError::conversion::<T>(e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::decode_value;

    #[test]
    fn jsonb_with_unicode_escapes() {
        let raw = b"\x01{\"a\": \"\\u00e9\\ud83d\\ude00\"}";
        let v: serde_json::Value = decode_value(Type::JSONB, Some(raw)).unwrap();
        assert_eq!(v["a"], "é😀");
        let mut out = BytesMut::new();
        Json(vec![1, 2]).encode(Type::JSONB, &mut out).unwrap();
        assert_eq!(&out[..], b"\x01[1,2]");
        let err = decode_value::<Json<Vec<i32>>>(Type::JSON, Some(b"{}")).unwrap_err();
        assert!(matches!(err, TypeError::Conversion(_)));
    }
}
