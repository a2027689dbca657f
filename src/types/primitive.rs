//! bool, integers and floats: fixed-size big-endian values.

use bytes::{BufMut, BytesMut};

use super::{Decode, Encode, IsNull, Type, TypeError};

fn fixed<const N: usize>(ty: Type, raw: &[u8]) -> Result<[u8; N], TypeError> {
    <[u8; N]>::try_from(raw).map_err(|_| TypeError::InvalidValue {
        pg: ty,
        reason: "wrong length for a fixed-size value",
    })
}

impl Encode for bool {
    fn preferred_type(&self) -> Type {
        Type::BOOL
    }
    fn static_type() -> Type {
        Type::BOOL
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::BOOL
    }
    fn encode(&self, _: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        out.put_u8(u8::from(*self));
        Ok(IsNull::No)
    }
}

impl Decode<'_> for bool {
    fn accepts(ty: Type) -> bool {
        ty == Type::BOOL
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        match fixed::<1>(ty, raw)? {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(TypeError::InvalidValue {
                pg: ty,
                reason: "a bool byte must be 0 or 1",
            }),
        }
    }
}

/// Integers encode as their own width and as any wider integer type. They
/// decode from any integer type: a value that does not fit is
/// [`TypeError::OutOfRange`], never truncated.
macro_rules! integer {
    ($rust:ty, $own:expr, [$($wider:expr),*]) => {
        impl Encode for $rust {
            fn preferred_type(&self) -> Type {
                $own
            }
            fn static_type() -> Type {
                $own
            }
            fn accepts(&self, ty: Type) -> bool {
                ty == $own $(|| ty == $wider)*
            }
            fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
                let v = i64::from(*self);
                let out_of_range = || TypeError::OutOfRange {
                    rust: stringify!($rust),
                    pg: ty,
                };
                match ty {
                    Type::INT2 => out.put_i16(i16::try_from(v).map_err(|_| out_of_range())?),
                    Type::INT4 => out.put_i32(i32::try_from(v).map_err(|_| out_of_range())?),
                    _ => out.put_i64(v),
                }
                Ok(IsNull::No)
            }
        }

        impl Decode<'_> for $rust {
            fn accepts(ty: Type) -> bool {
                matches!(ty, Type::INT2 | Type::INT4 | Type::INT8)
            }
            fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
                let wide: i64 = match ty {
                    Type::INT2 => i16::from_be_bytes(fixed(ty, raw)?).into(),
                    Type::INT4 => i32::from_be_bytes(fixed(ty, raw)?).into(),
                    _ => i64::from_be_bytes(fixed(ty, raw)?),
                };
                <$rust>::try_from(wide).map_err(|_| TypeError::OutOfRange {
                    rust: stringify!($rust),
                    pg: ty,
                })
            }
        }
    };
}

integer!(i16, Type::INT2, [Type::INT4, Type::INT8]);
integer!(i32, Type::INT4, [Type::INT8]);
integer!(i64, Type::INT8, []);

/// The one-byte `"char"` type.
impl Encode for i8 {
    fn preferred_type(&self) -> Type {
        Type::CHAR
    }
    fn static_type() -> Type {
        Type::CHAR
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::CHAR
    }
    fn encode(&self, _: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        out.put_i8(*self);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for i8 {
    fn accepts(ty: Type) -> bool {
        ty == Type::CHAR
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        Ok(Self::from_be_bytes(fixed(ty, raw)?))
    }
}

/// `void`: the result of a function that returns nothing (its binary form is
/// empty).
impl Decode<'_> for () {
    fn accepts(ty: Type) -> bool {
        ty == Type::VOID
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        if raw.is_empty() {
            Ok(())
        } else {
            Err(TypeError::InvalidValue {
                pg: ty,
                reason: "a void value has no bytes",
            })
        }
    }
    fn decode_null(_: Type) -> Result<Self, TypeError> {
        Ok(())
    }
}

impl Encode for u32 {
    fn preferred_type(&self) -> Type {
        Type::OID
    }
    fn static_type() -> Type {
        Type::OID
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::OID
    }
    fn encode(&self, _: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        out.put_u32(*self);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for u32 {
    fn accepts(ty: Type) -> bool {
        ty == Type::OID
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        Ok(Self::from_be_bytes(fixed(ty, raw)?))
    }
}

impl Encode for f32 {
    fn preferred_type(&self) -> Type {
        Type::FLOAT4
    }
    fn static_type() -> Type {
        Type::FLOAT4
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::FLOAT4 || ty == Type::FLOAT8
    }
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        if ty == Type::FLOAT8 {
            out.put_f64(f64::from(*self));
        } else {
            out.put_f32(*self);
        }
        Ok(IsNull::No)
    }
}

impl Decode<'_> for f32 {
    fn accepts(ty: Type) -> bool {
        ty == Type::FLOAT4
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        Ok(Self::from_be_bytes(fixed(ty, raw)?))
    }
}

impl Encode for f64 {
    fn preferred_type(&self) -> Type {
        Type::FLOAT8
    }
    fn static_type() -> Type {
        Type::FLOAT8
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::FLOAT8
    }
    fn encode(&self, _: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        out.put_f64(*self);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for f64 {
    fn accepts(ty: Type) -> bool {
        ty == Type::FLOAT8 || ty == Type::FLOAT4
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        if ty == Type::FLOAT4 {
            return Ok(f32::from_be_bytes(fixed(ty, raw)?).into());
        }
        Ok(Self::from_be_bytes(fixed(ty, raw)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::decode_value;

    fn encode(v: &dyn Encode, ty: Type) -> Vec<u8> {
        let mut out = BytesMut::new();
        v.encode(ty, &mut out).unwrap();
        out.to_vec()
    }

    #[test]
    fn integers_round_trip_at_every_width() {
        assert_eq!(encode(&-2i16, Type::INT2), [0xff, 0xfe]);
        assert_eq!(
            encode(&-2i16, Type::INT8),
            [0xff; 7].iter().copied().chain([0xfe]).collect::<Vec<_>>()
        );
        assert_eq!(encode(&i32::MAX, Type::INT4), [0x7f, 0xff, 0xff, 0xff]);
        assert_eq!(
            decode_value::<i64>(Type::INT4, Some(&[0xff, 0xff, 0xff, 0xff])),
            Ok(-1)
        );
        assert_eq!(
            decode_value::<i64>(Type::INT8, Some(&i64::MIN.to_be_bytes())),
            Ok(i64::MIN)
        );
        assert_eq!(decode_value::<i16>(Type::INT2, Some(&[1, 0])), Ok(256));
    }

    #[test]
    fn narrowing_checks_the_range() {
        assert!(!5i64.accepts(Type::INT4));
        assert_eq!(
            decode_value::<i16>(Type::INT4, Some(&[0, 0, 0x7f, 0xff])),
            Ok(i16::MAX)
        );
        let err = decode_value::<i32>(Type::INT8, Some(&5_000_000_000i64.to_be_bytes()));
        assert_eq!(
            err,
            Err(TypeError::OutOfRange {
                rust: "i32",
                pg: Type::INT8
            })
        );
        assert_eq!(
            err.unwrap_err().to_string(),
            "the int8 value is out of range for i32"
        );
    }

    #[test]
    fn char_and_void() {
        assert_eq!(decode_value::<i8>(Type::CHAR, Some(b"a")), Ok(97));
        assert_eq!(decode_value::<()>(Type::VOID, Some(b"")), Ok(()));
        assert_eq!(decode_value::<()>(Type::VOID, None), Ok(()));
        assert!(decode_value::<()>(Type::VOID, Some(b"x")).is_err());
    }

    #[test]
    fn wrong_lengths_are_errors() {
        assert!(matches!(
            decode_value::<i32>(Type::INT4, Some(&[0, 1])),
            Err(TypeError::InvalidValue { .. })
        ));
        assert!(decode_value::<bool>(Type::BOOL, Some(&[2])).is_err());
        assert!(decode_value::<f64>(Type::FLOAT8, Some(&[0; 9])).is_err());
    }

    #[test]
    fn floats_keep_special_values() {
        let nan = decode_value::<f64>(Type::FLOAT8, Some(&f64::NAN.to_be_bytes())).unwrap();
        assert!(nan.is_nan());
        let neg_zero = decode_value::<f64>(Type::FLOAT8, Some(&(-0.0f64).to_be_bytes())).unwrap();
        assert!(neg_zero == 0.0 && neg_zero.is_sign_negative());
        assert_eq!(
            decode_value::<f64>(Type::FLOAT4, Some(&1.5f32.to_be_bytes())),
            Ok(1.5)
        );
        assert_eq!(
            encode(&f64::INFINITY, Type::FLOAT8),
            f64::INFINITY.to_be_bytes()
        );
    }
}
