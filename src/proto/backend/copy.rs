//! COPY sub-protocol messages from the server: `CopyData` (`d`) and the
//! `CopyInResponse`/`CopyOutResponse`/`CopyBothResponse` headers (`G`, `H`,
//! `W`).
//!
//! Owns their decoding. Driving a COPY (which side sends, when it ends)
//! belongs to the connection's COPY streams.

use bytes::Bytes;

use super::super::ProtoError;
use super::format::Format;
use super::reader::Reader;

/// One chunk of COPY data; the bytes are passed through untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyData {
    data: Bytes,
}

impl CopyData {
    /// Wraps a `d` message body; any bytes are valid.
    pub fn parse(body: Bytes) -> Self {
        Self { data: body }
    }

    /// The data, sharing the read buffer.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// The data, owned.
    pub fn into_bytes(self) -> Bytes {
        self.data
    }
}

/// The start of a COPY: the overall format and each column's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyResponse {
    format: Format,
    body: Bytes,
}

impl CopyResponse {
    /// Decodes a `G`, `H` or `W` message body; `message` names it in
    /// errors. Every format code must be 0 or 1, and the column count must
    /// match the codes that follow.
    pub fn parse(body: Bytes, message: &'static str) -> Result<Self, ProtoError> {
        let mut r = Reader::new(&body, message);
        let format = match r.u8()? {
            0 => Format::Text,
            1 => Format::Binary,
            _ => return Err(r.invalid("overall COPY format is neither 0 nor 1")),
        };
        let columns = r.u16()?;
        for _ in 0..columns {
            Format::from_code_in(r.i16()?, message)?;
        }
        r.finish()?;
        Ok(Self { format, body })
    }

    /// The overall format of the copy.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The format of each column.
    pub fn column_formats(&self) -> ColumnFormats<'_> {
        ColumnFormats {
            codes: self.body.get(3..).unwrap_or_default().chunks_exact(2),
        }
    }
}

/// Iterator over [`CopyResponse::column_formats`].
#[derive(Debug, Clone)]
pub struct ColumnFormats<'a> {
    codes: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for ColumnFormats<'_> {
    type Item = Format;

    fn next(&mut self) -> Option<Format> {
        let code = self.codes.next()?;
        // Checked on parse: only 0 and 1 reach here.
        Some(match code {
            [0, 1] => Format::Binary,
            _ => Format::Text,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.codes.size_hint()
    }
}

impl ExactSizeIterator for ColumnFormats<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "CopyOutResponse";

    fn parse(b: &'static [u8]) -> Result<CopyResponse, ProtoError> {
        CopyResponse::parse(Bytes::from_static(b), M)
    }

    #[test]
    fn copy_data_passes_bytes_through() {
        let d = CopyData::parse(Bytes::from_static(b"1\tone\n"));
        assert_eq!(&d.data()[..], b"1\tone\n");
        assert_eq!(d.into_bytes(), Bytes::from_static(b"1\tone\n"));
    }

    #[test]
    fn copy_response_text_and_binary() {
        let c = parse(b"\0\0\x02\0\0\0\0").unwrap();
        assert_eq!(c.format(), Format::Text);
        assert_eq!(
            c.column_formats().collect::<Vec<_>>(),
            [Format::Text, Format::Text]
        );

        let c = parse(b"\x01\0\x03\0\x01\0\x01\0\x01").unwrap();
        assert_eq!(c.format(), Format::Binary);
        assert_eq!(c.column_formats().len(), 3);
        assert!(c.column_formats().all(|f| f == Format::Binary));

        let c = parse(b"\0\0\0").unwrap();
        assert_eq!(c.column_formats().count(), 0);
    }

    #[test]
    fn copy_response_malformed() {
        assert!(matches!(
            parse(b"\x02\0\0"),
            Err(ProtoError::InvalidValue { .. })
        ));
        assert!(matches!(
            parse(b"\0\0\x01\0\x02"),
            Err(ProtoError::InvalidValue { .. })
        ));
        assert_eq!(
            parse(b"\0\0\x02\0\0"),
            Err(ProtoError::Truncated { message: M })
        );
        assert_eq!(parse(b"\0\0"), Err(ProtoError::Truncated { message: M }));
        assert_eq!(
            parse(b"\0\0\x01\0\0\0"),
            Err(ProtoError::TrailingBytes {
                message: M,
                extra: 1
            })
        );
    }
}
