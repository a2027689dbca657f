//! `bit` and `varbit` ([`PgBits`]) and `money` ([`PgMoney`]).

use std::fmt;

use bytes::{BufMut, BytesMut};

use super::reader::Reader;
use super::{Decode, Encode, IsNull, Type, TypeError};

/// A bit string: `len` bits, most significant bit first, padded with zero
/// bits to whole bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PgBits {
    len: usize,
    bytes: Vec<u8>,
}

impl PgBits {
    /// A bit string of these bits.
    pub fn from_bits(bits: impl IntoIterator<Item = bool>) -> Self {
        let mut v = Self::default();
        for bit in bits {
            if v.len % 8 == 0 {
                v.bytes.push(0);
            }
            if bit {
                if let Some(last) = v.bytes.last_mut() {
                    *last |= 0x80 >> (v.len % 8);
                }
            }
            v.len += 1;
        }
        v
    }

    /// The number of bits.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bit at `i`.
    pub fn get(&self, i: usize) -> Option<bool> {
        (i < self.len).then(|| {
            self.bytes
                .get(i / 8)
                .is_some_and(|b| b & (0x80 >> (i % 8)) != 0)
        })
    }

    /// The bits in order.
    pub fn iter(&self) -> impl Iterator<Item = bool> + '_ {
        (0..self.len).map(|i| self.get(i).unwrap_or(false))
    }
}

impl fmt::Display for PgBits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for bit in self.iter() {
            f.write_str(if bit { "1" } else { "0" })?;
        }
        Ok(())
    }
}

impl Encode for PgBits {
    fn preferred_type(&self) -> Type {
        Type::VARBIT
    }
    fn static_type() -> Type {
        Type::VARBIT
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::BIT || ty == Type::VARBIT
    }
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        let len = i32::try_from(self.len).map_err(|_| TypeError::InvalidValue {
            pg: ty,
            reason: "bit string too long",
        })?;
        out.put_i32(len);
        out.put_slice(&self.bytes);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for PgBits {
    fn accepts(ty: Type) -> bool {
        ty == Type::BIT || ty == Type::VARBIT
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        let mut r = Reader::new(ty, raw);
        let len = r.i32()?;
        let len = usize::try_from(len).map_err(|_| r.invalid("negative bit length"))?;
        if len.div_ceil(8) != r.remaining() {
            return Err(r.invalid("bit length does not match the data"));
        }
        let bytes = r.take(len.div_ceil(8))?.to_vec();
        Ok(Self { len, bytes })
    }
}

/// A `money` amount in the currency's smallest unit (cents for the usual
/// locales). Its text form depends on the server's `lc_monetary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PgMoney(pub i64);

impl Encode for PgMoney {
    fn preferred_type(&self) -> Type {
        Type::MONEY
    }
    fn static_type() -> Type {
        Type::MONEY
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::MONEY
    }
    fn encode(&self, _: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        out.put_i64(self.0);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for PgMoney {
    fn accepts(ty: Type) -> bool {
        ty == Type::MONEY
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        <[u8; 8]>::try_from(raw)
            .map(|b| Self(i64::from_be_bytes(b)))
            .map_err(|_| TypeError::InvalidValue {
                pg: ty,
                reason: "money is 8 bytes",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::decode_value;

    #[test]
    fn bits_codec() {
        let b = PgBits::from_bits([true, false, true, true, false, false, false, false, true]);
        assert_eq!(b.to_string(), "101100001");
        let mut out = BytesMut::new();
        b.encode(Type::VARBIT, &mut out).unwrap();
        assert_eq!(&out[..], &[0, 0, 0, 9, 0xb0, 0x80]);
        assert_eq!(decode_value::<PgBits>(Type::VARBIT, Some(&out)), Ok(b));
        // corpus: bit length 0xffffff7f with one data byte
        assert!(decode_value::<PgBits>(Type::VARBIT, Some(&[0xff, 0xff, 0xff, 0x7f, 1])).is_err());
        assert!(decode_value::<PgBits>(Type::VARBIT, Some(&[0, 0, 0, 9, 1])).is_err());
    }

    #[test]
    fn money_codec() {
        assert_eq!(
            decode_value::<PgMoney>(Type::MONEY, Some(&123i64.to_be_bytes())),
            Ok(PgMoney(123))
        );
    }
}
