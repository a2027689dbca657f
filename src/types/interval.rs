//! `interval`: [`PgInterval`], months, days and microseconds kept apart as
//! the server keeps them (a month is not a fixed number of days).

use std::fmt;

use bytes::{BufMut, BytesMut};

use super::datetime::write_fraction;
use super::{Decode, Encode, IsNull, Type, TypeError};

/// A PostgreSQL `interval`.
///
/// ```
/// use pgline::types::PgInterval;
///
/// let i = PgInterval { months: 14, days: -3, microseconds: 3_600_000_000 };
/// assert_eq!(i.to_string(), "1 year 2 mons -3 days +01:00:00");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PgInterval {
    /// Months (years are 12 months).
    pub months: i32,
    /// Days.
    pub days: i32,
    /// Microseconds.
    pub microseconds: i64,
}

impl PgInterval {
    /// `'infinity'::interval` (PostgreSQL 17 and later): every field at its maximum.
    pub const INFINITY: Self = Self {
        months: i32::MAX,
        days: i32::MAX,
        microseconds: i64::MAX,
    };

    /// `'-infinity'::interval` (PostgreSQL 17 and later): every field at its minimum.
    pub const NEG_INFINITY: Self = Self {
        months: i32::MIN,
        days: i32::MIN,
        microseconds: i64::MIN,
    };

    /// True for [`PgInterval::INFINITY`] and [`PgInterval::NEG_INFINITY`]. Servers
    /// before 17 read these bits as the largest finite intervals instead.
    pub fn is_infinite(&self) -> bool {
        *self == Self::INFINITY || *self == Self::NEG_INFINITY
    }
}

impl fmt::Display for PgInterval {
    /// The server's default (`postgres`) IntervalStyle; the two infinite values print as
    /// PostgreSQL 17 and later print them (`infinity`, `-infinity`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::INFINITY {
            return f.write_str("infinity");
        }
        if *self == Self::NEG_INFINITY {
            return f.write_str("-infinity");
        }
        let mut is_zero = true;
        let mut is_before = false;
        let mut part = |f: &mut fmt::Formatter<'_>, value: i64, unit: &str| -> fmt::Result {
            if value == 0 {
                return Ok(());
            }
            let space = if is_zero { "" } else { " " };
            let plus = if is_before && value > 0 { "+" } else { "" };
            let plural = if value != 1 { "s" } else { "" };
            write!(f, "{space}{plus}{value} {unit}{plural}")?;
            is_before = value < 0;
            is_zero = false;
            Ok(())
        };
        part(f, i64::from(self.months / 12), "year")?;
        part(f, i64::from(self.months % 12), "mon")?;
        part(f, i64::from(self.days), "day")?;
        let us = self.microseconds;
        let hour = us / 3_600_000_000;
        let min = us / 60_000_000 % 60;
        let sec = us / 1_000_000 % 60;
        let frac = us % 1_000_000;
        if is_zero || us != 0 {
            let minus = us < 0;
            let space = if is_zero { "" } else { " " };
            let sign = if minus {
                "-"
            } else if is_before {
                "+"
            } else {
                ""
            };
            write!(
                f,
                "{space}{sign}{:02}:{:02}:{:02}",
                hour.unsigned_abs(),
                min.unsigned_abs(),
                sec.unsigned_abs()
            )?;
            write_fraction(f, frac)?;
        }
        Ok(())
    }
}

impl Encode for PgInterval {
    fn preferred_type(&self) -> Type {
        Type::INTERVAL
    }
    fn static_type() -> Type {
        Type::INTERVAL
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::INTERVAL
    }
    fn encode(&self, _: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        out.put_i64(self.microseconds);
        out.put_i32(self.days);
        out.put_i32(self.months);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for PgInterval {
    fn accepts(ty: Type) -> bool {
        ty == Type::INTERVAL
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        let bytes = <[u8; 16]>::try_from(raw).map_err(|_| TypeError::InvalidValue {
            pg: ty,
            reason: "an interval is 16 bytes",
        })?;
        let (us, rest) = bytes.split_at(8);
        let (days, months) = rest.split_at(4);
        let word = |b: &[u8]| <[u8; 4]>::try_from(b).map(i32::from_be_bytes);
        let long = <[u8; 8]>::try_from(us).map(i64::from_be_bytes);
        match (long, word(days), word(months)) {
            (Ok(microseconds), Ok(days), Ok(months)) => Ok(Self {
                months,
                days,
                microseconds,
            }),
            _ => Err(TypeError::InvalidValue {
                pg: ty,
                reason: "an interval is 16 bytes",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infinite_intervals_print_as_the_server_prints_them() {
        assert_eq!(PgInterval::INFINITY.to_string(), "infinity");
        assert_eq!(PgInterval::NEG_INFINITY.to_string(), "-infinity");
        assert!(PgInterval::INFINITY.is_infinite() && PgInterval::NEG_INFINITY.is_infinite());
        let almost = PgInterval {
            microseconds: i64::MAX - 1,
            ..PgInterval::INFINITY
        };
        assert!(!almost.is_infinite());
        assert_eq!(
            almost.to_string(),
            "178956970 years 7 mons 2147483647 days 2562047788:00:54.775806"
        );
    }
    use crate::types::decode_value;

    fn iv(months: i32, days: i32, microseconds: i64) -> String {
        PgInterval {
            months,
            days,
            microseconds,
        }
        .to_string()
    }

    #[test]
    fn postgres_style_text() {
        assert_eq!(iv(0, 0, 0), "00:00:00");
        assert_eq!(iv(12, 0, 0), "1 year");
        assert_eq!(iv(-14, 0, 0), "-1 years -2 mons");
        assert_eq!(iv(12, -2, 3 * 3_600_000_000), "1 year -2 days +03:00:00");
        assert_eq!(iv(0, 1, -1_500_000), "1 day -00:00:01.5");
        assert_eq!(iv(0, 0, 100 * 3_600_000_000 + 1), "100:00:00.000001");
    }

    #[test]
    fn codec() {
        let v = PgInterval {
            months: -1,
            days: 2,
            microseconds: -3,
        };
        let mut out = BytesMut::new();
        v.encode(Type::INTERVAL, &mut out).unwrap();
        assert_eq!(out.len(), 16);
        assert_eq!(
            decode_value::<PgInterval>(Type::INTERVAL, Some(&out)),
            Ok(v)
        );
        assert!(decode_value::<PgInterval>(Type::INTERVAL, Some(&out[..15])).is_err());
    }
}
