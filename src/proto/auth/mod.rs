//! Authentication primitives for the startup exchange: SCRAM-SHA-256 (with and
//! without channel binding), MD5 password hashing, SASLprep and the RFC 5929
//! `tls-server-end-point` channel-binding hash.
//!
//! Owns the cryptographic computations and the parsing of the SCRAM messages
//! a server sends. It must not do I/O, read clocks, frame protocol messages or
//! decide which method to use: the startup state machine feeds it the payloads
//! of `AuthenticationSASLContinue` / `AuthenticationSASLFinal` and sends what
//! it returns. The only randomness is the client nonce drawn by
//! [`scram::ScramSha256::new`]; tests inject a fixed one.

use std::fmt;

pub mod channel_binding;
pub mod md5;
mod saslprep;
pub mod scram;
#[cfg(test)]
mod test_vectors;

pub use saslprep::saslprep;

/// What went wrong in authentication, named for what the server (or its
/// certificate) did.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The server-first-message is not well formed; the text says which part.
    InvalidServerFirst(&'static str),
    /// The server's nonce does not start with the client's nonce, or adds
    /// nothing to it.
    NonceMismatch,
    /// The iteration count is not allowed (zero).
    InvalidIterationCount(u32),
    /// The iteration count is above the client's limit; refused before any
    /// key derivation so a server cannot make the client burn CPU.
    IterationCountTooHigh {
        /// The count the server asked for.
        count: u32,
        /// The highest count this client accepts.
        max: u32,
    },
    /// The salt is empty or not valid base64.
    InvalidSalt,
    /// The server sent a mandatory extension (`m=`) the client does not know.
    UnsupportedMandatoryExtension,
    /// The server ended the exchange with an `e=` attribute; the text is the
    /// server's error value.
    ServerError(String),
    /// The server-final-message is not well formed; the text says which part.
    InvalidServerFinal(&'static str),
    /// The server's signature (`v=`) does not match: the server does not know
    /// the password, or someone is in the middle.
    ServerSignatureMismatch,
    /// The server's certificate is signed with an algorithm that has no hash
    /// for `tls-server-end-point` (e.g. Ed25519), or one this client does not
    /// know.
    UnsupportedCertificateSignature,
    /// The server's certificate is not well-formed DER; the text says where.
    MalformedCertificate(&'static str),
    /// The operating system's random source failed while drawing a nonce.
    RandomSourceFailed,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidServerFirst(what) => {
                write!(f, "invalid SCRAM server-first-message: {what}")
            }
            Self::NonceMismatch => {
                f.write_str("SCRAM server nonce does not extend the client nonce")
            }
            Self::InvalidIterationCount(count) => {
                write!(f, "invalid SCRAM iteration count {count}")
            }
            Self::IterationCountTooHigh { count, max } => write!(
                f,
                "SCRAM iteration count {count} exceeds the client's limit of {max}"
            ),
            Self::InvalidSalt => f.write_str("invalid SCRAM salt"),
            Self::UnsupportedMandatoryExtension => {
                f.write_str("server requires an unsupported SCRAM extension")
            }
            Self::ServerError(value) => write!(f, "SCRAM server error: {value}"),
            Self::InvalidServerFinal(what) => {
                write!(f, "invalid SCRAM server-final-message: {what}")
            }
            Self::ServerSignatureMismatch => f.write_str("SCRAM server signature does not match"),
            Self::UnsupportedCertificateSignature => f.write_str(
                "server certificate signature algorithm has no hash for channel binding",
            ),
            Self::MalformedCertificate(what) => {
                write!(f, "malformed server certificate: {what}")
            }
            Self::RandomSourceFailed => f.write_str("the random source failed"),
        }
    }
}

impl std::error::Error for AuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_problem() {
        assert_eq!(
            AuthError::IterationCountTooHigh {
                count: 789_123_456,
                max: 100_000
            }
            .to_string(),
            "SCRAM iteration count 789123456 exceeds the client's limit of 100000"
        );
        assert_eq!(
            AuthError::ServerError("invalid-proof".into()).to_string(),
            "SCRAM server error: invalid-proof"
        );
        assert_eq!(
            AuthError::InvalidServerFirst("missing nonce").to_string(),
            "invalid SCRAM server-first-message: missing nonce"
        );
    }
}
