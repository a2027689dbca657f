//! `BackendKeyData`: the process id and secret key used to cancel queries.
//!
//! Owns decoding of the `K` message for protocol 3.0 (a 4-byte key) and 3.2
//! (a key of 4 to 256 bytes). It must not build cancel requests (see
//! `frontend::cancel_request`).

use bytes::Bytes;

use super::super::ProtoError;
use super::reader::Reader;

const MESSAGE: &str = "BackendKeyData";

/// The shortest secret key the protocol allows (and the only length in 3.0).
pub const MIN_SECRET_KEY_LEN: usize = 4;
/// The longest secret key the protocol allows (protocol 3.2).
pub const MAX_SECRET_KEY_LEN: usize = 256;

/// Cancellation key data for this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendKeyData {
    process_id: u32,
    /// The whole body; the key starts at byte 4.
    body: Bytes,
}

impl BackendKeyData {
    /// Decodes a `K` message body.
    pub fn parse(body: Bytes) -> Result<Self, ProtoError> {
        let mut r = Reader::new(&body, MESSAGE);
        let process_id = r.u32()?;
        let key_len = r.remaining();
        if key_len < MIN_SECRET_KEY_LEN {
            return Err(r.truncated());
        }
        if key_len > MAX_SECRET_KEY_LEN {
            return Err(r.invalid("secret key longer than 256 bytes"));
        }
        Ok(Self { process_id, body })
    }

    /// The backend's process id.
    pub fn process_id(&self) -> u32 {
        self.process_id
    }

    /// The secret key: 4 bytes under protocol 3.0, 4 to 256 under 3.2.
    pub fn secret_key(&self) -> &[u8] {
        self.body.get(4..).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_3_0_key() {
        let k = BackendKeyData::parse(Bytes::from_static(b"\0\0\x30\x39\xde\xad\xbe\xef")).unwrap();
        assert_eq!(k.process_id(), 12345);
        assert_eq!(k.secret_key(), b"\xde\xad\xbe\xef");
    }

    #[test]
    fn protocol_3_2_key() {
        let mut body = vec![0, 0, 0, 7];
        body.extend(0..32u8);
        let k = BackendKeyData::parse(Bytes::from(body)).unwrap();
        assert_eq!(k.process_id(), 7);
        assert_eq!(k.secret_key(), (0..32u8).collect::<Vec<_>>());

        let mut longest = vec![0, 0, 0, 1];
        longest.extend([0xaa; 256]);
        let k = BackendKeyData::parse(Bytes::from(longest)).unwrap();
        assert_eq!(k.secret_key(), &[0xaa; 256][..]);
    }

    #[test]
    fn key_length_out_of_range() {
        for key_len in [0, 1, 3] {
            let mut body = vec![0, 0, 0, 1];
            body.extend(vec![1; key_len]);
            assert_eq!(
                BackendKeyData::parse(Bytes::from(body)),
                Err(ProtoError::Truncated { message: MESSAGE })
            );
        }
        let mut body = vec![0, 0, 0, 1];
        body.extend([1; 257]);
        assert!(matches!(
            BackendKeyData::parse(Bytes::from(body)),
            Err(ProtoError::InvalidValue {
                message: MESSAGE,
                ..
            })
        ));
        assert_eq!(
            BackendKeyData::parse(Bytes::from_static(b"\0\0")),
            Err(ProtoError::Truncated { message: MESSAGE })
        );
    }
}
