//! `std::time::SystemTime` as `timestamptz`, with no feature needed.
//!
//! Owns the conversion between an instant of the system clock and
//! PostgreSQL's microseconds since 2000-01-01 00:00:00 UTC. PostgreSQL keeps
//! microseconds: finer parts are truncated toward the past on encode, so
//! every value decoded from the server encodes back to the same bytes.
//! `±infinity` and instants the other side cannot hold are
//! [`TypeError::OutOfRange`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;

use super::{Decode, Encode, IsNull, PgTimestampTz, Type, TypeError};

/// Seconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00:00 UTC).
const PG_EPOCH_UNIX_SECS: i128 = 946_684_800;

fn out_of_range() -> TypeError {
    TypeError::OutOfRange {
        rust: "std::time::SystemTime",
        pg: Type::TIMESTAMPTZ,
    }
}

/// Microseconds since PostgreSQL's epoch, rounded toward the past; `None`
/// when they do not fit (or would read as an infinity).
fn micros_of(t: SystemTime) -> Option<i64> {
    let unix_nanos: i128 = match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).ok()?,
        Err(before) => -i128::try_from(before.duration().as_nanos()).ok()?,
    };
    let micros = unix_nanos.div_euclid(1000) - PG_EPOCH_UNIX_SECS * 1_000_000;
    let micros = i64::try_from(micros).ok()?;
    (micros != i64::MAX && micros != i64::MIN).then_some(micros)
}

/// The instant `micros` after PostgreSQL's epoch; `None` for the
/// infinities and instants the system clock type cannot hold.
fn time_of(micros: i64) -> Option<SystemTime> {
    if micros == i64::MAX || micros == i64::MIN {
        return None;
    }
    let unix_micros = i128::from(micros) + PG_EPOCH_UNIX_SECS * 1_000_000;
    let magnitude = Duration::from_micros(u64::try_from(unix_micros.unsigned_abs()).ok()?);
    if unix_micros >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    }
}

impl Encode for SystemTime {
    fn preferred_type(&self) -> Type {
        Type::TIMESTAMPTZ
    }
    fn static_type() -> Type {
        Type::TIMESTAMPTZ
    }
    fn accepts(&self, ty: Type) -> bool {
        ty == Type::TIMESTAMPTZ
    }
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        let micros = micros_of(*self).ok_or_else(out_of_range)?;
        PgTimestampTz::from_micros(micros).encode(ty, out)
    }
}

impl Decode<'_> for SystemTime {
    fn accepts(ty: Type) -> bool {
        ty == Type::TIMESTAMPTZ
    }
    fn decode(ty: Type, raw: &[u8]) -> Result<Self, TypeError> {
        let ts = PgTimestampTz::decode(ty, raw)?;
        time_of(ts.micros()).ok_or_else(out_of_range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::decode_value;

    fn encoded(t: SystemTime) -> Result<Vec<u8>, TypeError> {
        let mut out = BytesMut::new();
        t.encode(Type::TIMESTAMPTZ, &mut out)?;
        Ok(out.to_vec())
    }

    #[test]
    fn the_epochs_and_a_microsecond_either_side() {
        let pg_epoch = UNIX_EPOCH + Duration::from_secs(946_684_800);
        assert_eq!(encoded(pg_epoch).unwrap(), 0i64.to_be_bytes());
        let after = pg_epoch + Duration::from_micros(1);
        assert_eq!(encoded(after).unwrap(), 1i64.to_be_bytes());
        let before = pg_epoch - Duration::from_micros(1);
        assert_eq!(encoded(before).unwrap(), (-1i64).to_be_bytes());
        assert_eq!(
            encoded(UNIX_EPOCH).unwrap(),
            (-946_684_800_000_000i64).to_be_bytes()
        );
        for t in [pg_epoch, after, before, UNIX_EPOCH] {
            let bytes = encoded(t).unwrap();
            assert_eq!(
                decode_value::<SystemTime>(Type::TIMESTAMPTZ, Some(&bytes)),
                Ok(t)
            );
        }
    }

    #[test]
    fn sub_microseconds_are_truncated_toward_the_past() {
        let pg_epoch = UNIX_EPOCH + Duration::from_secs(946_684_800);
        let t = pg_epoch + Duration::from_nanos(1_999);
        assert_eq!(encoded(t).unwrap(), 1i64.to_be_bytes());
        // Before the Unix epoch too: -1.5 µs is in the microsecond from -2 to -1.
        let t = UNIX_EPOCH - Duration::from_nanos(1_500);
        assert_eq!(encoded(t).unwrap(), (-946_684_800_000_002i64).to_be_bytes());
    }

    #[test]
    fn infinities_and_far_instants_are_out_of_range() {
        for micros in [i64::MAX, i64::MIN] {
            let err = decode_value::<SystemTime>(Type::TIMESTAMPTZ, Some(&micros.to_be_bytes()));
            assert!(matches!(err, Err(TypeError::OutOfRange { .. })), "{err:?}");
        }
        let far = UNIX_EPOCH + Duration::from_secs(u64::MAX / 2);
        assert!(matches!(encoded(far), Err(TypeError::OutOfRange { .. })));
        assert!(!<SystemTime as Decode>::accepts(Type::TIMESTAMP));
        assert!(decode_value::<SystemTime>(Type::TIMESTAMPTZ, Some(&[0; 7])).is_err());
    }
}
