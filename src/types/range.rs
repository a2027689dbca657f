//! Ranges ([`PgRange`]) and multiranges ([`PgMultirange`]) of the built-in
//! range types: int4, int8, numeric, date, timestamp and timestamptz.
//!
//! Bounds are `std::ops::Bound`. The server canonicalises discrete ranges
//! (int4, int8, date) to `[lower, upper)`, so a value read back may show
//! other bounds than the one sent while meaning the same set.

use std::ops::Bound;

use bytes::{BufMut, BytesMut};

use super::reader::{Reader, write_value};
use super::{Decode, Encode, IsNull, Type, TypeError};

const EMPTY: u8 = 0x01;
const LB_INC: u8 = 0x02;
const UB_INC: u8 = 0x04;
const LB_INF: u8 = 0x08;
const UB_INF: u8 = 0x10;
const KNOWN_FLAGS: u8 = EMPTY | LB_INC | UB_INC | LB_INF | UB_INF;

/// A range value.
///
/// ```
/// use std::ops::Bound;
/// use pgline::types::PgRange;
///
/// let r = PgRange::new(Bound::Included(1), Bound::Unbounded);
/// assert_eq!(r.to_string(), "[1,)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PgRange<T> {
    /// The empty range.
    Empty,
    /// A range with two bounds, either of which may be unbounded.
    Bounded {
        /// The lower bound.
        lower: Bound<T>,
        /// The upper bound.
        upper: Bound<T>,
    },
}

impl<T> PgRange<T> {
    /// A range of these bounds.
    pub fn new(lower: Bound<T>, upper: Bound<T>) -> Self {
        Self::Bounded { lower, upper }
    }
}

impl<T: std::fmt::Display> std::fmt::Display for PgRange<T> {
    /// The server's text form, without quoting.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("empty"),
            Self::Bounded { lower, upper } => {
                match lower {
                    Bound::Included(v) => write!(f, "[{v},")?,
                    Bound::Excluded(v) => write!(f, "({v},")?,
                    Bound::Unbounded => f.write_str("(,")?,
                }
                match upper {
                    Bound::Included(v) => write!(f, "{v}]"),
                    Bound::Excluded(v) => write!(f, "{v})"),
                    Bound::Unbounded => f.write_str(")"),
                }
            }
        }
    }
}

fn encode_range<T: Encode>(
    v: &PgRange<T>,
    ty: Type,
    out: &mut BytesMut,
) -> Result<IsNull, TypeError> {
    let elem = ty.range_element().ok_or(TypeError::InvalidValue {
        pg: ty,
        reason: "not a built-in range type",
    })?;
    let (lower, upper) = match v {
        PgRange::Empty => {
            out.put_u8(EMPTY);
            return Ok(IsNull::No);
        }
        PgRange::Bounded { lower, upper } => (lower, upper),
    };
    let mut flags = 0;
    match lower {
        Bound::Included(_) => flags |= LB_INC,
        Bound::Excluded(_) => {}
        Bound::Unbounded => flags |= LB_INF,
    }
    match upper {
        Bound::Included(_) => flags |= UB_INC,
        Bound::Excluded(_) => {}
        Bound::Unbounded => flags |= UB_INF,
    }
    out.put_u8(flags);
    for bound in [lower, upper] {
        if let Bound::Included(b) | Bound::Excluded(b) = bound {
            if !b.accepts(elem) {
                return Err(TypeError::WrongType {
                    rust: std::any::type_name::<T>(),
                    pg: elem,
                });
            }
            write_value(out, elem, |o| match b.encode(elem, o)? {
                IsNull::No => Ok(IsNull::No),
                IsNull::Yes => Err(TypeError::InvalidValue {
                    pg: ty,
                    reason: "a range bound cannot be NULL; use Unbounded",
                }),
            })?;
        }
    }
    Ok(IsNull::No)
}

fn decode_range<'a, T: Decode<'a>>(
    ty: Type,
    elem: Type,
    r: &mut Reader<'a>,
) -> Result<PgRange<T>, TypeError> {
    let flags = r.u8()?;
    if flags & !KNOWN_FLAGS != 0 {
        return Err(r.invalid("unknown range flags"));
    }
    if flags & EMPTY != 0 {
        return Ok(PgRange::Empty);
    }
    let mut bound = |inf: u8, inc: u8| -> Result<Bound<T>, TypeError> {
        if flags & inf != 0 {
            return Ok(Bound::Unbounded);
        }
        let raw = r.value()?.ok_or(TypeError::InvalidValue {
            pg: ty,
            reason: "a NULL range bound",
        })?;
        let v = T::decode(elem, raw)?;
        Ok(if flags & inc != 0 {
            Bound::Included(v)
        } else {
            Bound::Excluded(v)
        })
    };
    let lower = bound(LB_INF, LB_INC)?;
    let upper = bound(UB_INF, UB_INC)?;
    Ok(PgRange::Bounded { lower, upper })
}

impl<T: Encode> Encode for PgRange<T> {
    fn preferred_type(&self) -> Type {
        let elem = match self {
            Self::Bounded {
                lower: Bound::Included(v) | Bound::Excluded(v),
                ..
            }
            | Self::Bounded {
                upper: Bound::Included(v) | Bound::Excluded(v),
                ..
            } => v.preferred_type(),
            _ => T::static_type(),
        };
        elem.range_of().unwrap_or(Type::UNKNOWN_PARAM)
    }
    fn static_type() -> Type {
        T::static_type().range_of().unwrap_or(Type::UNKNOWN_PARAM)
    }
    fn accepts(&self, ty: Type) -> bool {
        ty.range_element().is_some()
    }
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        encode_range(self, ty, out)
    }
}

impl<'a, T: Decode<'a>> Decode<'a> for PgRange<T> {
    fn accepts(ty: Type) -> bool {
        ty.range_element().is_some_and(T::accepts)
    }
    fn decode(ty: Type, raw: &'a [u8]) -> Result<Self, TypeError> {
        let elem = ty.range_element().ok_or(TypeError::WrongType {
            rust: std::any::type_name::<Self>(),
            pg: ty,
        })?;
        let mut r = Reader::new(ty, raw);
        let v = decode_range(ty, elem, &mut r)?;
        r.finish()?;
        Ok(v)
    }
}

/// A multirange: an ordered list of non-overlapping ranges.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PgMultirange<T>(pub Vec<PgRange<T>>);

impl<T: Encode> Encode for PgMultirange<T> {
    fn preferred_type(&self) -> Type {
        self.0
            .iter()
            .map(Encode::preferred_type)
            .find(|t| *t != Type::UNKNOWN_PARAM)
            .or(Some(PgRange::<T>::static_type()))
            .and_then(|r| r.range_element())
            .and_then(Type::multirange_of)
            .unwrap_or(Type::UNKNOWN_PARAM)
    }
    fn static_type() -> Type {
        T::static_type()
            .multirange_of()
            .unwrap_or(Type::UNKNOWN_PARAM)
    }
    fn accepts(&self, ty: Type) -> bool {
        ty.multirange_range().is_some()
    }
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        let range = ty.multirange_range().ok_or(TypeError::InvalidValue {
            pg: ty,
            reason: "not a built-in multirange type",
        })?;
        let n = i32::try_from(self.0.len()).map_err(|_| TypeError::InvalidValue {
            pg: ty,
            reason: "too many ranges",
        })?;
        out.put_i32(n);
        for r in &self.0 {
            write_value(out, range, |o| encode_range(r, range, o))?;
        }
        Ok(IsNull::No)
    }
}

impl<'a, T: Decode<'a>> Decode<'a> for PgMultirange<T> {
    fn accepts(ty: Type) -> bool {
        ty.multirange_range()
            .and_then(Type::range_element)
            .is_some_and(T::accepts)
    }
    fn decode(ty: Type, raw: &'a [u8]) -> Result<Self, TypeError> {
        let range = ty.multirange_range().ok_or(TypeError::WrongType {
            rust: std::any::type_name::<Self>(),
            pg: ty,
        })?;
        let elem = range.range_element().ok_or(TypeError::WrongType {
            rust: std::any::type_name::<Self>(),
            pg: ty,
        })?;
        let mut r = Reader::new(ty, raw);
        let count = r.i32()?;
        let count = usize::try_from(count).map_err(|_| r.invalid("negative range count"))?;
        if count > r.remaining() / 5 {
            return Err(r.invalid("more ranges announced than bytes present"));
        }
        let mut ranges = Vec::with_capacity(count);
        for _ in 0..count {
            let raw = r
                .value()?
                .ok_or(r.invalid("a NULL range in a multirange"))?;
            let mut inner = Reader::new(range, raw);
            ranges.push(decode_range(range, elem, &mut inner)?);
            inner.finish()?;
        }
        r.finish()?;
        Ok(Self(ranges))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::decode_value;

    #[test]
    fn every_bound_kind() {
        let cases = [
            (PgRange::Empty, vec![1u8]),
            (
                PgRange::new(Bound::Included(1i32), Bound::Excluded(5)),
                vec![2, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 5],
            ),
            (
                PgRange::new(Bound::Unbounded, Bound::Included(7)),
                vec![0x0c, 0, 0, 0, 4, 0, 0, 0, 7],
            ),
            (PgRange::new(Bound::Unbounded, Bound::Unbounded), vec![0x18]),
        ];
        for (range, bytes) in cases {
            let mut out = BytesMut::new();
            range.encode(Type::INT4_RANGE, &mut out).unwrap();
            assert_eq!(out.to_vec(), bytes, "{range}");
            assert_eq!(
                decode_value::<PgRange<i32>>(Type::INT4_RANGE, Some(&out)),
                Ok(range)
            );
        }
    }

    #[test]
    fn multirange_codec_and_corpus() {
        let m = PgMultirange(vec![
            PgRange::new(Bound::Included(1i64), Bound::Excluded(3)),
            PgRange::new(Bound::Included(10), Bound::Unbounded),
        ]);
        assert_eq!(m.preferred_type(), Type::INT8_MULTIRANGE);
        let mut out = BytesMut::new();
        m.encode(Type::INT8_MULTIRANGE, &mut out).unwrap();
        assert_eq!(
            decode_value::<PgMultirange<i64>>(Type::INT8_MULTIRANGE, Some(&out)),
            Ok(m)
        );
        for bad in [&[0u8, 0, 0][..], &[0xff, 0xff, 0xff, 0xff]] {
            assert!(decode_value::<PgMultirange<i32>>(Type::INT4_MULTIRANGE, Some(bad)).is_err());
        }
        assert!(
            decode_value::<PgRange<i32>>(Type::INT4_RANGE, Some(&[2, 0xff, 0xff, 0xff, 0x7f]))
                .is_err()
        );
        assert!(decode_value::<PgRange<i32>>(Type::INT4_RANGE, Some(&[0x80])).is_err());
    }
}
