//! Backend messages as bytes, and a reader of frontend messages.
//!
//! Owns the byte layout the fake server sends and reads. It is written from
//! the protocol documentation, independently of pgline's codec, so that a
//! mistake in one is not hidden by the same mistake in the other. It must
//! not validate anything: bad bytes are what the tests want to send.

use tokio::io::{AsyncRead, AsyncReadExt};

/// One message: `tag`, then a length that counts itself, then `body`.
pub fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + body.len());
    out.push(tag);
    out.extend_from_slice(&length_of(body.len() + 4).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A header whose length field says `declared`, whatever follows.
pub fn header(tag: u8, declared: u32) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(&declared.to_be_bytes());
    out
}

fn length_of(len: usize) -> u32 {
    u32::try_from(len).expect("test messages are small")
}

fn cstr(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

/// AuthenticationRequest with `code` and extra bytes (`R`).
pub fn auth(code: u32, extra: &[u8]) -> Vec<u8> {
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(extra);
    message(b'R', &body)
}

/// AuthenticationOk.
pub fn auth_ok() -> Vec<u8> {
    auth(0, &[])
}

/// AuthenticationSASL offering `mechanisms`.
pub fn auth_sasl(mechanisms: &[&str]) -> Vec<u8> {
    let mut extra = Vec::new();
    for m in mechanisms {
        cstr(&mut extra, m);
    }
    extra.push(0);
    auth(10, &extra)
}

/// AuthenticationSASLContinue carrying a server-first-message.
pub fn auth_sasl_continue(data: &[u8]) -> Vec<u8> {
    auth(11, data)
}

/// AuthenticationSASLFinal carrying a server-final-message.
pub fn auth_sasl_final(data: &[u8]) -> Vec<u8> {
    auth(12, data)
}

/// BackendKeyData with a 4-byte secret.
pub fn backend_key(pid: u32, secret: u32) -> Vec<u8> {
    let mut body = pid.to_be_bytes().to_vec();
    body.extend_from_slice(&secret.to_be_bytes());
    message(b'K', &body)
}

/// ParameterStatus.
pub fn parameter_status(name: &str, value: &str) -> Vec<u8> {
    let mut body = Vec::new();
    cstr(&mut body, name);
    cstr(&mut body, value);
    message(b'S', &body)
}

/// ReadyForQuery with the given status byte (`I`, `T` or `E`).
pub fn ready(status: u8) -> Vec<u8> {
    message(b'Z', &[status])
}

/// ReadyForQuery, idle.
pub fn ready_idle() -> Vec<u8> {
    ready(b'I')
}

/// What a server sends after AuthenticationOk: parameter statuses, the
/// cancel key, and ReadyForQuery.
pub fn startup_tail() -> Vec<u8> {
    [
        parameter_status("server_version", "17.0"),
        parameter_status("server_encoding", "UTF8"),
        parameter_status("client_encoding", "UTF8"),
        parameter_status("DateStyle", "ISO, MDY"),
        parameter_status("integer_datetimes", "on"),
        parameter_status("standard_conforming_strings", "on"),
        parameter_status("TimeZone", "UTC"),
        backend_key(4242, 0x0102_0304),
        ready_idle(),
    ]
    .concat()
}

/// RowDescription of `columns`, each `(name, type oid, format code)`.
pub fn row_description(columns: &[(&str, u32, i16)]) -> Vec<u8> {
    let mut body = (columns.len() as u16).to_be_bytes().to_vec();
    for (name, oid, format) in columns {
        cstr(&mut body, name);
        body.extend_from_slice(&0u32.to_be_bytes()); // table oid
        body.extend_from_slice(&0i16.to_be_bytes()); // column number
        body.extend_from_slice(&oid.to_be_bytes());
        body.extend_from_slice(&(-1i16).to_be_bytes()); // type size
        body.extend_from_slice(&(-1i32).to_be_bytes()); // type modifier
        body.extend_from_slice(&format.to_be_bytes());
    }
    message(b'T', &body)
}

/// RowDescription of text columns, text format.
pub fn text_columns(names: &[&str]) -> Vec<u8> {
    let columns: Vec<(&str, u32, i16)> = names.iter().map(|n| (*n, 25, 0)).collect();
    row_description(&columns)
}

/// DataRow; `None` is NULL.
pub fn data_row(fields: &[Option<&[u8]>]) -> Vec<u8> {
    let mut body = (fields.len() as u16).to_be_bytes().to_vec();
    for field in fields {
        match field {
            Some(value) => {
                body.extend_from_slice(&length_of(value.len()).to_be_bytes());
                body.extend_from_slice(value);
            }
            None => body.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    message(b'D', &body)
}

/// CommandComplete with `tag`.
pub fn command_complete(tag: &str) -> Vec<u8> {
    let mut body = Vec::new();
    cstr(&mut body, tag);
    message(b'C', &body)
}

/// ParseComplete.
pub fn parse_complete() -> Vec<u8> {
    message(b'1', &[])
}

/// BindComplete.
pub fn bind_complete() -> Vec<u8> {
    message(b'2', &[])
}

/// ErrorResponse (or NoticeResponse with `tag` `N`) with severity, code and
/// message.
pub fn error_fields(tag: u8, severity: &str, code: &str, text: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (kind, value) in [
        (b'S', severity),
        (b'V', severity),
        (b'C', code),
        (b'M', text),
    ] {
        body.push(kind);
        cstr(&mut body, value);
    }
    body.push(0);
    message(tag, &body)
}

/// ErrorResponse with severity ERROR.
pub fn error_response(code: &str, text: &str) -> Vec<u8> {
    error_fields(b'E', "ERROR", code, text)
}

/// NegotiateProtocolVersion: the newest version the server speaks and the
/// `_pq_.` options it did not recognise.
pub fn negotiate_protocol_version(newest: u32, unrecognized: &[&str]) -> Vec<u8> {
    let mut body = newest.to_be_bytes().to_vec();
    body.extend_from_slice(&length_of(unrecognized.len()).to_be_bytes());
    for option in unrecognized {
        cstr(&mut body, option);
    }
    message(b'v', &body)
}

/// One frontend message as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontendMessage {
    /// The tag byte; 0 for the untagged startup-phase messages
    /// (StartupMessage, SSLRequest, CancelRequest, GSSENCRequest).
    pub tag: u8,
    /// The body after the length field.
    pub body: Vec<u8>,
}

impl FrontendMessage {
    /// The whole message as it was on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let len = length_of(self.body.len() + 4).to_be_bytes();
        let mut out = Vec::with_capacity(self.body.len() + 5);
        if self.tag != 0 {
            out.push(self.tag);
        }
        out.extend_from_slice(&len);
        out.extend_from_slice(&self.body);
        out
    }

    /// The request code of an untagged message (e.g. 80877103 for SSLRequest,
    /// 196608 for a protocol 3.0 StartupMessage).
    pub fn request_code(&self) -> Option<u32> {
        let code = self.body.get(..4)?;
        Some(u32::from_be_bytes(code.try_into().ok()?))
    }
}

/// The largest frontend message the fake server accepts.
pub const MAX_FRONTEND_MESSAGE: usize = 64 << 20;

/// Reads one untagged startup-phase message; `Ok(None)` at end of stream.
pub async fn read_untagged(
    r: &mut (impl AsyncRead + Unpin),
) -> std::io::Result<Option<FrontendMessage>> {
    let mut len = [0u8; 4];
    if !read_exact_or_eof(r, &mut len).await? {
        return Ok(None);
    }
    let body = read_body(r, u32::from_be_bytes(len)).await?;
    Ok(Some(FrontendMessage { tag: 0, body }))
}

/// Reads one tagged message; `Ok(None)` at end of stream.
pub async fn read_tagged(
    r: &mut (impl AsyncRead + Unpin),
) -> std::io::Result<Option<FrontendMessage>> {
    let mut head = [0u8; 5];
    if !read_exact_or_eof(r, &mut head).await? {
        return Ok(None);
    }
    let [tag, a, b, c, d] = head;
    let body = read_body(r, u32::from_be_bytes([a, b, c, d])).await?;
    Ok(Some(FrontendMessage { tag, body }))
}

async fn read_body(r: &mut (impl AsyncRead + Unpin), declared: u32) -> std::io::Result<Vec<u8>> {
    let len = usize::try_from(declared).unwrap_or(usize::MAX);
    if !(4..=MAX_FRONTEND_MESSAGE).contains(&len) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frontend length field {declared}"),
        ));
    }
    let mut body = vec![0; len - 4];
    r.read_exact(&mut body).await?;
    Ok(body)
}

/// Fills `buf`; `Ok(false)` if the stream ended before the first byte.
async fn read_exact_or_eof(
    r: &mut (impl AsyncRead + Unpin),
    buf: &mut [u8],
) -> std::io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = r.read(&mut buf[filled..]).await?;
        if n == 0 {
            if filled == 0 {
                return Ok(false);
            }
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
    }
    Ok(true)
}

/// Splits a recorded frontend stream that starts with the startup phase
/// (SSLRequest and StartupMessage are untagged) into messages.
pub fn split_frontend(mut bytes: &[u8]) -> Vec<FrontendMessage> {
    let mut out = Vec::new();
    let mut startup_done = false;
    while !bytes.is_empty() {
        let (tag, rest) = if startup_done {
            match bytes.split_first() {
                Some((&tag, rest)) => (tag, rest),
                None => break,
            }
        } else {
            (0, bytes)
        };
        let Some(len) = rest.get(..4) else { break };
        let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
        let Some(body) = rest.get(4..len.max(4)) else {
            break;
        };
        let message = FrontendMessage {
            tag,
            body: body.to_vec(),
        };
        // Only the StartupMessage (any 3.x version code) ends the untagged phase.
        if tag == 0 && message.request_code().is_some_and(|c| c >> 16 == 3) {
            startup_done = true;
        }
        out.push(message);
        bytes = rest.get(len.max(4)..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_messages_byte_for_byte() {
        assert_eq!(ready_idle(), b"Z\0\0\0\x05I");
        assert_eq!(auth_ok(), b"R\0\0\0\x08\0\0\0\0");
        assert_eq!(command_complete("SELECT 1"), b"C\0\0\0\x0dSELECT 1\0");
        assert_eq!(
            data_row(&[Some(b"ab"), None]),
            b"D\0\0\0\x10\0\x02\0\0\0\x02ab\xff\xff\xff\xff"
        );
        assert_eq!(header(b'D', 3), b"D\0\0\0\x03");
    }

    #[test]
    fn splits_a_recorded_frontend_stream() {
        let ssl = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
        let mut startup = vec![0, 0, 0, 9, 0, 3, 0, 0, 0];
        startup.extend_from_slice(&message(b'Q', b"SELECT 1\0"));
        let stream = [&ssl[..], &startup].concat();
        let messages = split_frontend(&stream);
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[0].request_code(), Some(80_877_103));
        assert_eq!(messages[1].request_code(), Some(0x0003_0000));
        assert_eq!(messages[2].tag, b'Q');
        let rebuilt: Vec<u8> = messages
            .iter()
            .flat_map(FrontendMessage::to_bytes)
            .collect();
        assert_eq!(rebuilt, stream);
    }
}
