//! `chrono` types for date/time columns (`chrono` feature): `NaiveDate`
//! (date), `NaiveTime` (time), `NaiveDateTime` (timestamp) and
//! `DateTime<Utc>` (timestamptz). ±infinity and dates outside chrono's
//! range are [`TypeError::OutOfRange`].

use bytes::BytesMut;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

use super::datetime::USECS_PER_SEC;
use super::{Decode, Encode, IsNull, PgDate, PgTime, PgTimestamp, PgTimestampTz, Type, TypeError};

fn pg_epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

fn out_of_range<T>(ty: Type) -> TypeError {
    TypeError::OutOfRange {
        rust: std::any::type_name::<T>(),
        pg: ty,
    }
}

fn micros_of(dt: NaiveDateTime, ty: Type) -> Result<i64, TypeError> {
    (dt - pg_epoch())
        .num_microseconds()
        .ok_or_else(|| out_of_range::<NaiveDateTime>(ty))
}

fn datetime_of(micros: i64, ty: Type) -> Result<NaiveDateTime, TypeError> {
    if micros == i64::MAX || micros == i64::MIN {
        return Err(out_of_range::<NaiveDateTime>(ty));
    }
    pg_epoch()
        .checked_add_signed(Duration::microseconds(micros))
        .ok_or_else(|| out_of_range::<NaiveDateTime>(ty))
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
    NaiveDate,
    Type::DATE,
    |d, ty| {
        let days = (*d - pg_epoch().date()).num_days();
        i32::try_from(days)
            .map(PgDate::from_days)
            .map_err(|_| out_of_range::<NaiveDate>(ty))
    },
    |d: PgDate, ty| {
        if d.is_infinite() {
            return Err(out_of_range::<NaiveDate>(ty));
        }
        pg_epoch()
            .date()
            .checked_add_signed(Duration::days(d.days().into()))
            .ok_or_else(|| out_of_range::<NaiveDate>(ty))
    }
);

codec!(
    NaiveTime,
    Type::TIME,
    |t, ty| {
        let micros = i64::from(t.num_seconds_from_midnight()) * USECS_PER_SEC
            + i64::from(t.nanosecond() % 1_000_000_000 / 1000);
        PgTime::from_micros(micros).ok_or_else(|| out_of_range::<NaiveTime>(ty))
    },
    |t: PgTime, ty| {
        let micros = t.micros();
        let secs =
            u32::try_from(micros / USECS_PER_SEC).map_err(|_| out_of_range::<NaiveTime>(ty))?;
        let nanos = u32::try_from(micros % USECS_PER_SEC * 1000)
            .map_err(|_| out_of_range::<NaiveTime>(ty))?;
        NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos)
            .ok_or_else(|| out_of_range::<NaiveTime>(ty))
    }
);

codec!(
    NaiveDateTime,
    Type::TIMESTAMP,
    |dt, ty| micros_of(*dt, ty).map(PgTimestamp::from_micros),
    |ts: PgTimestamp, ty| datetime_of(ts.micros(), ty)
);

codec!(
    DateTime<Utc>,
    Type::TIMESTAMPTZ,
    |dt, ty| micros_of(dt.naive_utc(), ty).map(PgTimestampTz::from_micros),
    |ts: PgTimestampTz, ty| datetime_of(ts.micros(), ty).map(|n| n.and_utc())
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
    fn chrono_round_trips() {
        let d = NaiveDate::from_ymd_opt(2000, 1, 2).unwrap();
        assert_eq!(round(d, Type::DATE), 1i32.to_be_bytes());
        let bc = NaiveDate::from_ymd_opt(-43, 3, 15).unwrap();
        round(bc, Type::DATE);
        let t = NaiveTime::from_hms_micro_opt(1, 2, 3, 4).unwrap();
        round(t, Type::TIME);
        let dt = d.and_time(t);
        round(dt, Type::TIMESTAMP);
        round(dt.and_utc(), Type::TIMESTAMPTZ);
        assert!(decode_value::<NaiveDate>(Type::DATE, Some(&i32::MAX.to_be_bytes())).is_err());
        assert!(
            decode_value::<NaiveDateTime>(Type::TIMESTAMP, Some(&i64::MIN.to_be_bytes())).is_err()
        );
    }
}
