//! `time` crate types for date/time columns (`time` feature): `Date`
//! (date), `Time` (time), `PrimitiveDateTime` (timestamp) and
//! `OffsetDateTime` (timestamptz, read back in UTC). ±infinity and values
//! outside the crate's range are [`TypeError::OutOfRange`].

use bytes::BytesMut;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time};

use super::datetime::USECS_PER_SEC;
use super::{Decode, Encode, IsNull, PgDate, PgTime, PgTimestamp, PgTimestampTz, Type, TypeError};

/// The Julian day number of 2000-01-01.
const PG_EPOCH_JULIAN_DAY: i32 = 2_451_545;

fn pg_epoch() -> PrimitiveDateTime {
    PrimitiveDateTime::new(
        Date::from_julian_day(PG_EPOCH_JULIAN_DAY).unwrap_or(Date::MIN),
        Time::MIDNIGHT,
    )
}

fn out_of_range<T>(ty: Type) -> TypeError {
    TypeError::OutOfRange {
        rust: std::any::type_name::<T>(),
        pg: ty,
    }
}

fn micros_of(dt: PrimitiveDateTime, ty: Type) -> Result<i64, TypeError> {
    i64::try_from((dt - pg_epoch()).whole_microseconds())
        .map_err(|_| out_of_range::<PrimitiveDateTime>(ty))
}

fn datetime_of(micros: i64, ty: Type) -> Result<PrimitiveDateTime, TypeError> {
    if micros == i64::MAX || micros == i64::MIN {
        return Err(out_of_range::<PrimitiveDateTime>(ty));
    }
    pg_epoch()
        .checked_add(Duration::microseconds(micros))
        .ok_or_else(|| out_of_range::<PrimitiveDateTime>(ty))
}

macro_rules! codec {
    ($rust:ty, $ty:expr, $to:expr, $from:expr) => {
        impl Encode for $rust {
            fn preferred_type(&self) -> Type {
                $ty
            }
            fn static_type() -> Type {
                $ty
            }
            fn accepts(&self, ty: Type) -> bool {
                ty == $ty
            }
            fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
                let to: fn(&$rust, Type) -> Result<_, TypeError> = $to;
                to(self, ty)?.encode(ty, out)
            }
        }

        impl Decode<'_> for $rust {
            fn accepts(ty: Type) -> bool {
                ty == $ty
            }
            fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
                let from: fn(_, Type) -> Result<$rust, TypeError> = $from;
                from(Decode::decode(ty, raw)?, ty)
            }
        }
    };
}

codec!(
    Date,
    Type::DATE,
    |d, _| Ok(PgDate::from_days(d.to_julian_day() - PG_EPOCH_JULIAN_DAY)),
    |d: PgDate, ty| {
        if d.is_infinite() {
            return Err(out_of_range::<Date>(ty));
        }
        d.days()
            .checked_add(PG_EPOCH_JULIAN_DAY)
            .and_then(|j| Date::from_julian_day(j).ok())
            .ok_or_else(|| out_of_range::<Date>(ty))
    }
);

codec!(
    Time,
    Type::TIME,
    |t, ty| {
        let (h, m, s, us) = t.as_hms_micro();
        PgTime::from_hms_micro(h.into(), m.into(), s.into(), us)
            .ok_or_else(|| out_of_range::<Time>(ty))
    },
    |t: PgTime, ty| {
        let us = t.micros();
        let h = u8::try_from(us / (3600 * USECS_PER_SEC)).map_err(|_| out_of_range::<Time>(ty))?;
        let m = (us / (60 * USECS_PER_SEC) % 60) as u8;
        let s = (us / USECS_PER_SEC % 60) as u8;
        let micro = (us % USECS_PER_SEC) as u32;
        Time::from_hms_micro(h, m, s, micro).map_err(|_| out_of_range::<Time>(ty))
    }
);

codec!(
    PrimitiveDateTime,
    Type::TIMESTAMP,
    |dt, ty| micros_of(*dt, ty).map(PgTimestamp::from_micros),
    |ts: PgTimestamp, ty| datetime_of(ts.micros(), ty)
);

codec!(
    OffsetDateTime,
    Type::TIMESTAMPTZ,
    |dt, ty| {
        let utc = dt.to_offset(time::UtcOffset::UTC);
        micros_of(PrimitiveDateTime::new(utc.date(), utc.time()), ty)
            .map(PgTimestampTz::from_micros)
    },
    |ts: PgTimestampTz, ty| datetime_of(ts.micros(), ty).map(PrimitiveDateTime::assume_utc)
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::decode_value;

    fn round<T: Encode + for<'a> Decode<'a> + PartialEq + std::fmt::Debug>(
        v: T,
        ty: Type,
    ) -> Vec<u8> {
        let mut out = BytesMut::new();
        v.encode(ty, &mut out).unwrap();
        assert_eq!(decode_value::<T>(ty, Some(&out)), Ok(v));
        out.to_vec()
    }

    #[test]
    fn time_round_trips() {
        let d = Date::from_calendar_date(2000, time::Month::January, 2).unwrap();
        assert_eq!(round(d, Type::DATE), 1i32.to_be_bytes());
        let t = Time::from_hms_micro(23, 59, 59, 999_999).unwrap();
        round(t, Type::TIME);
        let dt = PrimitiveDateTime::new(d, t);
        round(dt, Type::TIMESTAMP);
        round(dt.assume_utc(), Type::TIMESTAMPTZ);
        assert!(decode_value::<Date>(Type::DATE, Some(&i32::MIN.to_be_bytes())).is_err());
    }
}
