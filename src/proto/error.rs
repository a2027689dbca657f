//! `ProtoError`: everything that can be wrong with protocol bytes.
//!
//! Owns the precise error enum of the codec: each variant is named for what
//! the peer (or, for the encoders, the caller's argument) did. It must not
//! know about sockets, connections or the public `Error` type, which wraps it.

use std::fmt;

/// A protocol violation found while splitting, decoding or encoding messages.
///
/// Backend variants describe what the server sent; `message` names the
/// message being decoded (`"DataRow"`, `"ErrorResponse"`, …) and `what` the
/// field at fault. Frontend variants describe an argument that cannot be put
/// on the wire.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtoError {
    /// A length word below 4: it must count at least itself.
    InvalidLength {
        /// The message type byte.
        tag: u8,
        /// The length word as sent.
        len: u32,
    },
    /// A message longer than the configured maximum (backend), or than the
    /// protocol's `i32::MAX` length word allows (frontend).
    MessageTooLong {
        /// The message type byte (`0` for untagged startup-phase messages).
        tag: u8,
        /// The length, counting the length word itself.
        len: usize,
        /// The largest length accepted.
        max: usize,
    },
    /// A message type byte the protocol does not define for the backend.
    UnknownMessage {
        /// The message type byte.
        tag: u8,
    },
    /// The message body ended before a field it must contain.
    Truncated {
        /// The message being decoded.
        message: &'static str,
    },
    /// Bytes remained after the last field of the message.
    TrailingBytes {
        /// The message being decoded.
        message: &'static str,
        /// How many bytes were left over.
        extra: usize,
    },
    /// A string field has no NUL terminator inside the message.
    MissingNul {
        /// The message being decoded.
        message: &'static str,
    },
    /// A text field is not valid UTF-8.
    InvalidUtf8 {
        /// The message being decoded.
        message: &'static str,
    },
    /// A field holds a value the protocol does not allow there.
    InvalidValue {
        /// The message being decoded or encoded.
        message: &'static str,
        /// The field and what is wrong with it.
        what: &'static str,
    },
    /// An Authentication request code the protocol does not define.
    UnknownAuthentication {
        /// The request code as sent.
        code: u32,
    },
    /// Frontend: a string argument contains a NUL byte, which would end the
    /// C string early on the wire.
    NulInString {
        /// The argument at fault.
        what: &'static str,
    },
    /// Frontend: an argument longer than a message can carry (lengths on
    /// the wire are `i32`); it is refused before it is copied.
    ArgumentTooLong {
        /// The argument at fault.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The most the protocol allows for it.
        max: usize,
    },
    /// Frontend: more values than the message's 16-bit count can carry.
    TooManyValues {
        /// The message being encoded.
        message: &'static str,
        /// What was counted.
        what: &'static str,
        /// How many were given.
        count: usize,
        /// The most the message can carry.
        max: usize,
    },
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidLength { tag, len } => write!(
                f,
                "message {} has length {len}, below the minimum of 4",
                Tag(*tag)
            ),
            Self::MessageTooLong { tag, len, max } => write!(
                f,
                "message {} has length {len}, above the maximum of {max}",
                Tag(*tag)
            ),
            Self::UnknownMessage { tag } => write!(f, "unknown message type {}", Tag(*tag)),
            Self::Truncated { message } => write!(f, "{message} message is truncated"),
            Self::TrailingBytes { message, extra } => {
                write!(f, "{message} message has {extra} unexpected trailing bytes")
            }
            Self::MissingNul { message } => {
                write!(f, "{message} message has a string without a NUL terminator")
            }
            Self::InvalidUtf8 { message } => {
                write!(f, "{message} message has a text field that is not UTF-8")
            }
            Self::InvalidValue { message, what } => write!(f, "{message} message: {what}"),
            Self::UnknownAuthentication { code } => {
                write!(f, "unknown authentication request code {code}")
            }
            Self::NulInString { what } => write!(f, "{what} contains a NUL byte"),
            Self::ArgumentTooLong { what, len, max } => write!(
                f,
                "{what} is {len} bytes long, more than the protocol allows ({max})"
            ),
            Self::TooManyValues {
                message,
                what,
                count,
                max,
            } => write!(
                f,
                "{message} message: {count} {what}, at most {max} allowed"
            ),
        }
    }
}

impl std::error::Error for ProtoError {}

/// Shows a message type byte as `'Z'` when printable, else as `0x00`.
struct Tag(u8);

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "'{}'", char::from(self.0))
        } else {
            write!(f, "0x{:02x}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_tag_and_numbers() {
        let e = ProtoError::InvalidLength { tag: b'Z', len: 1 };
        assert_eq!(
            e.to_string(),
            "message 'Z' has length 1, below the minimum of 4"
        );
        let e = ProtoError::UnknownMessage { tag: 0 };
        assert_eq!(e.to_string(), "unknown message type 0x00");
        let e = ProtoError::TrailingBytes {
            message: "NoData",
            extra: 3,
        };
        assert_eq!(
            e.to_string(),
            "NoData message has 3 unexpected trailing bytes"
        );
        let e = ProtoError::NulInString { what: "sql" };
        assert_eq!(e.to_string(), "sql contains a NUL byte");
    }
}
