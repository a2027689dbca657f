//! Whole-message tests: wire bytes through `FrameSplitter` and
//! `BackendMessage::parse`, for every message type, and the malformed
//! frames of the conformance fixture.

use bytes::{Bytes, BytesMut};

use super::*;
use crate::proto::{DEFAULT_MAX_MESSAGE_LEN, FrameSplitter};

/// A complete wire frame: tag, length, body.
fn wire(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Splits and decodes the first frame of `bytes`, which must be whole.
fn decode(bytes: &[u8]) -> Result<BackendMessage, ProtoError> {
    let mut buf = BytesMut::from(bytes);
    let frame = FrameSplitter::default()
        .split(&mut buf)?
        .expect("a whole frame");
    BackendMessage::parse(frame)
}

fn msg(tag: u8, body: &[u8]) -> Result<BackendMessage, ProtoError> {
    decode(&wire(tag, body))
}

#[test]
fn every_authentication_variant() {
    let cases: [(&[u8], Authentication); 9] = [
        (b"\0\0\0\0", Authentication::Ok),
        (b"\0\0\0\x02", Authentication::KerberosV5),
        (b"\0\0\0\x03", Authentication::CleartextPassword),
        (
            b"\0\0\0\x05abcd",
            Authentication::Md5Password { salt: *b"abcd" },
        ),
        (b"\0\0\0\x07", Authentication::Gss),
        (
            b"\0\0\0\x08\x01\x02",
            Authentication::GssContinue(Bytes::from_static(b"\x01\x02")),
        ),
        (b"\0\0\0\x09", Authentication::Sspi),
        (
            b"\0\0\0\x0bchallenge",
            Authentication::SaslContinue(Bytes::from_static(b"challenge")),
        ),
        (
            b"\0\0\0\x0cv=done",
            Authentication::SaslFinal(Bytes::from_static(b"v=done")),
        ),
    ];
    for (body, expected) in cases {
        let m = msg(b'R', body).unwrap();
        assert_eq!(m.name(), "Authentication");
        assert_eq!(m, BackendMessage::Authentication(expected));
    }
    let Ok(BackendMessage::Authentication(Authentication::Sasl(mechs))) =
        msg(b'R', b"\0\0\0\x0aSCRAM-SHA-256\0\0")
    else {
        panic!("expected AuthenticationSASL");
    };
    assert_eq!(mechs.iter().collect::<Vec<_>>(), ["SCRAM-SHA-256"]);
}

#[test]
fn backend_key_data_3_0_and_3_2() {
    let Ok(BackendMessage::BackendKeyData(k)) = msg(b'K', b"\0\0\x04\xd2\x01\x02\x03\x04") else {
        panic!("expected BackendKeyData");
    };
    assert_eq!(
        (k.process_id(), k.secret_key()),
        (1234, &b"\x01\x02\x03\x04"[..])
    );

    let mut body = 99u32.to_be_bytes().to_vec();
    body.extend([0x5a; 32]);
    let Ok(BackendMessage::BackendKeyData(k)) = msg(b'K', &body) else {
        panic!("expected BackendKeyData");
    };
    assert_eq!((k.process_id(), k.secret_key()), (99, &[0x5a; 32][..]));
}

#[test]
fn bodiless_messages() {
    for (tag, expected) in [
        (b'2', BackendMessage::BindComplete),
        (b'3', BackendMessage::CloseComplete),
        (b'c', BackendMessage::CopyDone),
        (b'I', BackendMessage::EmptyQueryResponse),
        (b'n', BackendMessage::NoData),
        (b'1', BackendMessage::ParseComplete),
        (b's', BackendMessage::PortalSuspended),
    ] {
        let name = expected.name();
        assert_eq!(msg(tag, b""), Ok(expected));
        assert_eq!(
            msg(tag, b"xy"),
            Err(ProtoError::TrailingBytes {
                message: name,
                extra: 2
            })
        );
    }
}

#[test]
fn messages_with_bodies() {
    let Ok(BackendMessage::CommandComplete(c)) = msg(b'C', b"INSERT 0 3\0") else {
        panic!("expected CommandComplete");
    };
    assert_eq!((c.tag(), c.rows()), ("INSERT 0 3", Some(3)));

    let Ok(BackendMessage::CopyData(d)) = msg(b'd', b"a,b\n") else {
        panic!("expected CopyData");
    };
    assert_eq!(&d.data()[..], b"a,b\n");

    for (tag, name) in [
        (b'G', "CopyInResponse"),
        (b'H', "CopyOutResponse"),
        (b'W', "CopyBothResponse"),
    ] {
        let m = msg(tag, b"\x01\0\x01\0\x01").unwrap();
        assert_eq!(m.name(), name);
        let (BackendMessage::CopyInResponse(c)
        | BackendMessage::CopyOutResponse(c)
        | BackendMessage::CopyBothResponse(c)) = m
        else {
            panic!("expected a COPY response");
        };
        assert_eq!(c.format(), Format::Binary);
        assert_eq!(c.column_formats().collect::<Vec<_>>(), [Format::Binary]);
    }

    let Ok(BackendMessage::DataRow(row)) = msg(b'D', b"\0\x02\0\0\0\x03abc\xff\xff\xff\xff") else {
        panic!("expected DataRow");
    };
    assert_eq!(row.fields().collect::<Vec<_>>(), [Some(&b"abc"[..]), None]);

    for (tag, name) in [(b'E', "ErrorResponse"), (b'N', "NoticeResponse")] {
        let m = msg(tag, b"SNOTICE\0C00000\0Mhello\0\0").unwrap();
        assert_eq!(m.name(), name);
        let (BackendMessage::ErrorResponse(f) | BackendMessage::NoticeResponse(f)) = m else {
            panic!("expected error fields");
        };
        assert_eq!(f.to_db_error().message(), "hello");
        assert_eq!(f.iter().map(|(k, _)| k).collect::<Vec<_>>(), b"SCM");
    }

    let Ok(BackendMessage::NegotiateProtocolVersion(n)) = msg(b'v', b"\0\0\0\0\0\0\0\x01_pq_.x\0")
    else {
        panic!("expected NegotiateProtocolVersion");
    };
    assert_eq!(n.newest_minor(), 0);
    assert_eq!(n.unrecognized_options().collect::<Vec<_>>(), ["_pq_.x"]);

    let Ok(BackendMessage::NotificationResponse(n)) = msg(b'A', b"\0\0\0\x2ach\0pay\0") else {
        panic!("expected NotificationResponse");
    };
    assert_eq!(
        (n.process_id(), n.channel(), n.payload()),
        (42, "ch", "pay")
    );

    let Ok(BackendMessage::ParameterDescription(p)) = msg(b't', b"\0\x01\0\0\x06\xa4") else {
        panic!("expected ParameterDescription");
    };
    assert_eq!(p.types().collect::<Vec<_>>(), [1700]);

    let Ok(BackendMessage::ParameterStatus(p)) = msg(b'S', b"server_version\x0018.1\0") else {
        panic!("expected ParameterStatus");
    };
    assert_eq!((p.name(), p.value()), ("server_version", "18.1"));

    assert_eq!(
        msg(b'Z', b"T"),
        Ok(BackendMessage::ReadyForQuery(
            TransactionStatus::InTransaction
        ))
    );

    let Ok(BackendMessage::RowDescription(rd)) = msg(
        b'T',
        b"\0\x01?column?\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0",
    ) else {
        panic!("expected RowDescription");
    };
    let field = rd.fields().next().unwrap();
    assert_eq!(
        (field.name, field.type_oid, field.format),
        ("?column?", 23, Format::Text)
    );
}

#[test]
fn unknown_message_types() {
    for tag in [b'V', b'x', 0, 0xff] {
        assert_eq!(msg(tag, b""), Err(ProtoError::UnknownMessage { tag }));
    }
}

#[test]
fn length_words_0_3_and_max() {
    let splitter = FrameSplitter::default();
    for (len, expected) in [
        (0u32, ProtoError::InvalidLength { tag: b'D', len: 0 }),
        (3, ProtoError::InvalidLength { tag: b'D', len: 3 }),
        (
            0x7fff_ffff,
            ProtoError::MessageTooLong {
                tag: b'D',
                len: 0x7fff_ffff,
                max: DEFAULT_MAX_MESSAGE_LEN,
            },
        ),
    ] {
        let mut buf = BytesMut::from(&b"D"[..]);
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(b"\0\x01");
        assert_eq!(splitter.split(&mut buf), Err(expected));
    }
}

#[test]
fn truncated_bodies_of_every_message_fail_cleanly() {
    let valid: &[(u8, &[u8])] = &[
        (b'R', b"\0\0\0\x05abcd"),
        (b'R', b"\0\0\0\x0aSCRAM-SHA-256\0\0"),
        (b'K', b"\0\0\x04\xd2\x01\x02\x03\x04"), // the key is open-ended
        (b'C', b"SELECT 1\0"),
        (b'G', b"\0\0\x01\0\0"),
        (b'D', b"\0\x01\0\0\0\x01a"),
        (b'E', b"SERROR\0\0"),
        (b'v', b"\0\0\0\0\0\0\0\x01_pq_.x\0"),
        (b'A', b"\0\0\0\x01c\0p\0"),
        (b't', b"\0\x01\0\0\0\x17"),
        (b'S', b"a\0b\0"),
        (b'Z', b"I"),
        (
            b'T',
            b"\0\x01a\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0",
        ),
    ];
    for (tag, body) in valid {
        assert!(msg(*tag, body).is_ok(), "{} is valid", char::from(*tag));
        for cut in 0..body.len() {
            assert!(
                msg(*tag, &body[..cut]).is_err(),
                "{} cut at {cut}",
                char::from(*tag)
            );
        }
        if *tag == b'K' {
            continue;
        }
        let mut longer = body.to_vec();
        longer.push(0);
        assert!(
            matches!(
                msg(*tag, &longer),
                Err(ProtoError::TrailingBytes { extra: 1, .. })
            ),
            "{} with a trailing byte",
            char::from(*tag)
        );
    }
}

#[test]
fn stream_split_at_every_byte_decodes_the_same() {
    let mut stream = Vec::new();
    stream.extend(wire(b'1', b""));
    stream.extend(wire(b'2', b""));
    stream.extend(wire(
        b'T',
        b"\0\x01a\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\x01",
    ));
    stream.extend(wire(b'D', b"\0\x01\0\0\0\x04\0\0\0\x07"));
    stream.extend(wire(b'N', b"SWARNING\0Mcareful\0\0"));
    stream.extend(wire(b'D', b"\0\x01\xff\xff\xff\xff"));
    stream.extend(wire(b'C', b"SELECT 2\0"));
    stream.extend(wire(b'Z', b"I"));

    let splitter = FrameSplitter::default();
    let run = |chunks: &[&[u8]]| {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while let Some(frame) = splitter.split(&mut buf).unwrap() {
                out.push(BackendMessage::parse(frame).unwrap());
            }
        }
        assert!(buf.is_empty());
        out
    };
    let expected = run(&[&stream]);
    assert_eq!(
        expected
            .iter()
            .map(BackendMessage::name)
            .collect::<Vec<_>>(),
        [
            "ParseComplete",
            "BindComplete",
            "RowDescription",
            "DataRow",
            "NoticeResponse",
            "DataRow",
            "CommandComplete",
            "ReadyForQuery"
        ]
    );
    for cut in 0..=stream.len() {
        let (a, b) = stream.split_at(cut);
        assert_eq!(run(&[a, b]), expected, "cut at {cut}");
    }
    for first in 0..stream.len() {
        for second in first..=stream.len() {
            let chunks = [&stream[..first], &stream[first..second], &stream[second..]];
            assert_eq!(run(&chunks), expected);
        }
    }
}

/// Decodes the hex of one fixture line.
fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("fixture hex"))
        .collect()
}

#[test]
fn malformed_server_frames_fixture() {
    let fixture = include_str!("../fixtures/malformed_server_frames.txt");
    let splitter = FrameSplitter::new(DEFAULT_MAX_MESSAGE_LEN);
    let mut checked = Vec::new();
    for line in fixture
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (id, hex) = line.split_once(' ').expect("`id hex`");
        let bytes = unhex(hex);
        let mut buf = BytesMut::from(&bytes[..]);
        // The first frame of each entry must be refused, by the splitter
        // or by the decoder.
        let first = splitter
            .split(&mut buf)
            .and_then(|f| BackendMessage::parse(f.expect("a whole first frame")));
        let err = first.expect_err(id);
        checked.push((id.to_owned(), err));
        // Whatever follows must not panic or allocate by a claimed length.
        while let Ok(Some(frame)) = splitter.split(&mut buf) {
            let _ = BackendMessage::parse(frame);
        }
        assert!(buf.capacity() <= 2 * (bytes.len() + crate::proto::frame::RESERVE_AHEAD_LIMIT));
    }
    let expect = |id: &str| &checked.iter().find(|(i, _)| i == id).expect(id).1;
    assert_eq!(checked.len(), 6);
    assert_eq!(
        expect("pgx-fuzzfrontend-39c5e864"),
        &ProtoError::Truncated {
            message: "NotificationResponse"
        }
    );
    assert!(matches!(
        expect("pgx-fuzzfrontend-9b06792b"),
        ProtoError::InvalidValue {
            message: "DataRow",
            ..
        }
    ));
    assert_eq!(
        expect("pgx-fuzzfrontend-a661fb98"),
        &ProtoError::MissingNul {
            message: "CommandComplete"
        }
    );
    assert_eq!(
        expect("pgx-fuzzfrontend-fc98dcd4"),
        &ProtoError::MissingNul {
            message: "Authentication"
        }
    );
    assert_eq!(
        expect("zeek-bad-backend-message-1"),
        &ProtoError::InvalidLength { tag: b'Z', len: 1 }
    );
    assert_eq!(
        expect("zeek-bad-startup-message-1-reply"),
        &ProtoError::MissingNul {
            message: "ErrorResponse"
        }
    );
}
