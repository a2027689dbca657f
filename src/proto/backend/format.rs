//! `Format`: the text/binary format code of a column or parameter.
//!
//! Owns the mapping between the protocol's `Int16` format codes and
//! [`Format`]. It is shared by the backend decoders (RowDescription, COPY
//! responses) and usable by encoders; it knows nothing about values.

use super::super::ProtoError;

/// The format of a value on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(i16)]
pub enum Format {
    /// Format code 0: the type's text representation.
    #[default]
    Text = 0,
    /// Format code 1: the type's binary representation.
    Binary = 1,
}

impl Format {
    /// The format for a wire code; any code other than 0 or 1 is an
    /// [`ProtoError::InvalidValue`].
    pub fn from_i16(code: i16) -> Result<Self, ProtoError> {
        Self::from_code_in(code, "format code")
    }

    /// [`from_i16`](Self::from_i16) for a code read from `message`, which
    /// the error names.
    pub(crate) fn from_code_in(code: i16, message: &'static str) -> Result<Self, ProtoError> {
        match code {
            0 => Ok(Self::Text),
            1 => Ok(Self::Binary),
            _ => Err(ProtoError::InvalidValue {
                message,
                what: "format code is neither 0 (text) nor 1 (binary)",
            }),
        }
    }

    /// The wire code: 0 for text, 1 for binary.
    pub fn code(self) -> i16 {
        self as i16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        assert_eq!(Format::from_i16(0), Ok(Format::Text));
        assert_eq!(Format::from_i16(1), Ok(Format::Binary));
        assert_eq!(Format::Text.code(), 0);
        assert_eq!(Format::Binary.code(), 1);
        for bad in [-1, 2, i16::MAX, i16::MIN] {
            assert!(matches!(
                Format::from_code_in(bad, "RowDescription"),
                Err(ProtoError::InvalidValue {
                    message: "RowDescription",
                    ..
                })
            ));
            assert!(Format::from_i16(bad).is_err());
        }
    }
}
