//! Session status reports: `ParameterStatus` (`S`) and the transaction
//! status carried by `ReadyForQuery` (`Z`).
//!
//! Owns decoding of both. Tracking the current parameter values or the
//! transaction state over time belongs to the connection.

use bytes::Bytes;

use super::super::ProtoError;
use super::reader::{Reader, text_at};

/// A run-time parameter the server reports (at startup, and whenever it
/// changes): `server_version`, `client_encoding`, `TimeZone`, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterStatus {
    body: Bytes,
    name_end: usize,
}

impl ParameterStatus {
    const MESSAGE: &'static str = "ParameterStatus";

    /// Decodes an `S` message body: two UTF-8 C strings.
    pub fn parse(body: Bytes) -> Result<Self, ProtoError> {
        let mut r = Reader::new(&body, Self::MESSAGE);
        let name_end = r.cstr()?.len();
        r.cstr()?;
        r.finish()?;
        Ok(Self { body, name_end })
    }

    /// The parameter's name.
    pub fn name(&self) -> &str {
        text_at(&self.body, 0..self.name_end)
    }

    /// The parameter's new value.
    pub fn value(&self) -> &str {
        let start = self.name_end + 1;
        text_at(&self.body, start..self.body.len().saturating_sub(1))
    }
}

/// The transaction status in a `ReadyForQuery` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionStatus {
    /// `'I'`: not in a transaction block.
    Idle,
    /// `'T'`: in a transaction block.
    InTransaction,
    /// `'E'`: in a failed transaction block; queries are rejected until it
    /// ends.
    Failed,
}

impl TransactionStatus {
    const MESSAGE: &'static str = "ReadyForQuery";

    /// Decodes a `Z` message body: exactly one status byte.
    pub fn parse(body: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(body, Self::MESSAGE);
        let Some(status) = Self::from_byte(r.u8()?) else {
            return Err(r.invalid("transaction status is not 'I', 'T' or 'E'"));
        };
        r.finish()?;
        Ok(status)
    }

    /// The status a byte as sent stands for (the inverse of
    /// [`TransactionStatus::as_byte`]); `None` for any other byte.
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            b'I' => Some(Self::Idle),
            b'T' => Some(Self::InTransaction),
            b'E' => Some(Self::Failed),
            _ => None,
        }
    }

    /// The status byte as sent.
    pub fn as_byte(self) -> u8 {
        match self {
            Self::Idle => b'I',
            Self::InTransaction => b'T',
            Self::Failed => b'E',
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_status() {
        let p = ParameterStatus::parse(Bytes::from_static(b"TimeZone\0Europe/Paris\0")).unwrap();
        assert_eq!((p.name(), p.value()), ("TimeZone", "Europe/Paris"));
        let p = ParameterStatus::parse(Bytes::from_static(b"application_name\0\0")).unwrap();
        assert_eq!((p.name(), p.value()), ("application_name", ""));
    }

    #[test]
    fn parameter_status_malformed() {
        let m = ParameterStatus::MESSAGE;
        let parse = |b: &'static [u8]| ParameterStatus::parse(Bytes::from_static(b));
        assert_eq!(parse(b"a\0b"), Err(ProtoError::MissingNul { message: m }));
        assert_eq!(parse(b""), Err(ProtoError::MissingNul { message: m }));
        assert_eq!(
            parse(b"a\0\xc3\0"),
            Err(ProtoError::InvalidUtf8 { message: m })
        );
        assert_eq!(
            parse(b"a\0b\0c"),
            Err(ProtoError::TrailingBytes {
                message: m,
                extra: 1
            })
        );
    }

    #[test]
    fn transaction_status() {
        assert_eq!(TransactionStatus::parse(b"I"), Ok(TransactionStatus::Idle));
        assert_eq!(
            TransactionStatus::parse(b"T"),
            Ok(TransactionStatus::InTransaction)
        );
        assert_eq!(
            TransactionStatus::parse(b"E"),
            Ok(TransactionStatus::Failed)
        );
        assert_eq!(TransactionStatus::Failed.as_byte(), b'E');
        let m = TransactionStatus::MESSAGE;
        assert!(matches!(
            TransactionStatus::parse(b"X"),
            Err(ProtoError::InvalidValue { message, .. }) if message == m
        ));
        assert_eq!(
            TransactionStatus::parse(b""),
            Err(ProtoError::Truncated { message: m })
        );
        assert_eq!(
            TransactionStatus::parse(b"II"),
            Err(ProtoError::TrailingBytes {
                message: m,
                extra: 1
            })
        );
    }
}
