//! COPY messages from the client: CopyData, CopyDone, CopyFail.
//!
//! Owns their layout only; streaming rows and buffer reuse belong to the
//! connection's COPY sink.

use bytes::{BufMut, BytesMut};

use super::super::ProtoError;
use super::simple::fixed;
use super::{MAX_LEN, put_cstr, tagged};

/// The most data one CopyData message carries: the `Int32` length counts
/// itself too.
const MAX_COPY_DATA: usize = MAX_LEN - 4;

/// Appends `data` as CopyData. Data longer than one message can carry
/// (`i32::MAX − 4` bytes) is sent as several consecutive CopyData
/// messages, which the server reads as one stream.
pub fn copy_data(out: &mut BytesMut, data: &[u8]) {
    for chunk in data.chunks(MAX_COPY_DATA) {
        out.put_u8(b'd');
        // A chunk is at most MAX_COPY_DATA, so this cannot overflow.
        out.put_u32((chunk.len() + 4) as u32);
        out.put_slice(chunk);
    }
    if data.is_empty() {
        fixed(out, b'd');
    }
}

/// Appends only the header of a CopyData message of `len` data bytes; the
/// caller sends the data itself (for example with a vectored write).
///
/// `len` above `i32::MAX − 4` is a [`ProtoError::MessageTooLong`] and
/// nothing is written.
pub fn copy_data_header(out: &mut BytesMut, len: usize) -> Result<(), ProtoError> {
    if len > MAX_COPY_DATA {
        return Err(ProtoError::MessageTooLong {
            tag: b'd',
            len: len.saturating_add(4),
            max: MAX_LEN,
        });
    }
    out.put_u8(b'd');
    out.put_u32((len + 4) as u32);
    Ok(())
}

/// Appends CopyDone: the client's COPY data is complete.
pub fn copy_done(out: &mut BytesMut) {
    fixed(out, b'c');
}

/// Appends CopyFail: the COPY is aborted with `message` as the error cause.
pub fn copy_fail(out: &mut BytesMut, message: &str) -> Result<(), ProtoError> {
    tagged(out, b'f', |out| {
        put_cstr(out, message.as_bytes(), "CopyFail message")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_bytes() {
        let mut out = BytesMut::new();
        copy_data(&mut out, b"1\tone\n");
        assert_eq!(&out[..], b"d\0\0\0\x0a1\tone\n");

        let mut out = BytesMut::new();
        copy_data(&mut out, b"");
        assert_eq!(&out[..], b"d\0\0\0\x04");

        let mut out = BytesMut::new();
        copy_data_header(&mut out, 6).unwrap();
        assert_eq!(&out[..], b"d\0\0\0\x0a");

        let mut out = BytesMut::new();
        copy_done(&mut out);
        assert_eq!(&out[..], b"c\0\0\0\x04");

        let mut out = BytesMut::new();
        copy_fail(&mut out, "bad row").unwrap();
        assert_eq!(&out[..], b"f\0\0\0\x0cbad row\0");
    }

    #[test]
    fn oversized_header_is_refused() {
        let mut out = BytesMut::new();
        copy_data_header(&mut out, MAX_COPY_DATA).unwrap();
        assert_eq!(&out[1..], &(i32::MAX as u32).to_be_bytes());
        out.clear();
        assert_eq!(
            copy_data_header(&mut out, MAX_COPY_DATA + 1),
            Err(ProtoError::MessageTooLong {
                tag: b'd',
                len: MAX_LEN + 1,
                max: MAX_LEN
            })
        );
        assert_eq!(
            copy_data_header(&mut out, usize::MAX),
            Err(ProtoError::MessageTooLong {
                tag: b'd',
                len: usize::MAX,
                max: MAX_LEN
            })
        );
        assert!(out.is_empty());
    }

    #[test]
    fn copy_fail_with_nul_is_refused() {
        let mut out = BytesMut::new();
        assert_eq!(
            copy_fail(&mut out, "a\0"),
            Err(ProtoError::NulInString {
                what: "CopyFail message"
            })
        );
        assert!(out.is_empty());
    }
}
