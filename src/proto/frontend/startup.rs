//! Startup-phase messages, which have no type byte: StartupMessage,
//! SSLRequest and CancelRequest.
//!
//! Owns their layout and the protocol version numbers. Choosing the
//! parameters, TLS or when to cancel belongs to `config` and the connection.

use bytes::{BufMut, BytesMut};

use super::super::ProtoError;
use super::super::backend::{MAX_SECRET_KEY_LEN, MIN_SECRET_KEY_LEN};
use super::{put_cstr, untagged};

/// The request code of an SSLRequest: 1234 in the high 16 bits, 5679 in the
/// low 16 bits.
pub const SSL_REQUEST_CODE: u32 = (1234 << 16) | 5679;

/// The request code of a CancelRequest: 1234 in the high 16 bits, 5678 in
/// the low 16 bits.
pub const CANCEL_REQUEST_CODE: u32 = (1234 << 16) | 5678;

/// A frontend/backend protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion {
    /// The major version (3).
    pub major: u16,
    /// The minor version.
    pub minor: u16,
}

impl ProtocolVersion {
    /// Protocol 3.0, spoken by every server since PostgreSQL 7.4.
    pub const V3_0: Self = Self { major: 3, minor: 0 };
    /// Protocol 3.2 (PostgreSQL 18): longer cancel keys.
    pub const V3_2: Self = Self { major: 3, minor: 2 };

    /// The version as sent in a StartupMessage: major in the high 16 bits,
    /// minor in the low 16 bits.
    pub fn as_u32(self) -> u32 {
        (u32::from(self.major) << 16) | u32::from(self.minor)
    }
}

/// Appends a StartupMessage: the length, the protocol version, then each
/// `(name, value)` parameter as two C strings, and a final NUL.
///
/// A name or value containing a NUL is refused
/// ([`ProtoError::NulInString`]), and so is an empty name, which would end
/// the parameter list early ([`ProtoError::InvalidValue`]).
pub fn startup_message<'a>(
    out: &mut BytesMut,
    version: ProtocolVersion,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), ProtoError> {
    untagged(out, |out| {
        out.put_u32(version.as_u32());
        for (name, value) in params {
            if name.is_empty() {
                return Err(ProtoError::InvalidValue {
                    message: "StartupMessage",
                    what: "parameter name is empty",
                });
            }
            put_cstr(out, name.as_bytes(), "startup parameter name")?;
            put_cstr(out, value.as_bytes(), "startup parameter value")?;
        }
        out.put_u8(0);
        Ok(())
    })
}

/// Appends an SSLRequest: length 8 and [`SSL_REQUEST_CODE`].
pub fn ssl_request(out: &mut BytesMut) {
    out.put_i32(8);
    out.put_u32(SSL_REQUEST_CODE);
}

/// Appends a CancelRequest for the session identified by `process_id` and
/// `secret_key` (from BackendKeyData).
///
/// The key must be 4 to 256 bytes long, as the protocol allows; any other
/// length is an [`ProtoError::InvalidValue`] and nothing is written.
pub fn cancel_request(
    out: &mut BytesMut,
    process_id: u32,
    secret_key: &[u8],
) -> Result<(), ProtoError> {
    if !(MIN_SECRET_KEY_LEN..=MAX_SECRET_KEY_LEN).contains(&secret_key.len()) {
        return Err(ProtoError::InvalidValue {
            message: "CancelRequest",
            what: "secret key is not 4 to 256 bytes long",
        });
    }
    untagged(out, |out| {
        out.put_u32(CANCEL_REQUEST_CODE);
        out.put_u32(process_id);
        out.put_slice(secret_key);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(ProtocolVersion::V3_0.as_u32(), 196_608);
        assert_eq!(ProtocolVersion::V3_2.as_u32(), 196_610);
        assert!(ProtocolVersion::V3_0 < ProtocolVersion::V3_2);
    }

    #[test]
    fn startup_golden_bytes() {
        let mut out = BytesMut::new();
        startup_message(
            &mut out,
            ProtocolVersion::V3_0,
            [("user", "alice"), ("database", "db")],
        )
        .unwrap();
        let body = b"\0\x03\0\0user\0alice\0database\0db\0\0";
        let mut expected = (4 + body.len() as u32).to_be_bytes().to_vec();
        expected.extend_from_slice(body);
        assert_eq!(&out[..], &expected[..]);
        assert_eq!(&out[..4], b"\0\0\0\x20");

        let mut out = BytesMut::new();
        startup_message(&mut out, ProtocolVersion::V3_2, []).unwrap();
        assert_eq!(&out[..], b"\0\0\0\x09\0\x03\0\x02\0");
    }

    #[test]
    fn startup_refuses_bad_params() {
        let mut out = BytesMut::from(&b"x"[..]);
        assert_eq!(
            startup_message(
                &mut out,
                ProtocolVersion::V3_0,
                [("user", "a"), ("options", "\0")]
            ),
            Err(ProtoError::NulInString {
                what: "startup parameter value"
            })
        );
        assert_eq!(
            startup_message(&mut out, ProtocolVersion::V3_0, [("us\0er", "a")]),
            Err(ProtoError::NulInString {
                what: "startup parameter name"
            })
        );
        assert!(matches!(
            startup_message(&mut out, ProtocolVersion::V3_0, [("", "a")]),
            Err(ProtoError::InvalidValue { .. })
        ));
        assert_eq!(&out[..], b"x");
    }

    #[test]
    fn ssl_request_golden_bytes() {
        let mut out = BytesMut::new();
        ssl_request(&mut out);
        // 80877103 = 0x04d2162f
        assert_eq!(&out[..], b"\0\0\0\x08\x04\xd2\x16\x2f");
    }

    #[test]
    fn cancel_request_golden_bytes() {
        let mut out = BytesMut::new();
        cancel_request(&mut out, 0x0102_0304, b"\xde\xad\xbe\xef").unwrap();
        // 80877102 = 0x04d2162e
        assert_eq!(
            &out[..],
            b"\0\0\0\x10\x04\xd2\x16\x2e\x01\x02\x03\x04\xde\xad\xbe\xef"
        );

        let mut out = BytesMut::new();
        cancel_request(&mut out, 7, &[0x55; 32]).unwrap();
        assert_eq!(&out[..4], &(12u32 + 32).to_be_bytes());
        assert_eq!(&out[12..], &[0x55; 32]);
    }

    #[test]
    fn cancel_request_key_length() {
        let mut out = BytesMut::new();
        for len in [0, 3, 257] {
            assert!(matches!(
                cancel_request(&mut out, 1, &vec![0; len]),
                Err(ProtoError::InvalidValue { .. })
            ));
        }
        assert!(out.is_empty());
        cancel_request(&mut out, 1, &[0; 256]).unwrap();
        assert_eq!(out.len(), 12 + 256);
    }
}
