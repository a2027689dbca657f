//! Framing: cutting the server's byte stream into tagged messages.
//!
//! Owns [`Frame`] and [`FrameSplitter`]. A backend message is a type byte,
//! an `Int32` length that counts itself but not the type byte, and a body.
//! This file checks the length word against a configured maximum and splits
//! whole frames off the front of the read buffer without copying, one at a
//! time or as a run of frames of one type (rows, COPY data) taken in one
//! piece and split later. It must not look inside a body (that is
//! `backend`'s job) and does no I/O.

use bytes::{Buf, Bytes, BytesMut};

use super::ProtoError;

/// The default largest length word accepted from the server: 1 GiB.
///
/// PostgreSQL builds every outgoing message in a buffer limited to its
/// `MaxAllocSize` (1 GiB − 1), so no real server sends a longer message; a
/// larger length word means a corrupted stream or a hostile peer. It is also
/// a ceiling on how much a single message can make the read buffer hold.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 1 << 30;

/// How far ahead of the bytes already buffered [`FrameSplitter::split`]
/// reserves room when a frame is incomplete. A server-claimed length never
/// makes the buffer grow by more than this at once: the buffer grows only
/// as real bytes arrive.
pub const RESERVE_AHEAD_LIMIT: usize = 64 * 1024;

/// Size of a frame header: the type byte and the `Int32` length.
pub const HEADER_LEN: usize = 5;

/// One backend message, split off the stream but not yet decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The message type byte (`b'D'` for DataRow, …).
    pub tag: u8,
    /// The body: everything after the length word. Shares the read buffer's
    /// memory.
    pub body: Bytes,
}

/// Splits complete frames off the front of a read buffer.
///
/// ```
/// use bytes::BytesMut;
/// use pgline::proto::{FrameSplitter, DEFAULT_MAX_MESSAGE_LEN};
///
/// let splitter = FrameSplitter::new(DEFAULT_MAX_MESSAGE_LEN);
/// let mut buf = BytesMut::from(&b"Z\0\0\0\x05IZ\0"[..]);
/// let frame = splitter.split(&mut buf).unwrap().unwrap();
/// assert_eq!((frame.tag, &frame.body[..]), (b'Z', &b"I"[..]));
/// assert_eq!(splitter.split(&mut buf), Ok(None)); // the second frame is partial
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSplitter {
    max_message_len: usize,
}

impl Default for FrameSplitter {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_MESSAGE_LEN)
    }
}

impl FrameSplitter {
    /// A splitter that rejects length words above `max_message_len` (the
    /// length word counts itself, not the type byte). Values below 4 are
    /// raised to 4, so that empty messages always pass.
    pub fn new(max_message_len: usize) -> Self {
        Self {
            max_message_len: max_message_len.max(4),
        }
    }

    /// The largest length word this splitter accepts.
    pub fn max_message_len(&self) -> usize {
        self.max_message_len
    }

    /// Splits one frame off the front of `buf`.
    ///
    /// - `Ok(Some(frame))`: the frame's bytes were removed from `buf`
    ///   (`split_to` + `freeze`, no copy).
    /// - `Ok(None)`: `buf` holds no complete frame yet; nothing was removed,
    ///   and room was reserved for the missing bytes, at most
    ///   [`RESERVE_AHEAD_LIMIT`] ahead.
    /// - `Err(_)`: the header is invalid (length below 4 or above the
    ///   maximum); nothing was removed. The stream cannot be resynchronised.
    pub fn split(&self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtoError> {
        let Some(header) = buf.get(..HEADER_LEN) else {
            buf.reserve(HEADER_LEN - buf.len());
            return Ok(None);
        };
        let tag = header[0];
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        if len < 4 {
            return Err(ProtoError::InvalidLength { tag, len });
        }
        // u32 always fits usize on the targets we support (32 and 64 bit).
        let len = len as usize;
        if len > self.max_message_len {
            return Err(ProtoError::MessageTooLong {
                tag,
                len,
                max: self.max_message_len,
            });
        }
        let total = len + 1;
        if buf.len() < total {
            buf.reserve((total - buf.len()).min(RESERVE_AHEAD_LIMIT));
            return Ok(None);
        }
        // Advancing the frozen frame is a pointer bump; advancing a
        // `BytesMut` costs more.
        let mut body = buf.split_to(total).freeze();
        body.advance(HEADER_LEN);
        Ok(Some(Frame { tag, body }))
    }
}

/// A run of complete frames at the front of a buffer: see
/// [`FrameSplitter::run`] and [`FrameSplitter::run_while`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// How many frames.
    pub frames: usize,
    /// Their total size, headers included.
    pub len: usize,
}

/// What [`FrameSplitter::run_while`] does with the next complete frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStep {
    /// Include it and go on.
    Take,
    /// Include it and end the run after it.
    TakeLast,
    /// End the run before it.
    Stop,
}

impl FrameSplitter {
    /// Measures the run of complete frames with type byte `tag` at the front
    /// of `buf`, checking each length word as [`split`](Self::split) does.
    /// Nothing is removed: take `run.len` bytes and cut them with
    /// [`next_in_run`]. Stops at the first frame of another type or the
    /// first incomplete one; an invalid length word is an error only when it
    /// is the first frame's (a later one is left for `split` to report).
    ///
    /// ```
    /// use pgline::proto::{FrameSplitter, frame_run::next_in_run};
    ///
    /// let buf = b"d\0\0\0\x06abd\0\0\0\x05cC\0\0";
    /// let run = FrameSplitter::default().run(buf, b'd').unwrap();
    /// assert_eq!((run.frames, run.len), (2, 13));
    /// let mut frames = bytes::Bytes::copy_from_slice(&buf[..run.len]);
    /// assert_eq!(next_in_run(&mut frames).map(|f| f.body).as_deref(), Some(&b"ab"[..]));
    /// assert_eq!(next_in_run(&mut frames).map(|f| f.body).as_deref(), Some(&b"c"[..]));
    /// assert_eq!(next_in_run(&mut frames), None);
    /// ```
    pub fn run(&self, buf: &[u8], tag: u8) -> Result<Run, ProtoError> {
        self.run_while(buf, |t, _| {
            if t == tag {
                RunStep::Take
            } else {
                RunStep::Stop
            }
        })
    }

    /// Measures the run of complete frames at the front of `buf` that `step`
    /// accepts, given each frame's type byte and body; otherwise as
    /// [`run`](Self::run).
    pub fn run_while(
        &self,
        buf: &[u8],
        mut step: impl FnMut(u8, &[u8]) -> RunStep,
    ) -> Result<Run, ProtoError> {
        let mut run = Run { frames: 0, len: 0 };
        while let Some(header) = buf.get(run.len..run.len + HEADER_LEN) {
            let tag = header[0];
            let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
            if len < 4 {
                if run.frames == 0 {
                    return Err(ProtoError::InvalidLength { tag, len });
                }
                break;
            }
            let len = len as usize;
            if len > self.max_message_len {
                if run.frames == 0 {
                    return Err(ProtoError::MessageTooLong {
                        tag,
                        len,
                        max: self.max_message_len,
                    });
                }
                break;
            }
            let Some(body) = buf.get(run.len + HEADER_LEN..run.len + len + 1) else {
                break;
            };
            match step(tag, body) {
                RunStep::Stop => break,
                RunStep::Take => {}
                RunStep::TakeLast => {
                    run.len += len + 1;
                    run.frames += 1;
                    break;
                }
            }
            run.len += len + 1;
            run.frames += 1;
        }
        Ok(run)
    }
}

/// Cuts the first frame off a run measured by [`FrameSplitter::run`] or
/// [`FrameSplitter::run_while`] (its body sharing the run's memory);
/// `None` when the run is spent or does not start with a whole frame.
#[inline]
pub fn next_in_run(run: &mut Bytes) -> Option<Frame> {
    let (tag, _, size) = peek_in_run(run)?;
    let mut body = run.split_to(size);
    body.advance(HEADER_LEN);
    Some(Frame { tag, body })
}

/// The first frame of a run, borrowed: its tag, its body, and its size
/// with the header (what to advance past it). `None` as for
/// [`next_in_run`].
#[inline]
pub fn peek_in_run(run: &[u8]) -> Option<(u8, &[u8], usize)> {
    let header = run.get(..HEADER_LEN)?;
    let tag = header[0];
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    let body = run.get(HEADER_LEN..len.checked_add(1)?)?;
    Some((tag, body, len + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three messages: ParseComplete, DataRow with two fields, ReadyForQuery.
    const STREAM: &[u8] = b"1\0\0\0\x04\
D\0\0\0\x13\0\x02\0\0\0\x01a\xff\xff\xff\xff\0\0\0\0\
Z\0\0\0\x05I";

    fn split_all(splitter: &FrameSplitter, buf: &mut BytesMut, out: &mut Vec<Frame>) {
        while let Some(frame) = splitter.split(buf).expect("valid stream") {
            out.push(frame);
        }
    }

    #[test]
    fn splits_whole_stream() {
        let splitter = FrameSplitter::default();
        let mut buf = BytesMut::from(STREAM);
        let mut frames = Vec::new();
        split_all(&splitter, &mut buf, &mut frames);
        assert!(buf.is_empty());
        let tags: Vec<u8> = frames.iter().map(|f| f.tag).collect();
        assert_eq!(tags, b"1DZ");
        assert_eq!(&frames[0].body[..], b"");
        assert_eq!(frames[1].body.len(), 0x13 - 4);
        assert_eq!(&frames[2].body[..], b"I");
    }

    #[test]
    fn every_byte_boundary_gives_the_same_frames() {
        let splitter = FrameSplitter::default();
        let mut expected = Vec::new();
        split_all(&splitter, &mut BytesMut::from(STREAM), &mut expected);
        assert_eq!(expected.len(), 3);

        for cut in 0..=STREAM.len() {
            let mut buf = BytesMut::new();
            let mut frames = Vec::new();
            buf.extend_from_slice(&STREAM[..cut]);
            split_all(&splitter, &mut buf, &mut frames);
            buf.extend_from_slice(&STREAM[cut..]);
            split_all(&splitter, &mut buf, &mut frames);
            assert_eq!(frames, expected, "cut at {cut}");
            assert!(buf.is_empty());
        }

        // One byte at a time.
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for byte in STREAM {
            buf.extend_from_slice(&[*byte]);
            split_all(&splitter, &mut buf, &mut frames);
        }
        assert_eq!(frames, expected);
    }

    #[test]
    fn partial_frame_is_none_and_keeps_bytes() {
        let splitter = FrameSplitter::default();
        for partial in [
            &b""[..],
            b"Z",
            b"Z\0\0\0",
            b"Z\0\0\0\x05",
            b"D\0\0\0\x11\0\x02",
        ] {
            let mut buf = BytesMut::from(partial);
            assert_eq!(splitter.split(&mut buf), Ok(None));
            assert_eq!(&buf[..], partial);
        }
    }

    #[test]
    fn length_below_four_is_invalid() {
        let splitter = FrameSplitter::default();
        for len in [0u8, 1, 2, 3] {
            let mut buf = BytesMut::from(&[b'Z', 0, 0, 0, len, b'I'][..]);
            assert_eq!(
                splitter.split(&mut buf),
                Err(ProtoError::InvalidLength {
                    tag: b'Z',
                    len: u32::from(len)
                })
            );
            assert_eq!(buf.len(), 6, "nothing consumed");
        }
    }

    #[test]
    fn huge_length_is_rejected_before_allocating() {
        let splitter = FrameSplitter::default();
        for len in [0x7fff_ffffu32, 0xffff_ffff, (1 << 30) + 1] {
            let mut buf = BytesMut::from(&[b'D'][..]);
            buf.extend_from_slice(&len.to_be_bytes());
            let cap = buf.capacity();
            assert_eq!(
                splitter.split(&mut buf),
                Err(ProtoError::MessageTooLong {
                    tag: b'D',
                    len: len as usize,
                    max: DEFAULT_MAX_MESSAGE_LEN
                })
            );
            assert_eq!(buf.capacity(), cap);
        }
    }

    #[test]
    fn configured_maximum_applies() {
        let splitter = FrameSplitter::new(8);
        let mut ok = BytesMut::from(&b"d\0\0\0\x08abcd"[..]);
        assert_eq!(
            splitter.split(&mut ok).unwrap().map(|f| f.body),
            Some(Bytes::from_static(b"abcd"))
        );
        let mut too_long = BytesMut::from(&b"d\0\0\0\x09abcde"[..]);
        assert_eq!(
            splitter.split(&mut too_long),
            Err(ProtoError::MessageTooLong {
                tag: b'd',
                len: 9,
                max: 8
            })
        );
        assert_eq!(FrameSplitter::new(0).max_message_len(), 4);
    }

    #[test]
    fn claimed_length_reserves_a_bounded_chunk() {
        let splitter = FrameSplitter::default();
        // A length word of 1 GiB with only the header present.
        let mut buf = BytesMut::from(&b"D\x40\0\0\0"[..]);
        assert_eq!(splitter.split(&mut buf), Ok(None));
        assert!(buf.capacity() > HEADER_LEN);
        assert!(buf.capacity() <= 2 * (HEADER_LEN + RESERVE_AHEAD_LIMIT));
    }

    #[test]
    fn runs_stop_at_another_type_or_an_incomplete_frame() {
        let splitter = FrameSplitter::default();
        let two = b"d\0\0\0\x05xd\0\0\0\x04";
        assert_eq!(splitter.run(two, b'd'), Ok(Run { frames: 2, len: 11 }));
        let mut other = two.to_vec();
        other.extend_from_slice(b"C\0\0\0\x04");
        assert_eq!(splitter.run(&other, b'd'), Ok(Run { frames: 2, len: 11 }));
        let mut partial = two.to_vec();
        partial.extend_from_slice(b"d\0\0\0\x09abc");
        assert_eq!(splitter.run(&partial, b'd'), Ok(Run { frames: 2, len: 11 }));
        assert_eq!(splitter.run(b"d\0\0", b'd'), Ok(Run { frames: 0, len: 0 }));
        assert_eq!(splitter.run(two, b'D'), Ok(Run { frames: 0, len: 0 }));
    }

    #[test]
    fn runs_check_length_words() {
        let splitter = FrameSplitter::new(16);
        assert_eq!(
            splitter.run(b"d\0\0\0\x03", b'd'),
            Err(ProtoError::InvalidLength { tag: b'd', len: 3 })
        );
        assert!(matches!(
            splitter.run(b"d\0\0\0\x20", b'd'),
            Err(ProtoError::MessageTooLong { len: 32, .. })
        ));
        // A bad frame after a good one ends the run; `split` reports it.
        let run = splitter.run(b"d\0\0\0\x04d\0\0\0\x01", b'd').unwrap();
        assert_eq!(run, Run { frames: 1, len: 5 });
    }

    #[test]
    fn a_run_cut_at_every_boundary_gives_the_same_frames() {
        let splitter = FrameSplitter::default();
        let mut stream = Vec::new();
        for body in [&b""[..], b"a", b"bc", b"0123456789"] {
            stream.push(b'D');
            stream.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
            stream.extend_from_slice(body);
        }
        for cut in 0..=stream.len() {
            let run = splitter.run(&stream[..cut], b'D').unwrap();
            let mut bytes = Bytes::copy_from_slice(&stream[..run.len]);
            let mut bodies = Vec::new();
            while let Some(frame) = next_in_run(&mut bytes) {
                assert_eq!(frame.tag, b'D');
                bodies.push(frame.body);
            }
            assert_eq!(bodies.len(), run.frames, "cut at {cut}");
            assert!(bytes.is_empty());
        }
        assert_eq!(next_in_run(&mut Bytes::from_static(b"D\0\0\0\x09ab")), None);
    }

    #[test]
    fn run_while_takes_stops_and_ends_after() {
        let splitter = FrameSplitter::default();
        let stream = b"2\0\0\0\x04D\0\0\0\x06\0\0C\0\0\0\x05xZ\0\0\0\x05IS\0\0\0\x04";
        let to_ready = splitter
            .run_while(stream, |tag, _| match tag {
                b'Z' => RunStep::TakeLast,
                _ => RunStep::Take,
            })
            .unwrap();
        assert_eq!(to_ready, Run { frames: 4, len: 24 });
        let before_command = splitter
            .run_while(stream, |tag, body| {
                if tag == b'C' && body == b"x" {
                    RunStep::Stop
                } else {
                    RunStep::Take
                }
            })
            .unwrap();
        assert_eq!(before_command, Run { frames: 2, len: 12 });
        let mut frames = Bytes::copy_from_slice(&stream[..to_ready.len]);
        let tags: Vec<u8> =
            std::iter::from_fn(|| next_in_run(&mut frames).map(|f| f.tag)).collect();
        assert_eq!(tags, b"2DCZ");
    }

    #[test]
    fn peek_borrows_what_next_in_run_cuts() {
        let stream: &[u8] = b"2\0\0\0\x04Z\0\0\0\x05I";
        assert_eq!(peek_in_run(stream), Some((b'2', &b""[..], 5)));
        assert_eq!(peek_in_run(&stream[5..]), Some((b'Z', &b"I"[..], 6)));
        // Cut at every byte: a partial frame is never peeked.
        for cut in 0..stream.len() {
            let peeked = peek_in_run(&stream[..cut]);
            assert_eq!(peeked.is_some(), cut >= 5, "cut at {cut}");
        }
        // A length word below 4 or past the end is no frame.
        assert_eq!(peek_in_run(b"2\0\0\0\x03"), None);
        assert_eq!(peek_in_run(b"2\xff\xff\xff\xff"), None);
        let mut bytes = Bytes::from_static(stream);
        let (_, _, size) = peek_in_run(&bytes).unwrap();
        let frame = next_in_run(&mut bytes).unwrap();
        assert_eq!((frame.tag, frame.body.len() + HEADER_LEN), (b'2', size));
    }
}
