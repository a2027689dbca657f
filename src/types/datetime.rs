//! `date`, `time`, `timetz`, `timestamp` and `timestamptz`: pgline's own
//! types holding the server's binary values (days and microseconds since
//! 2000-01-01), with ±infinity and BC dates.
//!
//! Calendar conversions use the proleptic Gregorian calendar, as the server
//! does. Text output follows the server's ISO `DateStyle`; `timestamptz` is
//! shown in UTC (`+00`). Conversions to `chrono` and `time` live in their own
//! feature files.

use std::fmt;

use bytes::{BufMut, BytesMut};

use super::{Decode, Encode, IsNull, Type, TypeError};

/// Microseconds in a second, minute, hour and day.
pub(crate) const USECS_PER_SEC: i64 = 1_000_000;
const USECS_PER_MINUTE: i64 = 60 * USECS_PER_SEC;
const USECS_PER_HOUR: i64 = 60 * USECS_PER_MINUTE;
pub(crate) const USECS_PER_DAY: i64 = 24 * USECS_PER_HOUR;
/// Days from 1970-01-01 to 2000-01-01 (the server's epoch).
pub(crate) const UNIX_TO_PG_DAYS: i64 = 10_957;

/// Days since 0000-03-01 style civil conversion: days since 2000-01-01 for a
/// proleptic Gregorian date (year 0 is 1 BC).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 - UNIX_TO_PG_DAYS
}

/// The proleptic Gregorian (year, month, day) of a day count since 2000-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + UNIX_TO_PG_DAYS + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

fn fixed<const N: usize>(ty: Type, raw: &[u8]) -> Result<[u8; N], TypeError> {
    <[u8; N]>::try_from(raw).map_err(|_| TypeError::InvalidValue {
        pg: ty,
        reason: "wrong length for a date/time value",
    })
}

/// Writes `YYYY-MM-DD` (at least four year digits; BC years as positive).
fn write_date(f: &mut fmt::Formatter<'_>, days: i64) -> Result<bool, fmt::Error> {
    let (year, month, day) = civil_from_days(days);
    let bc = year <= 0;
    let shown = if bc { 1 - year } else { year };
    write!(f, "{shown:04}-{month:02}-{day:02}")?;
    Ok(bc)
}

/// Writes `HH:MM:SS[.ffffff]` with trailing fractional zeros dropped.
fn write_time(f: &mut fmt::Formatter<'_>, micros: i64) -> fmt::Result {
    let hour = micros / USECS_PER_HOUR;
    let min = micros % USECS_PER_HOUR / USECS_PER_MINUTE;
    let sec = micros % USECS_PER_MINUTE / USECS_PER_SEC;
    let frac = micros % USECS_PER_SEC;
    write!(f, "{hour:02}:{min:02}:{sec:02}")?;
    write_fraction(f, frac)
}

/// Writes `.ffffff` without trailing zeros, or nothing for 0.
pub(crate) fn write_fraction(f: &mut fmt::Formatter<'_>, frac: i64) -> fmt::Result {
    if frac == 0 {
        return Ok(());
    }
    let digits = format!("{:06}", frac.abs());
    write!(f, ".{}", digits.trim_end_matches('0'))
}

/// A `date`: days since 2000-01-01, or ±infinity.
///
/// ```
/// use pgline::types::PgDate;
///
/// let d = PgDate::from_ymd(-43, 3, 15).unwrap(); // 44 BC
/// assert_eq!(d.to_string(), "0044-03-15 BC");
/// assert_eq!(PgDate::INFINITY.to_string(), "infinity");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PgDate(i32);

impl PgDate {
    /// `infinity`.
    pub const INFINITY: Self = Self(i32::MAX);
    /// `-infinity`.
    pub const NEG_INFINITY: Self = Self(i32::MIN);
    /// 2000-01-01.
    pub const EPOCH: Self = Self(0);

    /// The date with this many days since 2000-01-01 (`i32::MAX` and
    /// `i32::MIN` are the infinities).
    pub const fn from_days(days: i32) -> Self {
        Self(days)
    }

    /// Days since 2000-01-01.
    pub const fn days(self) -> i32 {
        self.0
    }

    /// The date of a proleptic Gregorian year (astronomical: 0 is 1 BC, -1
    /// is 2 BC), month and day; `None` if the day does not exist or is out
    /// of range.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Self> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year.into(), month) {
            return None;
        }
        let days = i32::try_from(days_from_civil(year.into(), month, day)).ok()?;
        (days != i32::MAX && days != i32::MIN).then_some(Self(days))
    }

    /// The (astronomical year, month, day), or `None` for the infinities.
    pub fn to_ymd(self) -> Option<(i32, u32, u32)> {
        if self.is_infinite() {
            return None;
        }
        let (y, m, d) = civil_from_days(self.0.into());
        Some((y as i32, m, d))
    }

    /// Whether the date is `infinity` or `-infinity`.
    pub fn is_infinite(self) -> bool {
        self == Self::INFINITY || self == Self::NEG_INFINITY
    }
}

impl fmt::Display for PgDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::INFINITY => f.write_str("infinity"),
            Self::NEG_INFINITY => f.write_str("-infinity"),
            Self(days) => {
                if write_date(f, days.into())? {
                    f.write_str(" BC")?;
                }
                Ok(())
            }
        }
    }
}

/// A `time` of day, in microseconds since midnight (0 to 24:00:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PgTime(i64);

impl PgTime {
    /// Midnight.
    pub const MIDNIGHT: Self = Self(0);

    /// The time `micros` microseconds after midnight, up to and including
    /// 24:00:00.
    pub fn from_micros(micros: i64) -> Option<Self> {
        (0..=USECS_PER_DAY)
            .contains(&micros)
            .then_some(Self(micros))
    }

    /// The time of hours, minutes, seconds and microseconds.
    pub fn from_hms_micro(hour: u32, min: u32, sec: u32, micro: u32) -> Option<Self> {
        if min > 59 || sec > 59 || micro > 999_999 {
            return None;
        }
        Self::from_micros(
            i64::from(hour) * USECS_PER_HOUR
                + i64::from(min) * USECS_PER_MINUTE
                + i64::from(sec) * USECS_PER_SEC
                + i64::from(micro),
        )
    }

    /// Microseconds since midnight.
    pub const fn micros(self) -> i64 {
        self.0
    }
}

impl fmt::Display for PgTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_time(f, self.0)
    }
}

/// A `timetz`: a time of day and a UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PgTimeTz {
    /// The local time.
    pub time: PgTime,
    /// The offset from UTC in seconds, positive east of Greenwich
    /// (`+02` is 7200). The server stores the opposite sign; the codec
    /// converts.
    pub utc_offset_seconds: i32,
}

impl fmt::Display for PgTimeTz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_time(f, self.time.0)?;
        write_offset(f, self.utc_offset_seconds)
    }
}

/// Writes `+HH`, `+HH:MM` or `+HH:MM:SS` as the server does.
fn write_offset(f: &mut fmt::Formatter<'_>, offset: i32) -> fmt::Result {
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    write!(f, "{sign}{h:02}")?;
    if m != 0 || s != 0 {
        write!(f, ":{m:02}")?;
    }
    if s != 0 {
        write!(f, ":{s:02}")?;
    }
    Ok(())
}

macro_rules! timestamp_type {
    ($(#[$doc:meta])* $name:ident, $suffix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(i64);

        impl $name {
            /// `infinity`.
            pub const INFINITY: Self = Self(i64::MAX);
            /// `-infinity`.
            pub const NEG_INFINITY: Self = Self(i64::MIN);
            /// 2000-01-01 00:00:00.
            pub const EPOCH: Self = Self(0);

            /// The instant `micros` microseconds after 2000-01-01 00:00:00
            /// (`i64::MAX` and `i64::MIN` are the infinities).
            pub const fn from_micros(micros: i64) -> Self {
                Self(micros)
            }

            /// Microseconds since 2000-01-01 00:00:00.
            pub const fn micros(self) -> i64 {
                self.0
            }

            /// The timestamp of a finite date and a time of day.
            pub fn new(date: PgDate, time: PgTime) -> Option<Self> {
                if date.is_infinite() {
                    return None;
                }
                let micros = i64::from(date.0)
                    .checked_mul(USECS_PER_DAY)?
                    .checked_add(time.0)?;
                (micros != i64::MAX && micros != i64::MIN).then_some(Self(micros))
            }

            /// The date part, or `None` for the infinities.
            pub fn date(self) -> Option<PgDate> {
                if self.is_infinite() {
                    return None;
                }
                i32::try_from(self.0.div_euclid(USECS_PER_DAY)).ok().map(PgDate)
            }

            /// The time-of-day part, or `None` for the infinities.
            pub fn time(self) -> Option<PgTime> {
                (!self.is_infinite()).then_some(PgTime(self.0.rem_euclid(USECS_PER_DAY)))
            }

            /// Whether the value is `infinity` or `-infinity`.
            pub fn is_infinite(self) -> bool {
                self == Self::INFINITY || self == Self::NEG_INFINITY
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match *self {
                    Self::INFINITY => f.write_str("infinity"),
                    Self::NEG_INFINITY => f.write_str("-infinity"),
                    Self(micros) => {
                        let bc = write_date(f, micros.div_euclid(USECS_PER_DAY))?;
                        f.write_str(" ")?;
                        write_time(f, micros.rem_euclid(USECS_PER_DAY))?;
                        f.write_str($suffix)?;
                        if bc {
                            f.write_str(" BC")?;
                        }
                        Ok(())
                    }
                }
            }
        }
    };
}

timestamp_type!(
    /// A `timestamp` (without time zone): microseconds since 2000-01-01
    /// 00:00:00, or ±infinity.
    PgTimestamp,
    ""
);
timestamp_type!(
    /// A `timestamptz`: microseconds since 2000-01-01 00:00:00 UTC, or
    /// ±infinity. Shown in UTC (`+00`).
    PgTimestampTz,
    "+00"
);

impl Encode for PgDate {
    fn preferred_type(&self) -> Type {
        Type::DATE
    }
    fn static_type() -> Type {
        Type::DATE
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::DATE
    }
    fn encode(&self, _: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        out.put_i32(self.0);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for PgDate {
    fn accepts(ty: Type) -> bool {
        ty == Type::DATE
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        Ok(Self(i32::from_be_bytes(fixed(ty, raw)?)))
    }
}

impl Encode for PgTime {
    fn preferred_type(&self) -> Type {
        Type::TIME
    }
    fn static_type() -> Type {
        Type::TIME
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::TIME
    }
    fn encode(&self, _: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        out.put_i64(self.0);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for PgTime {
    fn accepts(ty: Type) -> bool {
        ty == Type::TIME
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        Self::from_micros(i64::from_be_bytes(fixed(ty, raw)?)).ok_or(TypeError::InvalidValue {
            pg: ty,
            reason: "time of day out of range",
        })
    }
}

impl Encode for PgTimeTz {
    fn preferred_type(&self) -> Type {
        Type::TIMETZ
    }
    fn static_type() -> Type {
        Type::TIMETZ
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::TIMETZ
    }
    fn encode(&self, _: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        out.put_i64(self.time.0);
        out.put_i32(self.utc_offset_seconds.wrapping_neg());
        Ok(IsNull::No)
    }
}

impl Decode<'_> for PgTimeTz {
    fn accepts(ty: Type) -> bool {
        ty == Type::TIMETZ
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        let bytes: [u8; 12] = fixed(ty, raw)?;
        let (t, z) = bytes.split_at(8);
        let time = PgTime::decode(Type::TIME, t).map_err(|_| TypeError::InvalidValue {
            pg: ty,
            reason: "time of day out of range",
        })?;
        let zone = i32::from_be_bytes(fixed(ty, z)?);
        if zone.unsigned_abs() > 15 * 3600 + 59 * 60 + 59 {
            return Err(TypeError::InvalidValue {
                pg: ty,
                reason: "time zone offset out of range",
            });
        }
        Ok(Self {
            time,
            utc_offset_seconds: -zone,
        })
    }
}

macro_rules! timestamp_codec {
    ($name:ident, $ty:expr) => {
        impl Encode for $name {
            fn preferred_type(&self) -> Type {
                $ty
            }
            fn static_type() -> Type {
                $ty
            }
            fn accepts(&self, ty: Type) -> bool {
                ty == $ty
            }
            fn encode(&self, _: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
                out.put_i64(self.0);
                Ok(IsNull::No)
            }
        }

        impl Decode<'_> for $name {
            fn accepts(ty: Type) -> bool {
                ty == $ty
            }
            fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
                Ok(Self(i64::from_be_bytes(fixed(ty, raw)?)))
            }
        }
    };
}

timestamp_codec!(PgTimestamp, Type::TIMESTAMP);
timestamp_codec!(PgTimestampTz, Type::TIMESTAMPTZ);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::decode_value;

    #[test]
    fn civil_round_trip() {
        for days in (-3_000_000..3_000_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(PgDate::from_ymd(2000, 1, 1), Some(PgDate(0)));
        assert_eq!(PgDate::from_ymd(1999, 12, 31), Some(PgDate(-1)));
        assert_eq!(PgDate::from_ymd(2001, 2, 29), None);
        assert_eq!(
            PgDate::from_ymd(2000, 2, 29).unwrap().to_ymd(),
            Some((2000, 2, 29))
        );
    }

    #[test]
    fn text_forms() {
        assert_eq!(
            PgDate::from_ymd(-4712, 11, 24).unwrap().to_string(),
            "4713-11-24 BC"
        );
        assert_eq!(
            PgDate::from_ymd(5874897, 12, 31).unwrap().to_string(),
            "5874897-12-31"
        );
        let ts = PgTimestamp::new(
            PgDate::from_ymd(0, 12, 31).unwrap(),
            PgTime::from_hms_micro(23, 59, 59, 500_000).unwrap(),
        )
        .unwrap();
        assert_eq!(ts.to_string(), "0001-12-31 23:59:59.5 BC");
        let tz = PgTimestampTz::from_micros(1);
        assert_eq!(tz.to_string(), "2000-01-01 00:00:00.000001+00");
        assert_eq!(PgTimestampTz::NEG_INFINITY.to_string(), "-infinity");
        let t = PgTimeTz {
            time: PgTime::from_hms_micro(12, 0, 0, 0).unwrap(),
            utc_offset_seconds: -(5 * 3600 + 30 * 60),
        };
        assert_eq!(t.to_string(), "12:00:00-05:30");
        assert_eq!(
            PgTime::from_micros(USECS_PER_DAY).unwrap().to_string(),
            "24:00:00"
        );
    }

    #[test]
    fn codecs() {
        let mut out = BytesMut::new();
        let t = PgTimeTz {
            time: PgTime::from_micros(1).unwrap(),
            utc_offset_seconds: 7200,
        };
        t.encode(Type::TIMETZ, &mut out).unwrap();
        assert_eq!(&out[8..], &(-7200i32).to_be_bytes());
        assert_eq!(decode_value::<PgTimeTz>(Type::TIMETZ, Some(&out)), Ok(t));
        assert_eq!(
            decode_value::<PgDate>(Type::DATE, Some(&i32::MAX.to_be_bytes())),
            Ok(PgDate::INFINITY)
        );
        assert!(decode_value::<PgTime>(Type::TIME, Some(&(-1i64).to_be_bytes())).is_err());
        assert!(decode_value::<PgTimestamp>(Type::TIMESTAMP, Some(&[0; 4])).is_err());
    }
}
