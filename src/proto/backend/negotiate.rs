//! `NegotiateProtocolVersion`: the server's answer to a protocol version or
//! option it does not support.
//!
//! Owns decoding of the `v` message. Choosing what to do about it (accept
//! the older minor version, fail) belongs to the startup state machine.

use bytes::Bytes;

use super::super::ProtoError;
use super::reader::{Reader, text_at};

const MESSAGE: &str = "NegotiateProtocolVersion";

/// The newest minor protocol version the server supports, and the
/// `_pq_.`-prefixed startup options it did not recognise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateProtocolVersion {
    newest_minor: u32,
    option_count: u32,
    /// The whole body; option names start at byte 8.
    body: Bytes,
}

impl NegotiateProtocolVersion {
    /// Decodes a `v` message body; the option count must match the names
    /// that follow exactly.
    pub fn parse(body: Bytes) -> Result<Self, ProtoError> {
        let mut r = Reader::new(&body, MESSAGE);
        let newest_minor = r.u32()?;
        let option_count = r.u32()?;
        for _ in 0..option_count {
            r.cstr()?;
        }
        r.finish()?;
        Ok(Self {
            newest_minor,
            option_count,
            body,
        })
    }

    /// The newest minor version of the requested major version that the
    /// server supports.
    ///
    /// The protocol documentation describes the field as the minor version;
    /// servers send the whole version number (`major << 16 | minor`, e.g.
    /// `0x0003_0000` from PostgreSQL 15), so the low 16 bits are the minor
    /// version either way.
    pub fn newest_minor(&self) -> u16 {
        (self.newest_minor & 0xffff) as u16
    }

    /// The field as sent (the server's whole version number).
    pub fn newest_version_raw(&self) -> u32 {
        self.newest_minor
    }

    /// The protocol options the server did not recognise.
    pub fn unrecognized_options(&self) -> OptionNames<'_> {
        OptionNames {
            body: &self.body,
            pos: 8,
            left: self.option_count,
        }
    }
}

/// Iterator over [`NegotiateProtocolVersion::unrecognized_options`].
#[derive(Debug, Clone)]
pub struct OptionNames<'a> {
    body: &'a [u8],
    pos: usize,
    left: u32,
}

impl<'a> Iterator for OptionNames<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.left == 0 {
            return None;
        }
        let nul = memchr::memchr(0, self.body.get(self.pos..)?)?;
        let name = text_at(self.body, self.pos..self.pos + nul);
        self.pos += nul + 1;
        self.left -= 1;
        Some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &'static [u8]) -> Result<NegotiateProtocolVersion, ProtoError> {
        NegotiateProtocolVersion::parse(Bytes::from_static(body))
    }

    #[test]
    fn decodes_version_and_options() {
        let n = parse(b"\0\0\0\x00\0\0\0\x02_pq_.a\0_pq_.b\0").unwrap();
        assert_eq!(n.newest_minor(), 0);
        assert_eq!(
            n.unrecognized_options().collect::<Vec<_>>(),
            ["_pq_.a", "_pq_.b"]
        );

        let n = parse(b"\0\0\0\x02\0\0\0\0").unwrap();
        assert_eq!(n.newest_minor(), 2);
        assert_eq!(n.unrecognized_options().count(), 0);
    }

    #[test]
    fn count_must_match_names() {
        assert_eq!(
            parse(b"\0\0\0\x00\0\0\0\x02_pq_.a\0"),
            Err(ProtoError::MissingNul { message: MESSAGE })
        );
        assert_eq!(
            parse(b"\0\0\0\x00\0\0\0\x01_pq_.a\0x\0"),
            Err(ProtoError::TrailingBytes {
                message: MESSAGE,
                extra: 2
            })
        );
        // A huge count is walked against the body, never allocated for.
        assert_eq!(
            parse(b"\0\0\0\x00\xff\xff\xff\xff"),
            Err(ProtoError::MissingNul { message: MESSAGE })
        );
        assert_eq!(
            parse(b"\0\0\0"),
            Err(ProtoError::Truncated { message: MESSAGE })
        );
    }
}
