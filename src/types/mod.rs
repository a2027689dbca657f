//! Binary encoding and decoding of PostgreSQL values (sans-IO).
//!
//! Owns the [`Encode`] and [`Decode`] traits, the [`Type`] of a value, and
//! the codecs for built-in types, one file per type family. It never touches
//! a socket: values go into and come out of byte slices. The full catalogue
//! of types (numeric, dates, arrays, ranges, user types) grows here; this
//! module starts with the types every query needs.
//!
//! `std::time::SystemTime` is a `timestamptz` with no feature (microseconds,
//! truncated toward the past); the `chrono` and `time` features add their
//! calendar types.

mod array;
mod bits;
mod composite;
mod datetime;
mod error;
mod from_row;
// Entry points of the fuzz targets (fuzz/): no stability promise.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;

/// What derive-generated code calls (re-exported as `pgline::__private`).
/// Not part of the API: no stability promise, hidden from the docs.
#[doc(hidden)]
pub mod derive_support {
    pub use super::composite::{
        accepts_composite, accepts_enum, decode_enum_label, encode_enum_label,
    };
    pub use super::from_row::{
        decode_column, decode_column_at, decode_column_try_from, require_column,
    };
    #[cfg(feature = "serde_json")]
    pub use super::json::decode_column_json;
}
mod hstore;
mod interval;
#[cfg(feature = "serde_json")]
mod json;
mod json_text;
mod net;
mod numeric;
mod oid;
mod primitive;
mod range;
mod reader;
mod registry;
mod system_time;
mod text;
mod uuid;
#[cfg(feature = "chrono")]
mod with_chrono;
#[cfg(feature = "rust_decimal")]
mod with_rust_decimal;
#[cfg(feature = "time")]
mod with_time;
#[cfg(feature = "uuid")]
mod with_uuid;

pub use array::{ArrayDimension, MAX_DIMENSIONS, PgArray};
pub use bits::{PgBits, PgMoney};
pub use composite::{CompositeReader, CompositeWriter};
pub use datetime::{PgDate, PgTime, PgTimeTz, PgTimestamp, PgTimestampTz};
pub use error::{ColumnError, ConversionError, MissingColumn, TypeError};
pub use from_row::{ColumnRef, FromRow, RowAccess, RowMapper, from_rows};
pub use interval::PgInterval;
#[cfg(feature = "serde_json")]
pub use json::Json;
pub use json_text::JsonText;
pub use net::{PgInet, PgMacAddr, PgMacAddr8};
pub use numeric::{MAX_DSCALE, ParseNumericError, PgNumeric};
pub use oid::{Oid, Type};
pub use range::{PgMultirange, PgRange};
pub use registry::{TypeCache, TypeInfo, TypeKind};
pub use uuid::{ParseUuidError, PgUuid};

/// The buffer values are encoded into (re-exported for derive-generated
/// code and hand-written `Encode` impls).
pub use bytes::BytesMut;

pub use crate::proto::frontend::IsNull;

/// A Rust value that can be sent as a query parameter in binary format.
///
/// The trait is object safe, so parameters are passed as
/// `&[&(dyn Encode + Sync)]`.
///
/// ```
/// use bytes::BytesMut;
/// use pgline::types::{Encode, Type};
///
/// let mut out = BytesMut::new();
/// 7i32.encode(Type::INT4, &mut out).unwrap();
/// assert_eq!(&out[..], &[0, 0, 0, 7]);
/// ```
pub trait Encode {
    /// The type announced in Parse when the statement's parameter types are
    /// not known yet.
    fn preferred_type(&self) -> Type;

    /// The type announced for this Rust type when no value is at hand: for
    /// an empty array, a NULL, an unbounded range. [`Type::UNKNOWN_PARAM`]
    /// (the default) lets the server infer the type from the query.
    fn static_type() -> Type
    where
        Self: Sized,
    {
        Type::UNKNOWN_PARAM
    }

    /// Whether this value can be encoded as `ty`.
    fn accepts(&self, ty: Type) -> bool;

    /// Writes the value's binary form as `ty` (which [`Encode::accepts`]).
    /// Returns [`IsNull::Yes`] to send SQL NULL (nothing written).
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError>;

    /// The number of bytes [`Encode::encode`] would write as `ty`, when the
    /// value knows it without encoding (byte strings and text do); `None`
    /// (the default) otherwise. A value longer than the protocol can carry
    /// is then refused before it is copied into the connection's buffer;
    /// one without a length is checked after it was written.
    fn encoded_len(&self, ty: Type) -> Option<usize> {
        let _ = ty;
        None
    }
}

/// A Rust value that can be read from a column in binary format. `'a` is the
/// lifetime of the row's buffer, so `&str` and `&[u8]` borrow without copying.
pub trait Decode<'a>: Sized {
    /// Whether a column of type `ty` can be decoded into this Rust type.
    fn accepts(ty: Type) -> bool;

    /// Decodes a non-NULL value of type `ty`.
    fn decode(ty: Type, raw: &'a [u8]) -> Result<Self, TypeError>;

    /// The value for SQL NULL; an error unless the type is an `Option`.
    fn decode_null(ty: Type) -> Result<Self, TypeError> {
        Err(TypeError::UnexpectedNull {
            rust: std::any::type_name::<Self>(),
            pg: ty,
        })
    }
}

impl<T: Encode> Encode for Option<T> {
    fn preferred_type(&self) -> Type {
        match self {
            Some(v) => v.preferred_type(),
            None => T::static_type(),
        }
    }

    fn static_type() -> Type {
        T::static_type()
    }

    fn accepts(&self, ty: Type) -> bool {
        match self {
            Some(v) => v.accepts(ty),
            None => true,
        }
    }

    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        match self {
            Some(v) => v.encode(ty, out),
            None => Ok(IsNull::Yes),
        }
    }

    fn encoded_len(&self, ty: Type) -> Option<usize> {
        match self {
            Some(v) => v.encoded_len(ty),
            None => Some(0),
        }
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    fn preferred_type(&self) -> Type {
        (**self).preferred_type()
    }

    fn static_type() -> Type {
        Type::UNKNOWN_PARAM
    }

    fn accepts(&self, ty: Type) -> bool {
        (**self).accepts(ty)
    }

    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        (**self).encode(ty, out)
    }

    fn encoded_len(&self, ty: Type) -> Option<usize> {
        (**self).encoded_len(ty)
    }
}

impl<'a, T: Decode<'a>> Decode<'a> for Option<T> {
    fn accepts(ty: Type) -> bool {
        T::accepts(ty)
    }

    fn decode(ty: Type, raw: &'a [u8]) -> Result<Self, TypeError> {
        T::decode(ty, raw).map(Some)
    }

    fn decode_null(_: Type) -> Result<Self, TypeError> {
        Ok(None)
    }
}

/// Decodes an optional raw value, checking the type first.
pub fn decode_value<'a, T: Decode<'a>>(ty: Type, raw: Option<&'a [u8]>) -> Result<T, TypeError> {
    if !T::accepts(ty) {
        return Err(TypeError::WrongType {
            rust: std::any::type_name::<T>(),
            pg: ty,
        });
    }
    match raw {
        Some(bytes) => T::decode(ty, bytes),
        None => T::decode_null(ty),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_encodes_null_and_decodes_null() {
        let mut out = BytesMut::new();
        assert!(matches!(
            None::<i32>.encode(Type::INT4, &mut out),
            Ok(IsNull::Yes)
        ));
        assert!(out.is_empty());
        assert_eq!(decode_value::<Option<i32>>(Type::INT4, None), Ok(None));
        assert_eq!(
            decode_value::<Option<i32>>(Type::INT4, Some(&[0, 0, 1, 0])),
            Ok(Some(256))
        );
    }

    #[test]
    fn null_into_non_option_is_an_error() {
        let err = decode_value::<i32>(Type::INT4, None).unwrap_err();
        assert_eq!(
            err,
            TypeError::UnexpectedNull {
                rust: "i32",
                pg: Type::INT4
            }
        );
        assert_eq!(
            err.to_string(),
            "NULL cannot be decoded into i32 (column type int4); use Option<i32>"
        );
    }

    #[test]
    fn wrong_type_is_caught_before_decoding() {
        let err = decode_value::<i32>(Type::TEXT, Some(b"12")).unwrap_err();
        assert_eq!(err.to_string(), "a text value cannot be decoded into i32");
    }
}
