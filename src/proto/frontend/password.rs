//! Authentication responses, all sent with type byte `p`: PasswordMessage,
//! SASLInitialResponse and SASLResponse.
//!
//! Owns their layout only. Computing the password hash or the SCRAM
//! messages belongs to `proto::auth`.

use bytes::{BufMut, BytesMut};

use super::super::ProtoError;
use super::{put_cstr, tagged};

/// Appends a PasswordMessage: the cleartext or MD5-hashed password as a C
/// string. A password containing a NUL is refused.
pub fn password_message(out: &mut BytesMut, password: &[u8]) -> Result<(), ProtoError> {
    tagged(out, b'p', |out| put_cstr(out, password, "password"))
}

/// Appends a SASLInitialResponse: the chosen mechanism as a C string, then
/// the length of `data` and `data` (the client-first-message).
pub fn sasl_initial_response(
    out: &mut BytesMut,
    mechanism: &str,
    data: &[u8],
) -> Result<(), ProtoError> {
    tagged(out, b'p', |out| {
        put_cstr(out, mechanism.as_bytes(), "SASL mechanism")?;
        let len = i32::try_from(data.len()).map_err(|_| ProtoError::MessageTooLong {
            tag: b'p',
            len: data.len(),
            max: i32::MAX as usize,
        })?;
        out.put_i32(len);
        out.put_slice(data);
        Ok(())
    })
}

/// Appends a SASLResponse: `data` (a client-final-message) as is.
///
/// Fails only if the message would exceed `i32::MAX` bytes.
pub fn sasl_response(out: &mut BytesMut, data: &[u8]) -> Result<(), ProtoError> {
    tagged(out, b'p', |out| {
        out.put_slice(data);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_golden_bytes() {
        let mut out = BytesMut::new();
        password_message(&mut out, b"md5abc").unwrap();
        assert_eq!(&out[..], b"p\0\0\0\x0bmd5abc\0");
    }

    #[test]
    fn password_with_nul_is_refused() {
        let mut out = BytesMut::new();
        assert_eq!(
            password_message(&mut out, b"a\0b"),
            Err(ProtoError::NulInString { what: "password" })
        );
        assert!(out.is_empty());
    }

    #[test]
    fn sasl_golden_bytes() {
        let mut out = BytesMut::new();
        sasl_initial_response(&mut out, "SCRAM-SHA-256", b"n,,n=,r=abc").unwrap();
        assert_eq!(&out[..], b"p\0\0\0\x21SCRAM-SHA-256\0\0\0\0\x0bn,,n=,r=abc");

        let mut out = BytesMut::new();
        sasl_response(&mut out, b"c=biws,r=abc,p=xyz").unwrap();
        assert_eq!(&out[..], b"p\0\0\0\x16c=biws,r=abc,p=xyz");
    }

    #[test]
    fn sasl_mechanism_with_nul_is_refused() {
        let mut out = BytesMut::new();
        assert_eq!(
            sasl_initial_response(&mut out, "SCRAM\0", b""),
            Err(ProtoError::NulInString {
                what: "SASL mechanism"
            })
        );
        assert!(out.is_empty());
    }
}
