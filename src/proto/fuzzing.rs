//! Fuzzing entry points: arbitrary bytes through the whole backend codec.
//!
//! **No stability promise**: this module exists for the `fuzz/` targets and
//! the corpus replay test, and may change or vanish in any release. It owns
//! the invariants the fuzzers check; it must not be used by the library.

use bytes::BytesMut;

use super::backend::{BackendMessage, tag};
use super::frame::{
    DEFAULT_MAX_MESSAGE_LEN, Frame, FrameSplitter, HEADER_LEN, RESERVE_AHEAD_LIMIT,
};

/// Runs `data` through the codec and panics if an invariant breaks:
///
/// 1. as a server stream: frames are split off until the splitter needs
///    more bytes or reports an error; after every step the bytes consumed
///    plus those left equal the input length, an error consumes nothing,
///    and a pending frame never makes the buffer reserve more than a
///    bounded chunk beyond the input;
/// 2. as the body of every backend message type;
///
/// and every message that decodes has all its accessors called, their
/// results checked against each other. Errors are expected; panics are bugs.
pub fn backend_stream(data: &[u8]) {
    split_stream(data);
    for message_tag in tag::ALL {
        let frame = Frame {
            tag: message_tag,
            body: bytes::Bytes::copy_from_slice(data),
        };
        if let Ok(message) = BackendMessage::parse(frame) {
            exercise(&message);
        }
    }
}

fn split_stream(data: &[u8]) {
    let splitter = FrameSplitter::new(DEFAULT_MAX_MESSAGE_LEN);
    let mut buf = BytesMut::from(data);
    let mut consumed = 0;
    loop {
        let before = buf.len();
        match splitter.split(&mut buf) {
            Ok(Some(frame)) => {
                consumed += HEADER_LEN + frame.body.len();
                assert_eq!(consumed + buf.len(), data.len(), "bytes lost or invented");
                if let Ok(message) = BackendMessage::parse(frame) {
                    exercise(&message);
                }
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                let bound = 2 * (data.len() + HEADER_LEN + RESERVE_AHEAD_LIMIT);
                assert!(
                    buf.capacity() <= bound,
                    "reserved {} bytes for {} buffered",
                    buf.capacity(),
                    buf.len()
                );
                break;
            }
            Err(_) => {
                assert_eq!(buf.len(), before, "an error consumed bytes");
                break;
            }
        }
    }
    assert_eq!(consumed + buf.len(), data.len());
}

/// Calls every accessor of `message` and checks they agree.
fn exercise(message: &BackendMessage) {
    use super::backend::Authentication as A;

    assert!(!message.name().is_empty());
    match message {
        BackendMessage::Authentication(auth) => match auth {
            A::Sasl(mechanisms) => {
                for m in mechanisms.iter() {
                    assert!(mechanisms.contains(m));
                    assert!(!m.is_empty());
                }
            }
            A::GssContinue(data) | A::SaslContinue(data) | A::SaslFinal(data) => {
                let _ = data.len();
            }
            A::Md5Password { salt } => assert_eq!(salt.len(), 4),
            _ => {}
        },
        BackendMessage::BackendKeyData(key) => {
            let _ = key.process_id();
            assert!((4..=256).contains(&key.secret_key().len()));
        }
        BackendMessage::CommandComplete(c) => {
            let tag = c.tag();
            if let Some(rows) = c.rows() {
                assert!(tag.ends_with(&rows.to_string()));
            }
        }
        BackendMessage::CopyData(d) => assert_eq!(d.data().len(), d.clone().into_bytes().len()),
        BackendMessage::CopyInResponse(c)
        | BackendMessage::CopyOutResponse(c)
        | BackendMessage::CopyBothResponse(c) => {
            let _ = c.format();
            let n = c.column_formats().len();
            assert_eq!(c.column_formats().count(), n);
        }
        BackendMessage::DataRow(row) => {
            assert_eq!(row.fields().count(), row.len());
            assert_eq!(row.ranges().count(), row.len());
            for (field, range) in row.fields().zip(row.ranges()) {
                match (field, range) {
                    (None, None) => {}
                    (Some(bytes), Some(range)) => assert_eq!(row.body().get(range), Some(bytes)),
                    _ => panic!("fields() and ranges() disagree"),
                }
            }
        }
        BackendMessage::ErrorResponse(fields) | BackendMessage::NoticeResponse(fields) => {
            for (kind, value) in fields.iter() {
                assert_ne!(kind, 0);
                assert!(!value.contains('\0'));
            }
            let _ = fields.to_db_error();
        }
        BackendMessage::NegotiateProtocolVersion(n) => {
            let _ = n.newest_minor();
            for option in n.unrecognized_options() {
                assert!(!option.contains('\0'));
            }
        }
        BackendMessage::NotificationResponse(n) => {
            let _ = n.process_id();
            assert!(!n.channel().contains('\0'));
            assert!(!n.payload().contains('\0'));
        }
        BackendMessage::ParameterDescription(p) => assert_eq!(p.types().count(), p.len()),
        BackendMessage::ParameterStatus(p) => {
            assert!(!p.name().contains('\0'));
            assert!(!p.value().contains('\0'));
        }
        BackendMessage::ReadyForQuery(status) => {
            assert!(b"ITE".contains(&status.as_byte()));
        }
        BackendMessage::RowDescription(rd) => {
            assert_eq!(rd.fields().count(), rd.len());
            for field in rd.fields() {
                assert!(!field.name.contains('\0'));
                assert!(field.format.code() == 0 || field.format.code() == 1);
            }
        }
        BackendMessage::BindComplete
        | BackendMessage::CloseComplete
        | BackendMessage::CopyDone
        | BackendMessage::EmptyQueryResponse
        | BackendMessage::NoData
        | BackendMessage::ParseComplete
        | BackendMessage::PortalSuspended => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CORPUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/backend_stream");

    /// Whether every frame of `data` splits and decodes, with nothing left.
    fn decodes_cleanly(data: &[u8]) -> bool {
        let splitter = FrameSplitter::default();
        let mut buf = BytesMut::from(data);
        loop {
            match splitter.split(&mut buf) {
                Ok(Some(frame)) => {
                    if BackendMessage::parse(frame).is_err() {
                        return false;
                    }
                }
                Ok(None) => return buf.is_empty(),
                Err(_) => return false,
            }
        }
    }

    #[test]
    fn replays_the_seed_corpus() {
        let (mut good, mut bad) = (0, 0);
        for entry in std::fs::read_dir(CORPUS_DIR).expect("fuzz corpus folder") {
            let path = entry.expect("corpus entry").path();
            let data = std::fs::read(&path).expect("corpus file");
            backend_stream(&data);
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            // Seeds named `bad_*` hold a malformed frame; the others are
            // well-formed server streams.
            if name.starts_with("bad_") {
                assert!(!decodes_cleanly(&data), "{name} should be refused");
                bad += 1;
            } else {
                assert!(decodes_cleanly(&data), "{name} should decode");
                good += 1;
            }
        }
        assert!(
            good >= 5 && bad >= 5,
            "{good} good and {bad} bad seeds in {CORPUS_DIR}"
        );
    }

    #[test]
    fn edge_inputs() {
        backend_stream(b"");
        backend_stream(b"Z");
        backend_stream(b"Z\0\0\0\x05I");
        backend_stream(b"D\x7f\xff\xff\xff");
        backend_stream(b"D\xff\xff\xff\xff");
        backend_stream(&[0; 64]);
        backend_stream(&[0xff; 64]);
    }
}
