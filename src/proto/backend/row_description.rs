//! `RowDescription`: the columns of a result (`T` messages).
//!
//! Owns decoding of the per-column descriptions. The message keeps the
//! frame's `Bytes`; fields are re-walked lazily after one validating pass.
//! Mapping type OIDs to Rust types belongs to `types`.

use bytes::Bytes;

use super::super::ProtoError;
use super::format::Format;
use super::reader::Reader;

const MESSAGE: &str = "RowDescription";

/// The description of every column of a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowDescription {
    body: Bytes,
    len: u16,
}

/// One column of a [`RowDescription`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDescription<'a> {
    /// The column name.
    pub name: &'a str,
    /// The OID of the table the column comes from, or 0.
    pub table_oid: u32,
    /// The column's attribute number in that table, or 0.
    pub column_id: i16,
    /// The OID of the column's data type.
    pub type_oid: u32,
    /// The type's size (`pg_type.typlen`); negative for variable-size types.
    pub type_size: i16,
    /// The type modifier (`pg_attribute.atttypmod`), -1 when none.
    pub type_modifier: i32,
    /// The format the values will come in. (In answer to a Describe of a
    /// statement the format is not yet known and is always text.)
    pub format: Format,
}

impl RowDescription {
    /// Decodes a `T` message body: a count, then per column a UTF-8 name
    /// and fixed-size attributes. Format codes must be 0 or 1.
    pub fn parse(body: Bytes) -> Result<Self, ProtoError> {
        let mut r = Reader::new(&body, MESSAGE);
        let len = r.u16()?;
        for _ in 0..len {
            read_field(&mut r)?;
        }
        r.finish()?;
        Ok(Self { body, len })
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether there are no columns.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The column descriptions, in order.
    pub fn fields(&self) -> FieldDescriptions<'_> {
        FieldDescriptions {
            body: &self.body,
            pos: 2,
            left: self.len,
        }
    }
}

fn read_field<'a>(r: &mut Reader<'a>) -> Result<FieldDescription<'a>, ProtoError> {
    let name = r.cstr()?;
    Ok(FieldDescription {
        name,
        table_oid: r.u32()?,
        column_id: r.i16()?,
        type_oid: r.u32()?,
        type_size: r.i16()?,
        type_modifier: r.i32()?,
        format: Format::from_code_in(r.i16()?, MESSAGE)?,
    })
}

/// Iterator over [`RowDescription::fields`].
#[derive(Debug, Clone)]
pub struct FieldDescriptions<'a> {
    body: &'a [u8],
    pos: usize,
    left: u16,
}

impl<'a> Iterator for FieldDescriptions<'a> {
    type Item = FieldDescription<'a>;

    fn next(&mut self) -> Option<FieldDescription<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // Validated on parse, so this cannot fail; a failure ends iteration.
        let rest: &'a [u8] = self.body.get(self.pos..)?;
        let mut r = Reader::new(rest, MESSAGE);
        let field = read_field(&mut r).ok()?;
        self.pos += r.pos();
        Some(field)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::from(self.left);
        (left, Some(left))
    }
}

impl ExactSizeIterator for FieldDescriptions<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// `SELECT 1 AS id, 'x'::text AS "näme"` with binary id.
    const TWO_COLUMNS: &[u8] = b"\0\x02\
id\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\x01\
n\xc3\xa4me\0\0\0\x40\x01\0\x03\0\0\0\x19\xff\xff\0\0\0\x08\0\0";

    #[test]
    fn decodes_columns() {
        let rd = RowDescription::parse(Bytes::from_static(TWO_COLUMNS)).unwrap();
        assert_eq!(rd.len(), 2);
        let fields: Vec<_> = rd.fields().collect();
        assert_eq!(
            fields[0],
            FieldDescription {
                name: "id",
                table_oid: 0,
                column_id: 0,
                type_oid: 23,
                type_size: 4,
                type_modifier: -1,
                format: Format::Binary,
            }
        );
        assert_eq!(
            fields[1],
            FieldDescription {
                name: "näme",
                table_oid: 0x4001,
                column_id: 3,
                type_oid: 25,
                type_size: -1,
                type_modifier: 8,
                format: Format::Text,
            }
        );
        assert_eq!(rd.fields().len(), 2);
    }

    #[test]
    fn no_columns() {
        let rd = RowDescription::parse(Bytes::from_static(b"\0\0")).unwrap();
        assert!(rd.is_empty());
        assert_eq!(rd.fields().count(), 0);
    }

    #[test]
    fn malformed() {
        let parse = |b: &[u8]| RowDescription::parse(Bytes::copy_from_slice(b));
        // Every truncation of a valid body fails cleanly.
        for cut in 0..TWO_COLUMNS.len() {
            assert!(parse(&TWO_COLUMNS[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = TWO_COLUMNS.to_vec();
        extra.push(0);
        assert_eq!(
            parse(&extra),
            Err(ProtoError::TrailingBytes {
                message: MESSAGE,
                extra: 1
            })
        );
        let mut bad_format = TWO_COLUMNS.to_vec();
        let last = bad_format.len() - 1;
        bad_format[last] = 2;
        assert!(matches!(
            parse(&bad_format),
            Err(ProtoError::InvalidValue { .. })
        ));
        let mut bad_name = TWO_COLUMNS.to_vec();
        bad_name[2] = 0xff;
        assert_eq!(
            parse(&bad_name),
            Err(ProtoError::InvalidUtf8 { message: MESSAGE })
        );
        // A count of 65535 over a short body.
        assert_eq!(
            parse(b"\xff\xffa\0"),
            Err(ProtoError::Truncated { message: MESSAGE })
        );
    }
}
