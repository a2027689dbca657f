//! [`Lsn`]: a position in PostgreSQL's write-ahead log.
//!
//! Owns the 64-bit position and its text form, `X/Y`: the high and low 32
//! bits as up to eight hexadecimal digits each (`0/4003A88`), the form
//! `pg_lsn` prints and parses. Parsing follows the server's rules exactly
//! (one to eight hex digits on each side of a single slash, nothing else, no
//! white space) and reports what is wrong as an [`LsnParseError`]; printing
//! uses upper-case digits without leading zeros, as `pg_lsn` output does
//! before PostgreSQL 18. Zero-padded input (`0/04003A88`) is accepted.
//!
//! The same type carries the replication positions the monitor samples and
//! the read-your-writes token a session exports. It must stay free of I/O.

use std::fmt;
use std::str::FromStr;

/// A write-ahead log position (PostgreSQL's `pg_lsn`, `XLogRecPtr`).
///
/// Ordered like the log: a later position compares greater. The difference
/// of two positions is a number of bytes ([`Lsn::bytes_since`]).
///
/// ```
/// use pgline::cluster::Lsn;
///
/// let lsn: Lsn = "0/4003A88".parse().unwrap();
/// assert_eq!(lsn.as_u64(), 0x0400_3A88);
/// assert_eq!(lsn.to_string(), "0/4003A88");
/// assert_eq!("16/B374D848".parse::<Lsn>().unwrap().as_u64(), 0x16_B374_D848);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(u64);

impl Lsn {
    /// `0/0`, the position before any log was written.
    pub const ZERO: Self = Self(0);

    /// The position `value` bytes into the log.
    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    /// The position as a byte offset.
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// How many bytes of log lie between `earlier` and `self`; zero when
    /// `earlier` is not before `self` (never negative).
    pub const fn bytes_since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl From<u64> for Lsn {
    fn from(value: u64) -> Self {
        Self(value)
    }
}

impl From<Lsn> for u64 {
    fn from(lsn: Lsn) -> Self {
        lsn.0
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// The most hex digits on either side of the slash.
const MAX_DIGITS: usize = 8;

impl FromStr for Lsn {
    type Err = LsnParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(LsnParseError::Empty);
        }
        let bytes = s.as_bytes();
        let high_len = bytes.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        match bytes.get(high_len) {
            Some(b'/') => {}
            None => return Err(LsnParseError::MissingSlash),
            Some(_) if !bytes.contains(&b'/') => return Err(LsnParseError::MissingSlash),
            Some(_) => return Err(LsnParseError::InvalidDigit { position: high_len }),
        }
        let high = parse_half(&s[..high_len], LsnHalf::High)?;
        let low_start = high_len + 1;
        let rest = &bytes[low_start..];
        let low_len = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if low_len < rest.len() {
            return Err(LsnParseError::InvalidDigit {
                position: low_start + low_len,
            });
        }
        let low = parse_half(&s[low_start..], LsnHalf::Low)?;
        Ok(Self((u64::from(high) << 32) | u64::from(low)))
    }
}

/// Parses one side of the slash; `digits` holds ASCII hex digits only.
fn parse_half(digits: &str, half: LsnHalf) -> Result<u32, LsnParseError> {
    if digits.is_empty() {
        return Err(LsnParseError::EmptyHalf(half));
    }
    if digits.len() > MAX_DIGITS {
        return Err(LsnParseError::HalfTooLong {
            half,
            digits: digits.len(),
        });
    }
    // At most eight hex digits always fit in a u32, so this cannot fail;
    // the error is mapped anyway rather than unwrapped.
    u32::from_str_radix(digits, 16).map_err(|_| LsnParseError::HalfTooLong {
        half,
        digits: digits.len(),
    })
}

/// Which side of the slash an [`LsnParseError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LsnHalf {
    /// The high 32 bits, before the slash.
    High,
    /// The low 32 bits, after the slash.
    Low,
}

impl fmt::Display for LsnHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::High => "before the slash",
            Self::Low => "after the slash",
        })
    }
}

/// Why a text is not an [`Lsn`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LsnParseError {
    /// The text is empty.
    Empty,
    /// There is no `/` between the two halves.
    MissingSlash,
    /// A side of the slash has no digits (`/1A`, `0/`).
    EmptyHalf(LsnHalf),
    /// A side of the slash has more than eight digits.
    HalfTooLong {
        /// Which side.
        half: LsnHalf,
        /// How many hex digits it has.
        digits: usize,
    },
    /// A byte that is not a hexadecimal digit (or a second slash, or white
    /// space), at this byte offset.
    InvalidDigit {
        /// The byte offset of the first bad byte.
        position: usize,
    },
}

impl fmt::Display for LsnParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid LSN: ")?;
        match self {
            Self::Empty => f.write_str("empty text, expected X/Y (e.g. 0/4003A88)"),
            Self::MissingSlash => f.write_str("no slash, expected X/Y (e.g. 0/4003A88)"),
            Self::EmptyHalf(half) => write!(f, "no hex digits {half}"),
            Self::HalfTooLong { half, digits } => {
                write!(
                    f,
                    "{digits} hex digits {half}, at most {MAX_DIGITS} allowed"
                )
            }
            Self::InvalidDigit { position } => {
                write!(f, "not a hex digit at byte {position}")
            }
        }
    }
}

impl std::error::Error for LsnParseError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> Result<Lsn, LsnParseError> {
        s.parse()
    }

    #[test]
    fn parses_and_prints_server_forms() {
        assert_eq!(parse("0/4003A88"), Ok(Lsn::new(0x0400_3A88)));
        assert_eq!(parse("0/0"), Ok(Lsn::ZERO));
        assert_eq!(parse("16/B374D848"), Ok(Lsn::new(0x16_B374_D848)));
        assert_eq!(parse("FFFFFFFF/FFFFFFFF"), Ok(Lsn::new(u64::MAX)));
        // Lower case and zero padding (PostgreSQL 18 pads the low half).
        assert_eq!(parse("16/b374d848"), Ok(Lsn::new(0x16_B374_D848)));
        assert_eq!(parse("00000000/04003A88"), Ok(Lsn::new(0x0400_3A88)));

        assert_eq!(Lsn::new(0x0400_3A88).to_string(), "0/4003A88");
        assert_eq!(Lsn::ZERO.to_string(), "0/0");
        assert_eq!(Lsn::new(u64::MAX).to_string(), "FFFFFFFF/FFFFFFFF");
        assert_eq!(Lsn::new(1 << 32).to_string(), "1/0");
    }

    #[test]
    fn parse_errors_are_typed() {
        use LsnHalf::{High, Low};
        assert_eq!(parse(""), Err(LsnParseError::Empty));
        assert_eq!(parse("4003A88"), Err(LsnParseError::MissingSlash));
        assert_eq!(parse("0-4003A88"), Err(LsnParseError::MissingSlash));
        assert_eq!(parse("/1"), Err(LsnParseError::EmptyHalf(High)));
        assert_eq!(parse("1/"), Err(LsnParseError::EmptyHalf(Low)));
        assert_eq!(parse("/"), Err(LsnParseError::EmptyHalf(High)));
        assert_eq!(
            parse("100000000/0"),
            Err(LsnParseError::HalfTooLong {
                half: High,
                digits: 9
            })
        );
        assert_eq!(
            parse("0/123456789"),
            Err(LsnParseError::HalfTooLong {
                half: Low,
                digits: 9
            })
        );
        assert_eq!(
            parse("0/4003G88"),
            Err(LsnParseError::InvalidDigit { position: 6 })
        );
        assert_eq!(
            parse("x/1"),
            Err(LsnParseError::InvalidDigit { position: 0 })
        );
        assert_eq!(
            parse("0/1/2"),
            Err(LsnParseError::InvalidDigit { position: 3 })
        );
        assert_eq!(
            parse(" 0/1"),
            Err(LsnParseError::InvalidDigit { position: 0 })
        );
        assert_eq!(
            parse("0/1 "),
            Err(LsnParseError::InvalidDigit { position: 3 })
        );
        assert_eq!(
            parse("0/é"),
            Err(LsnParseError::InvalidDigit { position: 2 })
        );
        assert_eq!(
            parse("+1/1"),
            Err(LsnParseError::InvalidDigit { position: 0 })
        );
        assert_eq!(
            LsnParseError::HalfTooLong {
                half: Low,
                digits: 9
            }
            .to_string(),
            "invalid LSN: 9 hex digits after the slash, at most 8 allowed"
        );
    }

    #[test]
    fn bytes_since_never_goes_negative() {
        let a = Lsn::new(100);
        let b = Lsn::new(160);
        assert_eq!(b.bytes_since(a), 60);
        assert_eq!(a.bytes_since(b), 0);
        assert_eq!(a.bytes_since(a), 0);
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(value: u64) {
            let lsn = Lsn::new(value);
            prop_assert_eq!(parse(&lsn.to_string()), Ok(lsn));
        }

        #[test]
        fn canonical_text_round_trips(high: u32, low: u32) {
            let text = format!("{high:X}/{low:X}");
            let lsn = parse(&text).unwrap();
            prop_assert_eq!(lsn.to_string(), text);
            // Padded and lower-case forms name the same position.
            prop_assert_eq!(parse(&format!("{high:08x}/{low:08x}")), Ok(lsn));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,24}") {
            let _ = parse(&text);
        }
    }
}
