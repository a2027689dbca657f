//! The server's one-byte answer to an SSLRequest (also sent before a
//! CancelRequest over TLS).
//!
//! Owns reading that byte. It must not read anything after it: bytes that
//! arrive after `S` and before the TLS handshake are not protected by TLS,
//! and taking them as part of the session would let a man in the middle
//! inject them (CVE-2021-23222).

use super::super::ProtoError;

const MESSAGE: &str = "SSLRequest response";

/// What the server answered to an SSLRequest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslResponse {
    /// `S`: the server goes on with a TLS handshake.
    Accepted,
    /// `N`: the server does not do TLS; the session may go on in plain text.
    Refused,
}

impl SslResponse {
    /// Reads the answer byte. `E` (a server too old to know SSLRequest,
    /// starting an ErrorResponse) and any other byte are errors.
    pub fn parse(byte: u8) -> Result<Self, ProtoError> {
        match byte {
            b'S' => Ok(Self::Accepted),
            b'N' => Ok(Self::Refused),
            b'E' => Err(ProtoError::InvalidValue {
                message: MESSAGE,
                what: "the server answered with an error (it does not support SSLRequest)",
            }),
            _ => Err(ProtoError::InvalidValue {
                message: MESSAGE,
                what: "the answer is neither 'S' nor 'N'",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_is_answered() {
        for byte in 0..=u8::MAX {
            let got = SslResponse::parse(byte);
            match byte {
                b'S' => assert_eq!(got, Ok(SslResponse::Accepted)),
                b'N' => assert_eq!(got, Ok(SslResponse::Refused)),
                _ => assert!(
                    matches!(got, Err(ProtoError::InvalidValue { .. })),
                    "{byte:#04x}"
                ),
            }
        }
    }
}
