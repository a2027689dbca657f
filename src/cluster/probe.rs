//! What one probe of a node reports, and reading it from the probe's reply.
//!
//! Owns [`ProbeReport`] and its parsing from the text columns of the
//! monitor's one-round-trip probe (`pg_is_in_recovery()`, an LSN, a
//! timeline, `transaction_read_only`), with a typed [`ProbeParseError`] for
//! anything a server (or a proxy in the way) could send that does not fit.
//! The query itself and the connection belong to the monitor above; this
//! module is pure.
//!
//! The timeline column may be a number (a standby's `received_tli`) or a
//! WAL file name, whose first eight hex digits are the timeline: on a
//! primary the timeline is read as the prefix of
//! `pg_walfile_name(pg_current_wal_lsn())`, since `pg_control_checkpoint()`
//! still shows the old timeline right after a promotion.

use std::fmt;

use super::lsn::{Lsn, LsnParseError};
use super::topology::Role;

/// What one probe of a node reported (one round trip:
/// `pg_is_in_recovery()`, the LSN, the timeline, `transaction_read_only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeReport {
    /// `pg_is_in_recovery()`.
    pub in_recovery: bool,
    /// The current insert position on a primary, the replay position on a
    /// standby.
    pub lsn: Lsn,
    /// The timeline the node is on.
    pub timeline: u32,
    /// `transaction_read_only` of the probe's session.
    pub read_only: bool,
}

impl ProbeReport {
    /// The role the report shows.
    pub fn role(&self) -> Role {
        Role::from_in_recovery(self.in_recovery)
    }

    /// Reads a report from the probe's text columns: `in_recovery` and
    /// `read_only` as PostgreSQL prints booleans and settings (`t`/`f`,
    /// `on`/`off`), `lsn` as `X/Y`, `timeline` as a decimal number or a
    /// 24-hex-digit WAL file name.
    pub fn from_text(
        in_recovery: &str,
        lsn: &str,
        timeline: &str,
        read_only: &str,
    ) -> Result<Self, ProbeParseError> {
        Ok(Self {
            in_recovery: parse_flag(in_recovery, ProbeField::InRecovery)?,
            lsn: lsn.parse().map_err(ProbeParseError::Lsn)?,
            timeline: parse_timeline(timeline)?,
            read_only: parse_flag(read_only, ProbeField::ReadOnly)?,
        })
    }
}

/// The length of a WAL segment file name: timeline, log and segment, eight
/// hex digits each.
const WAL_FILE_NAME_LEN: usize = 24;

/// The timeline of a WAL file name (`000000020000000000000003` is on
/// timeline 2).
pub fn timeline_from_wal_file_name(name: &str) -> Result<u32, ProbeParseError> {
    if name.len() != WAL_FILE_NAME_LEN || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ProbeParseError::InvalidWalFileName);
    }
    let timeline =
        u32::from_str_radix(&name[..8], 16).map_err(|_| ProbeParseError::InvalidWalFileName)?;
    nonzero_timeline(timeline)
}

/// A timeline given as a decimal number or as a WAL file name.
pub fn parse_timeline(text: &str) -> Result<u32, ProbeParseError> {
    if text.len() == WAL_FILE_NAME_LEN {
        return timeline_from_wal_file_name(text);
    }
    // `u32::from_str` accepts a leading `+`; the server never prints one.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProbeParseError::InvalidTimeline);
    }
    let timeline = text
        .parse::<u32>()
        .map_err(|_| ProbeParseError::InvalidTimeline)?;
    nonzero_timeline(timeline)
}

fn nonzero_timeline(timeline: u32) -> Result<u32, ProbeParseError> {
    if timeline == 0 {
        Err(ProbeParseError::ZeroTimeline)
    } else {
        Ok(timeline)
    }
}

fn parse_flag(text: &str, field: ProbeField) -> Result<bool, ProbeParseError> {
    match text {
        "t" | "on" | "true" => Ok(true),
        "f" | "off" | "false" => Ok(false),
        _ => Err(ProbeParseError::NotABoolean(field)),
    }
}

/// A boolean column of the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeField {
    /// `pg_is_in_recovery()`.
    InRecovery,
    /// `transaction_read_only`.
    ReadOnly,
}

impl fmt::Display for ProbeField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InRecovery => "pg_is_in_recovery",
            Self::ReadOnly => "transaction_read_only",
        })
    }
}

/// Why a probe's reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeParseError {
    /// A boolean column is not `t`, `f`, `on`, `off`, `true` or `false`.
    NotABoolean(ProbeField),
    /// The LSN column is not `X/Y`.
    Lsn(LsnParseError),
    /// The timeline column is neither a decimal number that fits 32 bits
    /// nor a WAL file name.
    InvalidTimeline,
    /// A WAL file name is not 24 hex digits.
    InvalidWalFileName,
    /// The timeline is 0; PostgreSQL's timelines start at 1.
    ZeroTimeline,
}

impl fmt::Display for ProbeParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unreadable probe reply: ")?;
        match self {
            Self::NotABoolean(field) => write!(f, "{field} is not a boolean"),
            Self::Lsn(e) => fmt::Display::fmt(e, f),
            Self::InvalidTimeline => {
                f.write_str("the timeline is neither a number nor a WAL file name")
            }
            Self::InvalidWalFileName => f.write_str("a WAL file name is not 24 hex digits"),
            Self::ZeroTimeline => f.write_str("timeline 0"),
        }
    }
}

impl std::error::Error for ProbeParseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Lsn(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_a_primary_and_a_standby() {
        let primary =
            ProbeReport::from_text("f", "0/4003A88", "000000020000000000000004", "off").unwrap();
        assert_eq!(
            primary,
            ProbeReport {
                in_recovery: false,
                lsn: Lsn::new(0x0400_3A88),
                timeline: 2,
                read_only: false,
            }
        );
        assert_eq!(primary.role(), Role::Primary);
        let standby = ProbeReport::from_text("t", "0/3000060", "2", "on").unwrap();
        assert_eq!(standby.role(), Role::Standby);
        assert_eq!(standby.timeline, 2);
        assert!(standby.read_only);
    }

    #[test]
    fn bad_columns_are_typed_errors() {
        use ProbeParseError::*;
        let read = |a, b, c, d| ProbeReport::from_text(a, b, c, d);
        assert_eq!(
            read("yes", "0/1", "1", "on"),
            Err(NotABoolean(ProbeField::InRecovery))
        );
        assert_eq!(
            read("t", "0/1", "1", ""),
            Err(NotABoolean(ProbeField::ReadOnly))
        );
        assert_eq!(
            read("t", "01", "1", "on"),
            Err(Lsn(LsnParseError::MissingSlash))
        );
        assert_eq!(read("t", "0/1", "0", "on"), Err(ZeroTimeline));
        assert_eq!(read("t", "0/1", "", "on"), Err(InvalidTimeline));
        assert_eq!(read("t", "0/1", "+2", "on"), Err(InvalidTimeline));
        assert_eq!(read("t", "0/1", "-2", "on"), Err(InvalidTimeline));
        assert_eq!(read("t", "0/1", "4294967296", "on"), Err(InvalidTimeline));
        assert_eq!(
            read("t", "0/1", "4294967295", "on").map(|r| r.timeline),
            Ok(u32::MAX)
        );
        assert_eq!(
            read("f", "0/1", "00000000000000000000000G", "off"),
            Err(InvalidWalFileName)
        );
        assert_eq!(
            read("f", "0/1", "000000000000000000000004", "off"),
            Err(ZeroTimeline)
        );
        assert_eq!(
            timeline_from_wal_file_name("0000000A0000000000000004"),
            Ok(10)
        );
        assert_eq!(
            timeline_from_wal_file_name("00000002000000000000004"),
            Err(InvalidWalFileName)
        );
        assert_eq!(
            ZeroTimeline.to_string(),
            "unreadable probe reply: timeline 0"
        );
    }

    proptest! {
        #[test]
        fn any_text_is_read_or_refused_without_panic(
            a in "\\PC{0,6}", b in "\\PC{0,20}", c in "\\PC{0,26}", d in "\\PC{0,6}",
        ) {
            let _ = ProbeReport::from_text(&a, &b, &c, &d);
        }

        #[test]
        fn wal_file_names_give_their_timeline(timeline in 1u32.., log: u32, seg: u32) {
            let name = format!("{timeline:08X}{log:08X}{seg:08X}");
            prop_assert_eq!(parse_timeline(&name), Ok(timeline));
            prop_assert_eq!(parse_timeline(&timeline.to_string()), Ok(timeline));
        }
    }
}
