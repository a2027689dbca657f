//! `Notification`: a `NOTIFY` delivered to this session (`A` messages).
//!
//! Owns decoding of NotificationResponse. Routing notifications to
//! listeners belongs to the connection.

use bytes::Bytes;

use super::super::ProtoError;
use super::reader::{Reader, text_at};

const MESSAGE: &str = "NotificationResponse";

/// An asynchronous notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    process_id: u32,
    body: Bytes,
    channel_end: usize,
}

impl Notification {
    /// Decodes an `A` message body: the notifying backend's process id,
    /// then the channel and payload as UTF-8 C strings.
    pub fn parse(body: Bytes) -> Result<Self, ProtoError> {
        let mut r = Reader::new(&body, MESSAGE);
        let process_id = r.u32()?;
        let channel = r.cstr_range()?;
        if std::str::from_utf8(body.get(channel.clone()).unwrap_or_default()).is_err() {
            return Err(ProtoError::InvalidUtf8 { message: MESSAGE });
        }
        r.cstr()?;
        r.finish()?;
        Ok(Self {
            process_id,
            channel_end: channel.end,
            body,
        })
    }

    /// The process id of the backend that sent the notification.
    pub fn process_id(&self) -> u32 {
        self.process_id
    }

    /// The channel name.
    pub fn channel(&self) -> &str {
        text_at(&self.body, 4..self.channel_end)
    }

    /// The payload (empty when none was given).
    pub fn payload(&self) -> &str {
        text_at(
            &self.body,
            self.channel_end + 1..self.body.len().saturating_sub(1),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &'static [u8]) -> Result<Notification, ProtoError> {
        Notification::parse(Bytes::from_static(b))
    }

    #[test]
    fn decodes() {
        let n = parse(b"\0\0\x01\0jobs\0{\"id\":1}\0").unwrap();
        assert_eq!(n.process_id(), 256);
        assert_eq!(n.channel(), "jobs");
        assert_eq!(n.payload(), "{\"id\":1}");
        let n = parse(b"\0\0\0\x01c\0\0").unwrap();
        assert_eq!((n.channel(), n.payload()), ("c", ""));
    }

    #[test]
    fn malformed() {
        assert_eq!(parse(b"0"), Err(ProtoError::Truncated { message: MESSAGE }));
        assert_eq!(
            parse(b"\0\0\0\x01c\0p"),
            Err(ProtoError::MissingNul { message: MESSAGE })
        );
        assert_eq!(
            parse(b"\0\0\0\x01\xff\0p\0"),
            Err(ProtoError::InvalidUtf8 { message: MESSAGE })
        );
        assert_eq!(
            parse(b"\0\0\0\x01c\0p\0\0"),
            Err(ProtoError::TrailingBytes {
                message: MESSAGE,
                extra: 1
            })
        );
    }
}
