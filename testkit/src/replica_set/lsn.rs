//! WAL positions.
//!
//! Owns: [`Lsn`], parsed from and printed as PostgreSQL's `pg_lsn` text (`16/B374D848`).
//! Must not: talk to servers.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A WAL position (`pg_lsn`): a byte offset into the write-ahead log, ordered.
///
/// Text form as PostgreSQL prints it: two hexadecimal halves, `"0/3000148"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl FromStr for Lsn {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidInput(format!("{text:?} is not an LSN like 0/3000148"));
        let (high, low) = text.trim().split_once('/').ok_or_else(bad)?;
        let half = |part: &str| {
            if part.is_empty() || part.len() > 8 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            u32::from_str_radix(part, 16).map_err(|_| bad())
        };
        Ok(Self((u64::from(half(high)?) << 32) | u64::from(half(low)?)))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_orders() {
        let a: Lsn = "0/3000148".parse().unwrap();
        assert_eq!(a, Lsn(0x0300_0148));
        assert_eq!(a.to_string(), "0/3000148");
        let b: Lsn = "16/B374D848".parse().unwrap();
        assert_eq!(b.0, 0x16_B374_D848);
        assert_eq!(b.to_string(), "16/B374D848");
        assert!(b > a);
        assert_eq!("FFFFFFFF/FFFFFFFF".parse::<Lsn>().unwrap(), Lsn(u64::MAX));
    }

    #[test]
    fn rejects_what_is_not_an_lsn() {
        for bad in [
            "",
            "0",
            "/1",
            "1/",
            "0/x",
            "1/2/3",
            "100000000/0",
            "-1/0",
            "0/+1",
        ] {
            let err = bad.parse::<Lsn>().unwrap_err();
            assert!(matches!(err, Error::InvalidInput(_)), "{bad:?}: {err}");
        }
    }
}
