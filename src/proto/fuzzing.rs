//! Fuzzing entry points: arbitrary bytes through the backend codec, the
//! startup/authentication state machine and the SCRAM message parsers.
//!
//! **No stability promise**: this module exists for the `fuzz/` targets and
//! the corpus replay tests, and may change or vanish in any release. It owns
//! the invariants the fuzzers check; it must not be used by the library.
//! Each entry takes arbitrary bytes, returns nothing, and panics only when an
//! invariant breaks.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ProtocolVersion;
use super::auth::scram::{ChannelBinding, ScramSha256};
use super::backend::{BackendMessage, tag};
use super::frame::{
    DEFAULT_MAX_MESSAGE_LEN, Frame, FrameSplitter, HEADER_LEN, RESERVE_AHEAD_LIMIT,
};
use super::startup::{
    AllowedAuth, AuthMethod, ChannelBindingPolicy, Progress, Startup, StartupError, StartupOptions,
};

/// Runs `data` through the codec and panics if an invariant breaks:
///
/// 1. as a server stream: frames are split off until the splitter needs
///    more bytes or reports an error; after every step the bytes consumed
///    plus those left equal the input length, an error consumes nothing,
///    and a pending frame never makes the buffer reserve more than a
///    bounded chunk beyond the input;
/// 2. as the body of every backend message type (borrowed decoding, where
///    a type has it, agreeing with owned decoding);
/// 3. as a run of frames of one type (the first byte's): the run's frames
///    are exactly the ones `split` gives, peeked by `peek_in_run` and cut
///    by `next_in_run` with nothing left over;
///
/// and every message that decodes has all its accessors called, their
/// results checked against each other. Errors are expected; panics are bugs.
pub fn backend_stream(data: &[u8]) {
    split_stream(data);
    split_run(data);
    for message_tag in tag::ALL {
        let unowned = BackendMessage::parse_unowned(message_tag, data);
        let frame = Frame {
            tag: message_tag,
            body: Bytes::copy_from_slice(data),
        };
        let owned = BackendMessage::parse(frame);
        if let Some(unowned) = unowned {
            assert_eq!(unowned, owned, "borrowed and owned decoding disagree");
        }
        if let Ok(message) = owned {
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

fn split_run(data: &[u8]) {
    let Some(&tag) = data.first() else {
        return;
    };
    let splitter = FrameSplitter::new(DEFAULT_MAX_MESSAGE_LEN);
    let Ok(run) = splitter.run(data, tag) else {
        assert!(
            splitter.split(&mut BytesMut::from(data)).is_err(),
            "run and split disagree"
        );
        return;
    };
    let mut buf = BytesMut::from(data);
    let mut frames = Bytes::copy_from_slice(&data[..run.len]);
    for _ in 0..run.frames {
        let one = splitter
            .split(&mut buf)
            .ok()
            .flatten()
            .expect("split sees the run's frame");
        assert_eq!(one.tag, tag);
        let (peek_tag, peek_body, size) =
            super::frame_run::peek_in_run(&frames).expect("the run's frame, peeked");
        assert_eq!(
            (peek_tag, peek_body, size),
            (tag, &one.body[..], HEADER_LEN + one.body.len())
        );
        let frame = super::frame_run::next_in_run(&mut frames).expect("the run's frame");
        assert_eq!(frame, one);
    }
    assert!(frames.is_empty(), "the run has bytes beyond its frames");
    assert_eq!(buf.len(), data.len() - run.len);
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
            for (i, (field, range)) in row.fields().zip(row.ranges()).enumerate() {
                assert_eq!(row.field(i), field);
                match (field, range) {
                    (None, None) => {}
                    (Some(bytes), Some(range)) => assert_eq!(row.body().get(range), Some(bytes)),
                    _ => panic!("fields() and ranges() disagree"),
                }
            }
            assert_eq!(row.field(row.len()), None);
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

/// The client nonce and password of the SCRAM exchange recorded from psql
/// (see `proto/auth/fixtures/auth_vectors.txt`), so that seeds built from
/// that session reach the SCRAM states.
pub const SCRAM_CLIENT_NONCE: &str = "9IZ2O01zb9IgiIZ1WJ/zgpJB";
/// The password that goes with [`SCRAM_CLIENT_NONCE`].
pub const SCRAM_PASSWORD: &str = "foobar";

/// The highest SCRAM iteration count [`scram_server_first`] accepts, so a
/// single input cannot make one execution derive keys for long.
pub const FUZZ_MAX_ITERATIONS: u32 = 4096;

/// The startup options picked by the first input byte of
/// [`startup_exchange`]:
///
/// - bit 0: request protocol 3.2 (else 3.0);
/// - bit 1: with bit 0, require at least 3.2;
/// - bits 2-3: channel binding disable / prefer / require / prefer;
/// - bit 4: TLS in use (without a certificate, so nothing can be bound);
/// - bit 5: `require_auth=scram-sha-256`;
/// - bit 6: no password configured.
pub fn startup_options(selector: u8) -> StartupOptions {
    let bit = |n: u8| selector & (1 << n) != 0;
    let max_protocol = if bit(0) {
        ProtocolVersion::V3_2
    } else {
        ProtocolVersion::V3_0
    };
    StartupOptions {
        user: "app".into(),
        password: (!bit(6)).then(|| SCRAM_PASSWORD.as_bytes().to_vec()),
        parameters: vec![("database".into(), "db".into())],
        max_protocol,
        min_protocol: if bit(0) && bit(1) {
            ProtocolVersion::V3_2
        } else {
            ProtocolVersion::V3_0
        },
        allowed_auth: if bit(5) {
            AllowedAuth::only([AuthMethod::ScramSha256])
        } else {
            AllowedAuth::ALL
        },
        channel_binding: match (selector >> 2) & 0b11 {
            0 => ChannelBindingPolicy::Disable,
            2 => ChannelBindingPolicy::Require,
            _ => ChannelBindingPolicy::Prefer,
        },
        tls: bit(4),
        server_certificate: None,
        scram_nonce: Some(SCRAM_CLIENT_NONCE.into()),
    }
}

/// Drives the startup/authentication state machine with arbitrary server
/// messages and panics if an invariant breaks.
///
/// The first byte picks the options ([`startup_options`]); the rest is the
/// server's stream, cut into frames and decoded as the connection would. Every
/// decoded message is fed to the machine until it finishes or fails. Checked:
///
/// - `start` fails only for `channel_binding=require` without TLS;
/// - each step writes at most one frontend message, a well-formed
///   PasswordMessage/SASL message (`p`, a length that matches), of a size
///   bounded by the server message that caused it;
/// - after a failure or after `Done` every further message is refused with
///   `NotRunning`, and nothing more is written;
/// - a finished exchange reports a protocol between the configured minimum
///   and maximum, an authentication method the policy allows, and channel
///   binding only over TLS.
pub fn startup_exchange(data: &[u8]) {
    let _ = drive_startup(data);
}

/// How a [`startup_exchange`] run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartupEnd {
    /// The input was empty, or `start` refused the options.
    NotStarted,
    /// The input ran out before the exchange ended.
    Incomplete,
    /// ReadyForQuery ended the exchange.
    Done,
    /// The exchange failed with a typed error.
    Failed,
}

/// The body of [`startup_exchange`], telling how the exchange ended.
pub fn drive_startup(data: &[u8]) -> StartupEnd {
    let Some((&selector, stream)) = data.split_first() else {
        return StartupEnd::NotStarted;
    };
    let options = startup_options(selector);
    let (min, max, allowed, tls) = (
        options.min_protocol,
        options.max_protocol,
        options.allowed_auth,
        options.tls,
    );
    let refuses_start = options.channel_binding == ChannelBindingPolicy::Require && !tls;
    let mut startup = Startup::new(options);
    let mut out = BytesMut::new();
    match startup.start(&mut out) {
        Ok(()) => assert!(!refuses_start, "start accepted channel binding without TLS"),
        Err(StartupError::ChannelBindingWithoutTls) if refuses_start => {
            return StartupEnd::NotStarted;
        }
        Err(e) => panic!("start failed: {e:?}"),
    }
    out.clear();

    let splitter = FrameSplitter::new(DEFAULT_MAX_MESSAGE_LEN);
    let mut buf = BytesMut::from(stream);
    let mut end = StartupEnd::Incomplete;
    while let Ok(Some(frame)) = splitter.split(&mut buf) {
        let body_len = frame.body.len();
        let Ok(message) = BackendMessage::parse(frame) else {
            continue;
        };
        let result = startup.handle(message, &mut out);
        if end != StartupEnd::Incomplete {
            assert!(
                matches!(result, Err(StartupError::NotRunning)),
                "a message was accepted after the exchange ended: {result:?}"
            );
            assert!(out.is_empty(), "bytes written after the exchange ended");
            continue;
        }
        check_written(&out, body_len);
        out.clear();
        match result {
            Ok(Progress::Continue) => {}
            Ok(Progress::Done(outcome)) => {
                end = StartupEnd::Done;
                let protocol = outcome.protocol.as_u32();
                assert!(protocol >= min.as_u32() && protocol <= max.as_u32());
                assert!(allowed.allows(outcome.auth_method));
                assert!(!outcome.channel_bound || tls, "channel bound without TLS");
                assert!(outcome.parameters.len() <= stream.len());
                for (name, value) in &outcome.parameters {
                    assert!(
                        crate::proto::session::check_parameter(name, value).is_ok(),
                        "{name} = {value:?} was accepted"
                    );
                }
            }
            Err(error) => {
                end = StartupEnd::Failed;
                assert!(!error.to_string().is_empty());
            }
        }
    }
    end
}

/// Checks what one step of the startup machine wrote.
fn check_written(out: &BytesMut, body_len: usize) {
    if out.is_empty() {
        return;
    }
    assert_eq!(
        out.first(),
        Some(&b'p'),
        "only password/SASL messages are sent"
    );
    let declared = out
        .get(1..5)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes);
    assert_eq!(
        declared.and_then(|d| usize::try_from(d).ok()),
        Some(out.len() - 1),
        "the length field matches the message"
    );
    // The largest reply, the SCRAM client-final-message, repeats the server
    // nonce and adds a fixed-size proof; others are bounded by the options.
    assert!(
        out.len() <= 512 + 2 * body_len,
        "{} bytes written for a {body_len}-byte server message",
        out.len()
    );
}

/// Feeds arbitrary bytes to the SCRAM client as the server-first-message and
/// panics if an invariant breaks.
///
/// The client uses the recorded psql nonce and a cap of
/// [`FUZZ_MAX_ITERATIONS`]. When the message is accepted, the server nonce
/// extends the client's, and the client-final-message is
/// `c=biws,r=<that nonce>,p=<32-byte proof in base64>`.
pub fn scram_server_first(data: &[u8]) {
    let _ = scram_server_first_accepted(data);
}

/// The body of [`scram_server_first`]: whether the message was accepted.
pub fn scram_server_first_accepted(data: &[u8]) -> bool {
    let scram = ScramSha256::with_nonce(
        SCRAM_PASSWORD.as_bytes(),
        ChannelBinding::Unsupported,
        SCRAM_CLIENT_NONCE,
    )
    .with_max_iterations(FUZZ_MAX_ITERATIONS);
    let Ok(client_final) = scram.handle_server_first(data) else {
        return false;
    };
    let server_nonce = data
        .split(|&b| b == b',')
        .next()
        .and_then(|first| first.strip_prefix(b"r="))
        .expect("an accepted server-first-message starts with r=");
    assert!(server_nonce.len() > SCRAM_CLIENT_NONCE.len());
    assert!(server_nonce.starts_with(SCRAM_CLIENT_NONCE.as_bytes()));
    let message = client_final.message();
    let rest = message
        .strip_prefix(b"c=biws,r=")
        .and_then(|rest| rest.strip_prefix(server_nonce))
        .and_then(|rest| rest.strip_prefix(b",p="))
        .expect("client-final-message is c=biws,r=<server nonce>,p=<proof>");
    let proof = BASE64.decode(rest).expect("the proof is base64");
    assert_eq!(proof.len(), 32);
    true
}

/// The server-first-message [`scram_server_final`] answers: the recorded
/// nonce extended, a fixed salt, and one iteration, so that each execution
/// is cheap.
pub const FUZZ_SERVER_FIRST: &str = "r=9IZ2O01zb9IgiIZ1WJ/zgpJBfuzzfuzz,s=c2FsdHNhbHQ=,i=1";

/// The server signature a genuine server would send after
/// [`FUZZ_SERVER_FIRST`], computed here independently of the SCRAM client
/// (RFC 5802 section 3), to check that client against.
pub fn expected_server_signature() -> [u8; 32] {
    type HmacSha256 = Hmac<Sha256>;
    fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
        for part in parts {
            m.update(part);
        }
        m.finalize().into_bytes().into()
    }
    let salt = BASE64.decode("c2FsdHNhbHQ=").expect("fixed salt");
    // Hi(password, salt, 1) = HMAC(password, salt || INT(1)).
    let salted = mac(SCRAM_PASSWORD.as_bytes(), &[&salt, &1u32.to_be_bytes()]);
    let server_key = mac(&salted, &[b"Server Key"]);
    let nonce = FUZZ_SERVER_FIRST
        .split(',')
        .next()
        .and_then(|r| r.strip_prefix("r="))
        .expect("fixed nonce");
    let auth_message = format!("n=,r={SCRAM_CLIENT_NONCE},{FUZZ_SERVER_FIRST},c=biws,r={nonce}");
    mac(&server_key, &[auth_message.as_bytes()])
}

/// Feeds arbitrary bytes to the SCRAM client as the server-final-message,
/// after the exchange of [`FUZZ_SERVER_FIRST`], and panics if an invariant
/// breaks: the message is accepted only when its first attribute is `v=`
/// with the signature [`expected_server_signature`] gives, and only
/// well-formed `x=...` extensions follow it.
pub fn scram_server_final(data: &[u8]) {
    let _ = scram_server_final_accepted(data);
}

/// The body of [`scram_server_final`]: whether the message was accepted.
pub fn scram_server_final_accepted(data: &[u8]) -> bool {
    let scram = ScramSha256::with_nonce(
        SCRAM_PASSWORD.as_bytes(),
        ChannelBinding::Unsupported,
        SCRAM_CLIENT_NONCE,
    );
    let client_final = scram
        .handle_server_first(FUZZ_SERVER_FIRST.as_bytes())
        .expect("the fixed server-first-message is valid");
    if client_final.handle_server_final(data).is_err() {
        return false;
    }
    let mut attributes = data.split(|&b| b == b',');
    let verifier = attributes
        .next()
        .and_then(|first| first.strip_prefix(b"v="))
        .expect("an accepted server-final-message starts with v=");
    assert_eq!(
        BASE64.decode(verifier).ok(),
        Some(expected_server_signature().to_vec()),
        "a signature other than the genuine one was accepted"
    );
    for extension in attributes {
        assert!(
            matches!(extension, [letter, b'=', ..] if letter.is_ascii_alphabetic()),
            "a malformed extension was accepted"
        );
    }
    true
}

/// How a COPY BINARY stream ended in [`copy_binary_rows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyEnd {
    /// The trailer was read and nothing followed: this many rows.
    Complete(usize),
    /// The parser reported an error.
    Refused,
    /// The bytes ran out before the trailer.
    Unfinished,
}

/// Parses `data[1..]` as a COPY BINARY stream fed in two chunks split at a
/// point chosen by `data[0]`, checking that every row's fields lie inside
/// the row and that feeding the same bytes whole gives the same rows.
pub fn copy_binary_rows(data: &[u8]) -> CopyEnd {
    let Some((&cut, stream)) = data.split_first() else {
        return CopyEnd::Unfinished;
    };
    let cut = usize::from(cut) % (stream.len() + 1);
    let split = parse_copy(&[&stream[..cut], &stream[cut..]]);
    let whole = parse_copy(&[stream]);
    assert_eq!(split, whole, "splitting the input changed the result");
    let shared = Bytes::copy_from_slice(stream);
    let borrowed = parse_copy_bytes(&[shared.slice(..cut), shared.slice(cut..)]);
    assert_eq!(
        borrowed, whole,
        "pushing without copying changed the result"
    );
    split.0
}

/// [`parse_copy`] through `push_bytes` and `next_row_data`, fields read
/// with `row_field`.
fn parse_copy_bytes(chunks: &[Bytes]) -> (CopyEnd, Vec<Vec<Option<Vec<u8>>>>) {
    use super::copy::{row_field, row_field_count};
    let mut parser = super::copy::BinaryCopyParser::new();
    let mut rows = Vec::new();
    for chunk in chunks {
        parser.push_bytes(chunk.clone());
        loop {
            match parser.next_row_data() {
                Ok(Some(row)) => rows.push(
                    (0..row_field_count(&row))
                        .map(|i| row_field(&row, i).map(<[u8]>::to_vec))
                        .collect(),
                ),
                Ok(None) => break,
                Err(_) => return (CopyEnd::Refused, rows),
            }
        }
    }
    copy_end(&parser, rows)
}

fn parse_copy(chunks: &[&[u8]]) -> (CopyEnd, Vec<Vec<Option<Vec<u8>>>>) {
    let mut parser = super::copy::BinaryCopyParser::new();
    let mut rows = Vec::new();
    for chunk in chunks {
        parser.push(chunk);
        loop {
            match parser.next_row() {
                Ok(Some(row)) => {
                    let fields = (0..row.fields.len())
                        .map(|i| {
                            if let Some(range) = &row.fields[i] {
                                assert!(range.end <= row.data.len(), "a field past its row");
                            }
                            row.field(i).map(<[u8]>::to_vec)
                        })
                        .collect();
                    rows.push(fields);
                }
                Ok(None) => break,
                Err(_) => return (CopyEnd::Refused, rows),
            }
        }
    }
    copy_end(&parser, rows)
}

/// How a parse that took every chunk ended, with the rows it gave.
fn copy_end(
    parser: &super::copy::BinaryCopyParser,
    rows: Vec<Vec<Option<Vec<u8>>>>,
) -> (CopyEnd, Vec<Vec<Option<Vec<u8>>>>) {
    match parser.finish() {
        Ok(()) => (CopyEnd::Complete(rows.len()), rows),
        Err(_) if parser.is_done() => (CopyEnd::Refused, rows),
        Err(_) => (CopyEnd::Unfinished, rows),
    }
}

/// The `copy_binary` fuzz target: [`copy_binary_rows`], result ignored.
pub fn copy_binary(data: &[u8]) {
    let _ = copy_binary_rows(data);
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

    /// Every seed of one target's corpus folder: (file name, bytes).
    fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
        let dir = format!("{}/fuzz/corpus/{target}", env!("CARGO_MANIFEST_DIR"));
        let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .expect("fuzz corpus folder")
            .map(|entry| {
                let path = entry.expect("corpus entry").path();
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_owned();
                (name, std::fs::read(&path).expect("corpus file"))
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn replays_the_copy_binary_corpus() {
        let seeds = seeds("copy_binary");
        assert!(seeds.len() >= 5, "{} seeds", seeds.len());
        for (name, data) in seeds {
            let end = copy_binary_rows(&data);
            if name.starts_with("ok_") {
                assert!(matches!(end, CopyEnd::Complete(_)), "{name}: {end:?}");
            } else if name.starts_with("bad_") {
                assert_ne!(end, CopyEnd::Complete(0), "{name}");
                assert!(!matches!(end, CopyEnd::Complete(_)), "{name}: {end:?}");
            }
        }
    }

    #[test]
    fn replays_the_startup_exchange_corpus() {
        let seeds = seeds("startup_exchange");
        assert!(seeds.len() >= 15, "{} seeds", seeds.len());
        for (name, data) in seeds {
            let end = drive_startup(&data);
            // Seeds are named for how they end: `ok_*` reach ReadyForQuery,
            // `err_*` fail with a typed error; fuzzer finds end however.
            if name.starts_with("ok_") {
                assert_eq!(end, StartupEnd::Done, "{name}");
            } else if name.starts_with("err_") {
                assert_eq!(end, StartupEnd::Failed, "{name}");
            }
        }
    }

    #[test]
    fn startup_options_follow_the_selector_bits() {
        let plain = startup_options(0);
        assert_eq!(plain.max_protocol, ProtocolVersion::V3_0);
        assert_eq!(plain.channel_binding, ChannelBindingPolicy::Disable);
        assert!(plain.password.is_some() && !plain.tls);
        let strict = startup_options(0b0111_1011);
        assert_eq!(strict.min_protocol, ProtocolVersion::V3_2);
        assert_eq!(strict.channel_binding, ChannelBindingPolicy::Require);
        assert!(strict.tls && strict.password.is_none());
        assert!(!strict.allowed_auth.allows(AuthMethod::Md5));
        // Requiring channel binding without TLS is refused before anything
        // is sent.
        assert_eq!(drive_startup(&[0b1000]), StartupEnd::NotStarted);
        assert_eq!(drive_startup(&[]), StartupEnd::NotStarted);
        assert_eq!(drive_startup(&[0]), StartupEnd::Incomplete);
    }

    #[test]
    fn replays_the_scram_server_first_corpus() {
        let seeds = seeds("scram_server_first");
        assert!(seeds.len() >= 8);
        for (name, data) in seeds {
            let accepted = scram_server_first_accepted(&data);
            if name.starts_with("ok_") {
                assert!(accepted, "{name} should be accepted");
            } else if name.starts_with("bad_") {
                assert!(!accepted, "{name} should be refused");
            }
        }
    }

    #[test]
    fn replays_the_scram_server_final_corpus() {
        let seeds = seeds("scram_server_final");
        assert!(seeds.len() >= 6);
        for (name, data) in seeds {
            let accepted = scram_server_final_accepted(&data);
            if name.starts_with("ok_") {
                assert!(accepted, "{name} should be accepted");
            } else if name.starts_with("bad_") {
                assert!(!accepted, "{name} should be refused");
            }
        }
    }

    #[test]
    fn the_independent_signature_is_the_one_the_client_accepts() {
        let genuine = format!("v={}", BASE64.encode(expected_server_signature()));
        assert!(scram_server_final_accepted(genuine.as_bytes()));
        let mut forged = expected_server_signature();
        forged[31] ^= 0x80;
        let forged = format!("v={}", BASE64.encode(forged));
        assert!(!scram_server_final_accepted(forged.as_bytes()));
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
