//! Simple-query and control messages: Query, Sync, Flush, Terminate.
//!
//! Owns their layout only; when to send them is the connection's business.

use bytes::{BufMut, BytesMut};

use super::super::ProtoError;
use super::{put_cstr, tagged};

/// `Q`: runs `sql` (one or more statements) with the simple query protocol.
pub fn query(out: &mut BytesMut, sql: &str) -> Result<(), ProtoError> {
    tagged(out, b'Q', |out| {
        put_cstr(out, sql.as_bytes(), "query string")
    })
}

/// `S`: ends an extended-query pipeline segment; the server answers with
/// ReadyForQuery.
pub fn sync(out: &mut BytesMut) {
    fixed(out, b'S');
}

/// `H`: asks the server to send what it has buffered, without a Sync.
pub fn flush(out: &mut BytesMut) {
    fixed(out, b'H');
}

/// `X`: tells the server the connection is closing.
pub fn terminate(out: &mut BytesMut) {
    fixed(out, b'X');
}

/// A message with an empty body: the tag and a length of 4.
pub(super) fn fixed(out: &mut BytesMut, tag: u8) {
    out.put_u8(tag);
    out.put_i32(4);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_bytes() {
        let mut out = BytesMut::new();
        query(&mut out, "SELECT 1").unwrap();
        assert_eq!(&out[..], b"Q\0\0\0\x0dSELECT 1\0");

        for (f, tag) in [
            (sync as fn(&mut BytesMut), b'S'),
            (flush, b'H'),
            (terminate, b'X'),
        ] {
            let mut out = BytesMut::new();
            f(&mut out);
            assert_eq!(&out[..], &[tag, 0, 0, 0, 4]);
        }
    }

    #[test]
    fn empty_query() {
        let mut out = BytesMut::new();
        query(&mut out, "").unwrap();
        assert_eq!(&out[..], b"Q\0\0\0\x05\0");
    }

    #[test]
    fn nul_in_query_leaves_buffer_untouched() {
        let mut out = BytesMut::new();
        sync(&mut out);
        assert_eq!(
            query(&mut out, "SELECT '\0'"),
            Err(ProtoError::NulInString {
                what: "query string"
            })
        );
        assert_eq!(&out[..], b"S\0\0\0\x04");
    }
}
