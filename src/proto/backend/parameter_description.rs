//! `ParameterDescription`: the parameter types of a prepared statement
//! (`t` messages).
//!
//! Owns decoding of the OID list. What the OIDs mean belongs to `types`.

use bytes::Bytes;

use super::super::ProtoError;
use super::reader::Reader;

const MESSAGE: &str = "ParameterDescription";

/// The type OID of each parameter of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterDescription {
    body: Bytes,
}

impl ParameterDescription {
    /// Decodes a `t` message body: a count, then exactly that many OIDs.
    pub fn parse(body: Bytes) -> Result<Self, ProtoError> {
        let mut r = Reader::new(&body, MESSAGE);
        let len = usize::from(r.u16()?);
        r.skip(len * 4)?;
        r.finish()?;
        Ok(Self { body })
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.body.len().saturating_sub(2) / 4
    }

    /// Whether the statement has no parameters.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The type OID of each parameter.
    pub fn types(&self) -> TypeOids<'_> {
        TypeOids {
            oids: self.body.get(2..).unwrap_or_default().chunks_exact(4),
        }
    }
}

/// Iterator over [`ParameterDescription::types`].
#[derive(Debug, Clone)]
pub struct TypeOids<'a> {
    oids: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for TypeOids<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        match self.oids.next()? {
            &[a, b, c, d] => Some(u32::from_be_bytes([a, b, c, d])),
            _ => None,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.oids.size_hint()
    }
}

impl ExactSizeIterator for TypeOids<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &'static [u8]) -> Result<ParameterDescription, ProtoError> {
        ParameterDescription::parse(Bytes::from_static(b))
    }

    #[test]
    fn decodes_oids() {
        let p = parse(b"\0\x03\0\0\0\x17\0\0\0\x19\xff\xff\xff\xff").unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p.types().collect::<Vec<_>>(), [23, 25, u32::MAX]);
        let p = parse(b"\0\0").unwrap();
        assert!(p.is_empty());
        assert_eq!(p.types().count(), 0);
    }

    #[test]
    fn malformed() {
        assert_eq!(
            parse(b"\0"),
            Err(ProtoError::Truncated { message: MESSAGE })
        );
        assert_eq!(
            parse(b"\0\x02\0\0\0\x17"),
            Err(ProtoError::Truncated { message: MESSAGE })
        );
        assert_eq!(
            parse(b"\xff\xff\0\0\0\x17"),
            Err(ProtoError::Truncated { message: MESSAGE })
        );
        assert_eq!(
            parse(b"\0\x01\0\0\0\x17\0"),
            Err(ProtoError::TrailingBytes {
                message: MESSAGE,
                extra: 1
            })
        );
    }
}
