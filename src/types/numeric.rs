//! `numeric`: [`PgNumeric`], an exact decimal of any precision.
//!
//! Holds the server's own representation (base-10000 digits, a weight, a
//! sign and a display scale) so every value, including NaN, ±Infinity,
//! 131072-digit integers and scale-16383 fractions, round-trips bit for bit.
//! Converts to and from decimal strings exactly; it does no arithmetic.

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::reader::Reader;
use super::{Decode, Encode, IsNull, Type, TypeError};

const SIGN_POS: u16 = 0x0000;
const SIGN_NEG: u16 = 0x4000;
const SIGN_NAN: u16 = 0xC000;
const SIGN_PINF: u16 = 0xD000;
const SIGN_NINF: u16 = 0xF000;
/// The largest display scale the server stores.
pub const MAX_DSCALE: u16 = 0x3FFF;
/// Decimal digits per base-10000 digit.
const DEC_DIGITS: i64 = 4;

/// A PostgreSQL `numeric` value, exactly as the server stores it.
///
/// ```
/// use pgline::types::PgNumeric;
///
/// let n: PgNumeric = "-12345.6780".parse().unwrap();
/// assert_eq!(n.to_string(), "-12345.6780");
/// assert_eq!("1.5e3".parse::<PgNumeric>().unwrap().to_string(), "1500");
/// assert!("NaN".parse::<PgNumeric>().unwrap().is_nan());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PgNumeric {
    repr: Repr,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Repr {
    NaN,
    Infinity,
    NegInfinity,
    Finite {
        negative: bool,
        /// Power of 10000 of the first digit.
        weight: i16,
        /// Decimal digits after the point, for display.
        dscale: u16,
        /// Base-10000 digits, each 0..=9999, no leading or trailing zero digits.
        digits: Vec<i16>,
    },
}

/// Why a string is not a numeric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseNumericError(&'static str);

impl fmt::Display for ParseNumericError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid numeric: {}", self.0)
    }
}

impl std::error::Error for ParseNumericError {}

impl PgNumeric {
    /// Not-a-number.
    pub const NAN: Self = Self { repr: Repr::NaN };
    /// Positive infinity.
    pub const INFINITY: Self = Self {
        repr: Repr::Infinity,
    };
    /// Negative infinity.
    pub const NEG_INFINITY: Self = Self {
        repr: Repr::NegInfinity,
    };

    /// Zero with display scale 0.
    pub fn zero() -> Self {
        Self {
            repr: Repr::Finite {
                negative: false,
                weight: 0,
                dscale: 0,
                digits: Vec::new(),
            },
        }
    }

    /// Whether the value is NaN.
    pub fn is_nan(&self) -> bool {
        self.repr == Repr::NaN
    }

    /// Whether the value is +Infinity or -Infinity.
    pub fn is_infinite(&self) -> bool {
        matches!(self.repr, Repr::Infinity | Repr::NegInfinity)
    }

    /// The number of decimal digits after the point shown in text (0 for
    /// the special values).
    pub fn scale(&self) -> u16 {
        match self.repr {
            Repr::Finite { dscale, .. } => dscale,
            _ => 0,
        }
    }

    /// Whether the value is negative (including -Infinity).
    pub fn is_negative(&self) -> bool {
        match self.repr {
            Repr::Finite { negative, .. } => negative,
            Repr::NegInfinity => true,
            _ => false,
        }
    }

    /// The value as an `f64` (nearest; NaN and infinities map across).
    pub fn to_f64(&self) -> f64 {
        match self.repr {
            Repr::NaN => f64::NAN,
            Repr::Infinity => f64::INFINITY,
            Repr::NegInfinity => f64::NEG_INFINITY,
            Repr::Finite { .. } => self.to_string().parse().unwrap_or(f64::NAN),
        }
    }

    fn finite(
        negative: bool,
        weight: i64,
        dscale: i64,
        mut digits: Vec<i16>,
    ) -> Result<Self, &'static str> {
        let lead = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..lead);
        let weight = weight - lead as i64;
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if dscale > i64::from(MAX_DSCALE) {
            return Err("display scale above 16383");
        }
        let (negative, weight) = if digits.is_empty() {
            (false, 0)
        } else {
            (negative, weight)
        };
        let weight = i16::try_from(weight).map_err(|_| "exponent out of range")?;
        Ok(Self {
            repr: Repr::Finite {
                negative,
                weight,
                dscale: dscale.max(0) as u16,
                digits,
            },
        })
    }
}

impl From<i64> for PgNumeric {
    fn from(v: i64) -> Self {
        // Every i64 is a valid numeric literal.
        v.to_string().parse().unwrap_or_else(|_| Self::zero())
    }
}

impl From<i32> for PgNumeric {
    fn from(v: i32) -> Self {
        i64::from(v).into()
    }
}

impl FromStr for PgNumeric {
    type Err = ParseNumericError;

    /// Parses the server's input syntax: optional sign, digits with an
    /// optional point, an optional exponent, or `NaN` / `Infinity` / `inf`
    /// (any case, optional sign for the infinities); blanks around are
    /// ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim_matches(|c: char| c.is_ascii_whitespace());
        let (negative, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case("infinity") || body.eq_ignore_ascii_case("inf") {
            return Ok(if negative {
                Self::NEG_INFINITY
            } else {
                Self::INFINITY
            });
        }
        if s.eq_ignore_ascii_case("nan") {
            return Ok(Self::NAN);
        }
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(at) => {
                let exp = &body[at + 1..];
                let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ParseNumericError("exponent without digits"));
                }
                let e: i64 = exp
                    .parse()
                    .map_err(|_| ParseNumericError("exponent out of range"))?;
                if e.abs() > 1_000_000 {
                    return Err(ParseNumericError("exponent out of range"));
                }
                (&body[..at], e)
            }
            None => (body, 0),
        };
        let (int, frac) = match mantissa.split_once('.') {
            Some((i, f)) => (i, f),
            None => (mantissa, ""),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(ParseNumericError("no digits"));
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(ParseNumericError("unexpected character"));
        }
        let dec: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
        let point = int.len() as i64 + exponent;
        let dscale = frac.len() as i64 - exponent;
        from_decimal_digits(negative, &dec, point, dscale).map_err(ParseNumericError)
    }
}

/// Builds a numeric from decimal digits `dec` read as `0.dec × 10^point`.
fn from_decimal_digits(
    negative: bool,
    dec: &[u8],
    point: i64,
    dscale: i64,
) -> Result<PgNumeric, &'static str> {
    let pad_left = (DEC_DIGITS - point.rem_euclid(DEC_DIGITS)) % DEC_DIGITS;
    let weight = (point + pad_left) / DEC_DIGITS - 1;
    let mut digits = Vec::with_capacity(dec.len() / 4 + 2);
    let mut acc: i16 = 0;
    let mut filled = pad_left;
    for d in dec {
        acc = acc * 10 + i16::from(*d);
        filled += 1;
        if filled == DEC_DIGITS {
            digits.push(acc);
            acc = 0;
            filled = 0;
        }
    }
    if filled > 0 {
        for _ in filled..DEC_DIGITS {
            acc *= 10;
        }
        digits.push(acc);
    }
    PgNumeric::finite(negative, weight, dscale.max(0), digits)
}

impl fmt::Display for PgNumeric {
    /// Writes the value as the server's text output does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (negative, weight, dscale, digits) = match &self.repr {
            Repr::NaN => return f.write_str("NaN"),
            Repr::Infinity => return f.write_str("Infinity"),
            Repr::NegInfinity => return f.write_str("-Infinity"),
            Repr::Finite {
                negative,
                weight,
                dscale,
                digits,
            } => (*negative, i64::from(*weight), usize::from(*dscale), digits),
        };
        let digit = |i: i64| -> i16 {
            usize::try_from(i)
                .ok()
                .and_then(|i| digits.get(i).copied())
                .unwrap_or(0)
        };
        let mut s = String::with_capacity(digits.len() * 4 + dscale + 3);
        if negative {
            s.push('-');
        }
        if weight < 0 {
            s.push('0');
        } else {
            for i in 0..=weight {
                if i == 0 {
                    s.push_str(&digit(i).to_string());
                } else {
                    s.push_str(&format!("{:04}", digit(i)));
                }
            }
        }
        if dscale > 0 {
            s.push('.');
            let start = s.len();
            let mut i = weight + 1;
            while s.len() - start < dscale {
                s.push_str(&format!("{:04}", digit(i)));
                i += 1;
            }
            s.truncate(start + dscale);
        }
        f.write_str(&s)
    }
}

impl Encode for PgNumeric {
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
        let special = |out: &mut BytesMut, sign: u16| {
            out.put_u16(0);
            out.put_i16(0);
            out.put_u16(sign);
            out.put_u16(0);
        };
        match &self.repr {
            Repr::NaN => special(out, SIGN_NAN),
            Repr::Infinity => special(out, SIGN_PINF),
            Repr::NegInfinity => special(out, SIGN_NINF),
            Repr::Finite {
                negative,
                weight,
                dscale,
                digits,
            } => {
                let n = u16::try_from(digits.len()).map_err(|_| TypeError::InvalidValue {
                    pg: ty,
                    reason: "too many digits for numeric",
                })?;
                out.put_u16(n);
                out.put_i16(*weight);
                out.put_u16(if *negative { SIGN_NEG } else { SIGN_POS });
                out.put_u16(*dscale);
                for d in digits {
                    out.put_i16(*d);
                }
            }
        }
        Ok(IsNull::No)
    }
}

impl Decode<'_> for PgNumeric {
    fn accepts(ty: Type) -> bool {
        ty == Type::NUMERIC
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        let mut r = Reader::new(ty, raw);
        let ndigits = r.u16()?;
        let weight = r.i16()?;
        let sign = r.u16()?;
        let dscale = r.u16()?;
        let value = match sign {
            SIGN_NAN => Self::NAN,
            SIGN_PINF => Self::INFINITY,
            SIGN_NINF => Self::NEG_INFINITY,
            SIGN_POS | SIGN_NEG => {
                if dscale > MAX_DSCALE {
                    return Err(r.invalid("display scale above 16383"));
                }
                if usize::from(ndigits) * 2 != r.remaining() {
                    return Err(r.invalid("digit count does not match the length"));
                }
                let mut digits = Vec::with_capacity(usize::from(ndigits));
                for _ in 0..ndigits {
                    let d = r.i16()?;
                    if !(0..10000).contains(&d) {
                        return Err(r.invalid("a numeric digit is outside 0..9999"));
                    }
                    digits.push(d);
                }
                Self::finite(
                    sign == SIGN_NEG,
                    i64::from(weight),
                    i64::from(dscale),
                    digits,
                )
                .map_err(|reason| TypeError::InvalidValue { pg: ty, reason })?
            }
            _ => return Err(r.invalid("unknown numeric sign")),
        };
        r.finish()?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::decode_value;

    fn round(s: &str) -> String {
        let n: PgNumeric = s.parse().unwrap();
        let mut out = BytesMut::new();
        n.encode(Type::NUMERIC, &mut out).unwrap();
        let back: PgNumeric = decode_value(Type::NUMERIC, Some(&out)).unwrap();
        assert_eq!(back, n);
        back.to_string()
    }

    #[test]
    fn text_forms_match_the_server() {
        assert_eq!(round("0"), "0");
        assert_eq!(round("-0"), "0");
        assert_eq!(round("0.000"), "0.000");
        assert_eq!(round("555.50"), "555.50");
        assert_eq!(round("-555.50"), "-555.50");
        assert_eq!(round("  3245874    "), "3245874");
        assert_eq!(round("12345678.000001"), "12345678.000001");
        assert_eq!(round("0.00001"), "0.00001");
        assert_eq!(round("1e-5"), "0.00001");
        assert_eq!(round("1.5E+3"), "1500");
        assert_eq!(round("10000"), "10000");
        assert_eq!(round(".5"), "0.5");
        assert_eq!(round("5."), "5");
        assert_eq!(round("NaN"), "NaN");
        assert_eq!(round("-inf"), "-Infinity");
        assert_eq!(round("Infinity"), "Infinity");
    }

    #[test]
    fn golden_bytes() {
        let n: PgNumeric = "-12345.678".parse().unwrap();
        let mut out = BytesMut::new();
        n.encode(Type::NUMERIC, &mut out).unwrap();
        assert_eq!(
            &out[..],
            &[0, 3, 0, 1, 0x40, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c]
        );
    }

    #[test]
    fn bad_strings_are_refused() {
        for s in [
            "", "     ", "xyz", "- 1234", "5 . 0", "1e+", "1234   %", " N aN ", "1.2.3",
        ] {
            assert!(s.parse::<PgNumeric>().is_err(), "{s:?}");
        }
    }

    #[test]
    fn bad_bytes_are_refused() {
        // digit 10000
        let raw = [0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10];
        assert!(decode_value::<PgNumeric>(Type::NUMERIC, Some(&raw)).is_err());
        // two digits announced, one present
        let raw = [0, 2, 0, 0, 0, 0, 0, 0, 0, 1];
        assert!(decode_value::<PgNumeric>(Type::NUMERIC, Some(&raw)).is_err());
        // bad sign
        let raw = [0, 0, 0, 0, 0x80, 0, 0, 0];
        assert!(decode_value::<PgNumeric>(Type::NUMERIC, Some(&raw)).is_err());
        assert!(decode_value::<PgNumeric>(Type::NUMERIC, Some(&[0, 0])).is_err());
    }

    #[test]
    fn extreme_scales() {
        let tiny = format!("0.{}1", "0".repeat(16382));
        assert_eq!(round(&tiny), tiny);
        let huge = format!("9{}", "0".repeat(131071));
        assert_eq!(round(&huge), huge);
        assert!(
            format!("0.{}1", "0".repeat(16383))
                .parse::<PgNumeric>()
                .is_err()
        );
    }
}
