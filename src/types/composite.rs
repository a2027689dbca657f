//! Composite (row) values and enums: the building blocks the
//! `#[derive(PgComposite)]` and `#[derive(PgEnum)]` macros call, usable by
//! hand too.
//!
//! A composite's binary form is a field count, then per field its type OID
//! and a length-prefixed value. An enum's binary form is its label.

use bytes::{BufMut, BytesMut};

use super::reader::{Reader, write_value};
use super::{Decode, Encode, IsNull, Type, TypeError};

/// Whether `ty` can be a composite type: `record` or a user type (its OID
/// is not known in advance).
pub fn accepts_composite(ty: Type) -> bool {
    ty == Type::RECORD || ty.is_user_defined()
}

/// Whether `ty` can be a user enum (or text, for enums kept as strings).
pub fn accepts_enum(ty: Type) -> bool {
    ty.is_user_defined()
        || matches!(
            ty,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
        )
}

/// Reads the fields of a composite value in order.
#[derive(Debug)]
pub struct CompositeReader<'a> {
    reader: Reader<'a>,
    remaining: usize,
}

impl<'a> CompositeReader<'a> {
    /// Starts reading a composite of type `ty` that must have `fields`
    /// fields.
    pub fn new(ty: Type, raw: &'a [u8], fields: usize) -> Result<Self, TypeError> {
        let mut reader = Reader::new(ty, raw);
        let count = reader.i32()?;
        if usize::try_from(count).ok() != Some(fields) {
            return Err(reader.invalid("the composite has another number of fields"));
        }
        Ok(Self {
            reader,
            remaining: fields,
        })
    }

    /// Decodes the next field.
    pub fn next_field<T: Decode<'a>>(&mut self) -> Result<T, TypeError> {
        if self.remaining == 0 {
            return Err(self.reader.invalid("no field left"));
        }
        self.remaining -= 1;
        let ty = Type::from_oid(self.reader.u32()?);
        let raw = self.reader.value()?;
        super::decode_value(ty, raw)
    }

    /// Ends the read: every field must have been read, with no bytes left.
    pub fn finish(self) -> Result<(), TypeError> {
        if self.remaining != 0 {
            return Err(self.reader.invalid("fields left unread"));
        }
        self.reader.finish()
    }
}

/// Writes a composite value field by field.
#[derive(Debug)]
pub struct CompositeWriter<'o> {
    out: &'o mut BytesMut,
}

impl<'o> CompositeWriter<'o> {
    /// Starts a composite of `fields` fields.
    pub fn new(out: &'o mut BytesMut, fields: usize) -> Self {
        out.put_i32(i32::try_from(fields).unwrap_or(i32::MAX));
        Self { out }
    }

    /// Writes the next field as its preferred type (`ty` overrides it when
    /// given: the composite's attribute type must match exactly).
    pub fn field(&mut self, value: &dyn Encode, ty: Option<Type>) -> Result<(), TypeError> {
        let ty = ty.unwrap_or_else(|| value.preferred_type());
        self.out.put_u32(ty.oid());
        write_value(self.out, ty, |o| value.encode(ty, o))
    }
}

/// An enum label as text, borrowed from the row (for hand-written enums).
pub fn decode_enum_label(ty: Type, raw: &[u8]) -> Result<&str, TypeError> {
    std::str::from_utf8(raw).map_err(|_| TypeError::InvalidValue {
        pg: ty,
        reason: "enum label is not UTF-8",
    })
}

/// Writes an enum label.
pub fn encode_enum_label(label: &str, out: &mut BytesMut) -> Result<IsNull, TypeError> {
    out.put_slice(label.as_bytes());
    Ok(IsNull::No)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_round_trip() {
        let mut out = BytesMut::new();
        let mut w = CompositeWriter::new(&mut out, 2);
        w.field(&5i32, None).unwrap();
        w.field(&None::<String>, Some(Type::TEXT)).unwrap();
        let mut r = CompositeReader::new(Type::RECORD, &out, 2).unwrap();
        assert_eq!(r.next_field::<i32>(), Ok(5));
        assert_eq!(r.next_field::<Option<String>>(), Ok(None));
        r.finish().unwrap();
        assert!(CompositeReader::new(Type::RECORD, &out, 3).is_err());
    }

    #[test]
    fn corpus_payloads_are_errors() {
        // 1 field announced, field header truncated
        let mut r = CompositeReader::new(Type::RECORD, &[0, 0, 0, 1, 0, 0], 1).unwrap();
        assert!(r.next_field::<i32>().is_err());
        // field 1 oid 23 with length -129
        let raw = [0, 0, 0, 2, 0, 0, 0, 0x17, 0xff, 0xff, 0xff, 0x7f];
        let mut r = CompositeReader::new(Type::RECORD, &raw, 2).unwrap();
        assert!(r.next_field::<Option<i32>>().is_err());
    }
}
