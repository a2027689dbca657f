//! `rust_decimal::Decimal` for `numeric` (`rust_decimal` feature).
//!
//! Converts through [`PgNumeric`]'s exact decimal text, so no digit is
//! lost silently: NaN, ±Infinity and values with more than 28 significant
//! digits are [`TypeError::OutOfRange`].

use std::str::FromStr;

use bytes::BytesMut;
use rust_decimal::Decimal;

use super::{Decode, Encode, IsNull, PgNumeric, Type, TypeError};

impl Encode for Decimal {
    fn preferred_type(&self) -> Type {
        Type::NUMERIC
    }
    fn static_type() -> Type {
        Type::NUMERIC
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::NUMERIC
    }
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        let n = PgNumeric::from_str(&self.to_string()).map_err(|_| TypeError::InvalidValue {
            pg: ty,
            reason: "the decimal's text is not a numeric",
        })?;
        n.encode(ty, out)
    }
}

impl Decode<'_> for Decimal {
    fn accepts(ty: Type) -> bool {
        ty == Type::NUMERIC
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        let n = PgNumeric::decode(ty, raw)?;
        let out_of_range = || TypeError::OutOfRange {
            rust: "rust_decimal::Decimal",
            pg: ty,
        };
        if n.is_nan() || n.is_infinite() {
            return Err(out_of_range());
        }
        Self::from_str_exact(&n.to_string()).map_err(|_| out_of_range())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::decode_value;

    #[test]
    fn round_trip_and_limits() {
        let d = Decimal::from_str("-1234.5600").unwrap();
        let mut out = BytesMut::new();
        d.encode(Type::NUMERIC, &mut out).unwrap();
        let back = decode_value::<Decimal>(Type::NUMERIC, Some(&out)).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.to_string(), "-1234.5600");
        out.clear();
        PgNumeric::NAN.encode(Type::NUMERIC, &mut out).unwrap();
        assert!(decode_value::<Decimal>(Type::NUMERIC, Some(&out)).is_err());
        out.clear();
        "1e40"
            .parse::<PgNumeric>()
            .unwrap()
            .encode(Type::NUMERIC, &mut out)
            .unwrap();
        assert!(decode_value::<Decimal>(Type::NUMERIC, Some(&out)).is_err());
    }
}
