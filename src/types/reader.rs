//! `Reader`: a bounds-checked cursor over a binary value from the server.
//!
//! Every structured decoder (numeric, arrays, ranges, composites, hstore)
//! reads through it, so a short value, a negative length or trailing bytes
//! is an [`TypeError::InvalidValue`] and never a panic. It never allocates.

use super::{Type, TypeError};

/// A cursor over the bytes of one value of type `ty`.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    ty: Type,
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(ty: Type, raw: &'a [u8]) -> Self {
        Self { ty, rest: raw }
    }

    /// The error for this value with `reason`.
    pub(crate) fn invalid(&self, reason: &'static str) -> TypeError {
        TypeError::InvalidValue {
            pg: self.ty,
            reason,
        }
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], TypeError> {
        if n > self.rest.len() {
            return Err(self.invalid("the value ends early"));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], TypeError> {
        let bytes = self.take(N)?;
        <[u8; N]>::try_from(bytes).map_err(|_| self.invalid("the value ends early"))
    }

    pub(crate) fn u8(&mut self) -> Result<u8, TypeError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn i16(&mut self) -> Result<i16, TypeError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u16(&mut self) -> Result<u16, TypeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, TypeError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, TypeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A length-prefixed value: `-1` is NULL, any other negative length is
    /// an error, and the length must fit in what is left.
    pub(crate) fn value(&mut self) -> Result<Option<&'a [u8]>, TypeError> {
        match self.i32()? {
            -1 => Ok(None),
            n if n < 0 => Err(self.invalid("negative length")),
            n => self.take(n as usize).map(Some),
        }
    }

    /// How many bytes are left.
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Ends the read: trailing bytes are an error.
    pub(crate) fn finish(self) -> Result<(), TypeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(self.invalid("trailing bytes after the value"))
        }
    }
}

/// Writes a length-prefixed value into `out`, back-patching the length;
/// `encode` returns whether the value is NULL.
pub(crate) fn write_value(
    out: &mut bytes::BytesMut,
    ty: Type,
    encode: impl FnOnce(&mut bytes::BytesMut) -> Result<super::IsNull, TypeError>,
) -> Result<(), TypeError> {
    use bytes::BufMut;
    let at = out.len();
    out.put_i32(0);
    let start = out.len();
    let len = match encode(out)? {
        super::IsNull::Yes => {
            out.truncate(start);
            -1
        }
        super::IsNull::No => {
            i32::try_from(out.len() - start).map_err(|_| TypeError::InvalidValue {
                pg: ty,
                reason: "a value longer than 2 GiB cannot be sent",
            })?
        }
    };
    out[at..start].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_negative_and_trailing_are_errors() {
        let mut r = Reader::new(Type::INT4_ARRAY, &[0, 0, 0, 5, 1]);
        assert!(r.value().is_err());
        let mut r = Reader::new(Type::INT4_ARRAY, &[0xff, 0xff, 0xff, 0x7f]);
        assert!(r.value().is_err());
        let mut r = Reader::new(Type::INT4_ARRAY, &[0xff, 0xff, 0xff, 0xff, 9]);
        assert_eq!(r.value(), Ok(None));
        assert!(r.finish().is_err());
    }

    #[test]
    fn write_value_patches_the_length() {
        let mut out = bytes::BytesMut::new();
        write_value(&mut out, Type::TEXT, |o| {
            o.extend_from_slice(b"abc");
            Ok(super::super::IsNull::No)
        })
        .unwrap();
        write_value(&mut out, Type::TEXT, |_| Ok(super::super::IsNull::Yes)).unwrap();
        assert_eq!(
            &out[..],
            &[0, 0, 0, 3, b'a', b'b', b'c', 0xff, 0xff, 0xff, 0xff]
        );
    }
}
