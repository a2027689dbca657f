//! Frontend (client-to-server) messages: free functions that encode into
//! the caller's `BytesMut`.
//!
//! Owns the wire layout of every message the client sends. Each function
//! appends one message (or, for [`copy_data`], as many as needed) to `out`,
//! back-patching the length word, and allocates nothing itself (`out` may
//! grow). A function that fails leaves `out` exactly as it was: a string
//! argument holding a NUL byte ([`ProtoError::NulInString`]), a count above
//! 65535 ([`ProtoError::TooManyValues`]) or a message above `i32::MAX`
//! bytes ([`ProtoError::MessageTooLong`]) is refused, never truncated or
//! wrapped; a string too long for any message is refused before it is
//! copied ([`ProtoError::ArgumentTooLong`]). Nothing here decides which messages to send or when.
//!
//! ```
//! use bytes::BytesMut;
//! use pgline::proto::frontend;
//!
//! let mut out = BytesMut::new();
//! frontend::query(&mut out, "SELECT 1").unwrap();
//! assert_eq!(&out[..], b"Q\0\0\0\x0dSELECT 1\0");
//! ```

mod bind_template;
mod copy;
mod extended;
mod password;
mod simple;
mod startup;

pub use bind_template::BindTemplate;
pub use copy::{copy_data, copy_data_header, copy_done, copy_fail};
pub use extended::{BindError, IsNull, Target, bind, close, describe, execute, parse};
pub use password::{password_message, sasl_initial_response, sasl_response};
pub use simple::{flush, query, sync, terminate};
pub use startup::{
    CANCEL_REQUEST_CODE, ProtocolVersion, SSL_REQUEST_CODE, cancel_request, ssl_request,
    startup_message,
};

use bytes::{BufMut, BytesMut};

use super::ProtoError;
use super::nul::find_nul;

/// The largest value of a length word: the protocol's `Int32`.
const MAX_LEN: usize = i32::MAX as usize;

/// The most values a 16-bit count can announce. PostgreSQL reads these
/// counts as unsigned, so 65535 parameters are allowed.
const MAX_COUNT: usize = u16::MAX as usize;

/// Appends the message `tag` whose body `body` writes, patching the length
/// word. If `body` fails, or the message would exceed `i32::MAX` bytes,
/// `out` is truncated back to where it was and the error returned.
fn tagged<E: From<ProtoError>>(
    out: &mut BytesMut,
    tag: u8,
    body: impl FnOnce(&mut BytesMut) -> Result<(), E>,
) -> Result<(), E> {
    let start = out.len();
    out.put_u8(tag);
    framed_from(out, start, start + 1, tag, body)
}

/// Appends an untagged (startup-phase) message whose body `body` writes.
fn untagged(
    out: &mut BytesMut,
    body: impl FnOnce(&mut BytesMut) -> Result<(), ProtoError>,
) -> Result<(), ProtoError> {
    let start = out.len();
    framed_from(out, start, start, 0, body)
}

fn framed_from<E: From<ProtoError>>(
    out: &mut BytesMut,
    start: usize,
    len_at: usize,
    tag: u8,
    body: impl FnOnce(&mut BytesMut) -> Result<(), E>,
) -> Result<(), E> {
    out.put_i32(0);
    let result = body(out).and_then(|()| patch_len(out, len_at, tag).map_err(E::from));
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Writes the length of everything from `len_at` to the end of `out` into
/// the four bytes at `len_at`.
fn patch_len(out: &mut BytesMut, len_at: usize, tag: u8) -> Result<(), ProtoError> {
    let len = out.len() - len_at;
    let word = i32::try_from(len).map_err(|_| ProtoError::MessageTooLong {
        tag,
        len,
        max: MAX_LEN,
    })?;
    if let Some(slot) = out.get_mut(len_at..len_at + 4) {
        slot.copy_from_slice(&word.to_be_bytes());
    }
    Ok(())
}

/// The longest C string a message can hold: the length word counts
/// itself and the terminator.
const MAX_CSTR_LEN: usize = MAX_LEN - 5;

/// Appends `s` and a NUL terminator; refuses a string with a NUL inside,
/// or one no message can hold, before copying it.
fn put_cstr(out: &mut BytesMut, s: &[u8], what: &'static str) -> Result<(), ProtoError> {
    if s.len() > MAX_CSTR_LEN {
        return Err(ProtoError::ArgumentTooLong {
            what,
            len: s.len(),
            max: MAX_CSTR_LEN,
        });
    }
    if find_nul(s).is_some() {
        return Err(ProtoError::NulInString { what });
    }
    out.put_slice(s);
    out.put_u8(0);
    Ok(())
}

/// Appends a 16-bit count, refusing counts above 65535.
fn put_count(
    out: &mut BytesMut,
    count: usize,
    message: &'static str,
    what: &'static str,
) -> Result<(), ProtoError> {
    let n = u16::try_from(count).map_err(|_| ProtoError::TooManyValues {
        message,
        what,
        count,
        max: MAX_COUNT,
    })?;
    out.put_u16(n);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_body_restores_the_buffer() {
        let mut out = BytesMut::from(&b"keep"[..]);
        let r: Result<(), ProtoError> = tagged(&mut out, b'Q', |out| {
            out.put_slice(b"partial");
            Err(ProtoError::NulInString { what: "x" })
        });
        assert_eq!(r, Err(ProtoError::NulInString { what: "x" }));
        assert_eq!(&out[..], b"keep");
    }

    #[test]
    fn length_counts_itself_not_the_tag() {
        let mut out = BytesMut::new();
        tagged::<ProtoError>(&mut out, b'X', |out| {
            out.put_slice(b"ab");
            Ok(())
        })
        .unwrap();
        assert_eq!(&out[..], b"X\0\0\0\x06ab");
        let mut out = BytesMut::new();
        untagged(&mut out, |out| {
            out.put_u8(1);
            Ok(())
        })
        .unwrap();
        assert_eq!(&out[..], b"\0\0\0\x05\x01");
    }

    #[test]
    fn a_string_no_message_can_hold_is_refused_before_it_is_copied() {
        // Zeroed pages: not resident unless read or copied. A scan for the
        // NUL or a copy would touch them; the length is checked first.
        let huge = vec![0u8; MAX_CSTR_LEN + 1];
        let mut out = BytesMut::from(&b"keep"[..]);
        assert_eq!(
            put_cstr(&mut out, &huge, "query string"),
            Err(ProtoError::ArgumentTooLong {
                what: "query string",
                len: MAX_CSTR_LEN + 1,
                max: MAX_CSTR_LEN
            })
        );
        assert_eq!(&out[..], b"keep");
    }

    #[test]
    fn counts_above_u16_are_refused() {
        let mut out = BytesMut::new();
        put_count(&mut out, 65535, "Parse", "parameter types").unwrap();
        assert_eq!(&out[..], b"\xff\xff");
        assert_eq!(
            put_count(&mut out, 65536, "Parse", "parameter types"),
            Err(ProtoError::TooManyValues {
                message: "Parse",
                what: "parameter types",
                count: 65536,
                max: 65535
            })
        );
    }
}
